#!/bin/sh
# Same-initial-weights parity for every variant (what `make parity-sameinit`
# runs): one simulated click log (a list of 10; a 2x5 grid for xpa), then
# scripts/parity/sameinit.py per variant. Environment: TTRANK, DATA (LETOR
# fold), WORK, RECIPE (ttrank train flags; default exercises L2 and
# clipping), VARIANTS, STEPS (comma-separated step counts), LISTS (20000),
# PARITY_PYTHON (/usr/bin/python3).
set -eu
TTRANK=${TTRANK:-build/x86_64-gcc/ttrank}
: "${DATA:?set DATA to a LETOR fold folder (make parity-sameinit sets it)}"
WORK=${WORK:-/tmp/ttrank-parity}
RECIPE=${RECIPE:---l2 1e-4 --clip 1}
VARIANTS=${VARIANTS:-naive additive pal dot mixem xpa}
STEPS=${STEPS:-1,100,1000}
LISTS=${LISTS:-20000}
PY=${PARITY_PYTHON:-/usr/bin/python3}
if [ -f "$DATA/train.txt" ]; then TRAIN=$DATA/train.txt; else TRAIN=$DATA/rank.train; fi
SIM="--lists $LISTS --draw random --users pbm:0.5,position:0.3,thorough:0.2 --bias-feature 41 --logger 0.5,2,1 --seed 1"
mkdir -p "$WORK"
LIST=$WORK/sameinit-list.clk
GRID=$WORK/sameinit-grid.clk
trap 'rm -f "$LIST" "$GRID"' EXIT
"$TTRANK" simulate --data "$TRAIN" --out "$LIST" $SIM >/dev/null
"$TTRANK" simulate --data "$TRAIN" --out "$GRID" $SIM --grid 2x5 --neighbour 3 >/dev/null
for v in $VARIANTS; do
    log=$LIST
    [ "$v" = xpa ] && log=$GRID
    "$PY" "$(dirname "$0")/sameinit.py" --clicks "$log" --variant "$v" --recipe "$RECIPE" \
        --steps "$STEPS" --work "$WORK" --ttrank "$TTRANK"
    echo
done
rm -f "$WORK"/cache-sameinit-*.npz
