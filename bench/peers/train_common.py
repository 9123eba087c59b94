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
