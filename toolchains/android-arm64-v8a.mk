# Android arm64-v8a (API 24+), with the NDK's clang: BUILD ONLY.
#   make TOOLCHAIN=toolchains/android-arm64-v8a.mk ANDROID_NDK=/path/to/android-ndk-r26d
# There is no NDK on the CI machine and qemu-user can't run bionic binaries,
# so `make check` does not build or run this target; run the test binary on a
# device with `adb push build/android-arm64-v8a-clang/ttrank-tests /data/local/tmp`.
# The tests use tests/shim (no Criterion for Android). armv8-a baseline; the
# dot-product kernel is chosen at run time, as on Linux.
ifeq ($(strip $(ANDROID_NDK)),)
$(error ANDROID_NDK is not set: give the Android NDK's folder (r23 or later), e.g. make TOOLCHAIN=$(TOOLCHAIN) ANDROID_NDK=$$HOME/android-ndk-r26d)
endif
ANDROID_API ?= 24
NDK_BIN := $(ANDROID_NDK)/toolchains/llvm/prebuilt/linux-x86_64/bin
ifeq ($(wildcard $(NDK_BIN)/clang),)
$(error $(NDK_BIN)/clang not found: ANDROID_NDK=$(ANDROID_NDK) is not an Android NDK (r23 or later))
endif
TTR_ARCH := aarch64
TTR_TARGET := android-arm64-v8a
# The NDK only has clang: COMPILER=gcc would name the build folder wrongly.
override COMPILER := clang
CC_clang := $(NDK_BIN)/clang --target=aarch64-linux-android$(ANDROID_API)
AR_cross := $(NDK_BIN)/llvm-ar
ARCH_CFLAGS := -march=armv8-a
# bionic has pthreads in libc: no -lpthread.
SYS_LIBS := -lm
TEST_HARNESS := shim
RUN ?=
