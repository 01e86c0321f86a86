# Cross build for 32-bit ARM Linux, hard float: armv7-a with VFPv3-D16 as the
# baseline (runs on every armv7 set-top box); NEON, and fused NEON where the
# core has VFPv4, are chosen at run time.
#   make TOOLCHAIN=toolchains/arm-linux-gnueabihf.mk [COMPILER=clang]
TTR_ARCH := armv7
CC_gcc := arm-linux-gnueabihf-gcc
CC_clang := clang --target=arm-linux-gnueabihf
AR_cross := arm-linux-gnueabihf-ar
ARCH_CFLAGS := -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard
FLAGS_neon := -mfpu=neon
FLAGS_neonfma := -mfpu=neon-vfpv4
QEMU_CPU ?= max
RUN ?= env QEMU_CPU=$(QEMU_CPU) QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf qemu-arm
# Debian has no Criterion for armhf: the same test sources run on tests/shim.
TEST_HARNESS := shim
