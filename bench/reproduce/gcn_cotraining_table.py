#!/usr/bin/env python3
"""Merges the per-split JSON lines of gcn_cotraining runs into the paper-style table:
methods x label rates, mean ± std (population) of the test accuracy in percent.

    bench/reproduce/gcn_cotraining_table.py out/cora_a.jsonl out/cora_b.jsonl
"""
import json
import math
import sys
from collections import defaultdict

METHODS = ["LP", "GCN+V", "GCN-V", "Co-training", "Self-training", "Union", "Intersection"]

EXPANSIONS = ["cotraining", "self_training", "union", "intersection"]

acc = defaultdict(list)  # (dataset, rate, method) -> accuracies
added = defaultdict(lambda: [0, 0, 0])  # (dataset, rate, expansion) -> [added, correct, splits]
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if "split" in row and "method" in row:
                acc[(row["dataset"], row["rate"], row["method"])].append(row["test_accuracy"])
            elif "expansion" in row:
                a = added[(row["dataset"], row["rate"], row["expansion"])]
                a[0] += row["added"]
                a[1] += row["added_correct"]
                a[2] += 1

for dataset in sorted({k[0] for k in acc}):
    rates = sorted({k[1] for k in acc if k[0] == dataset})
    splits = min(len(acc[(dataset, r, "LP")]) for r in rates)
    print(f"| {dataset} ({splits} splits) | " + " | ".join(f"{100 * r:g}%" for r in rates) + " |")
    print("| --- |" + " --- |" * len(rates))
    for m in METHODS:
        cells = []
        for r in rates:
            v = [x for x in acc[(dataset, r, m)] if x is not None]
            if not v:
                cells.append("n/a")
                continue
            mean = sum(v) / len(v)
            std = math.sqrt(sum((x - mean) ** 2 for x in v) / len(v))
            cells.append(f"{100 * mean:.1f} ± {100 * std:.1f}")
        print(f"| {m} | " + " | ".join(cells) + " |")
    print()
    if any(added[(dataset, r, e)][0] for r in rates for e in EXPANSIONS):
        print(f"| {dataset}: pseudo-labels added (share correct) | " + " | ".join(f"{100 * r:g}%" for r in rates) + " |")
        print("| --- |" + " --- |" * len(rates))
        for e in EXPANSIONS:
            cells = []
            for r in rates:
                n, ok, k = added[(dataset, r, e)]
                cells.append(f"{n / k:.0f} ({100 * ok / max(n, 1):.0f}%)" if k else "n/a")
            print(f"| {e} | " + " | ".join(cells) + " |")
        print()
