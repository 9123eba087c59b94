#!/usr/bin/env python3
"""Checks stackgrad against PyTorch on the cases written by oracle_cases.

For each case: loads the inputs, recomputes the output with the PyTorch expression below, and
compares it (and, where stackgrad wrote gradients, the gradients of sum(output * cotangent)) in
float64. Needs numpy and torch; CI never runs it.

    ./build-bench/oracle_cases /tmp/oracle && python3 bench/peers/torch_oracle.py /tmp/oracle
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def sym(a):
    return (a + a.T) * 0.5


def gcn_spmm(src, dst, x):
    n = 12
    a = torch.zeros(n, n, dtype=torch.float64)
    # Unweighted edge list: every distinct edge has weight 1 (duplicates are not summed).
    for s, d in zip(src.tolist(), dst.tolist()):
        a[s, d] = 1.0
        a[d, s] = 1.0
    a = a + torch.eye(n, dtype=torch.float64)
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    return (dinv[:, None] * a * dinv[None, :]) @ x



def attention(q, k, v, mask, causal):
    # The unfused expression (torch 1.13 has no F.scaled_dot_product_attention).
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        s = s.masked_fill(~keep, -math.inf)
    return torch.softmax(s, -1) @ v


def lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    # torch.nn.LSTM's equations (gate order i, f, g, o), unrolled so that the given tensors get
    # gradients; lstm_module_agrees() checks them against the module itself.
    h, c, outs = h0, c0, []
    for t in range(x.shape[0]):
        i, f, g, o = (x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.cat([torch.stack(outs).flatten(), c.flatten()])


def lstm_module_agrees():
    torch.manual_seed(0)
    module = torch.nn.LSTM(5, 6).double()
    x, h0, c0 = torch.randn(4, 3, 5).double(), torch.randn(1, 3, 6).double(), torch.randn(1, 3, 6).double()
    out, (_, c) = module(x, (h0, c0))
    ref = torch.cat([out.flatten(), c.flatten()])
    mine = lstm(x, h0[0], c0[0], module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0)
    return torch.allclose(ref, mine, rtol=1e-12, atol=1e-12)


CASES = {
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_erf": lambda x: F.gelu(x),
    "elu": lambda x: F.elu(x, 1.3),
    "softplus": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "silu": F.silu,
    "clamp": lambda x: x.clamp(-0.5, 0.7),
    "pow_tensor": torch.pow,
    "rsqrt": torch.rsqrt,
    "erf": torch.erf,
    "maximum_broadcast": torch.maximum,
    "softmax_dim1": lambda x: torch.softmax(x, 1),
    "log_softmax_dim0": lambda x: torch.log_softmax(x, 0),
    "logsumexp_dims": lambda x: torch.logsumexp(x, (0, 2)),
    "var_correction0": lambda x: torch.var(x, 1, correction=0),
    "std_keepdim": lambda x: torch.std(x, 0, correction=1, keepdim=True),
    "norm_p1": lambda x: torch.linalg.vector_norm(x, 1, dim=1),
    "norm_p2_all": lambda x: torch.linalg.vector_norm(x, 2),
    "norm_pinf": lambda x: torch.linalg.vector_norm(x, math.inf, dim=0),
    "cumsum": lambda x: torch.cumsum(x, 1),
    "prod_dim": lambda x: torch.prod(x, 1),
    "amax_dims": lambda x: torch.amax(x, (1, 2)),
    "mean_keepdim": lambda x: torch.mean(x, (0, 2), keepdim=True),
    "cross_entropy_smooth_ignore": lambda x, t: F.cross_entropy(x, t, ignore_index=-100, label_smoothing=0.1),
    "cross_entropy_sum": lambda x, t: F.cross_entropy(x, t, reduction="sum"),
    "cross_entropy_none_4d": lambda x, t: F.cross_entropy(x, t, reduction="none"),
    "nll_loss": lambda x, t: F.nll_loss(x, t),
    "bce_with_logits_pos_weight": lambda x, y, w: F.binary_cross_entropy_with_logits(x, y, pos_weight=w),
    "mse_loss": F.mse_loss,
    "matmul_broadcast_batch": torch.matmul,
    "matmul_vec_mat": torch.matmul,
    "matmul_mat_vec": torch.matmul,
    "pad_reflect": lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"),
    "pad_constant": lambda x: F.pad(x, (1, 2, 0, 1), value=0.5),
    "gather_dim1": lambda x, i: torch.gather(x, 1, i),
    "scatter_add_dim0": lambda x, i, s: x.scatter_add(0, i, s),
    "index_select_dim0": lambda x, i: torch.index_select(x, 0, i),
    "take_along_dim": lambda x, i: torch.take_along_dim(x, i, 1),
    "flip": lambda x: torch.flip(x, (0, 1)),
    "repeat": lambda x: x.repeat(2, 1, 3),
    "tile": lambda x: torch.tile(x, (2,)),
    "topk_values": lambda x: torch.topk(x, 3, 1).values,
    "sort_descending": lambda x: torch.sort(x, 0, descending=True).values,
    "cat_stack": lambda a, b: torch.cat([torch.stack([a, b], 1).flatten(1), a], 1),
    "one_hot": lambda i: F.one_hot(i, 5).double(),
    "gcn_norm_spmm": gcn_spmm,
    "conv2d_stride_dilation_groups": lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 2), (2, 1), 2),
    "conv_transpose2d_output_padding": lambda x, w, b: F.conv_transpose2d(x, w, b, (2, 2), (1, 0), (1, 1), 2, (1, 1)),
    "max_pool2d_ceil_pad_dilation": lambda x: F.max_pool2d(x, (3, 2), (2, 2), (1, 1), (2, 1), ceil_mode=True),
    "avg_pool2d_exclude_pad": lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    "upsample_bilinear": lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False),
    "upsample_bilinear_align": lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
    "upsample_nearest": lambda x: F.interpolate(x, size=(7, 11), mode="nearest"),
    "batch_norm_train": lambda x, w, b: F.batch_norm(
        x, torch.zeros(3, dtype=x.dtype), torch.ones(3, dtype=x.dtype), w, b, True, 0.1, 1e-5),
    "layer_norm": lambda x, w, b: F.layer_norm(x, (3, 5), w, b),
    "group_norm": lambda x, w, b: F.group_norm(x, 3, w, b),
    "embedding_padding": lambda w, i: F.embedding(i, w, padding_idx=2),
    "sdpa_mask": lambda q, k, v, m: attention(q, k, v, m.detach(), False),
    "sdpa_causal": lambda q, k, v: attention(q, k, v, None, True),
    "lstm": lstm,
    "solve": torch.linalg.solve,
    "inverse": torch.linalg.inv,
    "cholesky": lambda a: torch.linalg.cholesky(sym(a)),
    "eigvalsh": lambda a: torch.linalg.eigvalsh(sym(a)),
    "solve_triangular_upper": lambda a, b: torch.linalg.solve_triangular(torch.linalg.cholesky(a, upper=True), b, upper=True),
    "svd_values": lambda a: torch.linalg.svdvals(a),
    # R with a non-negative diagonal, as stackgrad returns it.
    "qr_r": lambda a: (lambda q, r: torch.sign(torch.diagonal(r))[:, None] * r)(*torch.linalg.qr(a)),
}


# Inputs PyTorch does not differentiate (stackgrad does): their gradients are not compared.
NO_TORCH_GRAD = {("bce_with_logits_pos_weight", 2)}


def load(path):
    return torch.from_numpy(np.load(path))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    names = [l.strip() for l in open(os.path.join(root, "manifest.txt")) if l.strip()]
    failures, checked = [], 0
    for name in names:
        d = os.path.join(root, name)
        if name not in CASES:
            failures.append(f"{name}: no PyTorch expression")
            continue
        inputs = []
        i = 0
        while os.path.exists(os.path.join(d, f"in{i}.npy")):
            t = load(os.path.join(d, f"in{i}.npy"))
            has_grad = os.path.exists(os.path.join(d, f"grad{i}.npy"))
            if t.is_floating_point() and has_grad and (name, i) not in NO_TORCH_GRAD:
                t.requires_grad_(True)
            inputs.append(t)
            i += 1
        out = CASES[name](*inputs)
        ours = load(os.path.join(d, "out.npy"))
        problems = []
        if tuple(out.shape) != tuple(ours.shape):
            problems.append(f"shape {tuple(ours.shape)} vs torch {tuple(out.shape)}")
        elif not torch.allclose(ours.double(), out.detach().double(), rtol=1e-9, atol=1e-10):
            err = (ours.double() - out.detach().double()).abs().max().item()
            problems.append(f"output differs by {err:.3g}")
        cot = os.path.join(d, "cotangent.npy")
        if not problems and os.path.exists(cot):
            (out * load(cot)).sum().backward()
            for k, t in enumerate(inputs):
                g = os.path.join(d, f"grad{k}.npy")
                if not os.path.exists(g) or t.grad is None:
                    continue
                mine = load(g)
                if not torch.allclose(mine, t.grad, rtol=1e-8, atol=1e-10):
                    err = (mine - t.grad).abs().max().item()
                    problems.append(f"grad of input {k} differs by {err:.3g}")
        checked += 1
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"{name:32s} {status}")
        if problems:
            failures.append(f"{name}: " + "; ".join(problems))
    if not lstm_module_agrees():
        failures.append("lstm: the unrolled equations differ from torch.nn.LSTM")
    print(f"\ntorch {torch.__version__}: {checked - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
