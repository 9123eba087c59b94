"""PyTorch peer of bench/bench_cuda_spmm.cpp: torch.sparse.mm of a CSR matrix on CUDA with dense
[nodes, N] f32 operands, N = 64 and 256, on the same graphs:
  - pubmed: D^-1/2 (A + I) D^-1/2 of PubMed's edges.npy ($STACKGRAD_DATA, then
    ../shared/datasets), or, without it, of 44324 random edges of the same generator as the
    benchmark (case pubmed_synth);
  - powerlaw1m: the benchmark's 1M-node power-law graph, from the same counter-based generator
    (splitmix64 of seed * 2^40 + k), computed here with numpy. Row lengths are floor(2 (1 - u)^(-1/1.2))
    capped at 100k; a floor of a power may land on the other side of an integer in rare rows
    (numpy's pow against the C library's), so the graphs agree in size and shape, not
    necessarily in every nonzero.
Names: cuda_spmm/<case>/torch. Run by bench/peers/torch_peer.py; by hand:
    python3 -c "import sys; sys.path.insert(0,'bench/peers'); import peer_cuda_spmm as m; [f() for n,f in m.cases()]"
"""
import os

import numpy as np
import torch

from peer_spmm import gcn_adjacency

WIDTHS = (64, 256)
PUBMED_NODES, PUBMED_EDGES = 19717, 44324
POWER_NODES, POWER_CAP = 1_000_000, 100_000


def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _unit(seed, k):
    """[0, 1) doubles, value k of stream `seed` (k a uint64 array)."""
    with np.errstate(over="ignore"):
        x = _splitmix64((np.uint64(seed) << np.uint64(40)) + k)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def power_law_csr():
    n = POWER_NODES
    u = _unit(1, np.arange(n, dtype=np.uint64))
    lengths = np.minimum(POWER_CAP, np.floor(2.0 * np.power(1.0 - u, -1.0 / 1.2))).astype(np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    k = np.arange(rows.size, dtype=np.uint64)
    f, g = _unit(2, k), _unit(3, k)
    pos = np.where(g < 0.5, f * f * f, f)
    cols = np.minimum(n - 1, (pos * n).astype(np.int64))
    idx = torch.from_numpy(np.stack([rows, cols]))
    a = torch.sparse_coo_tensor(idx, torch.ones(rows.size), (n, n)).coalesce()
    a = torch.sparse_coo_tensor(a.indices(), torch.ones(a.values().numel()), (n, n)).coalesce()
    return a.to_sparse_csr()


def pubmed_csr():
    roots = [os.environ.get("STACKGRAD_DATA", ""), "../shared/datasets"]
    for root in roots:
        p = os.path.join(root, "planetoid", "pubmed", "edges.npy")
        if root and os.path.exists(p):
            return "pubmed", gcn_adjacency(np.load(p), PUBMED_NODES, "csr")
    k = np.arange(PUBMED_EDGES, dtype=np.uint64)
    src = (_unit(4, k) * PUBMED_NODES).astype(np.int64)
    dst = (_unit(5, k) * PUBMED_NODES).astype(np.int64)
    return "pubmed_synth", gcn_adjacency(np.stack([src, dst], axis=1), PUBMED_NODES, "csr")


def _case(name, adj, n):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(adj.shape[1], n, generator=g).cuda()

    def fn():
        torch.sparse.mm(adj, x)
        torch.cuda.synchronize()

    return (f"cuda_spmm/{name}_n{n}/torch", fn)


def cases():
    if not torch.cuda.is_available():
        return []
    pubmed_name, pubmed = pubmed_csr()
    graphs = [(pubmed_name, pubmed.float().cuda()), ("powerlaw1m", power_law_csr().float().cuda())]
    return [_case(name, adj, n) for name, adj in graphs for n in WIDTHS]
