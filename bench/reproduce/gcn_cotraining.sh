#!/usr/bin/env bash
# Regenerates the tables and plots of algorithms/gcn_cotraining/README.md (Li, Han and Wu,
# AAAI 2018): the seven methods x six label rates on Cora and CiteSeer (20 random splits each,
# four single-threaded processes), LP on PubMed (its features are not in the
# shared data folder, so no GCN runs there), GCN+V / GCN-V on the public splits (the anchor
# numbers), and the over-smoothing study on Cora's public split.
#
#   bench/reproduce/gcn_cotraining.sh            # everything, into build/reproduce/gcn_cotraining
#   SPLITS=5 bench/reproduce/gcn_cotraining.sh   # a quicker, noisier pass
#   PARTS="tables pubmed" bench/reproduce/gcn_cotraining.sh   # some of: tables pubmed public oversmoothing
#
# Needs ./build/gcn_cotraining (ninja -C build gcn_cotraining).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=./build/gcn_cotraining
OUT=${OUT:-build/reproduce/gcn_cotraining}
SPLITS=${SPLITS:-20}
PARTS=${PARTS:-tables pubmed public oversmoothing}
want() { [[ " $PARTS " == *" $1 "* ]]; }
[[ -x $BIN ]] || { echo "build it first: ninja -C build gcn_cotraining" >&2; exit 1; }
mkdir -p "$OUT"

seconds() { date +%s.%N; }
t0=$(seconds)
# Cora and CiteSeer, each in two halves of the label rates: four single-threaded processes (the
# splits depend on the rate, not on which process draws them). On an idle 2-core machine this is
# as fast as two processes; on a shared one it holds its place in the queue.
if want tables; then
pids=()
for d in cora citeseer; do
  for half in "0.005 0.01 0.02" "0.03 0.04 0.05"; do
    tag=$d-${half%% *}
    $BIN --dataset $d --rates $half --repeats "$SPLITS" --threads 1 --quiet --out "$OUT/$tag.jsonl" > "$OUT/$tag.log" &
    pids+=($!)
  done
done
for p in "${pids[@]}"; do wait "$p"; done
t1=$(seconds)
bench/reproduce/gcn_cotraining_table.py "$OUT"/cora-*.jsonl "$OUT"/citeseer-*.jsonl > "$OUT/tables.md"
printf 'Cora + CiteSeer tables (%s splits): %.0f s wall\n' "$SPLITS" "$(echo "$t1 - $t0" | bc)" | tee -a "$OUT/time.txt"
fi

t1=$(seconds)
if want pubmed; then
$BIN --dataset pubmed --repeats "$SPLITS" --threads 2 --quiet --out "$OUT/pubmed.jsonl" > "$OUT/pubmed.log" || true
bench/reproduce/gcn_cotraining_table.py "$OUT/pubmed.jsonl" > "$OUT/tables_pubmed.md"
printf 'PubMed LP: %.0f s wall\n' "$(echo "$(seconds) - $t1" | bc)" | tee -a "$OUT/time.txt"
fi

t2=$(seconds)
if want public; then
for d in cora citeseer; do
  $BIN --dataset $d --experiment public --repeats 10 --threads 2 --quiet --out "$OUT/public_$d.jsonl" > "$OUT/public_$d.log"
done
printf 'Public split anchors: %.0f s wall\n' "$(echo "$(seconds) - $t2" | bc)" | tee -a "$OUT/time.txt"
cat "$OUT"/public_*.log
fi
t2=$(seconds)
if want oversmoothing; then
$BIN --dataset cora --experiment oversmoothing --repeats 3 --threads 2 --quiet \
  --plot-dir algorithms/gcn_cotraining --out "$OUT/oversmoothing_cora.jsonl" > "$OUT/oversmoothing_cora.log"
t3=$(seconds)
printf 'Over-smoothing (Cora, 3 seeds): %.0f s wall\n' "$(echo "$t3 - $t2" | bc)" | tee -a "$OUT/time.txt"
fi
cat "$OUT"/tables*.md "$OUT"/time.txt
