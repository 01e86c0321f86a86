#!/bin/sh
# Evaluate every model variant on a LETOR fold with simulated clicks
# (what `make eval DATA=<fold folder>` runs).
#
#   scripts/eval.sh DATA_DIR        DATA_DIR holds train.txt and test.txt
#
# For each seed (default 5 seeds), two click scenarios are simulated on
# train.txt with `ttrank simulate` (a ranked list of 10 and a 2x5 grid). The
# logging ranker (SIM, default "--bias-feature 41 --logger 0.5,2,1") scores
# 0.5 * label/ymax + 2 * feature 41 + uniform(-1,1): weak, noisy, and biased
# towards a feature unrelated to relevance (LETOR 4.0 feature 41, PageRank; its
# mean within-query correlation with the MQ2008 labels is -0.09). The tool's
# default bias feature 7 is a query-level feature (IDF) on LETOR 4.0, constant
# within a query, so it would order nothing.
#   scenario 1: mixed users  --users pbm:0.5,position:0.3,thorough:0.2
#               variants naive, additive, pal, dot (b_ref mean), dot (b_ref top), mixem
#   scenario 2: 2x5 grid, same-row neighbour effect (--grid 2x5 --neighbour 3)
#               variants naive, additive, xpa
# Every variant of a scenario trains on the SAME click log of a seed (paired
# comparison). The oracle row is the naive model trained on clicks of users
# who see everything (same queries and layout, no position bias). Training
# uses the tool's default flags and no labels: it stops on the click
# log-likelihood of held-out items of the click log itself (`ttrank train`
# --holdout, default). vali.txt is not used. NDCG@5/10 are measured on
# test.txt against its labels; the click log-likelihood is the mean per item
# of a held-out click log simulated on test.txt with the scenario's users
# (`ttrank eval --clicks`). The table gives mean and sd over the seeds.
#
# Environment: TTRANK (the tool; default build/<arch>-gcc/ttrank), SEEDS
# ("1 2 3 4 5"), LISTS (training impressions per seed, 100000), TEST_LISTS
# (held-out impressions, 5000), JOBS (parallel trainings, 2), TRAIN_FLAGS
# (added to every `ttrank train`, default none: the tool's defaults), SIM
# (logging-ranker flags, above), S1_USERS (scenario 1's mixture), WORK (a
# temporary directory). Each trained model is also quantized
# (`ttrank quantize`): the int8 column is its NDCG@10 minus the float model's.
set -eu

# Internal: run one job line (called through xargs, environment exported).
if [ $# -eq 2 ] && [ "$1" = "--job" ]; then
    IFS='|' read -r kind a b c d e <<JOB
$2
JOB
    case $kind in
    sim) # a=data file, b=out, c=lists, d=seed, e=extra flags
        # shellcheck disable=SC2086
        exec "$TTRANK" simulate --data "$a" --out "$b" --lists "$c" --draw random --seed "$d" $e $SIM > /dev/null ;;
    train) # a=scenario, b=name, c=log prefix, d=seed, e=train flags
        tag=$(printf '%s' "$b" | tr -c 'a-z0-9' '_')
        m="$WORK/m.$d.$a.$tag.ttr"
        r="$WORK/r.$d.$a.$tag.json"
        # shellcheck disable=SC2086
        "$TTRANK" train $e --clicks "$WORK/$c.$d.clk" --out "$m" --seed "$d" $TRAIN_FLAGS \
            > "$m.log"
        "$TTRANK" eval --model "$m" --data "$DATA/test.txt" --clicks "$WORK/s$a.$d.test.clk" \
            --json > "$r"
        grep -q '"ndcg@10"' "$r" || { echo "eval.sh: $m: no result" >&2; exit 1; }
        # the same model quantized to int8 (ttrank quantize), ranked on test.txt
        "$TTRANK" quantize --model "$m" --out "$m.int8" > /dev/null
        "$TTRANK" eval --model "$m.int8" --data "$DATA/test.txt" --json > "$r.int8"
        grep -q '"ndcg@10"' "$r.int8" || { echo "eval.sh: $m.int8: no result" >&2; exit 1; }
        ep=$(sed -n 's/^saved.*epoch \([0-9.]*\).*/\1/p' "$m.log")
        printf '%s|%s|%s|%s\n' "$a" "$b" "$d" "$ep" > "$r.meta"
        exit 0 ;;
    esac
    exit 2
