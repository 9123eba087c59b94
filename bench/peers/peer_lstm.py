"""PyTorch peer of bench/bench_lstm.cpp: torch.nn.LSTM (one layer, time first) on the same sizes,
forward + backward of output.sum() (and forward alone), under the same case names.

    /usr/bin/python3 -c "import sys; sys.path.insert(0,'bench/peers'); import peer_lstm as m; [f() for n,f in m.cases()]"
"""
import torch

# (case, I, H, T, B)
SIZES = [
    ("i64_h128_t50_b64", 64, 128, 50, 64),
    ("i256_h512_t20_b32", 256, 512, 20, 32),
]


def _make(i, h, t, b):
    g = torch.Generator().manual_seed(0)
    lstm = torch.nn.LSTM(i, h)
    x = torch.randn(t, b, i, generator=g, requires_grad=True)
    h0 = torch.randn(1, b, h, generator=g, requires_grad=True)
    c0 = torch.randn(1, b, h, generator=g, requires_grad=True)
    return lstm, x, h0, c0


def _fwdbwd(lstm, x, h0, c0):
    def fn():
        for p in (x, h0, c0, *lstm.parameters()):
            p.grad = None
        out, _ = lstm(x, (h0, c0))
        out.sum().backward()

    return fn


def _forward(lstm, x, h0, c0):
    def fn():
        with torch.no_grad():
            lstm(x, (h0, c0))

    return fn


def cases():
    out = []
    for name, i, h, t, b in SIZES:
        args = _make(i, h, t, b)
        out.append((f"lstm/{name}/torch", _fwdbwd(*args)))
        if name == "i64_h128_t50_b64":
            out.append((f"lstm/{name}_fwd/torch", _forward(*args)))
    return out
