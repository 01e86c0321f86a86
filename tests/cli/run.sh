#!/bin/sh
# Command-line tests of the ttrank tool: every data command on tiny generated
# files, exit codes, one-line errors with file:line:col, --help, and the round
# trip simulate -> train -> eval -> rank -> info -> plot.
#
#   tests/cli/run.sh [TTRANK]      (default: $TTRANK, else build/<arch>-gcc/ttrank)
#
# RUN (e.g. qemu-aarch64) prefixes every call of the tool. Prints one line per
# failure and a final line "N passed, N failed"; exits 1 if anything failed.
set -u
T=${1:-${TTRANK:-build/$(uname -m)-gcc/ttrank}}
RUN=${RUN:-}
W=$(mktemp -d "${TMPDIR:-/tmp}/ttrank-cli.XXXXXX")
[ -n "${KEEP_W:-}" ] || trap 'rm -rf "$W"' EXIT INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# t NAME EXPECTED_RC CMD...: run the tool, keep stdout/stderr in $W/out, $W/err
t() {
    name=$1 want=$2
    shift 2
    # shellcheck disable=SC2086
    $RUN "$T" "$@" > "$W/out" 2> "$W/err"
    rc=$?
    if [ "$want" = nz ]; then
        [ $rc -ne 0 ] && ok || bad "$name: exit 0, expected failure"
    else
        [ $rc -eq "$want" ] && ok || bad "$name: exit $rc, expected $want ($(head -n 1 "$W/err"))"
    fi
}
# one_line_err NAME REGEX: stderr is exactly one line matching REGEX
one_line_err() {
    n=$(wc -l < "$W/err")
    if [ "$n" -eq 1 ] && grep -Eq "$2" "$W/err"; then ok; else
        bad "$1: stderr not one line matching '$2': $(cat "$W/err")"
    fi
}
# an SVG document: "<svg" first (after an optional XML declaration), "</svg>" last
is_svg() {
    sed -n '1{/^<?xml /d;};/./{p;q;}' "$1" | grep -q '^<svg' && tail -n 1 "$1" | grep -q '</svg>'
}
has() { grep -Eq "$2" "$3" && ok || bad "$1: no '$2' in $(basename "$3")"; }

if [ ! -x "$T" ]; then
    echo "tests/cli/run.sh: $T: not built"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- tiny data: 3 queries x 6 documents, 8 features, labels 0..2 --------------
awk 'BEGIN {
    s = 7
    for (q = 1; q <= 3; q++) for (d = 0; d < 6; d++) {
        line = ((q + d) % 3) " qid:" q
        for (f = 1; f <= 8; f++) { s = (s * 1103515245 + 12345) % 2147483648; line = line " " f ":" sprintf("%.3f", s / 2147483648) }
        print line " # doc " d
    }
}' > "$W/d.txt"
# the same without qid, plus a LightGBM .query file
sed 's/ qid:[0-9]*//' "$W/d.txt" > "$W/lgb.txt"
printf '6\n6\n6\n' > "$W/lgb.txt.query"
NLINES=$(wc -l < "$W/d.txt")

# ---- --help on every command ----------------------------------------------------
for c in simulate train eval rank info plot serving quantize learn average export import; do
    t "$c --help" 0 "$c" --help
    has "$c --help" "^Usage: ttrank $c" "$W/out"
done
t "unknown option" 2 simulate --bogus
one_line_err "unknown option" "^ttrank simulate: unknown option '--bogus'"
t "missing --out" 2 simulate --data "$W/d.txt"
one_line_err "missing --out" "^ttrank simulate: --out is required"
t "bad --grid" 2 simulate --data "$W/d.txt" --out "$W/x" --grid 3by2
one_line_err "bad --grid" "^ttrank simulate: --grid"
t "bad --model" 2 train --model nope --clicks "$W/x" --out "$W/y"
one_line_err "bad --model" "^ttrank train: --model"

# ---- simulate -----------------------------------------------------------------------
t "simulate list" 0 simulate --data "$W/d.txt" --out "$W/c.clk" --lists 200 --seed 3 \
    --users pbm:0.5,position:0.3,thorough:0.2
has "simulate header" "^# ttrank-clicks v1 rows=10 cols=1 F=8$" "$W/c.clk"
has "simulate lines" "^[01] qid:[0-9]+ pos:[0-9] " "$W/c.clk"
cp "$W/c.clk" "$W/c1.clk"
t "simulate deterministic" 0 simulate --data "$W/d.txt" --out "$W/c.clk" --lists 200 --seed 3 \
    --users pbm:0.5,position:0.3,thorough:0.2
cmp -s "$W/c.clk" "$W/c1.clk" && ok || bad "simulate: same seed, different log"
t "simulate grid" 0 simulate --data "$W/d.txt" --out "$W/g.clk" --lists 200 --grid=2x3 \
    --neighbour 2 --draw random --seed 5
has "simulate grid header" "^# ttrank-clicks v1 rows=2 cols=3 F=8$" "$W/g.clk"
# one line per shown document, each slot once: min(6 documents, P slots) lines per list
shown_lines() { # NAME FILE P LINES_PER_LIST
    awk -v P="$3" -v N="$4" '/^#/ { next }
        { split($3, p, ":"); n[$2]++; if (p[2] + 0 >= P || seen[$2 "," p[2]]++) bad = 1 }
        END { for (q in n) if (n[q] != N) bad = 1; exit bad + (length(n) == 0) }' "$2" &&
        ok || bad "$1: not one line per shown slot"
}
shown_lines "simulate list, 6 documents in 10 slots" "$W/c.clk" 10 6
shown_lines "simulate grid, 6 documents in 6 slots" "$W/g.clk" 6 6
t "simulate 4 slots" 0 simulate --data "$W/d.txt" --out "$W/s4.clk" --lists 30 --grid=1x4 \
    --users cascade:0.5,thorough:0.5 --seed 4
