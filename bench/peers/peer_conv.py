"""PyTorch peer of bench/bench_conv.cpp: conv2d forward + backward (input, weight and bias
gradients) at the same shapes. cases() returns (name, fn), fn runs one iteration; the driver
(bench/peers/torch_peer.py) sets the thread count and times it.
"""
import torch
import torch.nn.functional as F

# name: (batch, in channels, out channels, height = width, kernel, padding)
SHAPES = {
    "b16_c64_h32": (16, 64, 64, 32, 3, 1),
    "b16_c128_h16": (16, 128, 128, 16, 3, 1),
    "b64_c1_h28": (64, 1, 32, 28, 3, 1),
}


def _case(n, c, o, h, k, pad):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, h, generator=g).requires_grad_()
    w = (torch.randn(o, c, k, k, generator=g) * 0.1).requires_grad_()
    b = torch.randn(o, generator=g).requires_grad_()
    ho = h + 2 * pad - k + 1
    gy = torch.randn(n, o, ho, ho, generator=g)

    def fn():
        x.grad = w.grad = b.grad = None
        y = F.conv2d(x, w, b, stride=1, padding=pad)
        y.backward(gy)

    return fn


def cases():
    return [(f"conv/{name}/torch", _case(*shape)) for name, shape in SHAPES.items()]
