#!/usr/bin/env bash
# The whole test suite (`make check`, and so .ci/run). On a fresh Debian 12
# machine, as root, it first installs its packages (scripts/install-deps.sh).
#
# Configurations (each: build with -j$JOBS, run the tests, run the tool once):
#   x86_64-gcc, x86_64-clang            native, real Criterion
#   x86_64-gcc-san                      ASan+UBSan (and LeakSanitizer), on the shim: one
#                                       process, so leaks are our tests' and the library's; under
#                                       load Criterion's own runner once leaked 48 bytes (a
#                                       calloc inside libcriterion), which failed the run
#   x86_64-clang-tsan                   ThreadSanitizer, on the shim (whole suite; the
#                                       concurrent:: tests score one model from several threads)
#   x86_64-gcc/mask=scalar              TTR_CPU_MASK=scalar (whole suite, same binary)
#   x86_64-gcc/mask=avx2                TTR_CPU_MASK=avx2: the AVX2 int8 code on an AVX-VNNI
#                                       host (whole suite; elsewhere the same as x86_64-gcc)
#   x86_64-gcc/mask=junk                invalid TTR_CPU_MASK is ignored (cpu tests only)
#   x86_64-gcc-shim/nehalem             shim build under qemu-x86_64 -cpu Nehalem: the
#                                       real no-AVX2 detection and scalar fallback
#   x86_64-gcc-valgrind                 the same shim build natively under valgrind memcheck
#                                       (any error or definite/indirect leak fails), and
#                                       cli/x86_64-gcc-valgrind: tests/cli/run.sh with every
#                                       call of the tool under valgrind (tests/cli/valgrind.sh)
#   aarch64-{gcc,clang}/max             qemu-aarch64, all features (dot product)
#   aarch64-{gcc,clang}/cortex-a53      no dot product
#   armv7-{gcc,clang}/max               qemu-arm, NEON + VFPv4 (fused)
#   armv7-{gcc,clang}/cortex-a9         NEON without VFPv4 (unfused)
#   install                             make install + pkg-config consumer (scripts/test-install.sh)
#   cmake                               the CMake build (scripts/test-cmake.sh): native, aarch64 and
#                                       armv7 libraries with the Makefile's sources and flags,
#                                       installed; find_package and add_subdirectory consumers
#                                       built and run (qemu-user for ARM); one test per check
#   coverage                            gcov line coverage of the loader and readers against
#                                       floors (scripts/coverage.sh: its tests, cli checks, floors)
#   fuzz/model_load, fuzz/letor,        libFuzzer targets (make fuzz-build: clang, ASan+UBSan;
#   fuzz/clicklog, fuzz/safetensors,    the list is `make -s fuzz-targets`), each run for
#   fuzz/onnx                           $FUZZ_SECONDS from its seed corpus and regressions, one
#                                       after the other (scripts/fuzz.sh); a crash fails it.
#                                       CHECK_ONLY=fuzz selects them all.
# aarch64 uses the real Criterion (binfmt_misc + private arm64 sysroot) when
# that can be set up, else the shim (with a NOTE); armv7 always uses the shim.
#
# Output: every configuration's full output, then a table, then one line
# "N passed, N failed, N skipped" (tests over all configurations; a build,
# smoke or install failure counts as one failed test). Exit 1 if anything failed.
#
# Environment:
#   JOBS=2                  parallel compile jobs
#   CHECK_ONLY='glob ...'   run only configurations whose name matches a glob
#   CHECK_SKIP_DEPS=1       don't run scripts/install-deps.sh
#   A64_HARNESS=criterion   run aarch64 on the real Criterion (binfmt + arm64 sysroot)
#                           instead of the shim (the default, see below)
#   SYSROOT_A64=DIR         arm64 Criterion sysroot (default build/sysroot-arm64)
#   TEST_JOBS=$JOBS         configurations tested at the same time
#   CHECK_TIMEOUT=1200      seconds per configuration's test run
#   CHECK_DEADLINE=4500     seconds for the whole suite; later runs are skipped (failed)
#   FUZZ_SECONDS=30         seconds per fuzz target (longer campaigns: make fuzz)
set -uo pipefail
cd "$(dirname "$0")/.."
# Run from `make check`: don't pass its command-line variables (BUILD=...,
# TOOLCHAIN=...) or jobserver on to the builds below.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
# ... which make also exports as environment variables. Each configuration
# below sets what it needs; TTR_CPU_MASK would change every run.
unset BUILD TOOLCHAIN COMPILER SANITIZE TEST_HARNESS RUN TEST_ARGS QEMU_CPU SMOKE_ARGS \
    TTR_CPU_MASK TTR_TEST_EXPECT_PATH CC