shown_lines "simulate grid, 6 documents in 4 slots" "$W/s4.clk" 4 4
t "bad --logger" 2 simulate --data "$W/d.txt" --out "$W/x.clk" --logger 1,2
one_line_err "bad --logger" "^ttrank simulate: --logger: expected three numbers"
t "negative --logger noise" 2 simulate --data "$W/d.txt" --out "$W/x.clk" --logger 1,2,-1
# a noiseless logger on feature 1 alone shows every query's documents by feature 1, descending
t "simulate --logger" 0 simulate --data "$W/d.txt" --out "$W/lg.clk" --lists 3 --logger 0,1,0 \
    --bias-feature 1
awk '/^#/ { next } { split($4, f, ":"); if ($2 == q && f[2] + 0 > last + 0) bad = 1; q = $2; last = f[2] }
     END { exit bad }' "$W/lg.clk" && ok || bad "simulate --logger 0,1,0: not ordered by feature 1"
# a query-level bias feature (one value per query) orders nothing: the tool says so
awk '{ sub(/ 8:[0-9.]+/, " 8:0." substr($2, 5)); print }' "$W/d.txt" > "$W/qf.txt"
t "query-level bias feature" 0 simulate --data "$W/qf.txt" --out "$W/x.clk" --bias-feature 8
one_line_err "query-level bias feature" "^ttrank simulate: note: feature 8 has one value within every query"
t "simulate .query" 0 simulate --data "$W/lgb.txt" --out "$W/l.clk" --lists 30
has "simulate .query lists" "^[01] qid:29 " "$W/l.clk"
t "simulate held-out" 0 simulate --data "$W/d.txt" --out "$W/h.clk" --lists 50 --seed 9

# ---- malformed inputs: one line with file:line:col -------------------------------------
printf '1 qid:1 1:0.5 2:0.25\n0 qid:1 1:abc 2:1\n' > "$W/bad1.txt"
t "bad number" 1 simulate --data "$W/bad1.txt" --out "$W/x.clk"
one_line_err "bad number" "^ttrank simulate: .*bad1\.txt:2:[0-9]+: "
printf '1 qid:1 2:0.5 1:0.25\n' > "$W/bad2.txt"
t "decreasing index" 1 simulate --data "$W/bad2.txt" --out "$W/x.clk"
one_line_err "decreasing index" "^ttrank simulate: .*bad2\.txt:1:[0-9]+: .*increase"
printf '1 1:0.5\n' > "$W/bad3.txt"
t "missing qid" 1 simulate --data "$W/bad3.txt" --out "$W/x.clk"
one_line_err "missing qid" "^ttrank simulate: .*bad3\.txt:1:[0-9]+: .*qid"
printf '# ttrank-clicks v1 rows=10 cols=1 F=8\n1 qid:0 pos:0 1:1\n2 qid:0 pos:1 1:1\n' > "$W/bad.clk"
t "bad click" 1 train --model naive --clicks "$W/bad.clk" --out "$W/x.ttr"
one_line_err "bad click" "^ttrank train: .*bad\.clk:3:[0-9]+: "
printf '# ttrank-clicks v1 rows=10 cols=1 F=8\n1 qid:0 pos:0 1:1\n0 qid:0 pos:0 1:1\n' > "$W/bad2.clk"
t "repeated pos" 1 train --model naive --clicks "$W/bad2.clk" --out "$W/x.ttr"
one_line_err "repeated pos" "^ttrank train: .*bad2\.clk:3:[0-9]+: "
printf '5\n' > "$W/lgb2.txt.query"
head -n 3 "$W/lgb.txt" > "$W/lgb2.txt"
t "short .query data" 1 simulate --data "$W/lgb2.txt" --out "$W/x.clk"
one_line_err "short .query data" "^ttrank simulate: .*lgb2\.txt(\.query)?:[0-9]+:[0-9]+: "
t "missing file" 1 train --model naive --clicks "$W/none.clk" --out "$W/x.ttr"
one_line_err "missing file" "^ttrank train: .*none\.clk: "
t "not a model" 1 eval --model "$W/d.txt" --data "$W/d.txt"
one_line_err "not a model" "^ttrank eval: .*d\.txt: "

# ---- train every variant ---------------------------------------------------------------
for v in naive additive pal dot mixem; do
    t "train $v" 0 train --model "$v" --clicks "$W/c.clk" --out "$W/$v.ttr" --hidden 8,4 \
        --epochs 2 --batch 8 --seed 2
    [ -s "$W/$v.ttr" ] && ok || bad "train $v: no model file"
done
t "train epochs 0" 0 train --model mixem --clicks "$W/c.clk" --out "$W/e0.ttr" --epochs 0 --quiet
t "train epochs 0 info" 0 info --model "$W/e0.ttr"
has "train epochs 0: untrained" "^trained +0 impressions" "$W/out"
t "train xpa" 0 train --model xpa --clicks "$W/g.clk" --out "$W/xpa.ttr" --hidden=8 --epochs 2
t "train softmax, vali" 0 train --model additive --loss softmax --clicks "$W/c.clk" \
    --out "$W/sm.ttr" --epochs 3 --vali "$W/d.txt" --no-normalize --shuffle 0
