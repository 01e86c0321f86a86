# Cross build for 64-bit ARM Linux (armv8-a baseline; NEON is always there,
# the dot-product int8 kernel is chosen at run time).
#   make TOOLCHAIN=toolchains/aarch64-linux-gnu.mk [COMPILER=clang]
TTR_ARCH := aarch64
CC_gcc := aarch64-linux-gnu-gcc
CC_clang := clang --target=aarch64-linux-gnu
AR_cross := aarch64-linux-gnu-ar
ARCH_CFLAGS := -march=armv8-a
QEMU_CPU ?= max
RUN ?= env QEMU_CPU=$(QEMU_CPU) QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64
TEST_HARNESS ?= shim
