#!/usr/bin/env python3
"""PyTorch peer of bench/bench_attention.cpp: UNFUSED attention, softmax(q kᵀ scale) v with
autograd, forward + backward (torch 1.13 has no F.scaled_dot_product_attention). Same case
names as ours: attention/b8_h4_d64_s<L>/torch.

Memory mode (one process per length, the peak RSS is the process's):
    /usr/bin/python3 bench/peers/peer_attention.py --memory 1024 2048 4096
runs batch 1, 4 heads, head dim 64 forward + backward and prints getrusage ru_maxrss.
"""
import json
import math
import os
import resource
import subprocess
import sys

import torch


def _inputs(b, h, seq, d):
    g = torch.Generator().manual_seed(0)
    q, k, v, dout = (torch.randn(b, h, seq, d, generator=g) for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_()
    return q, k, v, dout


def _step(q, k, v, dout):
    for t in (q, k, v):
        t.grad = None
    scale = 1.0 / math.sqrt(q.shape[-1])
    p = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * scale, dim=-1)
    torch.matmul(p, v).backward(dout)


def cases():
    out = []
    for seq in (256, 1024):
        args = _inputs(8, 4, seq, 64)
        out.append((f"attention/b8_h4_d64_s{seq}/torch", lambda a=args: _step(*a)))
    return out


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _memory_one(seq):
    before = _peak_rss_mib()
    args = _inputs(1, 4, seq, 64)
    _step(*args)
    print(json.dumps({"name": f"attention/b1_h4_d64_s{seq}_memory/torch", "seq": seq,
                      "peak_rss_mib": round(_peak_rss_mib(), 1),
                      "rss_before_mib": round(before, 1)}), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("STACKGRAD_NUM_THREADS", "2")))
    if len(sys.argv) >= 3 and sys.argv[1] == "--memory-one":
        _memory_one(int(sys.argv[2]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--memory":
        for seq in sys.argv[2:] or ["1024", "2048", "4096"]:
            subprocess.run([sys.executable, __file__, "--memory-one", seq], check=True)
    else:
        print(__doc__)
