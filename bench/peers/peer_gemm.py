"""PyTorch peer of bench/bench_gemm.cpp: torch.mm on the same shapes (A [M, K] x B [K, N], f32,
plus one f64 1024^3), one iteration per fn; bench/peers/torch_peer.py times them.

    /usr/bin/python3 -c "import sys; sys.path.insert(0, 'bench/peers'); import peer_gemm as m; \
        [f() for n, f in m.cases()]"
"""
import torch

SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
          (2708, 1433, 16), (19717, 500, 16)]


def _case(name, m, k, n, dtype):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=g, dtype=dtype)
    b = torch.randn(k, n, generator=g, dtype=dtype)
    out = torch.empty(m, n, dtype=dtype)
    return (f"gemm/{name}/torch", lambda: torch.mm(a, b, out=out))


def cases():
    out = [_case(f"{m}x{k}x{n}", m, k, n, torch.float32) for m, k, n in SHAPES]
    out.append(_case("f64_1024x1024x1024", 1024, 1024, 1024, torch.float64))
    return out
