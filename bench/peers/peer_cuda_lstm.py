"""PyTorch peer of bench/bench_cuda_lstm.cpp: torch.nn.LSTM on cuda:0 (cuDNN underneath), one
layer, time first, input 256, hidden 512, 100 steps, batch 64, f32, under the same case names:
forward + backward of output.sum(), and the forward alone. TF32 is turned off so that both sides
compute in exact f32 (our GEMM's default). Each fn ends with torch.cuda.synchronize().

    /usr/bin/python3 bench/peers/torch_peer.py --suite cuda_lstm
"""
import torch

# (case, I, H, T, B)
SIZES = [("i256_h512_t100_b64", 256, 512, 100, 64)]


def _make(i, h, t, b):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda:0")
    g = torch.Generator().manual_seed(0)
    lstm = torch.nn.LSTM(i, h).to(dev)
    x = torch.randn(t, b, i, generator=g).to(dev).requires_grad_()
    h0 = torch.randn(1, b, h, generator=g).to(dev).requires_grad_()
    c0 = torch.randn(1, b, h, generator=g).to(dev).requires_grad_()
    return lstm, x, h0, c0


def _fwdbwd(lstm, x, h0, c0):
    def fn():
        for p in (x, h0, c0, *lstm.parameters()):
            p.grad = None
        out, _ = lstm(x, (h0, c0))
        out.sum().backward()
        torch.cuda.synchronize()

    return fn


def _forward(lstm, x, h0, c0):
    def fn():
        with torch.no_grad():
            lstm(x, (h0, c0))
        torch.cuda.synchronize()

    return fn


def cases():
    if not torch.cuda.is_available():
        return []
    out = []
    for name, i, h, t, b in SIZES:
        args = _make(i, h, t, b)
        out.append((f"cuda_lstm/{name}/torch", _fwdbwd(*args)))
        out.append((f"cuda_lstm/{name}_fwd/torch", _forward(*args)))
    return out