ulimit -c 0 # no core files from crashing tests (qemu-user writes them to the work tree)

JOBS=${JOBS:-2}
# Time limits: per configuration's test run, and for the whole suite (from its
# start; CI's hard limit is 90 min). A configuration that hits one fails.
CHECK_TIMEOUT=${CHECK_TIMEOUT:-1200}
CHECK_DEADLINE=${CHECK_DEADLINE:-4500}
CHECK_ONLY=${CHECK_ONLY:-}
SYSROOT_A64=${SYSROOT_A64:-$PWD/build/sysroot-arm64}
# aarch64 runs the same test sources on the non-forking shim by default: in one
# of five full runs here, a Criterion boxfort worker under qemu-user blocked
# for good (0% CPU, waiting on its parent), which would hang CI until the
# time limit. A64_HARNESS=criterion still runs the real Criterion.
A64_HARNESS=${A64_HARNESS:-shim}
LOGDIR=build/check-logs
T0=$(date +%s)
DEADLINE=$((T0 + CHECK_DEADLINE))

say() { printf '\n==== %s  [%ss]\n' "$*" $(($(date +%s) - T0)); }

# ---- 1. packages -------------------------------------------------------------
if [ "${CHECK_SKIP_DEPS:-0}" != 1 ]; then
    say "dependencies (scripts/install-deps.sh)"
    if ! bash scripts/install-deps.sh; then
        echo "check: could not install the packages above; giving up"
        echo "0 passed, 1 failed"
        exit 1
    fi
fi
mkdir -p "$LOGDIR"

# ---- 2. aarch64 Criterion: binfmt_misc + private sysroot ----------------------
wants() { # does CHECK_ONLY select a configuration whose name starts with $1?
    [ -z "$CHECK_ONLY" ] && return 0
    local g
    for g in $CHECK_ONLY; do
        # shellcheck disable=SC2053
        [[ $1 == $g || $g == "$1"* || $g == '*' ]] && return 0
    done
    return 1
}
if [ "$A64_HARNESS" = criterion ] && wants aarch64; then
    say "aarch64: real Criterion under qemu (binfmt_misc + arm64 sysroot)"
    a64_ok=1
    sh scripts/setup-binfmt.sh || a64_ok=0
    if [ $a64_ok = 1 ]; then
        sh scripts/setup-arm64-criterion.sh "$SYSROOT_A64" || a64_ok=0
    fi
    if [ $a64_ok = 1 ]; then
        # Can an ARM process exec another ARM binary (what Criterion's workers do)?
        probe=build/check-logs/binfmt-probe
        printf 'int main(void){return 0;}\n' > "$probe.c"
        if aarch64-linux-gnu-gcc -static "$probe.c" -o "$probe" 2>/dev/null &&
            QEMU_LD_PREFIX=$SYSROOT_A64 "./$probe"; then
            echo "check: binfmt_misc runs aarch64 binaries: using the real Criterion"
        else
            echo "check: an aarch64 binary could not be executed through binfmt_misc"
            a64_ok=0
        fi
    fi
    if [ $a64_ok = 0 ]; then
        A64_HARNESS=shim
        echo "NOTE: real Criterion for aarch64 is not available here (see above);"
        echo "NOTE: aarch64 runs the same tests on the shim (tests/shim) instead."
    fi
