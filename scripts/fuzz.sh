#!/usr/bin/env bash
# Run the libFuzzer targets built by `make fuzz-build` (tests/fuzz/).
#
#   scripts/fuzz.sh [--seconds N] TARGET...   fuzz each target for N s (default 60),
#                                             one after the other, one process each
#   scripts/fuzz.sh --seeds TARGET...         run every seed and regression once
#
# Each run starts from a fresh copy of tests/fuzz/corpus/TARGET and
# tests/fuzz/regressions/TARGET in $FUZZ_BUILD/corpus-TARGET (the repository's
# corpus is never written); crash inputs go to $FUZZ_BUILD/artifacts-TARGET/.
# Per target it prints the libFuzzer log's tail and one line
#   fuzz TARGET: ok|CRASH, N execs in S s (R exec/s), cov: C ft: F corpus: K
# and it exits 1 if any target crashed (or did not start).
# Environment: FUZZ_BUILD (build/fuzz), FUZZ_ARGS (more libFuzzer flags, e.g.
# -runs=10000000), FUZZ_LOG_TAIL (log lines shown per target, 15).
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_ARGS=${FUZZ_ARGS:-}
TAIL=${FUZZ_LOG_TAIL:-15}
seconds=60 seeds=0
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --seeds) seeds=1; shift ;;
    *) break ;;
    esac
done
# shellcheck disable=SC2046
[ $# -gt 0 ] || set -- $(make -s --no-print-directory fuzz-targets)

# Largest input per target: .ttr seeds are 0.5-4.5 KB, text seeds smaller.
max_len() {
    case $1 in
    model_load | safetensors | onnx) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

# ASan reports with file:line when a symbolizer is installed.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
    for s in llvm-symbolizer llvm-symbolizer-14; do
        if command -v "$s" >/dev/null 2>&1; then
            export ASAN_SYMBOLIZER_PATH=$(command -v "$s")
            break
        fi
    done
fi

failed=0
for t in "$@"; do
    bin=$FUZZ_BUILD/fuzz_$t
    corpus=$FUZZ_BUILD/corpus-$t
    art=$FUZZ_BUILD/artifacts-$t
    log=$FUZZ_BUILD/fuzz-$t.log
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: FAIL, $bin not built (make fuzz-build)"
        failed=1
        continue
    fi
    rm -rf "$corpus"
    mkdir -p "$corpus" "$art"
    for d in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do
        [ ! -d "$d" ] || find "$d" -maxdepth 1 -type f -exec cp {} "$corpus/" \;
    done
    dict=
    [ ! -f "tests/fuzz/$t.dict" ] || dict=-dict=tests/fuzz/$t.dict
    if [ $seeds = 1 ]; then
        runs=(-runs=0)
    else
        runs=(-max_total_time="$seconds")
    fi
    t0=$(date +%s)
    # shellcheck disable=SC2086
    "$bin" "${runs[@]}" -max_len="$(max_len "$t")" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" $dict $FUZZ_ARGS "$corpus" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - t0))
    tail -n "$TAIL" "$log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    if [ $rc -eq 0 ] && [ -n "$execs" ]; then
        r=ok
    else
        r=CRASH
        failed=1
        [ -n "$execs" ] || r="FAIL (exit $rc, no final stats)"
        echo "fuzz $t: inputs that failed (reproduce: $bin FILE):"
        ls -1 "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* 2>/dev/null | tail -n 5
    fi
    echo "fuzz $t: $r, ${execs:-0} execs in ${secs} s (${rate:-0} exec/s), cov: ${cov:-?} ft: ${ft:-?} corpus: ${corp:-?}; log $log"
done
exit $failed
