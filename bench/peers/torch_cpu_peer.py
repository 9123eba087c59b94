#!/usr/bin/env python3
"""PyTorch (CPU) timings of the shapes in bench/bench_elementwise.cpp, for ratios measured on
the same machine in the same run. Prints markdown lines. Needs torch; CI never runs it.

    python3 bench/peers/torch_cpu_peer.py
"""
import os
import time

import torch

N = 1 << 22


def best_ms(fn, repeats=20):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main():
    threads = int(os.environ.get("STACKGRAD_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(N, generator=g)
    b = torch.randn(N, generator=g)
    m = torch.randn(N // 1024, 1024, generator=g)
    row = torch.randn(1024, generator=g)
    cases = {
        "BM_add": (lambda: a + b, N * 12),
        "BM_add_broadcast_row": (lambda: m + row, N * 8),
        "BM_exp": (lambda: torch.exp(a), N * 8),
        "BM_sum_rows": (lambda: m.sum(1), N * 4),
        "BM_sum_columns": (lambda: m.sum(0), N * 4),
    }
    print(f"\nPyTorch {torch.__version__} CPU, {threads} threads (best of 20):\n")
    print("```")
    for name, (fn, nbytes) in cases.items():
        ms = best_ms(fn)
        print(f"{name + '_torch':36s} {ms:8.3f} ms  {nbytes / ms / 1e6:8.2f} GB/s")
    print("```")


if __name__ == "__main__":
    main()