fi

if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
    [ $# -eq 1 ] && exit 0
    exit 2
fi
DATA=$1
for f in train.txt test.txt; do
    if [ ! -r "$DATA/$f" ]; then
        echo "eval.sh: $DATA/$f: not found" >&2
        exit 1
    fi
done
TTRANK=${TTRANK:-build/$(uname -m)-gcc/ttrank}
SEEDS=${SEEDS:-1 2 3 4 5}
LISTS=${LISTS:-100000}
TEST_LISTS=${TEST_LISTS:-5000}
JOBS=${JOBS:-2}
TRAIN_FLAGS=${TRAIN_FLAGS:-}
if [ ! -x "$TTRANK" ]; then
    echo "eval.sh: $TTRANK: not built (make tool, or set TTRANK)" >&2
    exit 1
fi
if ! "$TTRANK" simulate --help 2>/dev/null | grep -q 'Usage: ttrank simulate'; then
    echo "eval.sh: $TTRANK: has no 'simulate' command (stale build? set TTRANK)" >&2
    exit 1
fi
OWN_WORK=0
if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ttrank-eval.XXXXXX")
    OWN_WORK=1
fi
mkdir -p "$WORK"
cleanup() { [ "$OWN_WORK" = 1 ] && rm -rf "$WORK"; return 0; }
trap cleanup EXIT INT TERM

SELF=$0
SIM=${SIM---bias-feature 41 --logger 0.5,2,1}
export TTRANK DATA WORK SIM
S1_USERS=${S1_USERS:-pbm:0.5,position:0.3,thorough:0.2}
S2_SIM="--grid 2x5 --neighbour 3"
start=$(date +%s)
echo "ttrank eval: $DATA, seeds: $SEEDS; $LISTS training lists per seed, default training flags"
echo "${TRAIN_FLAGS:+plus $TRAIN_FLAGS }(no labels: early stopping on held-out items' clicks), $TEST_LISTS lists on test.txt"
echo "logging ranker: ${SIM:-the simulator's default}"

# ---- simulate the click logs -------------------------------------------------
: > "$WORK/jobs"
for s in $SEEDS; do
    t=$((s + 1000))
    cat >> "$WORK/jobs" <<JOBS
sim|$DATA/train.txt|$WORK/s1.$s.clk|$LISTS|$s|--users $S1_USERS
sim|$DATA/train.txt|$WORK/s1o.$s.clk|$LISTS|$s|--users thorough:1
sim|$DATA/test.txt|$WORK/s1.$s.test.clk|$TEST_LISTS|$t|--users $S1_USERS
sim|$DATA/train.txt|$WORK/s2.$s.clk|$LISTS|$s|$S2_SIM
sim|$DATA/train.txt|$WORK/s2o.$s.clk|$LISTS|$s|--grid 2x5 --users thorough:1
sim|$DATA/test.txt|$WORK/s2.$s.test.clk|$TEST_LISTS|$t|$S2_SIM
JOBS
done
run_jobs() {
    # one shell command per line, JOBS at a time; fail if any fails
    tr '\n' '\0' < "$1" | xargs -0 -P "$JOBS" -n 1 sh "$SELF" --job ||
        { echo "eval.sh: a job failed (see the message above)" >&2; exit 1; }
}
run_jobs "$WORK/jobs"

# ---- train and evaluate ------------------------------------------------------
# name|scenario|log prefix|train flags
VARIANTS='oracle|1|s1o|--model naive
naive|1|s1|--model naive
additive|1|s1|--model additive
pal|1|s1|--model pal
dot (b_ref mean)|1|s1|--model dot --dot-serving mean
dot (b_ref top)|1|s1|--model dot --dot-serving top
mixem|1|s1|--model mixem
oracle|2|s2o|--model naive
naive|2|s2|--model naive
additive|2|s2|--model additive
xpa|2|s2|--model xpa'
export TTRANK DATA WORK TRAIN_FLAGS
: > "$WORK/jobs"
for s in $SEEDS; do
    echo "$VARIANTS" | while IFS='|' read -r name sc log flags; do
        echo "train|$sc|$name|$log|$s|$flags"
    done >> "$WORK/jobs"
done
run_jobs "$WORK/jobs"

# ---- the table -----------------------------------------------------------------
for meta in "$WORK"/r.*.json.meta; do
    json=${meta%.meta}
    line=$(cat "$meta")
    nd5=$(sed -n 's/.*"ndcg@5":\([-0-9.e]*\).*/\1/p' "$json")
    nd10=$(sed -n 's/.*"ndcg@10":\([-0-9.e]*\).*/\1/p' "$json")
    ll=$(sed -n 's/.*"click_loglik":\([-0-9.e]*\).*/\1/p' "$json")
    q10=$(sed -n 's/.*"ndcg@10":\([-0-9.e]*\).*/\1/p' "$json.int8")
    echo "$line|$nd5|$nd10|$ll|$q10"
done > "$WORK/results"

echo "$VARIANTS" | awk -F'|' '{ print $2 "|" $1 }' > "$WORK/order"
awk -F'|' -v nseeds="$(echo $SEEDS | wc -w)" -v s1users="$S1_USERS" '
    NR == FNR { order[++n] = $0; next }
    {
        k = $1 "|" $2
        c[k]++; s5[k] += $5; q5[k] += $5 * $5; s10[k] += $6; q10[k] += $6 * $6
        sl[k] += $7; ql[k] += $7 * $7; ep[k] = ep[k] (ep[k] == "" ? "" : ",") $4
        d = $8 - $6; sq[k] += d; if (d < 0) d = -d; if (d > mq[k]) mq[k] = d
        v5[k "|" $3] = $5; seeds[$3] = 1
    }
    function sd(s, q, n) { v = n > 1 ? (q - s * s / n) / (n - 1) : 0; return v > 0 ? sqrt(v) : 0 }
    END {
        titles[1] = "Scenario 1: ranked list of 10, mixed users (" s1users ")"
        titles[2] = "Scenario 2: 2x5 grid, same-row neighbour effect (--neighbour 3)"
        last = ""
        for (i = 1; i <= n; i++) {
            split(order[i], a, "|"); k = order[i]
            if (a[1] != last) {
                printf "\n%s\n", titles[a[1]]
                printf "  %-17s | %-16s | %-16s | %-16s | %-19s | %-20s | %s\n", "variant", "NDCG@5", "NDCG@5 - naive", "NDCG@10", "click loglik", "int8 - f32 NDCG@10", "epochs"
                printf "  ------------------+------------------+------------------+------------------+---------------------+----------------------+----------\n"
                last = a[1]
            }
            m = c[k]
            if (!m) { printf "  %-17s | (no result)\n", a[2]; continue }
            # paired with naive: differences on the same click logs, mean +- sd
            nk = a[1] "|naive"; pn = 0; ps = 0; pq = 0
            for (sd_ in seeds) if ((k "|" sd_) in v5 && (nk "|" sd_) in v5) {
                dd = v5[k "|" sd_] - v5[nk "|" sd_]; pn++; ps += dd; pq += dd * dd
            }
            paired = pn ? sprintf("%+.4f +- %.4f", ps / pn, sd(ps, pq, pn)) : "-"
            printf "  %-17s | %.4f +- %.4f | %-16s | %.4f +- %.4f | %.5f +- %.5f | %+.4f (max |%.4f|) | %s\n", a[2],
                s5[k] / m, sd(s5[k], q5[k], m), paired, s10[k] / m, sd(s10[k], q10[k], m),
                sl[k] / m, sd(sl[k], ql[k], m), sq[k] / m, mq[k], ep[k]
            if (m != nseeds) printf "    (%d of %d seeds)\n", m, nseeds
        }
    }' "$WORK/order" "$WORK/results"
q=$(sed -n 's/.*"counted":\([0-9]*\),"skipped":\([0-9]*\).*/\1 counted, \2 skipped/p' "$(ls "$WORK"/r.*.json | head -n 1)")
echo
echo "mean +- sd over seeds $SEEDS. NDCG on test.txt ($q: queries without a relevant"
echo "item have no NDCG). click loglik: mean log-likelihood per item of a held-out click log"
echo "simulated on test.txt with the scenario's users (higher is better; the oracle is trained"
echo "without position bias, so its loglik is not comparable). epochs: where training stopped"
echo "(the best held-out click log-likelihood)."
echo "time: $(( $(date +%s) - start )) s"
