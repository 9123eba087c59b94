"""PyTorch peer of bench/bench_gcn.cpp: the same 2-layer GCN on Cora, 200 full-batch epochs per
iteration (torch.sparse.mm for the propagation, torch.optim.Adam with weight decay 5e-4 on the
first layer's weight). Prints the final test accuracy once, to stderr."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

# One call trains for seconds: no warm-up calls (bench/peers/torch_peer.py then times it once).
WARMUP = 0
EPOCHS, HIDDEN, LR, WEIGHT_DECAY, DROPOUT = 200, 16, 0.01, 5e-4, 0.5


def cora_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [os.environ.get("STACKGRAD_DATA", ""), os.path.join(here, "..", "..", "..", "shared", "datasets"),
             "../shared/datasets", "/usr/share/datasets"]
    for r in roots:
        if r and os.path.exists(os.path.join(r, "planetoid", "cora", "features.npy")):
            return os.path.join(r, "planetoid", "cora")
    return None


def load():
    d = cora_dir()
    edges = np.load(os.path.join(d, "edges.npy"))
    n = 2708
    src = np.concatenate([edges[:, 0], edges[:, 1], np.arange(n)])
    dst = np.concatenate([edges[:, 1], edges[:, 0], np.arange(n)])
    a = torch.sparse_coo_tensor(torch.tensor(np.stack([src, dst])), torch.ones(len(src)), (n, n)).coalesce()
    a = torch.sparse_coo_tensor(a.indices(), torch.ones_like(a.values()), (n, n)).coalesce()  # A + I, 0/1
    deg = torch.sparse.sum(a, 1).to_dense()
    dinv = deg.pow(-0.5)
    i = a.indices()
    adj = torch.sparse_coo_tensor(i, dinv[i[0]] * a.values() * dinv[i[1]], (n, n)).coalesce()
    x = torch.from_numpy(np.load(os.path.join(d, "features.npy")))
    x = x / x.sum(1, keepdim=True).clamp(min=1.0)
    labels = torch.from_numpy(np.load(os.path.join(d, "labels.npy")))
    train_idx = torch.from_numpy(np.load(os.path.join(d, "train_idx.npy")))
    test_idx = torch.from_numpy(np.load(os.path.join(d, "test_idx.npy")))
    return adj, x, labels, train_idx, test_idx


def glorot(fan_in, fan_out):
    r = (6.0 / (fan_in + fan_out)) ** 0.5
    return torch.empty(fan_in, fan_out).uniform_(-r, r).requires_grad_()


def train(adj, x, labels, train_idx, test_idx):
    w1, b1 = glorot(x.shape[1], HIDDEN), torch.zeros(HIDDEN, requires_grad=True)
    w2, b2 = glorot(HIDDEN, 7), torch.zeros(7, requires_grad=True)
    opt = torch.optim.Adam([{"params": [w1], "weight_decay": WEIGHT_DECAY},
                            {"params": [b1, w2, b2], "weight_decay": 0.0}], lr=LR)
    train_labels = labels[train_idx]

    def forward(training):
        h = F.dropout(x, DROPOUT, training)
        h = F.relu(torch.sparse.mm(adj, h @ w1) + b1)
        h = F.dropout(h, DROPOUT, training)
        return torch.sparse.mm(adj, h @ w2) + b2

    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = F.cross_entropy(forward(True)[train_idx], train_labels)
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = forward(False)[test_idx].argmax(1)
        return (pred == labels[test_idx]).float().mean().item()


def cases():
    if cora_dir() is None:
        print("peer_gcn: Cora not found", file=sys.stderr)
        return []
    torch.manual_seed(0)
    data = load()
    printed = []

    def run():
        acc = train(*data)
        if not printed:
            print(f"gcn/cora_200epochs/torch: test accuracy {acc:.3f}", file=sys.stderr)
            printed.append(acc)

    return [("gcn/cora_200epochs/torch", run)]