fi

# ---- 3. configurations ----------------------------------------------------------
strip_ansi() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

# Counts from a test log: "P F S" (S is "-" for Criterion, which doesn't print it).
parse_counts() {
    local line
    line=$(strip_ansi "$1" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -n "$line" ]; then
        set -- $line
        echo "$1 $3 ${5:-0}"
        return
    fi
    line=$(strip_ansi "$1" | grep -oE 'Synthesis: Tested: [0-9]+ \| Passing: [0-9]+ \| Failing: [0-9]+' | tail -n 1)
    if [ -n "$line" ]; then
        set -- $line
        echo "$6 $9 -"
        return
    fi
    echo ""
}

# cfg NAME EXPECT_PATH "ENV=VAL ..." "TEST_ARGS" SMOKE(0|1) -- make arguments...
#   EXPECT_PATH: the best detected path that cpu::expected_path must see ("" = any)
NCFG=0
US=$'\x1f'
cfg() {
    local name=$1 g hit=0
    if [ -n "$CHECK_ONLY" ]; then
        for g in $CHECK_ONLY; do
            # shellcheck disable=SC2053
            [[ $name == $g ]] && hit=1
        done
        [ $hit = 1 ] || return 0
    fi
    C_NAME[NCFG]=$1 C_EXPECT[NCFG]=$2 C_ENV[NCFG]=$3 C_TARGS[NCFG]=$4 C_SMOKE[NCFG]=$5
    shift 6
    local IFS=$US
    C_MAKE[NCFG]="$*"
    NCFG=$((NCFG + 1))
}

# The end-to-end learning tests (tests/testutil.h: TU_SLOW_TEST) take about a
# minute each under qemu and valgrind: they run on the native rows and on one
# emulated row per architecture (aarch64-gcc/max, armv7-gcc/max); the other
# emulated and valgrind rows skip them, and check the kernels those tests
# drive with the kernel tests.
SLOW_OFF="TTR_TEST_SKIP_SLOW=1"
A64=(TOOLCHAIN=toolchains/aarch64-linux-gnu.mk TEST_HARNESS="$A64_HARNESS" SYSROOT_A64="$SYSROOT_A64")
ARM=(TOOLCHAIN=toolchains/arm-linux-gnueabihf.mk)
if [ "$A64_HARNESS" = criterion ]; then
    CPU_ONLY_A64="--filter=cpu/*"
else
    CPU_ONLY_A64="cpu::"
fi

#   name                        expected  environment            test args         smoke
cfg x86_64-gcc                  ""        ""                     ""                1 -- COMPILER=gcc
cfg x86_64-clang                ""        ""                     ""                1 -- COMPILER=clang
cfg x86_64-gcc-san              ""        ""                     ""                1 -- COMPILER=gcc SANITIZE=1 \
    TEST_HARNESS=shim BUILD=build/x86_64-gcc-san-shim
cfg x86_64-clang-tsan           ""        ""                     ""                0 -- COMPILER=clang SANITIZE=thread \
    TEST_HARNESS=shim BUILD=build/x86_64-clang-tsan-shim
cfg x86_64-gcc/mask=scalar      ""        "TTR_CPU_MASK=scalar"  ""                1 -- COMPILER=gcc
cfg x86_64-gcc/mask=avx2        ""        "TTR_CPU_MASK=avx2"    ""                0 -- COMPILER=gcc
cfg x86_64-gcc/mask=junk        ""        "TTR_CPU_MASK=junk"    "--filter=cpu/*"  0 -- COMPILER=gcc
cfg x86_64-gcc-shim/nehalem     scalar    "$SLOW_OFF"            ""                1 -- COMPILER=gcc \
    TEST_HARNESS=shim BUILD=build/x86_64-gcc-shim "RUN=env QEMU_CPU=Nehalem qemu-x86_64"
