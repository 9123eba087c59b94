"""PyTorch peer of bench/bench_overhead.cpp: eager overhead of one-element ops."""
import torch


def cases():
    a, b = torch.full((1,), 1.0), torch.full((1,), 2.0)
    ga = torch.full((1,), 1.0, requires_grad=True)
    gb = torch.full((1,), 2.0, requires_grad=True)

    def add_1elem():
        return a + b

    def add_1elem_fwdbwd():
        (ga + gb).backward()

    return [("overhead/add_1elem/torch", add_1elem),
            ("overhead/add_1elem_fwdbwd/torch", add_1elem_fwdbwd)]
