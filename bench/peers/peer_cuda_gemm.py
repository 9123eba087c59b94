"""PyTorch peer of bench/bench_cuda_gemm.cpp: torch.mm / torch.bmm on cuda:0 on the same shapes
(row-major f32, A [M, K] x B [K, N]; `t` cases multiply the transposed view of X [K, M]; `b`
cases a batch; `tf32` cases with torch.backends.cuda.matmul.allow_tf32 on, every other case with
it off). One iteration per fn, synchronised; bench/peers/torch_peer.py times them.

    python3 bench/peers/torch_peer.py --suite cuda_gemm
"""
import sys

import torch

# (case, batch, M, K, N, transposed A, tf32) as in bench_cuda_gemm.cpp.
CASES = [
    ("f32_1024x1024x1024", 1, 1024, 1024, 1024, False, False),
    ("f32_2048x2048x2048", 1, 2048, 2048, 2048, False, False),
    ("f32_4096x4096x4096", 1, 4096, 4096, 4096, False, False),
    ("f32_t4096x4096x4096", 1, 4096, 4096, 4096, True, False),
    ("f32_b64x512x512x512", 64, 512, 512, 512, False, False),
    ("tf32_4096x4096x4096", 1, 4096, 4096, 4096, False, True),
    ("tf32_8192x8192x8192", 1, 8192, 8192, 8192, False, True),
]


def _case(name, batch, m, k, n, trans, tf32):
    g = torch.Generator(device="cuda").manual_seed(0)
    dev = torch.device("cuda", 0)
    if batch > 1:
        a = torch.randn(batch, m, k, generator=g, device=dev)
        b = torch.randn(batch, k, n, generator=g, device=dev)
        out = torch.empty(batch, m, n, device=dev)
    else:
        a = torch.randn(k, m, generator=g, device=dev).t() if trans else \
            torch.randn(m, k, generator=g, device=dev)
        b = torch.randn(k, n, generator=g, device=dev)
        out = torch.empty(m, n, device=dev)

    def fn():
        torch.backends.cuda.matmul.allow_tf32 = tf32
        if batch > 1:
            torch.bmm(a, b, out=out)
        else:
            torch.mm(a, b, out=out)
        torch.cuda.synchronize()

    return (f"cuda_gemm/{name}/torch", fn)


def cases():
    if not torch.cuda.is_available():
        print("peer_cuda_gemm: no CUDA device, no cases", file=sys.stderr)
        return []
    return [_case(*c) for c in CASES]
