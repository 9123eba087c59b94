#!/usr/bin/env python3
"""The PyTorch twin of algorithms/fashion_lenet: the same LeNet-style CNN, optimiser, schedule,
batch size and augmentation on Fashion-MNIST, timed on the same machine.
    /usr/bin/python3 bench/peers/train_fashion_lenet.py --threads 2 [--epochs 15]
"""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from train_common import fit_classifier, load_idx_dataset, report


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
    ap.add_argument("--limit", type=int, default=0, help="first N training images only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xtr, ytr, xte, yte = load_idx_dataset(["fashion-mnist", "fashion_mnist"], a.data_dir)
    mean, std = 0.2860, 0.3530
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    model = LeNet()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    steps = a.epochs * math.ceil(len(xtr) / a.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    acc, wall = fit_classifier(model, opt, sched, xtr, ytr, xte, yte, a.epochs, a.batch_size, rng, flip=True)
    report({"peer": "torch", "model": "fashion_lenet", "epochs": a.epochs, "threads": a.threads,
            "test_accuracy": acc, "wall_s": round(wall, 2), "torch": torch.__version__}, a.out)


if __name__ == "__main__":
    main()
