#!/usr/bin/env python3
"""The PyTorch twin of algorithms/mnist_mlp: the same MLP, optimiser, schedule and batch size on
MNIST, timed on the same machine.
    /usr/bin/python3 bench/peers/train_mnist_mlp.py --threads 2 [--epochs 12]
"""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn

from train_common import fit_classifier, load_idx_dataset, report


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir")
    ap.add_argument("--out")
    ap.add_argument("--limit", type=int, default=0, help="first N training images only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xtr, ytr, xte, yte = load_idx_dataset(["mnist"], a.data_dir)
    mean, std = 0.1307, 0.3081
    xtr = ((xtr - mean) / std).reshape(len(xtr), -1)
    xte = ((xte - mean) / std).reshape(len(xte), -1)
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    model = nn.Sequential(nn.Linear(784, a.hidden), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(a.hidden, a.hidden), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(a.hidden, 10))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = a.epochs * math.ceil(len(xtr) / a.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    acc, wall = fit_classifier(model, opt, sched, xtr, ytr, xte, yte, a.epochs, a.batch_size, rng, flip=False)
    report({"peer": "torch", "model": "mnist_mlp", "epochs": a.epochs, "threads": a.threads,
            "test_accuracy": acc, "wall_s": round(wall, 2), "torch": torch.__version__}, a.out)


if __name__ == "__main__":
    main()
