#!/usr/bin/env python3
"""The PyTorch twin of algorithms/gcn: Kipf & Welling's two-layer GCN (hidden 16, dropout 0.5,
Adam lr 0.01, weight decay 5e-4 on the first layer, 200 epochs, row-normalised features, Glorot
init) on the public Planetoid split, timed on the same machine.
    /usr/bin/python3 bench/peers/train_gcn_cora.py --threads 2 [--dataset cora] [--repeats 10]
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from train_common import find_dataset, report


def load(name, data_dir):
    d = find_dataset(["planetoid/" + name], ["features.npy", "edges.npy", "labels.npy"], data_dir)
    ld = lambda f: np.load(os.path.join(d, f))
    x, edges, y = ld("features.npy"), ld("edges.npy"), ld("labels.npy")
    n = len(y)
    rs = x.sum(1, keepdims=True)
    x = np.divide(x, rs, out=np.zeros_like(x), where=rs > 0)
    rows = np.concatenate([edges[:, 0], edges[:, 1], np.arange(n)])
    cols = np.concatenate([edges[:, 1], edges[:, 0], np.arange(n)])
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    vals = (1 / np.sqrt(deg[rows] * deg[cols])).astype(np.float32)
    adj = torch.sparse_coo_tensor(np.stack([rows, cols]), vals, (n, n)).coalesce()
    idx = {k: torch.from_numpy(ld(k + "_idx.npy")) for k in ("train", "val", "test")}
    return torch.from_numpy(x), adj, torch.from_numpy(y), idx


def glorot(shape):
    r = np.sqrt(6.0 / (shape[0] + shape[1]))
    return torch.nn.Parameter(torch.empty(shape).uniform_(-r, r))


def run(x, adj, y, idx, seed, epochs):
    torch.manual_seed(seed)
    w0, w1 = glorot((x.shape[1], 16)), glorot((16, int(y.max()) + 1))
    opt = torch.optim.Adam([{"params": [w0], "weight_decay": 5e-4}, {"params": [w1]}], lr=0.01)

    def forward(train):
        h = F.dropout(x, 0.5, train)
        h = F.relu(torch.sparse.mm(adj, h @ w0))
        h = F.dropout(h, 0.5, train)
        return torch.sparse.mm(adj, h @ w1)

    for _ in range(epochs):
        loss = F.cross_entropy(forward(True)[idx["train"]], y[idx["train"]])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = forward(False).argmax(1)
    return (pred[idx["test"]] == y[idx["test"]]).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="cora")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x, adj, y, idx = load(a.dataset, a.data_dir)
    accs, times = [], []
    for seed in range(a.repeats):
        start = time.time()
        accs.append(run(x, adj, y, idx, seed, a.epochs))
        times.append(time.time() - start)
        print("seed %d  test accuracy %.4f  %.2f s" % (seed, accs[-1], times[-1]), flush=True)
    report({"peer": "torch", "model": "gcn", "dataset": a.dataset, "epochs": a.epochs,
            "threads": a.threads, "test_accuracy_mean": float(np.mean(accs)),
            "test_accuracy_std": float(np.std(accs)), "wall_s_per_run": float(np.median(times)),
            "torch": torch.__version__}, a.out)


if __name__ == "__main__":
    main()
