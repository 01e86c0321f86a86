#!/bin/sh
# tests/cli/run.sh with every call of the tool under valgrind memcheck
# (`make valgrind`, and a row of `make check`).
#
#   tests/cli/valgrind.sh [TTRANK]      (default: build/<arch>-gcc/ttrank)
#
# Each call writes its own valgrind log. A call fails if memcheck reports an
# error (invalid access, uninitialised value, bad free, a definitely or
# indirectly lost block: exit status 99, which run.sh sees too) or if its
# heap is not all freed at exit ("All heap blocks were freed" missing: the
# tool frees everything, error paths included). Prints run.sh's output, the
# log of each failed call, and a final line "N passed, N failed" (run.sh's
# checks plus one per call of the tool); exits 1 if anything failed.
#
# VALGRIND (default valgrind) may add options, e.g.
# VALGRIND='valgrind --track-origins=yes'.
set -u
T=${1:-build/$(uname -m)-gcc/ttrank}
VALGRIND=${VALGRIND:-valgrind}
HERE=$(dirname "$0")
L=$(mktemp -d "${TMPDIR:-/tmp}/ttrank-vg.XXXXXX")
trap 'rm -rf "$L"' EXIT INT TERM

if ! command -v "${VALGRIND%% *}" >/dev/null 2>&1; then
    echo "tests/cli/valgrind.sh: ${VALGRIND%% *} not found (scripts/install-deps.sh installs it)"
    echo "0 passed, 1 failed"
    exit 1
fi

RUN_KILLED="" RUN="$VALGRIND --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
--errors-for-leak-kinds=definite,indirect --num-callers=30 --log-file=$L/vg.%p.log" \
    sh "$HERE/run.sh" "$T" > "$L/run.out" 2>&1
rc=$?
cat "$L/run.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$L/run.out" | tail -n 1)
pass=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
fail=$(echo "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p')
[ -n "$pass" ] || pass=0
[ -n "$fail" ] || fail=1
[ "$rc" -eq 0 ] || [ "$fail" -gt 0 ] || fail=1

runs=0 bad=0
for log in "$L"/vg.*.log; do
    [ -e "$log" ] || continue
    runs=$((runs + 1))
    if grep -q 'ERROR SUMMARY: 0 errors' "$log" && grep -q 'All heap blocks were freed' "$log"; then
        pass=$((pass + 1))
    else
        bad=$((bad + 1))
        fail=$((fail + 1))
        echo "FAIL: valgrind: $(sed -n 's/^==[0-9]*== Command: //p' "$log" | head -n 1)"
        # the logs of the first five (the rest say the same, as a rule)
        [ "$bad" -gt 5 ] || sed 's/^/    /' "$log" | head -n 60
    fi
done
if [ "$runs" -eq 0 ]; then
    echo "FAIL: valgrind wrote no log (did it run?)"
    fail=$((fail + 1))
fi
echo "valgrind: $runs calls of the tool, $bad with a memcheck error, a leak or memory left at exit"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
