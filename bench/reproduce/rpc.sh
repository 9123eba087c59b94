#!/usr/bin/env bash
# Regenerates the results of algorithms/rpc/README.md (Liu et al., "Clustering Uncertain Data via
# Representative Possible Worlds with Consistency Learning", Computer Communications 2021): RPC
# against UK-means, spectral clustering of the means and all-worlds clustering, ACC and NMI over
# 10 seeds at uncertainty levels 0.1, 0.2, 0.3, on the synthetic mixture (uniform and normal
# regions), iris, wine, breast cancer and digits.
#   bash bench/reproduce/rpc.sh                  # after: ninja -C build rpc
# Environment: REPEATS (10), LANES (2: runs side by side, each --threads 1), BUILD_DIR (build),
# ONLY (space-separated run names, e.g. "iris wine": rerun those and rebuild the tables from
# every .jsonl present).
# Writes build/reproduce/rpc/{*.jsonl,*.txt,results.md} and replaces the block between the
# "results:begin/end" markers of the README with results.md. About 5 minutes on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
REPEATS=${REPEATS:-10}
LANES=${LANES:-2}
exe="$BUILD_DIR/rpc"
out="$BUILD_DIR/reproduce/rpc"
readme=algorithms/rpc/README.md
[ -x "$exe" ] || { echo "missing $exe: run ninja -C $BUILD_DIR rpc" >&2; exit 1; }
mkdir -p "$out"

# name | flags. Digits (1797 objects, dense 1797 x 1797 affinities) gets fewer worlds and samples.
runs=(
  "digits|--dataset digits --worlds 20 --representatives 5 --samples 20"
  "synthetic|--dataset synthetic"
  "synthetic_normal|--dataset synthetic --shape normal"
  "iris|--dataset iris"
  "wine|--dataset wine"
  "breast_cancer|--dataset breast_cancer"
  "synthetic_high|--dataset synthetic --levels 0.5,1.0"
  # The other selection rule: backward elimination on the set loss L(R).
  "synthetic_coverage|--dataset synthetic --selection coverage"
  "iris_coverage|--dataset iris --selection coverage"
  # How much does the number of worlds matter? Every candidate kept (no selection): rpc is then
  # consistency learning on the same worlds all-worlds averages.
  "synthetic_keep_all|--dataset synthetic --levels 0.3 --worlds 10 --representatives 10 --no-ablations"
  "digits_keep_all|--dataset digits --levels 0.3 --worlds 5 --representatives 5 --samples 20 --no-ablations"
)
start=$(date +%s)
run_one() {
  local name=${1%%|*} flags=${1#*|}
  echo "$exe $flags --repeats $REPEATS --threads 1 --out $out/$name.jsonl" > "$out/$name.cmd"
  # shellcheck disable=SC2086
  /usr/bin/env time -f "%e s wall, %U s user" -o "$out/$name.time" \
    "$exe" $flags --repeats "$REPEATS" --threads 1 --out "$out/$name.jsonl" > "$out/$name.txt"
  echo "$name: $(cat "$out/$name.time")"
}
running=0
for r in "${runs[@]}"; do
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" ${r%%|*} "* ]]; then continue; fi
  run_one "$r" &
  running=$((running + 1))
  if [ "$running" -ge "$LANES" ]; then wait -n; running=$((running - 1)); fi
done
wait
elapsed=$(( $(date +%s) - start ))

python3 - "$out" "$elapsed" "$REPEATS" "$LANES" > "$out/results.md" <<'PY'
import json, sys, os, datetime, collections
out, elapsed, repeats, lanes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
names = [("synthetic", "synthetic mixture, uniform regions"), ("synthetic_normal", "synthetic mixture, normal regions"),
         ("synthetic_high", "synthetic mixture, uniform regions, larger levels"),
         ("iris", "iris"), ("wine", "wine"), ("breast_cancer", "breast cancer"), ("digits", "digits (20 worlds, 5 kept, 20 samples)"),
         ("synthetic_coverage", "synthetic mixture, coverage selection"), ("iris_coverage", "iris, coverage selection"),
         ("synthetic_keep_all", "synthetic mixture, 10 worlds, all kept"),
         ("digits_keep_all", "digits, 5 worlds, all kept, 20 samples")]
methods = ["uk-means", "spectral-means", "all-worlds", "rep-average", "random-consensus", "rpc"]
cpu = "?"
try:
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
except Exception:
    pass
