#!/usr/bin/env python3
"""PyTorch peer of bench/bench_cuda_attention.cpp: torch.nn.functional.scaled_dot_product_attention
on cuda:0, forward + backward (autograd), batch 8, 16 heads, head dim 64, sequence 1024, 2048,
4096, 8192, not causal. Same case names as ours: cuda_attention/b8_h16_d64_s<L>_f32/torch.

f32 runs torch's default backend choice (flash attention takes no f32, so it picks the
memory-efficient kernel, or the math path); bf16 cases (…_bf16/torch) pin the flash backend.
Needs a CUDA build of torch >= 2.0:

    python3 bench/peers/torch_peer.py --suite cuda_attention
"""
import torch
import torch.nn.functional as F

B, H, D = 8, 16, 64
SEQS = (1024, 2048, 4096, 8192)


def _inputs(seq, dtype):
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v, dout = (torch.randn(B, H, seq, D, generator=g, device="cuda", dtype=dtype)
                     for _ in range(4))
    for t in (q, k, v):
        t.requires_grad_()
    return q, k, v, dout


def _flash_only():
    """A context that allows only the flash backend (torch.nn.attention in torch >= 2.3, the
    older torch.backends.cuda.sdp_kernel before)."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        return sdpa_kernel(SDPBackend.FLASH_ATTENTION)
    except ImportError:
        return torch.backends.cuda.sdp_kernel(enable_flash=True, enable_math=False,
                                              enable_mem_efficient=False)


def _step(q, k, v, dout, flash_only):
    for t in (q, k, v):
        t.grad = None
    if flash_only:
        with _flash_only():
            out = F.scaled_dot_product_attention(q, k, v)
    else:
        out = F.scaled_dot_product_attention(q, k, v)
    out.backward(dout)
    torch.cuda.synchronize()


def cases():
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device")
    out = []
    for seq in SEQS:
        args = _inputs(seq, torch.float32)
        out.append((f"cuda_attention/b8_h16_d64_s{seq}_f32/torch",
                    lambda a=args: _step(*a, flash_only=False)))
    for seq in SEQS:
        args = _inputs(seq, torch.bfloat16)
        out.append((f"cuda_attention/b8_h16_d64_s{seq}_bf16/torch",
                    lambda a=args: _step(*a, flash_only=True)))
    return out