# RUN is expanded by make: $(VALGRIND) $(VALGRIND_FLAGS) of the Makefile (make valgrind)
cfg x86_64-gcc-valgrind         ""        "$SLOW_OFF"            ""                1 -- COMPILER=gcc \
    TEST_HARNESS=shim BUILD=build/x86_64-gcc-shim 'RUN=$(VALGRIND) $(VALGRIND_FLAGS)'
cfg aarch64-gcc/max             neondot   ""                     ""                1 -- "${A64[@]}" COMPILER=gcc QEMU_CPU=max
cfg aarch64-clang/max           neondot   "$SLOW_OFF"            ""                1 -- "${A64[@]}" COMPILER=clang QEMU_CPU=max
cfg aarch64-gcc/cortex-a53      neonfma   "$SLOW_OFF"            ""                1 -- "${A64[@]}" COMPILER=gcc QEMU_CPU=cortex-a53
cfg aarch64-clang/cortex-a53    neonfma   "$SLOW_OFF"            ""                1 -- "${A64[@]}" COMPILER=clang QEMU_CPU=cortex-a53
cfg aarch64-gcc/mask=neonfma    neondot   "TTR_CPU_MASK=neonfma" "$CPU_ONLY_A64"   0 -- "${A64[@]}" COMPILER=gcc QEMU_CPU=max
cfg armv7-gcc/max               neonfma   ""                     ""                1 -- "${ARM[@]}" COMPILER=gcc QEMU_CPU=max
cfg armv7-clang/max             neonfma   "$SLOW_OFF"            ""                1 -- "${ARM[@]}" COMPILER=clang QEMU_CPU=max
cfg armv7-gcc/cortex-a9         neon      "$SLOW_OFF"            ""                1 -- "${ARM[@]}" COMPILER=gcc QEMU_CPU=cortex-a9
cfg armv7-clang/cortex-a9       neon      "$SLOW_OFF"            ""                1 -- "${ARM[@]}" COMPILER=clang QEMU_CPU=cortex-a9

logname() { echo "$LOGDIR/$(echo "${C_NAME[$1]}" | tr '/=' '__')"; }
makeargs() { local IFS=$US; read -ra MA <<<"${C_MAKE[$1]}"; }

