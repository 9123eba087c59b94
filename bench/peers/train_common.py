"""Shared helpers of the PyTorch training peers (bench/peers/train_*.py): the same data files
the stackgrad executables read, found in the same order (--data-dir, $STACKGRAD_DATA,
../shared/datasets beside the checkout, /usr/share/datasets)."""
import gzip
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))


def find_dataset(names, required, data_dir=None):
    roots = [r for r in (data_dir, os.environ.get("STACKGRAD_DATA")) if r]
    roots += [os.path.join(CHECKOUT, "..", "shared", "datasets"), "/usr/share/datasets"]
    tried = []
    for root in roots:
        for name in names:
            d = os.path.join(root, name)
            if all(os.path.exists(os.path.join(d, f)) for f in required):
                return d
            tried.append(d)
    raise SystemExit("dataset %s not found; looked in: %s" % (names[0], ", ".join(tried)))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_idx_dataset(names, data_dir=None):
    files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    d = find_dataset(names, files, data_dir)
    xs = [read_idx(os.path.join(d, f)) for f in files]
    to_x = lambda a: (a.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return to_x(xs[0]), xs[1].astype(np.int64), to_x(xs[2]), xs[3].astype(np.int64)


def report(result, out=None):
    line = json.dumps(result)
    print(line)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")


def fit_classifier(model, opt, sched, xtr, ytr, xte, yte, epochs, batch_size, rng, flip=False):
    """The twin of train/classifier.cpp's loop: shuffled mini-batches, cross-entropy, a step of
    the optimiser and of the per-step schedule, test accuracy after every epoch. Returns the
    last test accuracy; prints one line per epoch."""
    import time
    import torch
    import torch.nn.functional as F
    xte_t, yte_t = torch.from_numpy(xte), torch.from_numpy(yte)
    start = time.time()
    acc = float("nan")
    for epoch in range(epochs):
        model.train()
        perm = rng.permutation(len(xtr))
        for i in range(0, len(xtr), batch_size):
            idx = perm[i:i + batch_size]
            x = xtr[idx]
            if flip:
                x = x.copy()
                mirror = rng.random(len(idx)) < 0.5
                x[mirror] = x[mirror][..., ::-1]
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
    return acc, time.time() - start
