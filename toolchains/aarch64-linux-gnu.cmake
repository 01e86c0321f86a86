# CMake toolchain file: cross build for 64-bit ARM Linux with Debian's
# gcc-aarch64-linux-gnu, as toolchains/aarch64-linux-gnu.mk does for make.
#   cmake -S . -B build/cmake-aarch64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
# Binaries run under qemu-user: QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 ./app
# (CMAKE_CROSSCOMPILING_EMULATOR, for ctest and custom commands).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# The baseline CPU (ARCH_CFLAGS, armv8-a) is declared once, in the .mk file.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/aarch64-linux-gnu.mk" _ttr_arch_cflags
     REGEX "^ARCH_CFLAGS[ \t]*:=")
string(REGEX REPLACE "^ARCH_CFLAGS[ \t]*:=[ \t]*" "" _ttr_arch_cflags "${_ttr_arch_cflags}")
set(CMAKE_C_FLAGS_INIT "${_ttr_arch_cflags}")
set(CMAKE_CXX_FLAGS_INIT "${_ttr_arch_cflags}")

# Libraries and headers come from the cross C library, never from the host;
# so do packages: add an aarch64 install prefix to CMAKE_FIND_ROOT_PATH (or
# set <Package>_DIR) to find it.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