# 3a. builds, one after the other (each with -j$JOBS); configurations with the
# same make arguments but QEMU_CPU share a build folder and build once.
declare -A BUILT
for ((i = 0; i < NCFG; i++)); do
    makeargs "$i"
    key=${C_MAKE[$i]//QEMU_CPU=*/}
    C_BTIME[i]=0
    if [ -n "${BUILT[$key]:-}" ]; then
        C_BUILD[i]=${BUILT[$key]}
        continue
    fi
    say "[build $((i + 1))/$NCFG] ${C_NAME[$i]}: make -j$JOBS ${MA[*]}"
    t=$(date +%s)
    if make --no-print-directory -j"$JOBS" "${MA[@]}" all; then C_BUILD[i]=ok; else C_BUILD[i]=FAIL; fi
    C_BTIME[i]=$(($(date +%s) - t))
    BUILT[$key]=${C_BUILD[$i]}
done

# 3b. tests (+ one run of the tool), up to $TEST_JOBS configurations at a time
# (qemu runs are single-threaded); each one's output is printed whole, in order.
run_tests() { # index; writes LOG.log and LOG.result ("passed failed skipped tests smoke secs")
    local i=$1 log result t p=0 f=0 s=0 tests=ok sm=- rc counts
    log=$(logname "$i").log result=$(logname "$i").result t=$(date +%s)
    makeargs "$i"
    local limit=$((DEADLINE - $(date +%s)))
    [ "$limit" -le "$CHECK_TIMEOUT" ] || limit=$CHECK_TIMEOUT
    {
        echo "---- tests: make ${MA[*]} test ${C_ENV[$i]:+(${C_ENV[$i]})} (time limit ${limit}s)"
        if [ "$limit" -lt 30 ]; then
            echo "check: ${C_NAME[$i]}: not run, the time budget (CHECK_DEADLINE=${CHECK_DEADLINE}s) is used up"
            echo "0 1 - TIME - 0" >"$result"
            return
        fi
        # timeout signals the whole process group: make, qemu, Criterion's workers.
        # shellcheck disable=SC2086
        timeout -k 15 "$limit" env ${C_ENV[$i]} TTR_TEST_EXPECT_PATH="${C_EXPECT[$i]}" \
            make --no-print-directory "${MA[@]}" test TEST_ARGS="${C_TARGS[$i]}" 2>&1
        rc=$?
        counts=$(parse_counts "$log")
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "check: ${C_NAME[$i]}: TIMEOUT, killed after ${limit}s (CHECK_TIMEOUT=${CHECK_TIMEOUT}s)"
            tests=TIME f=1 s=-
            [ -z "$counts" ] || { read -r p f s <<<"$counts"; f=$((f + 1)); }
        elif [ -z "$counts" ]; then
            # The shim has no crash isolation: count what ran, plus the crash.
            p=$(strip_ansi "$log" | grep -c '^\[PASS\] ')
            f=$(strip_ansi "$log" | grep -cE '^\[FAIL\] [A-Za-z0-9_]+::[A-Za-z0-9_]+( \([0-9.]+ s\))?$')
            s=$(strip_ansi "$log" | grep -cE '^\[SKIP\] [A-Za-z0-9_]+::[A-Za-z0-9_]+( \([0-9.]+ s\))?$')
            echo "check: ${C_NAME[$i]}: no test summary in the output (crash?), exit status $rc;" \
                "counted $p passed, $f failed before it, plus 1 failed for the crash"
            tests=FAIL f=$((f + 1))
        else
            read -r p f s <<<"$counts"
            if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
                echo "check: ${C_NAME[$i]}: test binary exited with status $rc"
                f=1
            fi
            [ "$f" -eq 0 ] || tests=FAIL
        fi
        if [ "${C_SMOKE[$i]}" = 1 ]; then
            echo "---- smoke: make ${MA[*]} smoke"
            # shellcheck disable=SC2086
            if timeout -k 5 120 env ${C_ENV[$i]} make --no-print-directory "${MA[@]}" smoke 2>&1; then
                sm=ok p=$((p + 1))
            else
                sm=FAIL f=$((f + 1))
            fi
        fi
        echo "$p $f $s $tests $sm $(($(date +%s) - t))" >"$result"
    } >"$log" 2>&1 </dev/null
}

TEST_JOBS=${TEST_JOBS:-$JOBS}
next_print=0
print_ready() { # print the logs of finished configurations, in order
    while [ "$next_print" -lt "$NCFG" ]; do
        local i=$next_print
        if [ "${C_BUILD[$i]}" = ok ]; then
            [ -e "$(logname "$i").result" ] || return 0
            say "[tests $((i + 1))/$NCFG] ${C_NAME[$i]}"
            cat "$(logname "$i").log"
        fi
        next_print=$((next_print + 1))
    done
}
running=0
for ((i = 0; i < NCFG; i++)); do
    rm -f "$(logname "$i").result"
    [ "${C_BUILD[$i]}" = ok ] || continue
    while [ "$running" -ge "$TEST_JOBS" ]; do
        wait -n
        running=$((running - 1))
        print_ready
    done
    run_tests "$i" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n
    running=$((running - 1))
    print_ready
done
wait
print_ready

N=$NCFG
ROWS=()
TOTAL_P=0 TOTAL_F=0 TOTAL_S=0
FAILED_CFGS=()
for ((i = 0; i < NCFG; i++)); do
    if [ "${C_BUILD[$i]}" != ok ]; then
        p=0 f=1 s=- tests=- sm=- secs=${C_BTIME[$i]}
    elif [ -e "$(logname "$i").result" ]; then
        read -r p f s tests sm secs <"$(logname "$i").result"
        secs=$((secs + C_BTIME[i]))
    else
        p=0 f=1 s=- tests=LOST sm=- secs=0
    fi
    [ "$s" = - ] || TOTAL_S=$((TOTAL_S + s))
    TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f))
    [ "$f" -eq 0 ] || FAILED_CFGS+=("${C_NAME[$i]}")
    ROWS+=("$(printf '%-28s %-5s %-5s %6s %6s %6s  %-5s %5ss' "${C_NAME[$i]}" "${C_BUILD[$i]}" "$tests" "$p" "$f" "$s" "$sm" "$secs")")