def ms(v):
    m = sum(v) / len(v)
    s = (sum((x - m) ** 2 for x in v) / len(v)) ** 0.5
    return m, s
print("ACC / NMI (%%), mean ± std over %s seeds per cell; measured %s on %s, %d cores, %s runs side by side "
      "with --threads 1, while the machine was shared with other jobs (wall times are several times the CPU "
      "times). s/run: wall seconds per (level, seed) of the method alone, with world sampling, the "
      "selection and the world affinities it needs." % (repeats, datetime.date.today().isoformat(), cpu,
                                                       os.cpu_count(), lanes))
times = []
for name, _ in names:
    path = os.path.join(out, name + ".time")
    if os.path.exists(path):
        times.append("%s %s" % (name, open(path).read().strip()))
print()
print("Per run (CPU and wall time): " + "; ".join(times) + ".")
summary = []
for name, title in names:
    path = os.path.join(out, name + ".jsonl")
    if not os.path.exists(path):
        continue
    rows = [json.loads(l) for l in open(path)]
    levels = sorted({r["level"] for r in rows})
    cell = collections.defaultdict(list)
    sel = collections.defaultdict(list)
    for r in rows:
        if r["method"] == "selection":
            sel[r["level"]].append(r)
        else:
            cell[(r["method"], r["level"], "acc")].append(r["acc"])
            cell[(r["method"], r["level"], "nmi")].append(r["nmi"])
            cell[(r["method"], r["level"], "seconds")].append(r["seconds"])
    print()
    print("**%s** — `%s`" % (title, open(os.path.join(out, name + ".cmd")).read().strip()))
    print()
    print("| method | " + " | ".join("ACC %.1f | NMI %.1f" % (l, l) for l in levels) + " | s/run |")
    print("| --- | " + " | ".join("--- | ---" for _ in levels) + " | --- |")
    for m in methods:
        if not cell[(m, levels[0], "acc")]:
            continue  # not run (--no-ablations)
        cells = []
        for l in levels:
            for what in ("acc", "nmi"):
                a, s = ms(cell[(m, l, what)])
                cells.append(("**%.2f ± %.2f**" if m == "rpc" else "%.2f ± %.2f") % (100 * a, 100 * s))
        secs = [x for l in levels for x in cell[(m, l, "seconds")]]
        print("| %s | %s | %.2f |" % (m, " | ".join(cells), sum(secs) / len(secs)))
    # Selection: the worlds' own losses L({w}) (mean over all M and over the m kept), and the set
    # loss L(R) of all M, of the m kept and of m random worlds.
    parts = []
    for l in levels:
        v = lambda key: ms([r[key] for r in sel[l]])[0]
        parts.append("level %.1f: L({w}) all %.4f, kept %.4f; L(R) all %.4f, kept %.4f, random %.4f"
                     % (l, v("world_loss_all"), v("world_loss_kept"), v("loss_all"), v("loss_kept"), v("loss_random")))
    print()
    print("Selection (means over seeds): " + "; ".join(parts) + ".")
    def gap(other):
        out = []
        for l in levels:
            d = [x - y for x, y in zip(cell[("rpc", l, "acc")], cell[(other, l, "acc")])]
            out.append("%.1f: %+.2f" % (l, 100 * sum(d) / len(d)) if d else "%.1f: —" % l)
        return ", ".join(out)
    summary.append((title, gap("all-worlds"), gap("random-consensus")))
print()
print("RPC − all-worlds (the claim) and RPC − random-consensus (selection alone, same number of worlds), "
      "ACC points per level, paired by seed:")
print()
print("| data | RPC − all-worlds | RPC − random-consensus |")
print("| --- | --- | --- |")
for title, vs_all, vs_random in summary:
    print("| %s | %s | %s |" % (title, vs_all, vs_random))
PY

if grep -q "results:begin" "$readme"; then
  python3 - "$readme" "$out/results.md" <<'PY'
import sys
readme, results = sys.argv[1], sys.argv[2]
text = open(readme).read()
begin, end = "<!-- results:begin -->", "<!-- results:end -->"
i, j = text.index(begin) + len(begin), text.index(end)
open(readme, "w").write(text[:i] + "\n" + open(results).read() + text[j:])
PY
fi
cat "$out/results.md"
echo "rpc: total wall time $elapsed s"
