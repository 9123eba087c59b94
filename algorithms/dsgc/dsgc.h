// Dimensionwise separable 2-D graph convolution (DSGC; Li, Zhang, Liu, Dai and Wu, "Dimensionwise
// Separable 2-D Graph Convolution for Unsupervised and Semi-Supervised Learning on Graphs", KDD
// 2021): filter the feature matrix X [N, d] along both of its dimensions,
//   X̄ = G X F,
// G along the objects (a low-pass filter of the node graph: the lazy random walk P̃² with
// P̃ = D̃^-1 (A + I), or the auto-regressive filter (I + α L̃)^-1) and F along the attributes
// (F = D_F^-1/2 A_F D_F^-1/2 of an attribute affinity graph, attribute_graph.h). Because the two
// filters act on different dimensions, they commute: G (X F) = (G X) F. The paper's argument is
// that each filter averages a feature with similar ones (same-class neighbours, related
// attributes), so X̄ has a smaller within-class variance than X, G X or X F;
// within_class_variance_ratio measures exactly that.
//
//   Tensor F = algo::attribute_filter(algo::attribute_graph(ds.features));
//   Tensor GXF = algo::filter_2d(ds, x, F, {});                // P̃² X F
//   double r = algo::within_class_variance_ratio(GXF, ds.labels);
#pragma once

#include <cstdint>
#include <string>

#include "datasets/planetoid.h"
#include "engine/core/tensor.h"

namespace stackgrad::algo {

enum class ObjectFilter {
  random_walk,  // P̃^steps X, P̃ = D̃^-1 (A + I)  (the paper's G for classification and clustering)
  ar,           // (I + α L̃)^-1 X with L̃ = I - D̃^-1/2 (A + I) D̃^-1/2 (the AR filter of GLP)
};
ObjectFilter parse_object_filter(const std::string& name);  // "rw" or "ar"

struct ObjectFilterOptions {
  ObjectFilter kind = ObjectFilter::random_walk;
  int64_t steps = 2;     // random_walk
  double ar_alpha = 10;  // ar
};

// G X for the dataset's graph; x [N, d] dense f32/f64.
Tensor filter_objects(const data::GraphDataset& ds, const Tensor& x,
                      const ObjectFilterOptions& options = {});

// X F for dense X [N, d] and a symmetric CSR F [d, d] (computed as (F Xᵀ)ᵀ, since spmm takes the
// sparse operand on the left).
Tensor filter_attributes(const Tensor& x, const Tensor& F);

// G X F.
Tensor filter_2d(const data::GraphDataset& ds, const Tensor& x, const Tensor& F,
                 const ObjectFilterOptions& options = {});

// F' = (I + F) / 2, the attribute filter of DSGC's clustering (keeps F's eigenvectors, maps its
// eigenvalues from [-1, 1] to [0, 1], so no attribute signal changes sign).
Tensor lazy_attribute_filter(const Tensor& F);

// Σ_c Σ_{i in c} ||x_i - μ_c||² / Σ_i ||x_i - μ||² over the labelled rows (label >= 0) of
// x [N, d]: the fraction of the total variance that lies within classes (0: every class a single
// point; 1: the class means coincide). Scale-free, so filtered and raw features compare.
double within_class_variance_ratio(const Tensor& x, const Tensor& labels);

}  // namespace stackgrad::algo
