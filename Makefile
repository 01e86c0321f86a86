# ttrank build.
#
#   make                         native library, tool and tests (build/<target>-<compiler>/)
#   make COMPILER=clang          same with clang
#   make TOOLCHAIN=toolchains/aarch64-linux-gnu.mk [COMPILER=clang]   cross build
#   make TOOLCHAIN=toolchains/android-arm64-v8a.mk ANDROID_NDK=...    Android (build only)
#   make SANITIZE=1              ASan+UBSan build (build/<target>-<compiler>-san/)
#   make SANITIZE=thread         ThreadSanitizer build (build/<target>-<compiler>-tsan/)
#   make test                    build and run the test binary of this configuration
#   make smoke                   run the ttrank tool of this configuration once
#   make check                   the whole suite: every target and compiler, under
#                                qemu-user for ARM (scripts/check.sh; installs its
#                                packages with apt first when run as root)
#   make valgrind                valgrind memcheck (native): the tests on the shim harness,
#                                then tests/cli/run.sh with each call of the tool under it
#   make coverage                gcov line/branch coverage of the loader and readers, with
#                                floors (scripts/coverage.sh; build/coverage/)
#   make install PREFIX=/usr/local [DESTDIR=...]   headers, libraries, ttrank.pc
#   make bench                   kernel benchmark on this machine
#   make eval DATA=Fold1         every variant on simulated MQ2008 clicks, default flags
#   make quality                 the default recipe on 100 simulated click logs
#                                (docs/training.md; MQ_DATA, YAHOO_DATA, QUALITY_ARGS)
#   make fuzz-build              libFuzzer targets (clang, ASan+UBSan) in build/fuzz/
#   make fuzz FUZZ_SECONDS=60    run each fuzz target from a copy of its seed corpus
#   make fuzz-regress            seeds + regressions through each target (gcc, no libFuzzer)
#   make parity [DATA=...]       ttrank against a PyTorch mirror of its models (scripts/parity/;
#                                also parity-quick, parity-sameinit; installs python3-torch)
#   make fixtures                the interop test files from PyTorch and onnx (scripts/fixtures/)
#
# Intrinsics live only in arch/ files named *_avx2.c, *_avxvnni.c, *_neon.c, *_neondot.c;
# only those get ISA flags, so everything else runs on the baseline CPU of the
# target and the library picks kernels at run time.
#
# Every build directory remembers the flags it was built with (.flags-*):
# changing COMPILER flags, TEST_HARNESS, EXTRA_CFLAGS... rebuilds what they affect.

COMPILER ?= gcc
TOOLCHAIN ?=
ifneq ($(TOOLCHAIN),)
include $(TOOLCHAIN)
endif

# Set by a toolchain file for cross builds; native builds use the host.
TTR_ARCH ?= $(shell uname -m)
# Name of the target in build directory names (Android files set their ABI).
TTR_TARGET ?= $(TTR_ARCH)
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

# SANITIZE=1: ASan + UBSan; SANITIZE=thread: ThreadSanitizer
, := ,
TSAN := $(filter thread,$(SANITIZE))
BUILD ?= build/$(TTR_TARGET)-$(COMPILER)$(if $(SANITIZE),-$(if $(TSAN),tsan,san))

