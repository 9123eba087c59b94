#!/usr/bin/env python3
"""PyTorch peer driver: times every case of bench/peers/peer_<suite>.py and prints one JSON line
per case, {"name": "<suite>/<case>/torch", "seconds": median, ...}, for ratio_table.py to pair
with our Google Benchmark JSON. Needs torch (Debian's python3-torch); CI never runs it.

    python3 bench/peers/torch_peer.py --threads 2 [--suite elementwise] [--min-time 0.5]

A peer module defines cases() -> [(name, fn)], fn running ONE iteration on inputs built outside
it. Each fn is warmed up, then repeated until --min-time seconds have passed (at least 3 reps,
cheap calls timed in batches of about 1 ms); the median is reported. A peer may also define
bytes_per_iteration(name) to report bytes_per_second as well, and WARMUP (calls before timing)
for cases that take seconds. A call longer than 10x --min-time is timed once.
"""
import argparse
import glob
import importlib
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def time_case(fn, min_time, warmup, min_reps=3):
    """Median seconds of one call. Cheap calls are timed in batches of `inner` calls (each batch
    about 1 ms), so the timer's own cost does not count; at least 3 batches.
    A call of more than 10x min_time (a whole training run) is timed once."""
    for _ in range(warmup):
        fn()
    t = time.perf_counter()
    fn()
    single = time.perf_counter() - t
    if single >= 10 * min_time:  # a whole training run: the calibration call is the measurement
        return single, 1
    inner = max(1, int(1e-3 / max(single, 1e-9)))
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t) / inner)
    return statistics.median(times), len(times) * inner


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int,
                    default=int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    ap.add_argument("--suite", help="run only bench/peers/peer_<suite>.py")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of repetitions per case")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    sys.path.insert(0, HERE)
    if args.suite:
        suites = [args.suite]
    else:
        # peer_cuda_*.py are the GPU peers (scripts/gpu-check.sh names them with --suite).
        suites = sorted(os.path.basename(p)[5:-3] for p in glob.glob(os.path.join(HERE, "peer_*.py"))
                        if not os.path.basename(p).startswith("peer_cuda_"))
    status = 0
    for suite in suites:
        try:
            mod = importlib.import_module("peer_" + suite)
            cases = mod.cases()
        except Exception as e:  # a broken peer must not hide the others
            print(f"torch_peer: peer_{suite}.py failed: {e!r}", file=sys.stderr)
            status = 1
            continue
        for name, fn in cases:
            if args.filter and args.filter not in name:
                continue
            try:
                seconds, reps = time_case(fn, args.min_time, getattr(mod, "WARMUP", args.warmup))
            except Exception as e:
                print(f"torch_peer: {name} failed: {e!r}", file=sys.stderr)
                status = 1
                continue
            rec = {"name": name, "seconds": seconds, "repetitions": reps,
                   "threads": args.threads, "torch": torch.__version__}
            if hasattr(mod, "bytes_per_iteration"):
                nbytes = mod.bytes_per_iteration(name)
                if nbytes:
                    rec["bytes_per_second"] = nbytes / seconds
            print(json.dumps(rec), flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
