#!/usr/bin/env bash
# Regenerates the results of algorithms/graph_filtering_ssl/README.md (Li et al., "Label Efficient
# Semi-Supervised Learning via Graph Filtering", CVPR 2019): LP, MLP, GCN, GLP-RNM, GLP-AR,
# IGCN-RNM and IGCN-AR on Cora and CiteSeer, 4 and 20 labels per class, 20 random splits each;
# Kipf's GCN (algorithms/gcn) on the first 10 of Cora's splits as a cross-check of the GCN row;
# LP on PubMed (its features are not in the shared data folder, so LP is all that runs there).
#   bash bench/reproduce/graph_filtering_ssl.sh       # after: ninja -C build graph_filtering_ssl
# Environment: THREADS (default 2), REPEATS (20), KIPF_REPEATS (10), BUILD_DIR (build);
# TABLES_ONLY=1 rebuilds the tables from the JSON lines of an earlier run without rerunning.
# Writes build/reproduce/graph_filtering_ssl/{*.jsonl,*.txt,results.md} and replaces the block
# between the "results:begin/end" markers of the README with results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-20}
KIPF_REPEATS=${KIPF_REPEATS:-10}
exe="$BUILD_DIR/graph_filtering_ssl"
out="$BUILD_DIR/reproduce/graph_filtering_ssl"
readme=algorithms/graph_filtering_ssl/README.md
[ -x "$exe" ] || { echo "missing $exe: run ninja -C $BUILD_DIR graph_filtering_ssl" >&2; exit 1; }
mkdir -p "$out"

start=$(date +%s)
if [ "${TABLES_ONLY:-0}" = 1 ]; then
  read -r elapsed THREADS < "$out/elapsed"
else
for d in cora citeseer; do
  echo "== $d"
  "$exe" --dataset $d --repeats "$REPEATS" --threads "$THREADS" --out "$out/$d.jsonl" | tee "$out/$d.txt"
done
echo "== cora, Kipf's GCN (train_gcn)"
"$exe" --dataset cora --methods gcn-kipf --repeats "$KIPF_REPEATS" --threads "$THREADS" --out "$out/cora_kipf.jsonl" \
  | tee "$out/cora_kipf.txt"
echo "== pubmed (LP only)"
"$exe" --dataset pubmed --methods lp --repeats "$REPEATS" --threads "$THREADS" --out "$out/pubmed.jsonl" \
  | tee "$out/pubmed.txt"
elapsed=$(( $(date +%s) - start ))
echo "$elapsed $THREADS" > "$out/elapsed"
fi

python3 - "$out" "$elapsed" "$THREADS" "$REPEATS" "$KIPF_REPEATS" > "$out/results.md" <<'EOF'
import json, sys, os, platform, datetime
out, elapsed, threads, repeats, kipf_repeats = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = []
for name in ["cora", "citeseer", "cora_kipf", "pubmed"]:
    with open(os.path.join(out, name + ".jsonl")) as f:
        rows += [json.loads(l) for l in f if '"summary"' in l]
cell = {(r["dataset"], r["labels_per_class"], r["method"]): r for r in rows}
methods = ["LP", "MLP", "GCN", "GCN-Kipf", "GLP-RNM", "GLP-AR", "IGCN-RNM", "IGCN-AR"]
cols = [("cora", 4), ("cora", 20), ("citeseer", 4), ("citeseer", 20), ("pubmed", 4), ("pubmed", 20)]
def acc(key):
    r = cell.get(key)
    return "—" if r is None else "%.1f ± %.1f" % (100 * r["accuracy_mean"], 100 * r["accuracy_std"])
def secs(key):
    r = cell.get(key)
    if r is None:
        return "—"
    if key[2].startswith("GLP"):
        return "%.2f (filter %.2f)" % (r["seconds_mean"], r["filter_seconds_mean"])
    return "%.2f" % r["seconds_mean"]
cpu = "?"
try:
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
except Exception:
    pass
print("Test accuracy (%%), mean ± std over %s random splits per column (GCN-Kipf: the first %s of Cora's);"
      " measured %s on %s, %d cores, --threads %s, in %d s of wall time in all."
      % (repeats, kipf_repeats, datetime.date.today().isoformat(), cpu, os.cpu_count(), threads, elapsed))
print()
print("| method | " + " | ".join("%s %d/class" % ({"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}[d], l) for d, l in cols) + " |")
print("| --- |" + " --- |" * len(cols))
for m in methods:
    print("| %s | " % m + " | ".join(acc((d, l, m)) for d, l in cols) + " |")
print()
print("Wall seconds per split (filtering + training, evaluation included; GLP's filter is computed once per"
      " setting and counted in every split; LP's is its filter):")
print()
print("| method | " + " | ".join("%s %d/class" % ({"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}[d], l) for d, l in cols[:4]) + " |")
print("| --- |" + " --- |" * 4)
for m in methods:
    print("| %s | " % m + " | ".join(secs((d, l, m)) for d, l in cols[:4]) + " |")
EOF

cat "$out/results.md"
if grep -q "results:begin" "$readme"; then
  python3 - "$readme" "$out/results.md" <<'EOF'
import sys
readme, results = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
head, rest = text.split("<!-- results:begin -->", 1)
_, tail = rest.split("<!-- results:end -->", 1)
open(readme, "w").write(head + "<!-- results:begin -->\n" + results + "<!-- results:end -->" + tail)
EOF
  echo "updated $readme"
fi
echo "graph_filtering_ssl: total wall time $elapsed s"