WARN := -Wall -Wextra -Werror -Wvla -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SAN_FLAGS := $(if $(TSAN),-fsanitize=thread,-fsanitize=address$(,)undefined -fno-sanitize-recover=all)
OPT := $(if $(SANITIZE),-O1 -g -fno-omit-frame-pointer $(SAN_FLAGS),-O2 -g)
# -ffp-contract=off: the scalar references must give the same bits under gcc
# and clang and on every target; vector paths fuse explicitly.
CFLAGS_BASE := -std=c99 $(WARN) $(OPT) -ffp-contract=off -fPIC -fvisibility=hidden \
               -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(ARCH_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_BASE := $(if $(SANITIZE),$(SAN_FLAGS)) $(ARCH_LDFLAGS) $(EXTRA_LDFLAGS)
# System libraries of the library (also Libs.private of ttrank.pc). Toolchain
# files may replace them (Android's bionic has pthreads in libc: SYS_LIBS := -lm).
SYS_LIBS ?= -lm -lpthread
LIBS := $(SYS_LIBS)

# ---- sources --------------------------------------------------------------
LIB_SRCS := $(filter-out src/cli/%,$(wildcard src/*.c src/*/*.c))
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
FLAGS_avxvnni ?= -mavx2 -mfma -mavxvnni
FLAGS_neon ?=
FLAGS_neonfma ?=
FLAGS_neondot ?= -march=armv8.2-a+dotprod

LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS) $(ARCH_SRCS))
# NEON files are built twice: without (neon) and with (neonfma) fused multiply-add.
# The NEON float kernels are built twice, without and with fused multiply-add
# (the neon and neonfma paths); the int8 and optimizer kernels have one build.
NEON_FMA_SRCS := $(filter %/gemm_f32_neon.c %/attn_neon.c %/vec_neon.c,$(ARCH_SRCS))
LIB_OBJS += $(patsubst %.c,$(BUILD)/%.fma.o,$(NEON_FMA_SRCS))

