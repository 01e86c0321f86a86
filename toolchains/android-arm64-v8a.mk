# Android arm64-v8a (API 24+), with the NDK's clang: BUILD ONLY.
#   make TOOLCHAIN=toolchains/android-arm64-v8a.mk ANDROID_NDK=/path/to/android-ndk-r26d
# There is no NDK on the CI machine and qemu-user can't run bionic binaries,
# so `make check` does not build or run this target; run the test binary on a
# device with `adb push build/android-arm64-v8a-clang/ttrank-tests /data/local/tmp`.
# The tests use tests/shim (no Criterion for Android). armv8-a baseline; the
# dot-product kernel is chosen at run time, as on Linux.
include $(dir $(lastword $(MAKEFILE_LIST)))android-ndk.inc
TTR_ARCH := aarch64
TTR_TARGET := android-arm64-v8a
CC_clang := $(NDK_BIN)/clang --target=aarch64-linux-android$(ANDROID_API)
ARCH_CFLAGS := -march=armv8-a
