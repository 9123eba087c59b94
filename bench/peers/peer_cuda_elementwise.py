"""PyTorch peer of bench/bench_cuda_elementwise.cpp: the same cases, shapes and byte counts on
cuda:0 (f32, 256M elements); each fn runs one iteration and waits for the GPU."""
import torch

N = 1 << 28
SIDE = 1 << 14
SOFTMAX_COLS = 1024

_BYTES = {}


def bytes_per_iteration(name):
    return _BYTES.get(name)


def _sync(fn):
    def run():
        fn()
        torch.cuda.synchronize()
    return run


def cases():
    dev = torch.device("cuda:0")
    g = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn(N, generator=g, device=dev)
    b = torch.randn(N, generator=g, device=dev)
    sq = a.view(SIDE, SIDE)
    rows = a.view(N // SOFTMAX_COLS, SOFTMAX_COLS)
    out = [
        ("cuda_elementwise/add_256M/torch", lambda: a + b, N * 12),
        ("cuda_elementwise/mul_256M/torch", lambda: a * b, N * 12),
        ("cuda_elementwise/exp_256M/torch", lambda: torch.exp(a), N * 8),
        ("cuda_elementwise/relu_256M/torch", lambda: torch.relu(a), N * 8),
        ("cuda_elementwise/sum_256M/torch", lambda: a.sum(), N * 4),
        ("cuda_elementwise/sum_rows_16384x16384/torch", lambda: sq.sum(1), N * 4),
        ("cuda_elementwise/sum_cols_16384x16384/torch", lambda: sq.sum(0), N * 4),
        ("cuda_elementwise/softmax_rows_262144x1024/torch", lambda: torch.softmax(rows, 1), N * 8),
    ]
    for name, _, nbytes in out:
        _BYTES[name] = nbytes
    return [(name, _sync(fn)) for name, fn, _ in out]
