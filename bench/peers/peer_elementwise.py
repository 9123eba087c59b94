"""PyTorch peer of bench/bench_elementwise.cpp: the same cases, shapes and byte counts."""
import torch

N = 1 << 24
ROWS, COLS = 4096, 1024

_BYTES = {}


def bytes_per_iteration(name):
    return _BYTES.get(name)


def cases():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(N, generator=g)
    b = torch.randn(N, generator=g)
    sq = torch.randn(4096, 4096, generator=g)
    row = torch.randn(4096, generator=g)
    m = torch.randn(ROWS, COLS, generator=g)
    out = [
        ("elementwise/add_16M/torch", lambda: a + b, N * 12),
        ("elementwise/mul_16M/torch", lambda: a * b, N * 12),
        ("elementwise/exp_16M/torch", lambda: torch.exp(a), N * 8),
        ("elementwise/add_row_4096x4096/torch", lambda: sq + row, N * 8),
        ("reduce/sum_rows_4096x1024/torch", lambda: m.sum(1), ROWS * COLS * 4),
        ("reduce/sum_cols_4096x1024/torch", lambda: m.sum(0), ROWS * COLS * 4),
        ("reduce/sum_all_4096x1024/torch", lambda: m.sum(), ROWS * COLS * 4),
        ("reduce/softmax_rows_4096x1024/torch", lambda: torch.softmax(m, 1), ROWS * COLS * 8),
    ]
    for name, _, nbytes in out:
        _BYTES[name] = nbytes
    return [(name, fn) for name, fn, _ in out]
