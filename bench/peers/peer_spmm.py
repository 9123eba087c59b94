"""PyTorch peer of bench/bench_spmm.cpp: torch.sparse.mm of the GCN-normalised adjacency
D^-1/2 (A + I) D^-1/2 of Cora and PubMed (built from the same edges.npy) with dense
[nodes, N] f32 operands, N = 16, 64, 1433. `_fwdbwd` cases also take the gradient of the dense
operand. The sparse matrix is COO, which torch 1.13 multiplies faster than CSR on the CPU
(CSR: 1.1x slower at N = 16, 4x at N = 1433 on Cora, one thread); SPMM_PEER_LAYOUT=csr
switches to CSR, stackgrad's layout.

Datasets: $STACKGRAD_DATA, then ../shared/datasets (relative to the working directory).
Run by bench/peers/torch_peer.py; by hand:
    python3 -c "import sys; sys.path.insert(0,'bench/peers'); import peer_spmm as m; [f() for n,f in m.cases()]"
"""
import os

import numpy as np
import torch

GRAPHS = (("cora", 2708), ("pubmed", 19717))
WIDTHS = (16, 64, 1433)


def _edges_path(graph):
    roots = [os.environ.get("STACKGRAD_DATA", ""), "../shared/datasets"]
    for root in roots:
        p = os.path.join(root, "planetoid", graph, "edges.npy")
        if root and os.path.exists(p):
            return p
    return None


def gcn_adjacency(edges, nodes, layout):
    """D^-1/2 (A + I) D^-1/2 with A the symmetric 0/1 adjacency of the undirected edge list."""
    e = torch.from_numpy(np.asarray(edges, dtype=np.int64))
    loops = torch.arange(nodes, dtype=torch.int64)
    rows = torch.cat([e[:, 0], e[:, 1], loops])
    cols = torch.cat([e[:, 1], e[:, 0], loops])
    a = torch.sparse_coo_tensor(torch.stack([rows, cols]), torch.ones(rows.numel()), (nodes, nodes))
    a = a.coalesce()
    # Duplicates (an edge listed twice, or a listed self-loop) still mean weight 1.
    a = torch.sparse_coo_tensor(a.indices(), torch.ones(a.values().numel()), (nodes, nodes)).coalesce()
    deg = torch.sparse.sum(a, dim=1).to_dense()
    scale = deg.pow(-0.5)
    i, j = a.indices()
    a = torch.sparse_coo_tensor(a.indices(), scale[i] * scale[j], (nodes, nodes)).coalesce()
    return a.to_sparse_csr() if layout == "csr" else a


def cases():
    layout = os.environ.get("SPMM_PEER_LAYOUT", "coo")
    g = torch.Generator().manual_seed(0)
    out = []
    for graph, nodes in GRAPHS:
        path = _edges_path(graph)
        if path is None:
            continue
        adj = gcn_adjacency(np.load(path), nodes, layout)
        feats = os.path.join(os.path.dirname(path), "features.npy")
        for n in WIDTHS:
            if n == 1433 and os.path.exists(feats):
                x = torch.from_numpy(np.load(feats)).float()
            else:
                x = torch.randn(nodes, n, generator=g)
            dy = torch.randn(nodes, n, generator=g)
            xg = x.clone().requires_grad_()

            def fwd(adj=adj, x=x):
                return torch.sparse.mm(adj, x)

            def fwdbwd(adj=adj, xg=xg, dy=dy):
                (gx,) = torch.autograd.grad(torch.sparse.mm(adj, xg), xg, dy)
                return gx

            out.append((f"spmm/{graph}_n{n}/torch", fwd))
            out.append((f"spmm/{graph}_n{n}_fwdbwd/torch", fwdbwd))
    return out
