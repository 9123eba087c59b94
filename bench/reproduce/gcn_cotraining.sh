#!/usr/bin/env bash
# Regenerates the tables and plots of algorithms/gcn_cotraining/README.md (Li, Han and Wu,
# AAAI 2018): the seven methods x six label rates on Cora and CiteSeer (20 random splits each,
# the two datasets in parallel, one thread each), LP on PubMed (its features are not in the
# shared data folder, so no GCN runs there), and the over-smoothing study on Cora's public split.
#
#   bench/reproduce/gcn_cotraining.sh            # everything, into build/reproduce/gcn_cotraining
#   SPLITS=5 bench/reproduce/gcn_cotraining.sh   # a quicker, noisier pass
#
# Needs ./build/gcn_cotraining (ninja -C build gcn_cotraining).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=./build/gcn_cotraining
OUT=${OUT:-build/reproduce/gcn_cotraining}
SPLITS=${SPLITS:-20}
[[ -x $BIN ]] || { echo "build it first: ninja -C build gcn_cotraining" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT/tables.md"

seconds() { date +%s.%N; }
t0=$(seconds)
# Cora and CiteSeer side by side: one core each.
$BIN --dataset cora --repeats "$SPLITS" --threads 1 --quiet --out "$OUT/cora.jsonl" > "$OUT/cora.log" &
cora=$!
$BIN --dataset citeseer --repeats "$SPLITS" --threads 1 --quiet --out "$OUT/citeseer.jsonl" > "$OUT/citeseer.log" &
citeseer=$!
wait $cora
wait $citeseer
t1=$(seconds)
# The tables are the last lines of each log (markdown).
for d in cora citeseer; do sed -n '/^| /p' "$OUT/$d.log" >> "$OUT/tables.md"; echo >> "$OUT/tables.md"; done
printf 'Cora + CiteSeer tables (%s splits): %.0f s wall\n' "$SPLITS" "$(echo "$t1 - $t0" | bc)" | tee "$OUT/time.txt"

$BIN --dataset pubmed --repeats "$SPLITS" --threads 2 --quiet --out "$OUT/pubmed.jsonl" > "$OUT/pubmed.log" || true
sed -n '/^| /p' "$OUT/pubmed.log" >> "$OUT/tables.md"
t2=$(seconds)
printf 'PubMed LP: %.0f s wall\n' "$(echo "$t2 - $t1" | bc)" | tee -a "$OUT/time.txt"

$BIN --dataset cora --experiment oversmoothing --repeats 3 --threads 2 --quiet \
  --plot-dir algorithms/gcn_cotraining --out "$OUT/oversmoothing_cora.jsonl" > "$OUT/oversmoothing_cora.log"
t3=$(seconds)
printf 'Over-smoothing (Cora, 3 seeds): %.0f s wall\n' "$(echo "$t3 - $t2" | bc)" | tee -a "$OUT/time.txt"
cat "$OUT/tables.md" "$OUT/oversmoothing_cora.log"