# The click simulator, scenarios and SVG writer belong to the tool (and the
# tests that check them), not to libttrank.
SIM_SRCS := $(wildcard src/cli/sim/*.c)
SIM_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SIM_SRCS))
CLI_SRCS := $(wildcard src/cli/*.c) $(filter-out bench/bench_xnnpack.c,$(wildcard bench/*.c))
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS)) $(SIM_OBJS)
TEST_SRCS := $(wildcard tests/test_*.c) tests/testutil.c
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRCS)) $(SIM_OBJS)
ifeq ($(TEST_HARNESS),shim)
TEST_OBJS += $(BUILD)/tests/shim/criterion_shim.o
TEST_CFLAGS := -Itests/shim
TEST_LIBS :=
else
TEST_LIBS := -lcriterion
endif
TEST_CFLAGS += -Itests $(CRITERION_CFLAGS)

# The version is declared once, in include/ttrank.h.
VERSION := $(shell sed -n 's/^\#define TTR_VERSION_STRING "\(.*\)"$$/\1/p' include/ttrank.h)
SOVERSION := 0
LIB_A := $(BUILD)/libttrank.a
# The real file is libttrank.so.$(VERSION); libttrank.so.0 (the SONAME) and
# libttrank.so are symlinks to it, as installed.
LIB_SO := $(BUILD)/libttrank.so
LIB_SO_REAL := $(BUILD)/libttrank.so.$(VERSION)
LIB_SO_NAME := $(BUILD)/libttrank.so.$(SOVERSION)
TOOL := $(BUILD)/ttrank
TEST_BIN := $(BUILD)/ttrank-tests

HEADERS := $(wildcard include/*.h src/*.h src/*/*.h src/cli/sim/*.h arch/*/*.h) $(wildcard bench/*.h)

# ---- flag stamps: rebuild when a configuration's flags change --------------
FLAGS_LIB_TEXT := $(CC) | $(CFLAGS_BASE) | $(FLAGS_avx2) | $(FLAGS_avxvnni) | $(FLAGS_neon) | $(FLAGS_neonfma) | $(FLAGS_neondot)
FLAGS_TEST_TEXT := $(TEST_HARNESS) | $(TEST_CFLAGS) | $(CRITERION_LDFLAGS) | $(TEST_LIBS)
FLAGS_LINK_TEXT := $(LDFLAGS_BASE) | $(LIBS)
STAMP_LIB := $(BUILD)/.flags-lib
STAMP_TEST := $(BUILD)/.flags-test
STAMP_LINK := $(BUILD)/.flags-link
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
ifeq ($(filter check valgrind coverage,$(MAKECMDGOALS)),)
define write_stamp
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(1) 2>/dev/null)" = '$(subst ','\'',$(2))' ] || \
        printf '%s\n' '$(subst ','\'',$(2))' > $(1); })
endef
$(call write_stamp,$(STAMP_LIB),$(FLAGS_LIB_TEXT))
$(call write_stamp,$(STAMP_TEST),$(FLAGS_TEST_TEXT))
$(call write_stamp,$(STAMP_LINK),$(FLAGS_LINK_TEXT))
endif
endif
$(BUILD)/.flags-%:
	@mkdir -p $(@D) && touch $@

.PHONY: all lib tool tests test test-cli smoke bench run eval quality check valgrind coverage \
        install uninstall clean help fuzz-build fuzz fuzz-seeds fuzz-regress fuzz-targets parity parity-quick fixtures \
        parity-sameinit
all: $(LIB_A) $(LIB_SO) $(LIB_SO_NAME) $(TOOL) $(TEST_BIN)
lib: $(LIB_A) $(LIB_SO) $(LIB_SO_NAME)
tool: $(TOOL)
tests: $(TEST_BIN)

$(BUILD)/%_avx2.o: %_avx2.c $(HEADERS) $(STAMP_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_avx2) -c $< -o $@
$(BUILD)/%_avxvnni.o: %_avxvnni.c $(HEADERS) $(STAMP_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_avxvnni) -c $< -o $@
$(BUILD)/%_neon.o: %_neon.c $(HEADERS) $(STAMP_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_neon) -DTTR_NEON_FMA=0 -c $< -o $@
$(BUILD)/%_neon.fma.o: %_neon.c $(HEADERS) $(STAMP_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_neonfma) -DTTR_NEON_FMA=1 -c $< -o $@
$(BUILD)/%_neondot.o: %_neondot.c $(HEADERS) $(STAMP_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(FLAGS_neondot) -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c $(HEADERS) $(wildcard tests/*.h tests/shim/*/*.h) $(STAMP_LIB) $(STAMP_TEST)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(TEST_CFLAGS) -c $< -o $@
$(BUILD)/%.o: %.c $(HEADERS) $(STAMP_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
$(LIB_SO_REAL): $(LIB_OBJS) $(STAMP_LINK)
	$(CC) -shared -Wl,-soname,libttrank.so.$(SOVERSION) $(LDFLAGS_BASE) $(LIB_OBJS) -o $@ $(LIBS)
$(LIB_SO_NAME) $(LIB_SO): $(LIB_SO_REAL)
	ln -sf $(notdir $<) $@

$(TOOL): $(CLI_OBJS) $(LIB_A) $(STAMP_LINK)
	$(CC) $(LDFLAGS_BASE) $(CLI_OBJS) $(LIB_A) -o $@ $(LIBS)

$(TEST_BIN): $(TEST_OBJS) $(LIB_A) $(STAMP_LINK) $(STAMP_TEST)
	$(CC) $(LDFLAGS_BASE) $(CRITERION_LDFLAGS) $(TEST_OBJS) $(LIB_A) -o $@ $(TEST_LIBS) $(LIBS)

# Run this configuration's tests (RUN is qemu-user for cross builds).
# DATA_DIR: the folder holding MQ2008/Fold1 and the Yahoo sample, for the
# one test that reads the real data sets (skipped when they are absent).
DATA_DIR ?= ../shared/data
test: $(TEST_BIN)
	TTR_DATA_DIR='$(DATA_DIR)' $(RUN) $(TEST_BIN) $(TEST_ARGS)

# Run the tool once (a per-target smoke test of the static link and the CLI).
SMOKE_ARGS ?= --help
smoke: $(TOOL)
	$(RUN) $(TOOL) $(SMOKE_ARGS)

bench: $(TOOL)
	$(RUN) $(TOOL) bench $(BENCH_ARGS)

# Optional: ttrank's int8/f32 scoring against XNNPACK's f32 and qs8
# fully-connected chains (needs libxnnpack-dev and, for --xnn-avx2, libcpuinfo-dev;
# never built otherwise).
.PHONY: bench-xnnpack
bench-xnnpack: $(BUILD)/bench-xnnpack
	$(RUN) $(BUILD)/bench-xnnpack $(BENCH_ARGS)
$(BUILD)/bench-xnnpack: bench/bench_xnnpack.c $(LIB_A) $(HEADERS)
	$(CC) $(CFLAGS_BASE) -Wno-missing-prototypes $< $(LIB_A) -o $@ $(LDFLAGS_BASE) -lXNNPACK -lcpuinfo $(LIBS)

# The main job: simulate, train every variant, print the NDCG table, write plots.
# On a fresh machine it first installs the compiler (scripts/install-deps.sh --build).
run:
	@bash scripts/install-deps.sh --build
	@$(MAKE) --no-print-directory $(TOOL)
	$(RUN) $(TOOL) demo $(DEMO_ARGS)

# Command-line tests of the tool (tiny generated files; RUN = qemu for cross builds).
test-cli: $(TOOL)
	RUN='$(RUN)' sh tests/cli/run.sh $(TOOL)

# Every variant on a LETOR fold with simulated clicks: make eval DATA=path/to/Fold1
eval: $(TOOL)
	@test -n "$(DATA)" || { echo "usage: make eval DATA=<LETOR fold folder>" >&2; exit 2; }
	TTRANK=$(TOOL) sh scripts/eval.sh $(DATA)

# Ranking quality of the default training recipe: every variant on simulated
# click logs of both data sets, five user scenarios, two logging rankers and
# five seeds (docs/training.md). QUALITY_ARGS adds flags, e.g. --recipe '...'.
MQ_DATA ?= $(DATA_DIR)/MQ2008/Fold1
YAHOO_DATA ?= $(DATA_DIR)/lightgbm_lambdarank_yahoo_sample
quality: $(TOOL)
	python3 scripts/quality.py --ttrank $(TOOL) --mq $(MQ_DATA) --yahoo $(YAHOO_DATA) $(QUALITY_ARGS)

# PyTorch parity harness (scripts/parity/, not part of make check): the same
# models trained by ttrank and by PyTorch with one recipe on the same simulated
# click logs; prints NDCG@5/10 of both, the paired difference over seeds and
# the per-epoch training losses. Installs python3-torch first when missing.
#   make parity [DATA=<LETOR fold>] [SEEDS='1 2 3 4 5'] [LISTS=40000] [EPOCHS=3]
#               [VARIANTS='naive additive pal dot mixem xpa'] [RECIPE='<ttrank train flags>']
#               [SIM='<ttrank simulate flags>'] [INIT=independent|same|both] [CONTROL=1]
#               [PARITY_WORK=dir]
#   make parity-quick       2 seeds, 20000 lists, 2 epochs (a few minutes)
#   make parity-sameinit    same initial weights, K steps: per-tensor weight differences
PARITY_PYTHON ?= /usr/bin/python3
PARITY_DATA = $(or $(DATA),$(MQ_DATA))
# the recipe: ttrank's defaults unless RECIPE says otherwise (parity.py passes
# every setting to both sides explicitly)
PARITY_RECIPE = $(RECIPE)
PARITY_WORK ?= /tmp/ttrank-parity
PARITY_RUN = bash scripts/install-deps.sh --torch && \
        PYTHONDONTWRITEBYTECODE=1 $(PARITY_PYTHON) scripts/parity/parity.py --ttrank $(TOOL) \
        --data '$(PARITY_DATA)' --recipe '$(PARITY_RECIPE)' --work '$(PARITY_WORK)' \
        $(if $(SIM),--sim '$(SIM)') $(if $(VARIANTS),--variants '$(VARIANTS)')
parity: $(TOOL)
	$(PARITY_RUN) --seeds '$(or $(SEEDS),1 2 3 4 5)' --lists $(or $(LISTS),40000) \
	    --epochs $(or $(EPOCHS),3)
parity-quick: $(TOOL)
	$(PARITY_RUN) --seeds '$(or $(SEEDS),1 2)' --lists $(or $(LISTS),20000) \
	    --epochs $(or $(EPOCHS),2)
parity-sameinit: $(TOOL)
	bash scripts/install-deps.sh --torch
	PYTHONDONTWRITEBYTECODE=1 PARITY_PYTHON=$(PARITY_PYTHON) TTRANK=$(TOOL) \
	    DATA='$(PARITY_DATA)' WORK='$(PARITY_WORK)' RECIPE='$(RECIPE)' \
	    VARIANTS='$(VARIANTS)' STEPS='$(STEPS)' sh scripts/parity/sameinit.sh

# The interop fixtures (tests/fixtures/interop/, committed; make check needs no
# Python): ONNX towers exported by PyTorch with its outputs, and safetensors
# files (scripts/fixtures/make_fixtures.py; a rerun writes the same bytes).
fixtures:
	bash scripts/install-deps.sh --torch
	PYTHONDONTWRITEBYTECODE=1 $(PARITY_PYTHON) scripts/fixtures/make_fixtures.py

# The whole suite (see scripts/check.sh for its configurations and variables).
check:
	@bash scripts/check.sh

# Valgrind memcheck, natively. The tests run on the shim harness (one process:
# Criterion's forked workers would escape it) from $(VG_BUILD), which the
# shim configuration of make check shares; any error, or a definitely or
# indirectly lost block, fails (exit status 99). Then every call of the tool
# in tests/cli/run.sh runs under valgrind (tests/cli/valgrind.sh), which also
# wants all of its heap freed at exit. TEST_ARGS filters the tests; add
# VALGRIND_FLAGS=... --track-origins=yes to see where an uninitialised value
# came from (slower).
VALGRIND ?= valgrind
VALGRIND_FLAGS ?= --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
                  --errors-for-leak-kinds=definite,indirect --num-callers=30
VG_BUILD := build/$(TTR_TARGET)-$(COMPILER)-shim
valgrind:
	@$(MAKE) --no-print-directory TEST_HARNESS=shim BUILD=$(VG_BUILD) \
	    'RUN=$$(VALGRIND) $$(VALGRIND_FLAGS)' tool test
	VALGRIND='$(VALGRIND)' sh tests/cli/valgrind.sh $(VG_BUILD)/ttrank

# Line and branch coverage of the loader and readers, with floors.
coverage:
	@bash scripts/coverage.sh
# ---- fuzzing ----------------------------------------------------------------
# libFuzzer targets (tests/fuzz/fuzz_*.c) for the .ttr loader, the two text
# readers and the safetensors and ONNX readers, built natively with clang, under
# -fsanitize=fuzzer,address,undefined into $(FUZZ_BUILD)/ (its own objects;
# the CPU dispatch is the usual one). `make fuzz` runs each target for
# FUZZ_SECONDS from a copy of its seed corpus (build/fuzz/corpus-<target>;
# tests/fuzz/corpus/ is never written) and fails on a crash; `make fuzz-seeds`
# only runs every seed and regression once. `make fuzz-regress` does the
# same without libFuzzer: the targets linked with gcc to a small main()
# (tests/fuzz/driver.c), ASan+UBSan.
FUZZ_BUILD ?= build/fuzz
FUZZ_CC ?= clang
# The fuzz targets, listed once: scripts/fuzz.sh and scripts/check.sh ask
# `make -s fuzz-targets`.
FUZZ_TARGETS ?= model_load letor clicklog safetensors onnx
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c99 $(WARN) -O1 -g -fno-omit-frame-pointer -ffp-contract=off \
               -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc -Itests/fuzz
FUZZ_LIB_SRCS := $(LIB_SRCS) $(if $(filter x86_64,$(shell uname -m)),$(wildcard arch/x86/*.c))
FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_GCC_BINS := $(addprefix $(FUZZ_BUILD)/gcc/fuzz_,$(FUZZ_TARGETS))
FUZZ_GCC_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/gcc/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_HEADERS := $(HEADERS) $(wildcard tests/fuzz/*.h)
FUZZ_STAMP := $(FUZZ_BUILD)/.flags
ifneq ($(filter fuzz%,$(MAKECMDGOALS)),)
FUZZ_FLAGS_TEXT := $(FUZZ_CC) | $(FUZZ_CFLAGS) | $(FUZZ_SAN) | $(FLAGS_avx2) | $(FLAGS_avxvnni)
$(shell mkdir -p $(FUZZ_BUILD) && { [ "$$(cat $(FUZZ_STAMP) 2>/dev/null)" = '$(subst ','\'',$(FUZZ_FLAGS_TEXT))' ] || \
        printf '%s\n' '$(subst ','\'',$(FUZZ_FLAGS_TEXT))' > $(FUZZ_STAMP); })
endif

# (objects reached only through pattern rules would be deleted as intermediates)
.SECONDARY: $(FUZZ_OBJS) $(FUZZ_GCC_OBJS) $(FUZZ_BUILD)/gcc/obj/tests/fuzz/driver.o \
            $(patsubst %,$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o,$(FUZZ_TARGETS)) \
            $(patsubst %,$(FUZZ_BUILD)/gcc/obj/tests/fuzz/fuzz_%.o,$(FUZZ_TARGETS))

fuzz-targets:
	@echo $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%_avx2.o: %_avx2.c $(HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FLAGS_avx2) -c $< -o $@
$(FUZZ_BUILD)/obj/%_avxvnni.o: %_avxvnni.c $(HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FLAGS_avxvnni) -c $< -o $@
$(FUZZ_BUILD)/obj/tests/fuzz/%.o: tests/fuzz/%.c $(FUZZ_HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_BUILD)/obj/%.o: %.c $(HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ $(SYS_LIBS)

$(FUZZ_BUILD)/gcc/obj/%_avx2.o: %_avx2.c $(HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	gcc $(FUZZ_CFLAGS) $(FUZZ_SAN) $(FLAGS_avx2) -c $< -o $@
$(FUZZ_BUILD)/gcc/obj/%_avxvnni.o: %_avxvnni.c $(HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	gcc $(FUZZ_CFLAGS) $(FUZZ_SAN) $(FLAGS_avxvnni) -c $< -o $@
$(FUZZ_BUILD)/gcc/obj/tests/fuzz/%.o: tests/fuzz/%.c $(FUZZ_HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	gcc $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@
$(FUZZ_BUILD)/gcc/obj/%.o: %.c $(HEADERS) $(FUZZ_STAMP)
	@mkdir -p $(@D)
	gcc $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@
$(FUZZ_BUILD)/gcc/fuzz_%: $(FUZZ_BUILD)/gcc/obj/tests/fuzz/fuzz_%.o \
        $(FUZZ_BUILD)/gcc/obj/tests/fuzz/driver.o $(FUZZ_GCC_OBJS)
	gcc $(FUZZ_SAN) $^ -o $@ $(SYS_LIBS)

# Run each target for FUZZ_SECONDS (FUZZ_ARGS: more libFuzzer flags).
fuzz: $(FUZZ_BINS)
	FUZZ_BUILD=$(FUZZ_BUILD) bash scripts/fuzz.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Every seed and regression once through each libFuzzer binary.
fuzz-seeds: $(FUZZ_BINS)
	FUZZ_BUILD=$(FUZZ_BUILD) bash scripts/fuzz.sh --seeds $(FUZZ_TARGETS)

# The same without libFuzzer (gcc, ASan+UBSan, tests/fuzz/driver.c).
fuzz-regress: $(FUZZ_GCC_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    dirs=; for d in tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t; do \
	        [ ! -d $$d ] || dirs="$$dirs $$d"; done; \
	    $(FUZZ_BUILD)/gcc/fuzz_$$t $$dirs; done

# ---- install ---------------------------------------------------------------
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PUBLIC_HEADERS := $(wildcard include/*.h)

PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
             -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
             -e 's|@LIBS_PRIVATE@|$(strip $(LIBS))|g'

# ttrank.pc is written on every install (PREFIX and LIBDIR are not in the stamps).
install: $(LIB_A) $(LIB_SO) $(LIB_SO_NAME) $(TOOL)
	$(PC_SED) ttrank.pc.in > $(BUILD)/ttrank.pc
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libttrank.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libttrank.so.$(SOVERSION)
	ln -sf libttrank.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libttrank.so
	install -m 644 $(BUILD)/ttrank.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(PUBLIC_HEADERS)))
	rm -f $(DESTDIR)$(LIBDIR)/libttrank.a $(DESTDIR)$(LIBDIR)/libttrank.so \
	      $(DESTDIR)$(LIBDIR)/libttrank.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libttrank.so.$(VERSION) \
	      $(DESTDIR)$(PKGCONFIGDIR)/ttrank.pc $(DESTDIR)$(BINDIR)/ttrank

clean:
	rm -rf build

help:
	@sed -n '2,/^$$/s/^# \{0,1\}//p' Makefile
