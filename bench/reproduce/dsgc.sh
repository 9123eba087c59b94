#!/usr/bin/env bash
# Regenerates the tables of algorithms/dsgc/README.md (DSGC, Li et al., KDD 2021) on Cora and
# CiteSeer: MLP on X, X F, G X, G X F and a GCN over 20 random splits at 20 and 5 labels per class,
# the within-class variance ratios, and SVD + k-means clustering of G X and G X F'.
#   bash bench/reproduce/dsgc.sh                 # after: ninja -C build dsgc
#   THREADS=2 bash bench/reproduce/dsgc.sh       # engine threads per run (default 1)
#   JOBS=2 bash bench/reproduce/dsgc.sh          # run the two datasets side by side
# Logs and metrics go to build/reproduce/dsgc/; the README's block between the dsgc:results
# markers is replaced by the new tables (with the machine and the time taken).
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-1}
JOBS=${JOBS:-1}
REPEATS=${REPEATS:-20}
out=build/reproduce/dsgc
mkdir -p "$out"
[ -x build/dsgc ] || { echo "dsgc.sh: build/dsgc not found; run: ninja -C build dsgc" >&2; exit 1; }

start=$(date +%s)
run() {
  local ds=$1
  local t0=$(date +%s)
  ./build/dsgc --dataset "$ds" --repeats "$REPEATS" --threads "$THREADS" --quiet --out "$out/$ds.jsonl" > "$out/$ds.log"
  echo "$(( $(date +%s) - t0 ))" > "$out/$ds.seconds"
  echo "dsgc.sh: $ds done in $(cat "$out/$ds.seconds") s"
}
if [ "$JOBS" -ge 2 ]; then
  run cora & run citeseer & wait
else
  run cora; run citeseer
fi
total=$(( $(date +%s) - start ))
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)

python3 - "$out" "$total" "$THREADS" "$JOBS" "$(nproc) cores, ${cpu:-unknown CPU}" <<'EOF'
import json, sys, re
out, total, threads, jobs, machine = sys.argv[1:6]
rows = {}
def load(ds):
    return [json.loads(l) for l in open(f"{out}/{ds}.jsonl")]
data = {ds: load(ds) for ds in ["cora", "citeseer"]}
names = {"cora": "Cora", "citeseer": "CiteSeer"}
lines = []
lines.append("Semi-supervised node classification: test accuracy (%) at the epoch of best validation "
             "accuracy, mean ± std over the splits (500 validation nodes, every other labelled node tested).\n")
models = ["X", "X F", "G X", "G X F", "GCN"]
label = {"X": "MLP on X", "X F": "MLP on X F", "G X": "MLP on G X (GLP-style)", "G X F": "MLP on G X F (DSGC)", "GCN": "GCN"}
hdr = "| model | " + " | ".join(f"{names[d]} {c}/class" for d in data for c in (20, 5)) + " |"
lines += [hdr, "|---" * (1 + 4) + "|"]
splits = None
for m in models:
    cells = []
    for d, recs in data.items():
        for c in (20, 5):
            s = [r for r in recs if r["kind"] == "summary" and r["model"] == m and r["labels_per_class"] == c][0]
            splits = s["splits"]
            cells.append(f"{100*s['mean']:.2f} ± {100*s['std']:.2f}")
    if m == "G X F":
        cells = [f"**{c}**" for c in cells]
    lines.append(f"| {label[m]} | " + " | ".join(cells) + " |")
lines.append("")
lines.append("Within-class share of the variance, Σ‖x_i − μ_class‖² / Σ‖x_i − μ‖² over all labelled nodes "
             "(lower: classes are tighter):\n")
lines += ["| features | " + " | ".join(names[d] for d in data) + " |", "|---|---|---|"]
for f in ["X", "X F", "G X", "G X F"]:
    cells = [f"{[r for r in recs if r['kind']=='variance' and r['features']==f][0]['within_ratio']:.4f}" for recs in data.values()]
    lines.append(f"| {f} | " + " | ".join(cells) + " |")
lines.append("")
lines.append("Clustering (top-c left singular vectors + k-means, 10 runs; %, mean ± std):\n")
lines += ["| features | dataset | ACC | NMI | macro-F1 |", "|---|---|---|---|---|"]
for d, recs in data.items():
    for r in [r for r in recs if r["kind"] == "cluster"]:
        lines.append(f"| {r['features']} | {names[d]} | {100*r['acc']:.2f} ± {100*r['acc_std']:.2f} | "
                     f"{100*r['nmi']:.2f} ± {100*r['nmi_std']:.2f} | {100*r['f1']:.2f} ± {100*r['f1_std']:.2f} |")
lines.append("")
secs = {d: open(f"{out}/{d}.seconds").read().strip() for d in data}
lines.append(f"{splits} splits per column. Machine: {machine}; `--threads {threads}`, {jobs} dataset(s) at a time; "
             f"wall time {total} s in all (Cora {secs['cora']} s, CiteSeer {secs['citeseer']} s), "
             "filtering, training, evaluation and clustering included. Command: `bash bench/reproduce/dsgc.sh`.")
table = "\n".join(lines)
print(table)
path = "algorithms/dsgc/README.md"
text = open(path).read()
new = re.sub(r"(<!-- dsgc:results:begin -->\n).*?(<!-- dsgc:results:end -->)", lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
open(path, "w").write(new)
EOF
echo "dsgc.sh: total wall time $total s"