done

# cli_row NAME TAIL CMD...: run a tests/cli script, print the last TAIL lines
# of its output, and add a row from its "N passed, N failed" line (a non-zero
# exit without a failure counts as one)
cli_row() {
    local name=$1 tail=$2 out rc p f r t
    shift 2
    N=$((N + 1))
    t=$(date +%s)
    say "[$N] $name: $*"
    out=$("$@" 2>&1)
    rc=$?
    echo "$out" | tail -n "$tail"
    p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -n 1)
    f=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -n 1)
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=1
    [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
    r=ok
    [ "$f" -eq 0 ] || { r=FAIL; FAILED_CFGS+=("$name"); }
    TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f))
    ROWS+=("$(printf '%-28s %-5s %-5s %6s %6s %6s  %-5s %5ss' "$name" ok "$r" "$p" "$f" - - $(($(date +%s) - t)))")
}

# the command-line tool: every command on tiny generated files (tests/cli/run.sh),
# natively and, through qemu, on both ARM targets (gcc builds made above)
if [ -z "$CHECK_ONLY" ] || [[ " $CHECK_ONLY " == *" cli "* ]]; then
    for cli in "x86_64-gcc|" \
               "aarch64-gcc|env QEMU_CPU=max QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64" \
               "armv7-gcc|env QEMU_CPU=max QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf qemu-arm"; do
        bdir=${cli%%|*} run=${cli#*|}
        [ -x "build/$bdir/ttrank" ] || continue
        cli_row "cli/$bdir" 20 env RUN="$run" sh tests/cli/run.sh "build/$bdir/ttrank"
    done
fi

# the tool under valgrind: every call of tests/cli/run.sh (shim build of
# x86_64-gcc-valgrind or x86_64-gcc-shim/nehalem; same flags)
if [ -z "$CHECK_ONLY" ] || [[ " $CHECK_ONLY " == *" cli "* ]] ||
    [[ " $CHECK_ONLY " == *" x86_64-gcc-valgrind "* ]]; then
    if [ -x build/x86_64-gcc-shim/ttrank ]; then
        cli_row cli/x86_64-gcc-valgrind 200 timeout -k 15 "$CHECK_TIMEOUT" \
            sh tests/cli/valgrind.sh build/x86_64-gcc-shim/ttrank
    fi
fi

# libFuzzer targets: one build, then each target for FUZZ_SECONDS, one after the
# other (one process each); every target is one test
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_SEL=()
for t in $(make -s --no-print-directory fuzz-targets); do
    sel=0
    if [ -z "$CHECK_ONLY" ]; then
        sel=1
    else
        for g in $CHECK_ONLY; do
            # shellcheck disable=SC2053
            [[ $g == fuzz || fuzz/$t == $g ]] && sel=1
        done
    fi
    [ $sel = 0 ] || FUZZ_SEL+=("$t")
done
if [ ${#FUZZ_SEL[@]} -gt 0 ]; then
    say "fuzz: make -j$JOBS fuzz-build"
    t=$(date +%s)
    if make --no-print-directory -j"$JOBS" fuzz-build >"$LOGDIR/fuzz-build.log" 2>&1; then
        fb=ok
    else
        fb=FAIL
        tail -n 30 "$LOGDIR/fuzz-build.log"
    fi
    fbt=$(($(date +%s) - t))
    for ft in "${FUZZ_SEL[@]}"; do
        N=$((N + 1))
        t=$(date +%s)
        r=FAIL
        if [ $fb = ok ]; then
            say "[$N] fuzz/$ft: scripts/fuzz.sh --seconds $FUZZ_SECONDS $ft"
            if [ $((DEADLINE - t)) -lt $((FUZZ_SECONDS + 30)) ]; then
                echo "check: fuzz/$ft: not run, the time budget (CHECK_DEADLINE=${CHECK_DEADLINE}s) is used up"
                r=TIME
            elif timeout -k 15 $((FUZZ_SECONDS + 300)) bash scripts/fuzz.sh --seconds "$FUZZ_SECONDS" "$ft" </dev/null; then
                r=ok
            fi
        fi
        if [ $r = ok ]; then p=1 f=0; else p=0 f=1; FAILED_CFGS+=("fuzz/$ft"); fi
        TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f))
        ROWS+=("$(printf '%-28s %-5s %-5s %6s %6s %6s  %-5s %5ss' "fuzz/$ft" "$fb" "$r" "$p" "$f" - - $(($(date +%s) - t + fbt)))")
        fbt=0
    done
fi

# install + pkg-config consumer, from the native gcc build
if [ -z "$CHECK_ONLY" ] || [[ " $CHECK_ONLY " == *" install "* ]]; then
    N=$((N + 1))
    t=$(date +%s)
    say "[$N] install: scripts/test-install.sh"
    if bash scripts/test-install.sh; then r=ok p=1 f=0; else r=FAIL p=0 f=1; FAILED_CFGS+=(install); fi
    TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f))
    ROWS+=("$(printf '%-28s %-5s %-5s %6s %6s %6s  %-5s %5ss' install "$r" "$r" "$p" "$f" - - $(($(date +%s) - t)))")