has "train vali" "^saved .*epoch [0-3]\.[0-9]+ \(best vali NDCG@10" "$W/out"
t "train holdout" 0 train --model additive --clicks "$W/c.clk" --out "$W/ho.ttr" --epochs 3 \
    --holdout 0.3 --evals 2 --patience 1 --lr-schedule cosine --warmup 2 --weight-decay 1e-3 --batch 16 \
    --bias-hidden 4
has "train holdout" "^saved .*epoch [0-3]\.[0-9]+ \(best held-out click log-likelihood -" "$W/out"
has "train holdout evals" "^epoch 0\.[0-9]+: loss [0-9.]+ per list, held-out click log-likelihood -" \
    "$W/out"
# --average keeps the weight average; the default (0) the last step's weights
t "train average 0" 0 train --model additive --clicks "$W/c.clk" --out "$W/av0.ttr" --epochs 2 \
    --batch 8 --holdout 0 --quiet
t "train average" 0 train --model additive --clicks "$W/c.clk" --out "$W/av1.ttr" --epochs 2 \
    --batch 8 --holdout 0 --average 0.9 --quiet
cmp -s "$W/av0.ttr" "$W/av1.ttr" && bad "train: --average 0.9 and the default keep the same model" || ok
t "train average holdout" 0 train --model mixem --clicks "$W/c.clk" --out "$W/av2.ttr" --epochs 2 \
    --batch 8 --average 0.9 --evals 2
has "train average holdout" "^saved .*best held-out click log-likelihood" "$W/out"
t "train average range" 2 train --model additive --clicks "$W/c.clk" --out "$W/x.ttr" --average 1
one_line_err "train average range" "^ttrank train: --average: "
# a log in memory and the same log streamed from the file: in file order, the same bits
t "train in memory" 0 train --model pal --clicks "$W/c.clk" --out "$W/mem.ttr" --epochs 3 \
    --batch 8 --shuffle 0 --quiet
t "train streamed" 0 train --model pal --clicks "$W/c.clk" --out "$W/str.ttr" --epochs 3 \
    --batch 8 --shuffle 0 --quiet --stream
cmp -s "$W/mem.ttr" "$W/str.ttr" && ok || bad "train: in-memory and streamed models differ"
t "train streamed shuffled" 0 train --model mixem --clicks "$W/c.clk" --out "$W/str2.ttr" \
    --epochs 2 --batch 8 --shuffle 16 --stream
has "train streamed shuffled" "^saved .*epoch [0-9.]+ \(best held-out" "$W/out"
t "info schedule" 0 info --model "$W/ho.ttr"
has "info schedule" "^schedule   cosine, warm-up 2 steps, lr 0 at step [0-9]+, weight decay 0.001$" \
    "$W/out"
t "train bad schedule" 2 train --model naive --clicks "$W/c.clk" --out "$W/x.ttr" \
    --lr-schedule step
one_line_err "train bad schedule" "^ttrank train: --lr-schedule: expected constant, cosine or linear"
t "train bad holdout" 2 train --model naive --clicks "$W/c.clk" --out "$W/x.ttr" --holdout 1
one_line_err "train bad holdout" "^ttrank train: --holdout"
# progress in a log (stderr not a terminal): lines with an ETA at the interval asked for
TTRANK_PROGRESS_EVERY=0 $RUN "$T" train --model naive --clicks "$W/c.clk" --out "$W/x.ttr" \
    --epochs 1 > "$W/out" 2> "$W/err"
has "train progress lines" "^train: epoch 1/1 [0-9]+% \(ETA [0-9]+ s\)$" "$W/err"
has "train arena size" "; model arena [0-9.]+ MB$" "$W/out"
t "train checkpoint" 0 train --model additive --clicks "$W/c.clk" --out "$W/ck.ttr" --epochs 1 \
    --checkpoint
t "info checkpoint" 0 info --model "$W/ck.ttr"
has "info checkpoint size" "^model      .*ck\.ttr \($(wc -c < "$W/ck.ttr") bytes\)$" "$W/out"
has "info checkpoint state" "^state      checkpoint: [1-9][0-9]* optimizer steps" "$W/out"
t "info checkpoint json" 0 info --model "$W/ck.ttr" --json
has "info checkpoint json" '"steps":[1-9][0-9]*,"impressions":[1-9][0-9]*,"tag":"","optimizer_state":true' "$W/out"
has "info checkpoint json version" '"format_version":4,"library_version":"[0-9]+\.[0-9]+\.[0-9]+"' "$W/out"
t "info written by" 0 info --model "$W/ck.ttr"
has "info written by" "^written by ttrank [0-9]+\.[0-9]+\.[0-9]+ \(file format 4\)$" "$W/out"
has "info trained" "^trained    [1-9][0-9]* impressions, [1-9][0-9]* optimizer steps$" "$W/out"
t "info no state" 0 info --model "$W/additive.ttr"
has "info no state" "^state      no optimizer state" "$W/out"
t "train resume" 0 train --resume "$W/ck.ttr" --clicks "$W/c.clk" --out "$W/ck2.ttr" --epochs 1
t "train resume --lr" 0 train --resume "$W/ck.ttr" --clicks "$W/c.clk" --out "$W/ck2.ttr" \
    --epochs 1 --lr 0.02
