# Cross build for 64-bit ARM Linux (armv8-a baseline; NEON is always there,
# the dot-product int8 kernel is chosen at run time).
#   make TOOLCHAIN=toolchains/aarch64-linux-gnu.mk [COMPILER=clang]
# Tests run under qemu-user (RUN). QEMU_CPU=cortex-a53 has no dot product.
#
# TEST_HARNESS=shim (default here) needs nothing but the cross compiler and
# qemu-user. TEST_HARNESS=criterion links the real Criterion from a private
# arm64 sysroot (scripts/setup-arm64-criterion.sh $(SYSROOT_A64)) and needs
# binfmt_misc (scripts/setup-binfmt.sh): Criterion re-executes the test
# binary for every test, so qemu settings go through the environment
# (QEMU_CPU, QEMU_LD_PREFIX), which the re-executed workers inherit.
TTR_ARCH := aarch64
CC_gcc := aarch64-linux-gnu-gcc
CC_clang := clang --target=aarch64-linux-gnu
AR_cross := aarch64-linux-gnu-ar
ARCH_CFLAGS := -march=armv8-a
QEMU_CPU ?= max
TEST_HARNESS ?= shim
SYSROOT_A64 ?= $(abspath build/sysroot-arm64)
# Recursive (=) on purpose: TEST_HARNESS may still be set after this file.
QEMU_LD_PREFIX_A64 = $(if $(filter criterion,$(TEST_HARNESS)),$(SYSROOT_A64),/usr/aarch64-linux-gnu)
RUN ?= env QEMU_CPU=$(QEMU_CPU) QEMU_LD_PREFIX=$(QEMU_LD_PREFIX_A64) qemu-aarch64
A64_CRITERION_LDFLAGS := -L$(SYSROOT_A64)/usr/lib/aarch64-linux-gnu \
    -Wl,-rpath-link=$(SYSROOT_A64)/usr/lib/aarch64-linux-gnu:$(SYSROOT_A64)/lib/aarch64-linux-gnu
CRITERION_CFLAGS = $(if $(filter criterion,$(TEST_HARNESS)),-isystem $(SYSROOT_A64)/usr/include)
CRITERION_LDFLAGS = $(if $(filter criterion,$(TEST_HARNESS)),$(A64_CRITERION_LDFLAGS))
