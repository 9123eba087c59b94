"""PyTorch peer of bench/bench_cuda_unet.cpp: one training step (forward, MSE against the noise,
backward, Adam, zero_grad) of the same UNet (bench/peers/unet_torch.py) at batch 64 on CUDA, in
eager mode, f32 (TF32 off, as ours)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_torch import UNet  # noqa: E402

WARMUP = 3


def _train_step(batch):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    g = torch.Generator().manual_seed(0)
    model = UNet().cuda()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    x0 = torch.randn(batch, 1, 32, 32, generator=g).cuda()
    noise = torch.randn(batch, 1, 32, 32, generator=g).cuda()
    t = torch.randint(0, 1000, (batch,), generator=g).float().cuda()
    xt = x0 * 0.8 + noise * 0.6

    def step():
        opt.zero_grad(set_to_none=False)
        loss = torch.nn.functional.mse_loss(model(xt, t), noise)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()

    return step


def cases():
    return [("cuda_unet/train_step_b64/torch", _train_step(64))]
