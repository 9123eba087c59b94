#!/usr/bin/env bash
# Regenerates the tables of algorithms/dsgc/README.md (DSGC, Li et al., KDD 2021) on Cora and
# CiteSeer: MLP on X, X F, G X, G X F and a GCN over 20 random splits at 20 and 5 labels per class,
# the within-class variance ratios, and SVD + k-means clustering of G X and G X F'.
#   bash bench/reproduce/dsgc.sh                 # after: ninja -C build dsgc
#   THREADS=2 bash bench/reproduce/dsgc.sh       # engine threads per run (default 1)
#   JOBS=2 bash bench/reproduce/dsgc.sh          # run the two datasets side by side
#   SHARDS=3 bash bench/reproduce/dsgc.sh        # split each dataset's splits over 3 processes
#   TABLES_ONLY=1 bash bench/reproduce/dsgc.sh   # rebuild the tables from the existing logs
# A shard runs the consecutive seeds seed0 .. seed0 + REPEATS/SHARDS - 1; split r always comes
# from seed r (its split and its models), so the shards together give exactly the numbers of one
# process running every split. Only shard 0 clusters.
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

SHARDS=${SHARDS:-1}
[ $(( REPEATS % SHARDS )) -eq 0 ] || { echo "dsgc.sh: REPEATS ($REPEATS) must be a multiple of SHARDS ($SHARDS)" >&2; exit 1; }
per=$(( REPEATS / SHARDS ))
start=$(date +%s)
run() {
  local ds=$1 t0=$(date +%s) pids=()
  for ((s = 0; s < SHARDS; s++)); do
    local extra=(); [ "$s" -eq 0 ] || extra=(--no-cluster)
    ./build/dsgc --dataset "$ds" --seed $(( s * per )) --repeats "$per" --threads "$THREADS" --quiet \
      "${extra[@]}" --out "$out/$ds.$s.jsonl" > "$out/$ds.$s.log" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  echo "$(( $(date +%s) - t0 ))" > "$out/$ds.seconds"
  echo "dsgc.sh: $ds done in $(cat "$out/$ds.seconds") s"
}
if [ -z "${TABLES_ONLY:-}" ]; then
  rm -f "$out"/*.jsonl "$out"/*.log "$out"/*.seconds
  if [ "$JOBS" -ge 2 ]; then
    run cora & run citeseer & wait
  else
    run cora; run citeseer
  fi
  echo "$(( $(date +%s) - start ))" > "$out/total.seconds"
fi
total=$(cat "$out/total.seconds" 2>/dev/null || echo "?")
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)

python3 - "$out" "$total" "$THREADS" "$JOBS" "$SHARDS" "$(nproc) cores, ${cpu:-unknown CPU}" "$REPEATS" <<'EOF'
import glob, json, math, sys, re
out, total, threads, jobs, shards, machine, repeats = sys.argv[1:8]
def load(ds):  # every shard's split records; the other kinds once (every shard has the same)
    recs, seen = [], set()
    for path in sorted(glob.glob(f"{out}/{ds}.*.jsonl")):
        for r in map(json.loads, open(path)):
            key = (r["kind"], r.get("features"))
            if r["kind"] == "split" or key not in seen:
                recs.append(r)
                seen.add(key)
    return recs
def mean_std(v):  # population std, as train::mean_std
    m = sum(v) / len(v)
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / len(v))
data = {ds: load(ds) for ds in ["cora", "citeseer"]}
names = {"cora": "Cora", "citeseer": "CiteSeer"}
lines = []
lines.append("Semi-supervised node classification: test accuracy (%) at the epoch of best validation "
             "accuracy, mean ± std over the splits (500 validation nodes, every other labelled node tested).\n")
models = ["X", "X F", "G X", "G X F", "GCN"]
label = {"X": "MLP on X", "X F": "MLP on X F", "G X": "MLP on G X (GLP-style)", "G X F": "MLP on G X F (DSGC)", "GCN": "GCN"}
hdr = "| model | " + " | ".join(f"{names[d]} {c}/class" for d in data for c in (20, 5)) + " |"
lines += [hdr, "|---" * (1 + 4) + "|"]
counts = []
for m in models:
    cells = []
    for d, recs in data.items():
        for c in (20, 5):
            acc = [r["test_accuracy"] for r in recs if r["kind"] == "split" and r["model"] == m and r["labels_per_class"] == c]
            counts.append(len(acc))
            if not acc:
                cells.append("not run")
                continue
            mean, std = mean_std(acc)
            cells.append(f"{100*mean:.2f} ± {100*std:.2f}" + ("" if len(acc) == int(repeats) else f" ({len(acc)} splits)"))
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
def seconds(d):
    try:
        return open(f"{out}/{d}.seconds").read().strip()
    except OSError:
        return "?"
secs = {d: seconds(d) for d in data}
lines.append(f"{repeats} splits per column unless a cell says otherwise. Machine: {machine}; `--threads {threads}`, {jobs} dataset(s) at a time, "
             f"{shards} process(es) per dataset; "
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