t "info resumed lr" 0 info --model "$W/ck2.ttr"
has "info resumed lr" "^training   .* lr 0\.02," "$W/out"
t "train resume --hidden" 2 train --resume "$W/ck.ttr" --clicks "$W/c.clk" --out "$W/ck3.ttr" \
    --hidden 8
one_line_err "train resume --hidden" "^ttrank train: --hidden cannot change when resuming"
t "train resume wrong variant" 1 train --resume "$W/ck.ttr" --model pal --clicks "$W/c.clk" \
    --out "$W/ck3.ttr"
one_line_err "train resume wrong variant" "^ttrank train: "

# ---- eval -----------------------------------------------------------------------------
t "eval" 0 eval --model "$W/additive.ttr" --data "$W/d.txt"
has "eval NDCG@10" "^NDCG@10 [0-9]\.[0-9]{4}$" "$W/out"
has "eval skipped" "without one skipped" "$W/out"
awk '{ $1 = 0; print }' "$W/d.txt" > "$W/zero.txt"
t "eval no relevant item" 1 eval --model "$W/additive.ttr" --data "$W/zero.txt"
one_line_err "eval no relevant item" "^ttrank eval: .*zero\.txt: none of its 3 queries .* undefined"
mkdir "$W/busy.ttr.tmp"
t "train tmp is a directory" 1 train --model naive --clicks "$W/c.clk" --out "$W/busy.ttr"
one_line_err "train tmp is a directory" "^ttrank train: .*busy\.ttr\.tmp: "
rmdir "$W/busy.ttr.tmp"
t "train --epochs too many" 2 train --model naive --clicks "$W/c.clk" --out "$W/x.ttr" --epochs 100001
one_line_err "train --epochs too many" "^ttrank train: --epochs: expected an integer in 0\.\.100000"
t "train --hidden range" 2 train --model naive --clicks "$W/c.clk" --out "$W/x.ttr" \
    --hidden 100000
one_line_err "train --hidden range" "^ttrank train: .*hidden\[0\] must be 1\.\.4096"
t "eval json" 0 eval --model "$W/mixem.ttr" --data "$W/d.txt" --clicks "$W/h.clk" --json
has "eval json" '^\{"queries":3,.*"ndcg@10":[0-9.]+,.*"click_loglik":-[0-9.]+\}$' "$W/out"
t "eval .query" 0 eval --model "$W/naive.ttr" --data "$W/lgb.txt"
t "eval grid clicks" 0 eval --model "$W/xpa.ttr" --clicks "$W/g.clk"
t "eval wrong layout" 1 eval --model "$W/naive.ttr" --clicks "$W/g.clk"
one_line_err "eval wrong layout" "^ttrank eval: "
t "eval no data" 2 eval --model "$W/naive.ttr"

# ---- rank -----------------------------------------------------------------------------
t "rank" 0 rank --model "$W/dot.ttr" --data "$W/d.txt"
[ "$(wc -l < "$W/out")" -eq "$NLINES" ] && ok || bad "rank: $(wc -l < "$W/out") scores for $NLINES lines"
grep -Evq '^-?[0-9.]+(e[-+][0-9]+)?$' "$W/out" && bad "rank: a line is not a number" || ok
t "rank .query" 0 rank --model "$W/dot.ttr" --data "$W/lgb.txt"
printf '1 qid:1 1:0.5 99:1\n' > "$W/wide.txt"
t "rank feature above F" 1 rank --model "$W/dot.ttr" --data "$W/wide.txt"
one_line_err "rank feature above F" "^ttrank rank: .*wide\.txt:1:[0-9]+: "
t "eval feature above F" 1 eval --model "$W/dot.ttr" --data "$W/wide.txt"
one_line_err "eval feature above F" "^ttrank eval: .*wide\.txt:1:[0-9]+: "
# a bad line after good queries: nothing of the earlier queries is printed
{ head -n 6 "$W/d.txt"; echo "1 qid:9 1:x"; } > "$W/late.txt"
t "rank bad late line" 1 rank --model "$W/dot.ttr" --data "$W/late.txt"
[ ! -s "$W/out" ] && ok || bad "rank bad late line: printed scores before failing"
one_line_err "rank bad late line" "^ttrank rank: .*late\.txt:7:[0-9]+: "

# ---- info ------------------------------------------------------------------------------
for v in naive additive pal dot mixem xpa; do
    t "info $v" 0 info --model "$W/$v.ttr"
    has "info $v" "^variant +$v$" "$W/out"
    t "info $v json" 0 info --model "$W/$v.ttr" --json
    has "info $v json" "^\{.*\"variant\":\"$v\".*\"parameters\":[1-9][0-9]*.*\}$" "$W/out"
done
has "info xpa attention" '"attention":\[\[' "$W/out"
# contexts: every list gets ctx:(qid mod 3); info shows a curve per context,
# plot bias takes --context
awk '/^#/ { print; next } { q = $2; sub(/qid:/, "", q); $3 = $3 " ctx:" (q % 3); print }' \
    "$W/c.clk" > "$W/ctx.clk"
