# CMake toolchain file: cross build for 32-bit ARM Linux (hard float) with Debian's
# gcc-arm-linux-gnueabihf, as toolchains/arm-linux-gnueabihf.mk does for make.
#   cmake -S . -B build/cmake-armv7 -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake
# Binaries run under qemu-user: QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf qemu-arm ./app
# (CMAKE_CROSSCOMPILING_EMULATOR, for ctest and custom commands).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

# The baseline CPU (ARCH_CFLAGS: armv7-a, VFPv3-D16, hard float) is declared
# once, in the .mk file; the NEON files add -mfpu=neon or neon-vfpv4 (CMakeLists.txt).
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/arm-linux-gnueabihf.mk" _ttr_arch_cflags
     REGEX "^ARCH_CFLAGS[ \t]*:=")
string(REGEX REPLACE "^ARCH_CFLAGS[ \t]*:=[ \t]*" "" _ttr_arch_cflags "${_ttr_arch_cflags}")
set(CMAKE_C_FLAGS_INIT "${_ttr_arch_cflags}")
set(CMAKE_CXX_FLAGS_INIT "${_ttr_arch_cflags}")

# Libraries and headers come from the cross C library, never from the host;
# so do packages: add an armv7 install prefix to CMAKE_FIND_ROOT_PATH (or
# set <Package>_DIR) to find it.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /usr/arm-linux-gnueabihf)
