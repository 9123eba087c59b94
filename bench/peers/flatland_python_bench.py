#!/usr/bin/env python3
"""Env steps per second: the C++ Flatland env (build/bench_flatland) vs flatland-rl 3.0.15.

Both step the same Round 2 evaluation levels (Python rebuilds them with the exporter's
make_round2_env, C++ loads the exported files in tests/fixtures/flatland/round2), with the
levels' malfunctions, random or greedy shortest-path actions; only env.step() is timed on both
sides. Per test and policy the C++ run and the Python run follow each other (interleaved), so
the ratio is measured under the same machine load.

    /tmp/flvenv/bin/python bench/peers/flatland_python_bench.py            # tests 0-4, levels 0-1
    /tmp/flvenv/bin/python bench/peers/flatland_python_bench.py --tests 0,4 --levels 0 --seconds 3
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import export_flatland_levels as ex  # noqa: E402


def python_steps_per_second(envs, policy, seconds, rng):
    """Episodes on each env until `seconds` of env.step time (at least one episode each)."""
    steps = agent_steps = 0
    spent = 0.0
    for env in envs:
        n = env.get_num_agents()
        env_spent = 0.0
        first = True
        while first or env_spent < seconds:
            first = False
            env.reset(regenerate_rail=False, regenerate_schedule=False)
            for a in env.agents:  # as the exporter: 3.0.15 keeps arrival_time across resets
                a.arrival_time = None
            done = False
            while not done:
                if policy == "random":
                    actions = {i: int(rng.randint(0, 5)) for i in range(n)}
                else:
                    actions = {a.handle: ex.shortest_action(env, a) for a in env.agents}
                t0 = time.perf_counter()
                _, _, dones, _ = env.step(actions)
                env_spent += time.perf_counter() - t0
                done = bool(dones["__all__"])
                steps += 1
                agent_steps += n
        spent += env_spent
    return steps / spent, agent_steps / spent


def parse_list(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", default="0-4")
    ap.add_argument("--levels", default="0-1")
    ap.add_argument("--seconds", type=float, default=2.0, help="timed stepping per level and side")
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench_flatland"))
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "tests", "fixtures", "flatland", "round2"))
    args = ap.parse_args()
    rng = np.random.RandomState(1)
    rows = []
    print("| test | agents | grid | policy | C++ env steps/s | Python env steps/s | ratio | "
          "C++ agent-steps/s | Python agent-steps/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for test in parse_list(args.tests):
        levels = parse_list(args.levels)
        files = [os.path.join(args.fixtures, f"Test_{test}_Level_{l}.json.gz") for l in levels]
        envs = [ex.make_round2_env(test, l) for l in levels]
        for env in envs:
            env.record_steps = False  # RailEnvPersister.load_new turns on per-step recording
        n_agents, width, height = ex.ROUND2[test][:3]
        for policy in ("random", "shortest"):
            out = subprocess.run([args.bench, "--policy", policy, "--seconds", str(args.seconds)] + files,
                                 check=True, capture_output=True, text=True).stdout
            cpp = json.loads(out.strip().splitlines()[-1])
            py_steps, py_agent_steps = python_steps_per_second(envs, policy, args.seconds, rng)
            ratio = cpp["env_steps_per_s"] / py_steps
            rows.append({"test": test, "policy": policy, "cpp": cpp, "python_env_steps_per_s": py_steps,
                         "python_agent_steps_per_s": py_agent_steps, "ratio": ratio})
            print(f"| {test} | {n_agents} | {width}x{height} | {policy} | {cpp['env_steps_per_s']:,.0f} | "
                  f"{py_steps:,.1f} | {ratio:,.0f}x | {cpp['agent_steps_per_s']:,.0f} | "
                  f"{py_agent_steps:,.0f} |", flush=True)
    with open(os.path.join(ROOT, "build", "flatland_bench.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