t "train contexts" 0 train --model additive --clicks "$W/ctx.clk" --out "$W/ctx.ttr" --epochs 1
t "info contexts" 0 info --model "$W/ctx.ttr"
[ "$(grep -c '^bias ctx [0-2] ' "$W/out")" -eq 3 ] && ok || bad "info contexts: not 3 bias curves"
t "plot bias context 2" 0 plot bias --model "$W/ctx.ttr" --out "$W/ctx.svg" --context 2
has "plot bias context 2" "context 2" "$W/ctx.svg"
t "plot bias context 3" 1 plot bias --model "$W/ctx.ttr" --out "$W/ctx.svg" --context 3
one_line_err "plot bias context 3" "^ttrank plot: --context 3: .* has 3 contexts \(0\.\.2\)"
t "info mixem" 0 info --model "$W/mixem.ttr"
has "info mixem pi" "^mixem pi " "$W/out"
# A model file whose header claims a huge configuration (F 65536, hidden
# 4096, max_items 1024, max_batch 65536; 6 GB of arena) with a valid CRC
# (gzip's trailer holds the same CRC-32): refused from its records, before
# any allocation. Natively under a 400 MB address-space limit, where
# allocating the claimed arena would fail with "cannot allocate".
put_u32() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2> /dev/null; }
cp "$W/additive.ttr" "$W/huge.ttr"
put_u32 "$W/huge.ttr" 20 '\000\000\001\000'
put_u32 "$W/huge.ttr" 28 '\000\020\000\000'
put_u32 "$W/huge.ttr" 76 '\000\004\000\000'
put_u32 "$W/huge.ttr" 80 '\000\000\001\000'
sz=$(wc -c < "$W/huge.ttr")
head -c $((sz - 4)) "$W/huge.ttr" | gzip -c | tail -c 8 | head -c 4 > "$W/huge.crc"
dd if="$W/huge.crc" of="$W/huge.ttr" bs=1 seek=$((sz - 4)) conv=notrunc 2> /dev/null
if [ -z "$RUN" ]; then
    (ulimit -v 400000 && exec "$T" info --model "$W/huge.ttr") > "$W/out" 2> "$W/err"
else
    $RUN "$T" info --model "$W/huge.ttr" > "$W/out" 2> "$W/err"
fi
rc=$?
[ $rc -eq 1 ] && ok || bad "info huge header: exit $rc, expected 1"
one_line_err "info huge header" "^ttrank info: .*huge\.ttr: not a loadable model file"

# ---- quantize -------------------------------------------------------------------------
# ---- serving (f32) ------------------------------------------------------------------------
t "serving" 0 serving --model "$W/additive.ttr" --out "$W/add32.ttr"
t "info serving" 0 info --model "$W/add32.ttr"
has "info serving" "^mode +serve-f32$" "$W/out"
has "info serving provenance" "^trained    [1-9][0-9]* impressions$" "$W/out"
t "rank serving" 0 rank --model "$W/add32.ttr" --data "$W/d.txt"
cp "$W/out" "$W/rank32"
t "rank trained" 0 rank --model "$W/additive.ttr" --data "$W/d.txt"
# the same ranking as the trained model (scores within float rounding)
paste "$W/out" "$W/rank32" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-5 * (1 + ($1 < 0 ? -$1 : $1))) bad = 1 }
    END { exit bad }' && ok || bad "serving: scores differ from the trained model's"
t "serving twice" 1 serving --model "$W/add32.ttr" --out "$W/x.ttr"
one_line_err "serving twice" "^ttrank serving: .*add32\.ttr is already a serving model"
t "quantize" 0 quantize --model "$W/additive.ttr" --out "$W/add8.ttr"
[ -s "$W/add8.ttr" ] && [ "$(wc -c < "$W/add8.ttr")" -lt "$(wc -c < "$W/additive.ttr")" ] && ok ||
    bad "quantize: no smaller int8 model file"
t "rank int8" 0 rank --model "$W/add8.ttr" --data "$W/d.txt"
[ "$(wc -l < "$W/out")" -eq "$NLINES" ] && ok || bad "rank int8: $(wc -l < "$W/out") scores for $NLINES lines"
t "info int8" 0 info --model "$W/add8.ttr"
has "info int8" "serve-int8" "$W/out"
# the flags say whether the normalisation is kept (0) or folded (2, --fold)
fflags() { od -A n -t u4 -j 12 -N 4 "$1" | tr -d ' '; }
[ "$(fflags "$W/add8.ttr")" = 0 ] && ok || bad "quantize: int8 file flags $(fflags "$W/add8.ttr"), want 0"
t "quantize --fold" 0 quantize --model "$W/additive.ttr" --out "$W/add8f.ttr" --fold
[ "$(fflags "$W/add8f.ttr")" = 2 ] && ok || bad "quantize --fold: file flags $(fflags "$W/add8f.ttr"), want 2"
t "eval folded int8" 0 eval --model "$W/add8f.ttr" --data "$W/d.txt"
# one feature 10,000 times larger than the others: folding would leave the
# small ones without int8 levels, so --fold is refused unless forced
awk '{ for (i = 3; i <= NF; i++) if ($i ~ /^1:/) { split($i, a, ":"); $i = "1:" a[2] * 10000 } print }' \
    "$W/d.txt" > "$W/big.txt"
t "simulate big" 0 simulate --data "$W/big.txt" --out "$W/big.clk" --lists 100 --seed 3
t "train big" 0 train --model additive --clicks "$W/big.clk" --out "$W/big.ttr" --epochs 1
t "quantize --fold big" 1 quantize --model "$W/big.ttr" --out "$W/big8.ttr" --fold
one_line_err "quantize --fold big" "^ttrank quantize: --fold would leave feature [0-9]+ [0-9.]+ int8 levels"
t "quantize --fold --force" 0 quantize --model "$W/big.ttr" --out "$W/big8.ttr" --fold --force
t "quantize int8 again" 1 quantize --model "$W/add8.ttr" --out "$W/x8.ttr"
one_line_err "quantize int8 again" "^ttrank quantize: .*add8\.ttr is already an int8 model"
t "quantize no model" 2 quantize --out "$W/x8.ttr"
t "quantize help" 0 quantize --help

