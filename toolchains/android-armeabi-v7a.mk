# Android armeabi-v7a (API 24+), with the NDK's clang: BUILD ONLY.
#   make TOOLCHAIN=toolchains/android-armeabi-v7a.mk ANDROID_NDK=/path/to/android-ndk-r26d
# There is no NDK on the CI machine and qemu-user can't run bionic binaries,
# so `make check` does not build or run this target; run the test binary on a
# device with `adb push build/android-armeabi-v7a-clang/ttrank-tests /data/local/tmp`.
# The armeabi-v7a ABI is soft-float calling convention (-mfloat-abi=softfp)
# with VFPv3-D16 as the baseline, like the Linux armv7 build; NEON and fused
# NEON (VFPv4) kernels are chosen at run time. Tests use tests/shim.
include $(dir $(lastword $(MAKEFILE_LIST)))android-ndk.inc
TTR_ARCH := armv7
TTR_TARGET := android-armeabi-v7a
CC_clang := $(NDK_BIN)/clang --target=armv7a-linux-androideabi$(ANDROID_API)
ARCH_CFLAGS := -march=armv7-a -mthumb -mfpu=vfpv3-d16 -mfloat-abi=softfp
FLAGS_neon := -mfpu=neon
FLAGS_neonfma := -mfpu=neon-vfpv4