fi

# the CMake build beside the Makefile: host, aarch64 and armv7 libraries in
# build/cmake-*, and programs built against them (one test per check)
if [ -z "$CHECK_ONLY" ] || [[ " $CHECK_ONLY " == *" cmake "* ]]; then
    cli_row cmake 60 env JOBS="$JOBS" timeout -k 15 "$CHECK_TIMEOUT" bash scripts/test-cmake.sh
fi

# line coverage of the loader and readers against floors (its own gcc --coverage build)
if [ -z "$CHECK_ONLY" ] || [[ " $CHECK_ONLY " == *" coverage "* ]]; then
    N=$((N + 1))
    t=$(date +%s)
    say "[$N] coverage: scripts/coverage.sh"
    out=$(JOBS=$JOBS timeout -k 15 "$CHECK_TIMEOUT" bash scripts/coverage.sh 2>&1)
    rc=$?
    echo "$out" | tail -n 30
    read -r p f s <<<"$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' | tail -n 1)"
    [ -n "${p:-}" ] || { p=0 f=1 s=0; }
    [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
    r=ok
    [ "$f" -eq 0 ] || { r=FAIL; FAILED_CFGS+=(coverage); }
    TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f)) TOTAL_S=$((TOTAL_S + s))
    ROWS+=("$(printf '%-28s %-5s %-5s %6s %6s %6s  %-5s %5ss' coverage "$r" "$r" "$p" "$f" "$s" - $(($(date +%s) - t)))")
fi

# ---- 4. summary: the last lines of the output --------------------------------------
a64_note=
[[ " ${C_NAME[*]:-} " == *" aarch64-"* ]] && a64_note="; aarch64 tests on $A64_HARNESS"
say "make check summary: $N configuration(s), $(($(date +%s) - T0)) s$a64_note; logs in $LOGDIR"
printf '%-28s %-5s %-5s %6s %6s %6s  %-5s %6s\n' configuration build tests passed failed skip smoke time
for r in "${ROWS[@]}"; do echo "$r"; done
if [ ${#FAILED_CFGS[@]} -gt 0 ]; then
    echo "FAILED: ${FAILED_CFGS[*]}"
else
    echo "all configurations passed"
fi
[ "$N" -gt 0 ] || TOTAL_F=$((TOTAL_F + 1)) # selected nothing: not a pass
echo "$TOTAL_P passed, $TOTAL_F failed, $TOTAL_S skipped"
[ "$TOTAL_F" -eq 0 ]