# ---- bench (smoke: --quick times mean nothing, especially under qemu) ------------------
t "bench quick" 0 bench --quick --kernel dot,quantize_s8,score_f32
has "bench quick scalar row" "^dot +scalar " "$W/out"
t "bench json" 0 bench --quick --kernel dot --json
has "bench json header" '^\{"cpu":.*"paths":\["scalar"' "$W/out"
has "bench json row" '^\{"kernel":"dot","isa":"scalar",' "$W/out"
t "bench unknown isa" 2 bench --isa bogus
one_line_err "bench unknown isa" "^ttrank bench: unknown ISA path 'bogus' \(scalar, avx2, avxvnni, neon"
t "bench bad reps" 2 bench --reps 0
one_line_err "bench bad reps" "^ttrank bench: --reps: expected an integer in 1\.\."
t "bench bad clock" 2 bench --clock=wall
one_line_err "bench bad clock" "^ttrank bench: --clock: expected monotonic or cpu"
t "bench list" 0 bench --list --kernel gemm_s8
has "bench list" "^gemm_s8 +[0-9]+x[0-9]+ b" "$W/out"

# ---- plot -----------------------------------------------------------------------------
t "plot bias" 0 plot bias --model "$W/additive.ttr" --out "$W/bias.svg"
is_svg "$W/bias.svg" && ok || bad "plot bias: not an SVG"
t "plot bias mixem" 0 plot bias --model "$W/mixem.ttr" --out "$W/bm.svg"
is_svg "$W/bm.svg" && ok || bad "plot bias mixem: not an SVG"
# slots from 0 on every plot; a grid's bias is one line per row over the columns
grep -q '>0</text>' "$W/bm.svg" && ok || bad "plot bias: slot axis does not start at 0"
t "plot bias grid" 0 plot bias --model "$W/xpa.ttr" --out "$W/bg.svg"
has "plot bias grid rows" "xpa, row 1<" "$W/bg.svg"
has "plot bias grid columns" ">column<" "$W/bg.svg"
t "plot attention" 0 plot attention --model "$W/xpa.ttr" --out "$W/att.svg"
is_svg "$W/att.svg" && ok || bad "plot attention: not an SVG"
t "plot attention naive" 1 plot attention --model "$W/naive.ttr" --out "$W/x.svg"
one_line_err "plot attention naive" "^ttrank plot: .*xpa"
t "plot what" 2 plot nothing --model "$W/naive.ttr" --out "$W/x.svg"

# ---- learn ----------------------------------------------------------------------------
t "learn stream" 0 simulate --data "$W/d.txt" --out "$W/l.clk" --lists 6000 --seed 8 \
    --users pbm:0.5,position:0.3,thorough:0.2
LF="--window 256 --progress 1000 --checkpoint-every 500"
# shellcheck disable=SC2086
t "learn" 0 learn --clicks "$W/l.clk" --state "$W/l.ckpt" --serve-out "$W/ls.ttr" \
    --int8-out "$W/l8.ttr" $LF --tag "cli test"
has "learn new" "^learn: new additive loop, [0-9]+ bytes" "$W/out"
has "learn progress" "^learn: 3000 impressions \([0-9]+/s\); click log-likelihood per item over the last [0-9]+: learner -[0-9.]+, champion -[0-9.]+, constant rate -[0-9.]+; promotions [0-9]+, rollbacks [0-9]+$" "$W/out"
has "learn promoted" "^learn: promoted at [0-9]+ impressions" "$W/out"
has "learn done" "^learn: done: 6000 impressions" "$W/out"
t "learn serving" 0 info --model "$W/ls.ttr"
has "learn serving mode" "^mode +serve-f32$" "$W/out"
has "learn serving tag" "^tag        cli test$" "$W/out"
t "learn int8" 0 info --model "$W/l8.ttr"
has "learn int8 mode" "^mode +serve-int8$" "$W/out"
# done: a second run takes nothing more and changes nothing
cp "$W/l.ckpt" "$W/l1.ckpt"
t "learn again" 0 learn --clicks "$W/l.clk" --state "$W/l.ckpt"
has "learn again resumes" "^learn: resuming a additive loop from .* after 6000 lists$" "$W/out"
cmp -s "$W/l.ckpt" "$W/l1.ckpt" && ok || bad "learn again: the checkpoint changed"
t "learn setup flag on resume" 1 learn --clicks "$W/l.clk" --state "$W/l.ckpt" --window 64
one_line_err "learn setup flag on resume" "^ttrank learn: --window: with an existing --state"
t "learn no state" 2 learn --clicks "$W/l.clk"
one_line_err "learn no state" "^ttrank learn: --state is required"
t "learn no stream" 1 learn --clicks "$W/none.clk" --state "$W/n.ckpt"
one_line_err "learn no stream" "^ttrank learn: .*none\.clk: No such file"
# kill -9 in the middle, then resume: the same bits as the run that never stopped. The
# stream grows: learn --follow takes its first half, is killed while it waits for more,
# and resumes from its last checkpoint on the whole stream. The killed run goes through
# RUN_KILLED when it is set (tests/cli/valgrind.sh sets it empty: valgrind would count a
# process killed mid-run as one that leaked), else through $RUN (qemu for cross builds).
head -n "$(($(wc -l < "$W/l.clk") / 2))" "$W/l.clk" > "$W/half.clk"
# shellcheck disable=SC2086
${RUN_KILLED-$RUN} "$T" learn --clicks "$W/half.clk" --state "$W/k.ckpt" --serve-out "$W/ks.ttr" \
    --int8-out "$W/k8.ttr" $LF --tag "cli test" --follow > "$W/kout" 2>&1 &
