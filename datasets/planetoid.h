// Graph node-classification datasets: the GraphDataset type and the Planetoid citation graphs
// (Cora, CiteSeer, PubMed) with their public split, read from .npy files under the data roots
// (folder "planetoid/<name>", see datasets/data_root.h and scripts/get-data.sh).
//
//   data::GraphDataset cora = data::load_planetoid("cora");      // 2708 nodes, 7 classes
//   Tensor A = gcn_norm(cora.adjacency());                         // CSR [2708, 2708]
//   Tensor X = data::row_normalize_features(cora.features_or_fail());
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/tensor.h"

namespace stackgrad::data {

struct GraphDataset {
  std::string name;
  int64_t num_nodes = 0;
  int64_t num_classes = 0;
  Tensor features;  // f32 [N, F] as stored (not normalised); undefined when the files lack them
  Tensor labels;    // i64 [N], 0..num_classes-1, -1 for nodes without a label
  Tensor edges;     // i64 [E, 2], each undirected edge once with i < j, no self loops
  Tensor train_idx, val_idx, test_idx;  // i64 node indices
  // Where the dataset was read from (empty for synthetic graphs); used in error messages.
  std::string source;

  bool has_features() const { return features.defined(); }
  int64_t num_features() const { return has_features() ? features.size(1) : 0; }
  int64_t num_edges() const { return edges.defined() ? edges.size(0) : 0; }
  // The features, or an Error explaining that this dataset's features are not available and
  // how to get them (PubMed's are missing from the shared data folder).
  const Tensor& features_or_fail() const;
  // The adjacency as an f32 CSR [N, N] matrix of ones, no self loops. symmetric: both
  // directions of every edge (what GCN-style models use); otherwise only i -> j as stored.
  Tensor adjacency(bool symmetric = true) const;
};

// Loads "cora", "citeseer" or "pubmed" (case-insensitive) with the public Planetoid split
// (20 labelled nodes per class, 500 validation, 1000 test). features.npy is optional: without
// it has_features() is false.
GraphDataset load_planetoid(const std::string& name, const std::string& data_dir = "");

// Rows scaled to sum to 1 (the usual GCN preprocessing); all-zero rows stay zero. f32 or f64
// [N, F]; returns a new tensor.
Tensor row_normalize_features(const Tensor& x);

// Checks the invariants of a GraphDataset (shapes, dtypes, index and label ranges) and throws an
// Error starting with `op` naming the first one that fails. Loaders and generators call it.
void validate_graph(const GraphDataset& ds, const std::string& op);

}  // namespace stackgrad::data
