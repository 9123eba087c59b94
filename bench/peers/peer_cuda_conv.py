"""PyTorch peer of bench/bench_cuda_conv.cpp: F.conv2d forward + backward (input and weight
gradients, no bias) on CUDA at the same shapes, reported as cuda_conv/<case>/torch. cuDNN picks
its algorithms by benchmarking (cudnn.benchmark, as our comparator's cudnnFind* does) and TF32
is off, the precision of our f32 kernels. fn runs one iteration and synchronises.

    python3 bench/peers/torch_peer.py --suite cuda_conv
"""
import torch
import torch.nn.functional as F

# name: (batch, in channels, out channels, height = width, kernel, padding)
SHAPES = {
    "b16_c64_h32": (16, 64, 64, 32, 3, 1),
    "b16_c128_h16": (16, 128, 128, 16, 3, 1),
    "b64_c1_h28": (64, 1, 32, 28, 3, 1),
    "b32_c256_h32": (32, 256, 256, 32, 3, 1),
}


def _case(n, c, o, h, k, pad):
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, h, generator=g).to(dev).requires_grad_()
    w = (torch.randn(o, c, k, k, generator=g) * 0.1).to(dev).requires_grad_()
    ho = h + 2 * pad - k + 1
    gy = torch.randn(n, o, ho, ho, generator=g).to(dev)

    def fn():
        x.grad = w.grad = None
        y = F.conv2d(x, w, None, stride=1, padding=pad)
        y.backward(gy)
        torch.cuda.synchronize()

    return fn


def cases():
    if not torch.cuda.is_available():
        return []
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    return [(f"cuda_conv/{name}/torch", _case(*shape)) for name, shape in SHAPES.items()]
