"""The small denoising UNet of nn/unet.h, written in PyTorch with the same parameter names and
shapes key for key (tests/nn/test_unet.cpp checks ours against tests/fixtures/nn/unet_state.json,
which `python3 bench/peers/unet_torch.py --write-fixture` writes from this file). Used by the GPU
benchmark's PyTorch peer (bench/peers/peer_cuda_unet.py)."""
import json
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=t.dtype, device=t.device) * (-math.log(10000.0) / half))
    args = t[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_proj = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class AttentionBlock(nn.Module):
    def __init__(self, c, groups, heads):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c)
        self.attn = nn.MultiheadAttention(c, heads, batch_first=True)

    def forward(self, x):
        n, c, h, w = x.shape
        tokens = self.norm(x).reshape(n, c, h * w).transpose(1, 2)
        y, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return x + y.transpose(1, 2).reshape(n, c, h, w)


class Level(nn.Module):
    def __init__(self):
        super().__init__()
        self.res = None
        self.attn = None
        self.resample = None


class UNet(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, base=64, mults=(1, 2, 2), attention=(2,),
                 groups=8, heads=4):
        super().__init__()
        tdim = 4 * base
        width = [base * m for m in mults]
        self.base = base
        self.time_fc1 = nn.Linear(base, tdim)
        self.time_fc2 = nn.Linear(tdim, tdim)
        self.conv_in = nn.Conv2d(in_channels, base, 3, padding=1)
        self.down = nn.ModuleList()
        ch = base
        for l, w in enumerate(width):
            level = Level()
            level.res = ResBlock(ch, w, tdim, groups)
            ch = w
            if l in attention:
                level.attn = AttentionBlock(ch, groups, heads)
            if l + 1 < len(width):
                level.resample = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
            self.down.append(level)
        self.mid_res1 = ResBlock(ch, ch, tdim, groups)
        self.mid_attn = AttentionBlock(ch, groups, heads)
        self.mid_res2 = ResBlock(ch, ch, tdim, groups)
        ups = [None] * len(width)
        for l in reversed(range(len(width))):
            level = Level()
            level.res = ResBlock(ch + width[l], width[l], tdim, groups)
            ch = width[l]
            if l in attention:
                level.attn = AttentionBlock(ch, groups, heads)
            if l > 0:
                level.resample = nn.Conv2d(ch, ch, 3, padding=1)
            ups[l] = level
        self.up = nn.ModuleList(ups)
        self.norm_out = nn.GroupNorm(groups, base)
        self.conv_out = nn.Conv2d(base, out_channels, 3, padding=1)

    def forward(self, x, t):
        temb = self.time_fc2(F.silu(self.time_fc1(timestep_embedding(t.to(x.dtype), self.base))))
        h = self.conv_in(x)
        skips = []
        for level in self.down:
            h = level.res(h, temb)
            if level.attn is not None:
                h = level.attn(h)
            skips.append(h)
            if level.resample is not None:
                h = level.resample(h)
        h = self.mid_res2(self.mid_attn(self.mid_res1(h, temb)), temb)
        for l in reversed(range(len(self.up))):
            level = self.up[l]
            h = level.res(torch.cat([h, skips[l]], dim=1), temb)
            if level.attn is not None:
                h = level.attn(h)
            if level.resample is not None:
                h = level.resample(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def write_fixture(path):
    """Parameter names and shapes of the default model, and one forward pass of a tiny model
    with fixed weights (every parameter p[i] = sin(i + offset)/4), for the C++ test."""
    model = UNet()
    state = {k: list(v.shape) for k, v in model.state_dict().items()}
    tiny = UNet(in_channels=2, out_channels=2, base=8, mults=(1, 2), attention=(1,), groups=2, heads=2).double()
    offset = 0
    with torch.no_grad():
        for name, p in sorted(tiny.state_dict().items()):
            flat = torch.sin(torch.arange(p.numel(), dtype=torch.float64) + offset) / 4
            p.copy_(flat.reshape(p.shape))
            offset += p.numel()
        x = torch.sin(torch.arange(2 * 2 * 4 * 4, dtype=torch.float64) * 0.7).reshape(2, 2, 4, 4)
        t = torch.tensor([3.0, 250.0], dtype=torch.float64)
        y = tiny(x, t)
    with open(path, "w") as f:
        json.dump({"state": state, "tiny_output": y.flatten().tolist(), "torch": torch.__version__},
                  f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-fixture":
        write_fixture(sys.argv[2])
    else:
        sys.exit("usage: python3 bench/peers/unet_torch.py --write-fixture tests/fixtures/nn/unet_state.json")