kpid=$!
i=0
while [ $i -lt 300 ] && ! grep -q "^learn: 2000 impressions" "$W/kout"; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
kill -9 $kpid 2> /dev/null
wait $kpid 2> /dev/null
grep -q "^learn: 2000 impressions" "$W/kout" && ok || bad "learn --follow: no progress: $(cat "$W/kout")"
grep -q "^learn: done" "$W/kout" && bad "learn --follow ended by itself" || ok
t "learn resume after kill" 0 learn --clicks "$W/l.clk" --state "$W/k.ckpt" \
    --serve-out "$W/ks.ttr" --int8-out "$W/k8.ttr" --progress 1000 --checkpoint-every 500
has "learn resume after kill" "^learn: resuming a additive loop from .* after [1-9][0-9]* lists$" "$W/out"
cmp -s "$W/k.ckpt" "$W/l1.ckpt" && ok || bad "learn after kill -9: checkpoint differs from the uninterrupted run's"
cmp -s "$W/ks.ttr" "$W/ls.ttr" && ok || bad "learn after kill -9: serving model differs"
cmp -s "$W/k8.ttr" "$W/l8.ttr" && ok || bad "learn after kill -9: int8 model differs"
# ---- average ----------------------------------------------------------------------------
t "train mixem seed 3" 0 train --model mixem --clicks "$W/c.clk" --out "$W/mixem3.ttr" \
    --hidden 8,4 --epochs 2 --batch 8 --seed 3
t "average" 0 average --out "$W/avg.ttr" "$W/mixem.ttr" "$W/mixem3.ttr"
has "average" "^average: 2 models, weights impressions, [1-9][0-9]* impressions -> " "$W/out"
t "average info" 0 info --model "$W/avg.ttr"
has "average info" "^variant +mixem$" "$W/out"
t "average equal" 0 average --out "$W/avg2.ttr" --weights equal "$W/mixem.ttr" "$W/mixem3.ttr"
t "average two variants" 1 average --out "$W/avgx.ttr" "$W/mixem.ttr" "$W/naive.ttr"
one_line_err "average two variants" "^ttrank average: the models differ in configuration"
[ ! -e "$W/avgx.ttr" ] && ok || bad "average two variants: wrote a file"
t "average serving" 1 average --out "$W/x.ttr" "$W/add32.ttr"
one_line_err "average serving" "is a serving model"
t "average bad weights" 2 average --out "$W/x.ttr" --weights some "$W/mixem.ttr"

# ---- export / import (safetensors) --------------------------------------------------------
t "export" 0 export --model "$W/mixem.ttr" --out "$W/m.safetensors"
t "import" 0 import --safetensors "$W/m.safetensors" --out "$W/m2.ttr"
has "import" "^import: [0-9]+ tensors from .* \(mixem\)$" "$W/out"
t "export again" 0 export --model "$W/m2.ttr" --out "$W/m2.safetensors"
cmp -s "$W/m.safetensors" "$W/m2.safetensors" && ok || bad "export/import/export: other bytes"
t "rank imported" 0 rank --model "$W/m2.ttr" --data "$W/d.txt"
cp "$W/out" "$W/rank_imp"
t "rank original" 0 rank --model "$W/mixem.ttr" --data "$W/d.txt"
cmp -s "$W/out" "$W/rank_imp" && ok || bad "import: other scores than the original"
t "export serving" 1 export --model "$W/add32.ttr" --out "$W/x.safetensors"
one_line_err "export serving" "is a serving model"
head -c 100 "$W/m.safetensors" > "$W/cut.safetensors"
t "import truncated" 1 import --safetensors "$W/cut.safetensors" --out "$W/cut.ttr"
one_line_err "import truncated" "^ttrank import: .*cut\.safetensors: "
[ ! -e "$W/cut.ttr" ] && ok || bad "import truncated: wrote a model"
t "import flags with metadata" 1 import --safetensors "$W/m.safetensors" --out "$W/y.ttr" --model pal
one_line_err "import flags with metadata" "holds its configuration"

# ---- import of towers from PyTorch (tests/fixtures/interop/MANIFEST) -----------------------
# Good files import, and `rank` scores their inputs as PyTorch did (within 1e-5);
# bad ones fail with one line naming what is wrong and write nothing.
FX=$(dirname "$0")/../fixtures/interop
# near FILE_A FILE_B: one number per line, equal within 1e-5 (relative above 1)
near() {
    paste "$1" "$2" | awk '{ d = $1 - $2; if (d < 0) d = -d; m = $2 < 0 ? -$2 : $2
        if (m < 1) m = 1; if (d > 1e-5 * m || NF != 2) bad++ } END { exit bad > 0 || NR == 0 }'
}
grep -v '^#' "$FX/MANIFEST" | while read -r file kind nf widths sig opset word; do
    stem=${file%.*} flag=--onnx
    case $kind in st-*) flag=--safetensors ;; esac
    case $kind in
    *-ok)
        t "import $file" 0 import $flag "$FX/$file" --out "$W/fx.ttr"
        awk '{ printf "0 qid:1"; for (i = 1; i <= NF; i++) printf " %d:%s", i, $i; print "" }' \
            "$FX/$stem.in" > "$W/fx.txt"
        t "rank $file" 0 rank --model "$W/fx.ttr" --data "$W/fx.txt"
        near "$W/out" "$FX/$stem.out" && ok || bad "rank $file: not PyTorch's scores"
        ;;
    *-bad)
        rm -f "$W/fx.ttr"
        t "import $file" 1 import $flag "$FX/$file" --out "$W/fx.ttr"
        one_line_err "import $file" "$word"
        [ ! -e "$W/fx.ttr" ] && ok || bad "import $file: wrote a model"
        ;;
    esac
    echo "$pass $fail" > "$W/counts"
