# ttrank build.
#
#   make                         native library, tool and tests (build/<arch>-<compiler>/)
#   make COMPILER=clang          same with clang
#   make TOOLCHAIN=toolchains/aarch64-linux-gnu.mk [COMPILER=clang]   cross build
#   make SANITIZE=1              ASan+UBSan build (build/<arch>-<compiler>-san/)
#   make test                    build and run the test binary of this configuration
#   make check                   the whole suite: every target and compiler (see .ci/run)
#   make bench                   kernel benchmark on this machine
#
# Intrinsics live only in arch/ files named *_avx2.c, *_neon.c, *_neondot.c;
# only those get ISA flags, so everything else runs on the baseline CPU of the
# target and the library picks kernels at run time.

COMPILER ?= gcc
TOOLCHAIN ?=
ifneq ($(TOOLCHAIN),)
include $(TOOLCHAIN)
endif

# Set by a toolchain file for cross builds; native builds use the host.
TTR_ARCH ?= $(shell uname -m)
ifeq ($(COMPILER),clang)
CC := $(or $(CC_clang),clang)
else
CC := $(or $(CC_gcc),gcc)
endif
AR := $(or $(AR_cross),ar)
# Prefix that runs a target binary (qemu-user for cross builds).
RUN ?=
# criterion (libcriterion) or shim (tests/shim: a non-forking subset, for targets without it)
TEST_HARNESS ?= criterion

BUILD ?= build/$(TTR_ARCH)-$(COMPILER)$(if $(SANITIZE),-san)

WARN := -Wall -Wextra -Werror -Wvla -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
OPT := $(if $(SANITIZE),-O1 -g -fno-omit-frame-pointer $(SAN_FLAGS),-O2 -g)
# -ffp-contract=off: the scalar references must give the same bits under gcc
# and clang and on every target; vector paths fuse explicitly.
CFLAGS_BASE := -std=c99 $(WARN) $(OPT) -ffp-contract=off -fPIC -fvisibility=hidden \
               -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(ARCH_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_BASE := $(if $(SANITIZE),$(SAN_FLAGS)) $(ARCH_LDFLAGS) $(EXTRA_LDFLAGS)
LIBS := -lm -lpthread

# ---- sources --------------------------------------------------------------
LIB_SRCS := $(wildcard src/*.c)
ifeq ($(TTR_ARCH),x86_64)
ARCH_DIR := arch/x86
else ifneq ($(filter aarch64 armv7,$(TTR_ARCH)),)
ARCH_DIR := arch/arm
endif
ARCH_SRCS := $(if $(ARCH_DIR),$(wildcard $(ARCH_DIR)/*.c))
ifeq ($(TTR_ARCH),armv7)
ARCH_SRCS := $(filter-out %_neondot.c,$(ARCH_SRCS))
endif

# ISA flags per file kind (toolchain files may override the ARM ones).
FLAGS_avx2 ?= -mavx2 -mfma
FLAGS_neon ?=
FLAGS_neonfma ?=
FLAGS_neondot ?= -march=armv8.2-a+dotprod

LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS) $(ARCH_SRCS))
# NEON files are built twice: without (neon) and with (neonfma) fused multiply-add.
LIB_OBJS += $(patsubst %.c,$(BUILD)/%.fma.o,$(filter %_neon.c,$(ARCH_SRCS)))

CLI_SRCS := $(wildcard src/cli/*.c) $(wildcard bench/*.c)
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
TEST_SRCS := $(wildcard tests/test_*.c) tests/testutil.c
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRCS))
ifeq ($(TEST_HARNESS),shim)
TEST_OBJS += $(BUILD)/tests/shim/criterion_shim.o
TEST_CFLAGS := -Itests/shim
TEST_LIBS :=
else
TEST_LIBS := -lcriterion
endif
TEST_CFLAGS += -Itests $(CRITERION_CFLAGS)

SOVERSION := 0
LIB_A := $(BUILD)/libttrank.a
LIB_SO := $(BUILD)/libttrank.so
TOOL := $(BUILD)/ttrank
TEST_BIN := $(BUILD)/ttrank-tests

HEADERS := $(wildcard include/*.h) $(wildcard src/*.h) $(wildcard arch/*/*.h)

.PHONY: all lib test bench clean
all: $(LIB_A) $(LIB_SO) $(TOOL) $(TEST_BIN)
lib: $(LIB_A) $(LIB_SO)

$(BUILD)/%_avx2.o: %_avx2.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_avx2) -c $< -o $@
$(BUILD)/%_neon.o: %_neon.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_neon) -DTTR_NEON_FMA=0 -c $< -o $@
$(BUILD)/%_neon.fma.o: %_neon.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_neonfma) -DTTR_NEON_FMA=1 -c $< -o $@
$(BUILD)/%_neondot.o: %_neondot.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_neondot) -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c $(HEADERS) $(wildcard tests/*.h tests/shim/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(TEST_CFLAGS) -c $< -o $@
$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
$(LIB_SO): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libttrank.so.$(SOVERSION) $(LDFLAGS_BASE) $^ -o $@ $(LIBS)

$(TOOL): $(CLI_OBJS) $(LIB_A)
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(LIBS)

$(TEST_BIN): $(TEST_OBJS) $(LIB_A)
	$(CC) $(LDFLAGS_BASE) $(CRITERION_LDFLAGS) $^ -o $@ $(TEST_LIBS) $(LIBS)

# Run this configuration's tests (RUN is qemu-user for cross builds).
test: $(TEST_BIN)
	$(RUN) $(TEST_BIN) $(TEST_ARGS)

bench: $(TOOL)
	$(RUN) $(TOOL) bench $(BENCH_ARGS)

clean:
	rm -rf build
