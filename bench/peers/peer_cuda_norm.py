"""PyTorch peer of bench/bench_cuda_norm.cpp (suite cuda_norm), on CUDA: layer_norm, batch_norm
(training) and group_norm (32 groups) forward and backward on the same shapes, and one fused
Adam step (torch.optim.AdamW(fused=True)) over the same 10 M f32 parameters. Each fn runs one
iteration and synchronises; bench/peers/torch_peer.py times them.

    /usr/bin/python3 -c "import sys; sys.path.insert(0, 'bench/peers'); import peer_cuda_norm as m; \
        [f() for n, f in m.cases()]"
"""
import torch
import torch.nn.functional as F

NORMS = [
    ("layer_norm_8192x1024", "layer_norm", (8192, 1024)),
    ("batch_norm_64x128x32x32", "batch_norm", (64, 128, 32, 32)),
    ("group_norm_8x320x64x64", "group_norm", (8, 320, 64, 64)),
    ("group_norm_8x640x32x32", "group_norm", (8, 640, 32, 32)),
    ("group_norm_8x1280x16x16", "group_norm", (8, 1280, 16, 16)),
]
ADAM_SIZES = [4_000_000, 3_000_000, 2_000_000, 999_000, 1_000]


def _norm_case(name, op, shape):
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(1)
    x = torch.randn(shape, generator=g, device=dev, requires_grad=True)
    dy = torch.randn(shape, generator=g, device=dev)
    c = shape[-1] if op == "layer_norm" else shape[1]
    w = torch.ones(c, device=dev, requires_grad=True)
    b = torch.zeros(c, device=dev, requires_grad=True)
    rm = torch.zeros(shape[1], device=dev)
    rv = torch.ones(shape[1], device=dev)

    def fn():
        if op == "layer_norm":
            y = F.layer_norm(x, (shape[-1],), w, b)
        elif op == "batch_norm":
            y = F.batch_norm(x, rm, rv, w, b, training=True)
        else:
            y = F.group_norm(x, 32, w, b)
        torch.autograd.grad(y, (x, w, b), dy)
        torch.cuda.synchronize()

    return (f"cuda_norm/{name}/torch", fn)


def _adam_case():
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(2)
    params = [torch.randn(n, generator=g, device=dev, requires_grad=True) for n in ADAM_SIZES]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g, device=dev)
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, fused=True)

    def fn():
        opt.step()
        torch.cuda.synchronize()

    return ("cuda_norm/adam_10M/torch", fn)


def cases():
    if not torch.cuda.is_available():
        return []
    return [_norm_case(*c) for c in NORMS] + [_adam_case()]