done
read -r pass fail < "$W/counts"
t "import onnx sigmoid" 0 import --onnx "$FX/sigmoid_op13.onnx" --out "$W/fx.ttr"
has "import onnx sigmoid" "^import: tower 6 -> 8 -> 4 -> 1 from .* \(opset 13\)" "$W/out"
has "import onnx sigmoid dropped" "Sigmoid was dropped" "$W/out"
t "import onnx dot" 0 import --onnx "$FX/bad_out2.onnx" --out "$W/fx.ttr" --model dot
t "import onnx dot info" 0 info --model "$W/fx.ttr"
has "import onnx dot info" "dot" "$W/out"
t "import both" 2 import --onnx "$FX/gemm_op9.onnx" --safetensors "$FX/tower_rel.safetensors" \
    --out "$W/fx.ttr"
one_line_err "import both" "give one of --safetensors F and --onnx F"
t "import onnx missing" 1 import --onnx "$W/nope.onnx" --out "$W/fx.ttr"
one_line_err "import onnx missing" "nope\.onnx: No such file"

# docs/interop.md's walkthrough, as printed (docs/examples/interop.sh): the
# device's model ranks its items better than the server's tower it started from
case $T in /*) TA=$T ;; *) TA=$PWD/$T ;; esac
FXA=$(cd "$FX" && pwd)
mkdir -p "$W/wt"
if (cd "$W/wt" && TTRANK="$RUN $TA" FIXTURES="$FXA" sh "$FXA/../../../docs/examples/interop.sh") \
    > "$W/wt.out" 2>&1; then ok; else bad "docs/examples/interop.sh: $(tail -n 3 "$W/wt.out")"; fi
has "walkthrough export" "^export: device.safetensors$" "$W/wt.out"
grep '^NDCG@5' "$W/wt.out" | awk '{ v[NR] = $2 } END { exit !(NR == 2 && v[2] > v[1] + 0.05) }' &&
    ok || bad "walkthrough: the device's NDCG@5 is not above the server tower's: $(grep '^NDCG@5' "$W/wt.out")"

# ... and the code docs/interop.md prints is the code that runs: its Python block
# is scripts/fixtures/make_fixtures.py's, its first sh block docs/examples/interop.sh's
ROOT=$FXA/../../..
in_file() { # BLOCK FILE: every non-empty line of BLOCK is a line of FILE
    while IFS= read -r line; do
        [ -z "$line" ] || grep -Fxq -- "$line" "$2" || { echo "$line"; return 1; }
    done < "$1"
}
awk '/^```python$/ { f = 1; next } /^```$/ { f = 0 } f' "$ROOT/docs/interop.md" > "$W/doc.py"
awk '/^```sh$/ { n++; f = n == 1; next } /^```$/ { f = 0 } f' "$ROOT/docs/interop.md" > "$W/doc.sh"
[ -s "$W/doc.py" ] && l=$(in_file "$W/doc.py" "$ROOT/scripts/fixtures/make_fixtures.py") &&
    ok || bad "docs/interop.md: Python not in make_fixtures.py: $l"
[ -s "$W/doc.sh" ] && l=$(in_file "$W/doc.sh" "$ROOT/docs/examples/interop.sh") &&
    ok || bad "docs/interop.md: sh not in docs/examples/interop.sh: $l"

# the closed loop: a table per scenario and its SVG
t "closed loop" 0 simulate --closed-loop --impressions 2000 --every 500 --test-lists 50 \
    --warm-lists 200 --svg "$W/cl"
has "closed loop table" "^  mixem +0\.[0-9]{4} +0\.[0-9]{4} +0\.[0-9]{4} +0\.[0-9]{4} +0\.[0-9]{4} +[0-9.]+$" "$W/out"
has "closed loop grid" "^  xpa +0\.[0-9]{4}" "$W/out"
is_svg "$W/cl-mixed.svg" && is_svg "$W/cl-grid.svg" && ok || bad "closed loop: no SVGs"
t "closed loop bad scenario" 2 simulate --closed-loop --scenario nope
one_line_err "closed loop bad scenario" "^ttrank simulate: --scenario: expected mixed, grid or both"
# from a trained model (its layout and normalisation)
t "learn init" 0 learn --clicks "$W/l.clk" --state "$W/i.ckpt" --init "$W/additive.ttr" \
    --serve-out "$W/is.ttr" --progress 0
has "learn init" "normalisation from --init's model$" "$W/out"
t "learn init serving" 0 info --model "$W/is.ttr" --json
has "learn init impressions" '"impressions":[1-9][0-9]*' "$W/out"
t "learn init serving model" 1 learn --clicks "$W/l.clk" --state "$W/j.ckpt" --init "$W/ls.ttr"
one_line_err "learn init serving model" "^ttrank learn: --init: .* is a serving model"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
