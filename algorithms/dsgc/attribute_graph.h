// The attribute affinity graph A_F of DSGC and its filter F = D_F^-1/2 A_F D_F^-1/2, built from
// the node features alone (our datasets carry no word embeddings). Two affinities:
//   ppmi:        positive pointwise mutual information of attribute co-occurrence over the nodes,
//                on the binarised features B = [X > 0]: with N nodes, n_i nodes having attribute
//                i and n_ij having both i and j,
//                  PPMI(i, j) = max(0, log(N n_ij / (n_i n_j)))   (0 when n_ij < min_cooccurrence);
//   correlation: max(0, Pearson correlation of columns i and j over the nodes), for features
//                that can be negative (a CSBM's Gaussian ones), where co-occurrence means nothing.
// Both have a zero diagonal. The dense [d, d] affinity is then sparsified: entries above a
// threshold, the top_k largest per attribute (ties to the lower column), made symmetric (kept
// when either end chose it, or only when both did with `mutual`), and self loops of weight
// `self_loop` added before the symmetric normalisation.
//
//   algo::AttributeGraphOptions opt;                         // PPMI, top 50, self loops 1
//   Tensor A_F = algo::attribute_graph(ds.features, opt);      // CSR f32 [d, d]
//   Tensor F = algo::attribute_filter(A_F);                    // D^-1/2 A_F D^-1/2
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/tensor.h"

namespace stackgrad::algo {

enum class AttributeAffinity {
  automatic,  // ppmi when every feature is >= 0, correlation otherwise
  ppmi,
  correlation,
};
AttributeAffinity parse_attribute_affinity(
    const std::string& name);  // "auto", "ppmi", "correlation"
std::string attribute_affinity_name(AttributeAffinity a);

struct AttributeGraphOptions {
  AttributeAffinity affinity = AttributeAffinity::automatic;
  int64_t top_k = 50;      // neighbours kept per attribute; 0: keep every entry above threshold
  double threshold = 0.0;  // keep affinities strictly greater
  int64_t min_cooccurrence = 1;  // ppmi: pairs seen together on fewer nodes get 0
  bool mutual = false;           // symmetrise top-k by intersection instead of union
  double self_loop = 1.0;        // weight added on the diagonal of A_F (0: none)
};

// Dense f64 [d, d] PPMI of the binarised features X [N, d] (f32/f64), zero diagonal. An attribute
// no node has gets a zero row.
Tensor ppmi_matrix(const Tensor& features, int64_t min_cooccurrence = 1);

// Dense f64 [d, d] positive Pearson correlation of the columns of X, zero diagonal (a constant
// column gets a zero row).
Tensor positive_correlation_matrix(const Tensor& features);

// Sparsifies a dense symmetric non-negative affinity [d, d] (diagonal ignored) as described
// above: CSR f32 [d, d], symmetric, no self loops.
Tensor sparsify_affinity(const Tensor& affinity, int64_t top_k, double threshold, bool mutual);

// A_F of the features: affinity, sparsification, self loops. CSR f32 [d, d].
Tensor attribute_graph(const Tensor& features, const AttributeGraphOptions& options = {});

// F = D^-1/2 A_F D^-1/2 (D the row sums of A_F; an attribute of degree 0 gets a zero row).
Tensor attribute_filter(const Tensor& attribute_graph);

// Summary of a sparse A_F for logs: edges (each undirected pair once, self loops excluded),
// mean degree, isolated attributes (no edge besides the self loop).
struct AttributeGraphStats {
  int64_t attributes = 0, edges = 0, isolated = 0;
  double mean_degree = 0;
};
AttributeGraphStats attribute_graph_stats(const Tensor& attribute_graph);

}  // namespace stackgrad::algo
