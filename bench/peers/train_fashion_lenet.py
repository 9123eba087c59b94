#!/usr/bin/env python3
"""The PyTorch twin of algorithms/fashion_lenet: the same LeNet-style CNN, optimiser, schedule,
batch size and augmentation on Fashion-MNIST, timed on the same machine.
    /usr/bin/python3 bench/peers/train_fashion_lenet.py --threads 2 [--epochs 15]
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from train_common import load_idx_dataset, report


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.drop(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xtr, ytr, xte, yte = load_idx_dataset(["fashion-mnist", "fashion_mnist"], a.data_dir)
    mean, std = 0.2860, 0.3530
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    xte_t, yte_t = torch.from_numpy(xte), torch.from_numpy(yte)
    model = LeNet()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    steps = a.epochs * math.ceil(len(xtr) / a.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = rng.permutation(len(xtr))
        for i in range(0, len(xtr), a.batch_size):
            idx = perm[i:i + a.batch_size]
            x = xtr[idx].copy()
            flip = rng.random(len(idx)) < 0.5
            x[flip] = x[flip][..., ::-1]
            loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            acc = sum((model(xte_t[i:i + 1000]).argmax(1) == yte_t[i:i + 1000]).sum().item()
                      for i in range(0, len(xte), 1000)) / len(xte)
        print("epoch %d  loss %.4f  test accuracy %.4f  %.1f s" % (epoch + 1, loss.item(), acc, time.time() - start), flush=True)
    report({"peer": "torch", "model": "fashion_lenet", "epochs": a.epochs, "threads": a.threads,
            "test_accuracy": acc, "wall_s": round(time.time() - start, 2), "torch": torch.__version__}, a.out)


if __name__ == "__main__":
    main()
