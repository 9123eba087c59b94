#!/usr/bin/env python3
"""Pairs our benchmarks with their comparators and prints a markdown ratio table.

    python3 bench/peers/ratio_table.py bench-results/<run>      # the folder bench-cpu.sh wrote

Reads every round*/<suite>.json (Google Benchmark JSON of build-bench/bench_<suite>) and
round*/<suite>.torch.jsonl (bench/peers/torch_peer.py), plus meta.json for the header. Every
`<suite>/<case>/ours` is paired with each other impl of the same `<suite>/<case>` (in-process
comparators such as /openblas or /triad, and /torch from the peer). Per round, ratio =
comparator time / our time (> 1: ours is faster), or ours / comparator bytes per second when
both report bandwidth; the table shows the median over rounds of each time and of the ratio.
Targets come from bench/targets.txt (glob on the comparator's full name, first match wins).
"""
import fnmatch
import glob
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def split_name(name):
    """'elementwise/add_16M/ours/real_time' -> ('elementwise/add_16M', 'ours')."""
    parts = [p for p in name.split("/") if not re.match(r"^(real_time|manual_time|min_time:.*|iterations:.*|repeats:.*|threads:.*)$", p)]
    if len(parts) < 3:
        return None
    return "/".join(parts[:-1]), parts[-1]


def load_round(folder):
    """{(case, impl): {"seconds": s, "bps": bytes/s or None}} for one round."""
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            print(f"ratio_table: skipping {path}: {e}", file=sys.stderr)
            continue
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                continue
            key = split_name(b["name"])
            if key:
                out[key] = {"seconds": b["real_time"] * UNIT[b.get("time_unit", "ns")],
                            "bps": b.get("bytes_per_second")}
    for path in sorted(glob.glob(os.path.join(folder, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                key = split_name(r["name"])
                if key:
                    out[key] = {"seconds": r["seconds"], "bps": r.get("bytes_per_second")}
    return out


def load_targets(path):
    rules = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                m = re.match(r"^(\S+)\s*>=\s*([0-9.]+)$", line)
                if m:
                    rules.append((m.group(1), float(m.group(2))))
    return rules


def target_for(name, rules):
    for pattern, value in rules:
        if fnmatch.fnmatchcase(name, pattern):
            return value
    return None


def fmt_time(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt(entry_seconds, entry_bps):
    text = fmt_time(entry_seconds)
    if entry_bps:
        text += f" ({entry_bps / 1e9:.1f} GB/s)"
    return text


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    rounds = [load_round(d) for d in sorted(glob.glob(os.path.join(run, "round*")))]
    rounds = [r for r in rounds if r]
    rules = load_targets(os.path.join(HERE, "..", "targets.txt"))
    meta = {}
    if os.path.exists(os.path.join(run, "meta.json")):
        with open(os.path.join(run, "meta.json")) as f:
            meta = json.load(f)

    if meta.get("gpu"):  # scripts/gpu-check.sh
        print(f"# GPU benchmarks, {meta.get('date', '?')}\n")
        print(f"- GPU: {meta['gpu']}")
        print(f"- CUDA {meta.get('cuda', '?')}, PyTorch {meta.get('torch', '?')}, "
              f"commit {meta.get('commit', '?')}")
    else:
        print(f"# CPU benchmarks, {meta.get('date', '?')}\n")
        print(f"- CPU: {meta.get('cpu', '?')}")
        print(f"- threads: {meta.get('threads', '?')} (STACKGRAD_NUM_THREADS, torch.set_num_threads, "
              f"OPENBLAS_NUM_THREADS)")
        print(f"- PyTorch {meta.get('torch', '?')}, OpenBLAS {meta.get('openblas', '?')}, "
              f"commit {meta.get('commit', '?')}")
    print(f"- rounds: {len(rounds)} (ours and peers interleaved; medians over rounds)")
    print(f"- command: `{meta.get('command', '?')}`\n")
    print("ratio = comparator time / our time, or ours / comparator GB/s when both report "
          "bandwidth; > 1 means ours is faster.\n")
    print("| case | ours | comparator | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | :-: |")

    cases = sorted({c for r in rounds for (c, impl) in r if impl == "ours"})
    missed = 0
    for case in cases:
        ours = [r[(case, "ours")] for r in rounds if (case, "ours") in r]
        o_sec = statistics.median(e["seconds"] for e in ours)
        o_bps = statistics.median(e["bps"] for e in ours) if all(e["bps"] for e in ours) else None
        impls = sorted({impl for r in rounds for (c, impl) in r if c == case and impl != "ours"})
        if not impls:
            print(f"| {case} | {fmt(o_sec, o_bps)} | (none) | | | |")
            continue
        for impl in impls:
            ratios, peer = [], []
            for r in rounds:
                if (case, impl) not in r:
                    continue
                p = r[(case, impl)]
                peer.append(p)
                if (case, "ours") not in r:
                    continue
                o = r[(case, "ours")]
                if o["bps"] and p["bps"]:
                    ratios.append(o["bps"] / p["bps"])
                else:
                    ratios.append(p["seconds"] / o["seconds"])
            p_sec = statistics.median(e["seconds"] for e in peer)
            p_bps = statistics.median(e["bps"] for e in peer) if all(e["bps"] for e in peer) else None
            name = f"{case}/{impl}"
            target = target_for(name, rules)
            ratio = statistics.median(ratios) if ratios else None
            met = ""
            if target is not None and ratio is not None:
                met = "yes" if ratio >= target else "NO"
                missed += ratio < target
            print(f"| {case} | {fmt(o_sec, o_bps)} | {impl}: {fmt(p_sec, p_bps)} | "
                  f"{'' if ratio is None else f'{ratio:.2f}'} | "
                  f"{'' if target is None else f'>= {target:g}'} | {met} |")
    print(f"\n{missed} comparison(s) below target.")


if __name__ == "__main__":
    main()
