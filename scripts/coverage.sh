#!/usr/bin/env bash
# Line and branch coverage of the model loader and the readers (`make
# coverage`, and the `coverage` configuration of `make check`).
#
# Builds build/coverage with gcc --coverage -O0 on the shim harness (one
# process: every test's counts reach the .gcda files, and tests/cli/run.sh
# adds the tool's), runs the test suite and the command-line tests, then
# prints per-file line and branch coverage from plain gcov (no gcovr/lcov)
# and the lines never executed. Exits 1 if a test failed or a file's line
# coverage is below its floor.
#
# The last line is "N passed, N failed, N skipped": the suite's tests, the
# command-line checks, and one check per file floor.
#
# Environment: JOBS=2 (compile jobs).
set -uo pipefail
cd "$(dirname "$0")/.."
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES BUILD TOOLCHAIN COMPILER SANITIZE TEST_HARNESS \
    RUN TEST_ARGS EXTRA_CFLAGS EXTRA_LDFLAGS TTR_CPU_MASK
JOBS=${JOBS:-2}
B=build/coverage

# file:floor (minimum line coverage, %). Each floor is the coverage reached
# here (gcc 12, x86-64) with one line more left unreached, i.e. just below
# it: one new defensive line does not fail the run, losing the test of an
# error path does. What stays unreached cannot run on a 64-bit host or in a
# test (docs/testing.md, coverage). When tests reach more, raise the
# floors; when reviewed code that no test can reach is added, lower them.
FLOORS=(src/io/model_io.c:98.4 src/io/model_header.c:99.5 src/feature_stats.c:98.4 src/io/file_io.c:93.8 src/data/reader.c:99.2 src/data/lines.c:98.9 src/data/text.c:96.9 src/data/writer.c:96.2 src/io/pb_wire.c:96.4 src/io/onnx_read.c:96.2 src/io/onnx_tower.c:96.6 src/io/safetensors_read.c:80.7 src/io/safetensors_load.c:90.8)

pass=0 fail=0 skip=0
fail_all() {
    echo "coverage: $1"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
}

echo "coverage: make COMPILER=gcc TEST_HARNESS=shim BUILD=$B EXTRA_CFLAGS='--coverage -O0' all"
make --no-print-directory -j"$JOBS" COMPILER=gcc TEST_HARNESS=shim BUILD=$B \
    EXTRA_CFLAGS="--coverage -O0" EXTRA_LDFLAGS=--coverage all >"$B.build.log" 2>&1 ||
    { tail -n 30 "$B.build.log"; fail_all "build failed"; }
find "$B" -name '*.gcda' -delete

# 1. the test suite
echo "coverage: $B/ttrank-tests"
"$B/ttrank-tests" >"$B.tests.log" 2>&1
rc=$?
grep -E '^\[FAIL\]' "$B.tests.log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$B.tests.log" | tail -n 1)
if [ -z "$line" ]; then
    tail -n 20 "$B.tests.log"
    echo "coverage: the test binary ended without a summary (exit status $rc)"
    fail=$((fail + 1))
else
    echo "$line"
    set -- $line
    pass=$((pass + $1)) fail=$((fail + $3)) skip=$((skip + ${5:-0}))
    [ "$rc" -eq 0 ] || [ "$3" -gt 0 ] || fail=$((fail + 1))
fi

# 2. the command-line tests (the tool's readers and loader)
echo "coverage: tests/cli/run.sh $B/ttrank"
out=$(sh tests/cli/run.sh "$B/ttrank" 2>&1)
rc=$?
echo "$out" | grep -E '^FAIL' 
line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
echo "$line"
p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
f=$(echo "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p')
[ -n "$p" ] || p=0
[ -n "$f" ] || f=1
[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
pass=$((pass + p)) fail=$((fail + f))

# 3. gcov, from a folder where the sources are found under the names they
# were compiled with (src/...)
G=$B/gcov
rm -rf "$G"
mkdir -p "$G"
ln -s ../../../src "$G/src"
ln -s ../../../include "$G/include"
rows=()
NEVER=()
below=()
for entry in "${FLOORS[@]}"; do
    file=${entry%%:*} floor=${entry#*:}
    summary=$(cd "$G" && gcov -b -o "../$(dirname "$file")" "$file" 2>&1 |
        sed -n "/^File '$(echo "$file" | sed 's/[.\/]/\\&/g')'/,/^\$/p")
    lpct=$(echo "$summary" | sed -n 's/^Lines executed:\([0-9.]*\)% of \([0-9]*\)/\1 \2/p')
    bpct=$(echo "$summary" | sed -n 's/^Taken at least once:\([0-9.]*\)% of \([0-9]*\)/\1 \2/p')
    gfile=$G/$(basename "$file").gcov
    if [ -z "$lpct" ] || [ ! -e "$gfile" ]; then
        echo "coverage: no gcov data for $file"
        fail=$((fail + 1))
        below+=("$file")
        continue
    fi
    set -- $lpct
    lp=$1 ln=$2
    set -- ${bpct:-0 0}
    bp=$1 bn=$2
    lc=$(awk -v p="$lp" -v n="$ln" 'BEGIN { printf "%d", p * n / 100 + 0.5 }')
    bc=$(awk -v p="$bp" -v n="$bn" 'BEGIN { printf "%d", p * n / 100 + 0.5 }')
    ok=$(awk -v p="$lp" -v f="$floor" 'BEGIN { print (p + 0 >= f + 0) ? "ok" : "BELOW" }')
    if [ "$ok" = ok ]; then pass=$((pass + 1)); else fail=$((fail + 1)) below+=("$file"); fi
    rows+=("$(printf '%-20s %5s/%-5s %6s%%  %9s/%-5s %6s%%  %5s%%  %s' "$file" "$lc" "$ln" "$lp" \
        "$bc" "$bn" "$bp" "$floor" "$ok")")
    # lines never executed, as ranges: "251 531-550 585"
    never=$(awk -F: '$1 ~ /^ *(#####|=====)$/ { n = $2 + 0
            if (n == last + 1) { last = n; next }
            if (first) printf "%s ", (first == last ? first : first "-" last)
            first = last = n }
        END { if (first) printf "%s", (first == last ? first : first "-" last) }' "$gfile")
    NEVER+=("$file: ${never:-none}")
done

echo
echo "coverage (gcov; tests + tests/cli/run.sh; lines never executed below):"
printf '%-20s %11s %7s  %15s %7s  %6s\n' file lines "line%" branches "taken%" floor
for r in "${rows[@]}"; do echo "$r"; done
for n in "${NEVER[@]}"; do echo "  never run: $n"; done
[ ${#below[@]} -eq 0 ] || echo "coverage: below the floor or not measured: ${below[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
