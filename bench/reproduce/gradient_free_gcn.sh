#!/usr/bin/env bash
# Regenerates the tables of algorithms/gradient_free_gcn/README.md: linearized GCNs (SGC, SSGC,
# APPNP filters) at depths K = 2..64 on Cora and CiteSeer, the classifier trained by Adam or
# solved in closed form, over the public split (10 inits) and 10 random splits; plus the synthetic
# CSBM graph. Writes <out>/{cora,citeseer,synthetic}.{md,jsonl}, <out>/summary.md and the SVG
# plots in the algorithm folder. About 6 minutes on 2 cores (cora ~1/3, citeseer ~2/3).
#
#   bench/reproduce/gradient_free_gcn.sh                  # THREADS=1 when the machine is shared
#   BUILD=build THREADS=2 OUT=build/reproduce/gradient_free_gcn bench/reproduce/gradient_free_gcn.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
OUT=${OUT:-$BUILD/reproduce/gradient_free_gcn}
EXE=$BUILD/gradient_free_gcn
FOLDER=algorithms/gradient_free_gcn
mkdir -p "$OUT"
ninja -C "$BUILD" -j2 gradient_free_gcn >/dev/null

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
  echo "# gradient_free_gcn reproduction"
  echo
  echo "machine: ${cpu:-unknown CPU}, $(nproc) cores, --threads $THREADS; $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/summary.md"

for ds in cora citeseer synthetic; do
  start=$(date +%s)
  "$EXE" --dataset "$ds" --threads "$THREADS" --quiet --out "$OUT/$ds.jsonl" --table "$OUT/$ds.md" \
    --plot "$FOLDER/accuracy_vs_depth_$ds.svg" >"$OUT/$ds.log"
  took=$(($(date +%s) - start))
  {
    echo
    echo "## $ds ($took s wall)"
    echo
    echo "command: $EXE --dataset $ds --threads $THREADS"
    cat "$OUT/$ds.md"
  } >>"$OUT/summary.md"
  echo "$ds: $took s" >&2
done

# PubMed: the shared data folder has no features for it; record what the loader says.
{
  echo
  echo "## pubmed"
  echo
  "$EXE" --dataset pubmed --threads "$THREADS" --quiet 2>&1 | sed 's/^/    /' || true
} >>"$OUT/summary.md"

cat "$OUT/summary.md"
