#include "algorithms/dsgc/attribute_graph.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/stackgrad.h"

namespace stackgrad::algo {

namespace {

void check_features(const Tensor& x, const char* op) {
  SG_CHECK(x.defined() && !x.is_sparse() && x.dim() == 2, op,
           ": expected dense features [N, d], got ",
           x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  SG_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op,
           ": features must be f32 or f64, got ", dtype_name(x.dtype()));
  SG_CHECK(x.size(0) >= 2, op, ": need at least 2 nodes, got ", x.size(0));
}

bool all_non_negative(const Tensor& x) { return min(x.to(DType::f64)).item() >= 0.0; }

}  // namespace

AttributeAffinity parse_attribute_affinity(const std::string& name) {
  if (name == "auto") return AttributeAffinity::automatic;
  if (name == "ppmi") return AttributeAffinity::ppmi;
  if (name == "correlation") return AttributeAffinity::correlation;
  fail("attribute affinity: expected auto, ppmi or correlation, got '", name, "'");
}

std::string attribute_affinity_name(AttributeAffinity a) {
  switch (a) {
    case AttributeAffinity::automatic:
      return "auto";
    case AttributeAffinity::ppmi:
      return "ppmi";
    case AttributeAffinity::correlation:
      return "correlation";
  }
  return "?";
}

Tensor ppmi_matrix(const Tensor& features, int64_t min_cooccurrence) {
  check_features(features, "ppmi_matrix");
  SG_CHECK(min_cooccurrence >= 1, "ppmi_matrix: min_cooccurrence must be >= 1, got ",
           min_cooccurrence);
  const int64_t n = features.size(0), d = features.size(1);
  // Co-occurrence counts C = Bᵀ B with B the binarised features, as a sparse-dense product (B is
  // ~1% dense on bag-of-words data); the counts are small integers, exact in f32.
  const Tensor b = (features > 0.0).to(DType::f32);
  const Tensor counts = spmm(sparse_transpose(dense_to_csr(b)), b).to(DType::f64).contiguous();
  const double* c = counts.data_ptr<double>();
  std::vector<double> marginal(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) marginal[size_t(i)] = c[i * d + i];  // n_i = C_ii for binary B

  Tensor out = zeros({d, d}, DType::f64);
  double* p = out.data_ptr<double>();
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double nij = c[i * d + j];
      if (i == j || nij < double(min_cooccurrence)) continue;
      const double pmi = std::log(double(n) * nij / (marginal[size_t(i)] * marginal[size_t(j)]));
      if (pmi > 0) p[i * d + j] = pmi;
    }
  return out;
}

Tensor positive_correlation_matrix(const Tensor& features) {
  check_features(features, "positive_correlation_matrix");
  const int64_t d = features.size(1);
  const Tensor x = features.to(DType::f64);
  const Tensor centred = x - mean(x, {0}, /*keepdim=*/true);
  const Tensor cov = mm(centred.t(), centred).contiguous();  // scale cancels in the correlation
  const double* c = cov.data_ptr<double>();
  Tensor out = zeros({d, d}, DType::f64);
  double* p = out.data_ptr<double>();
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double denom = std::sqrt(c[i * d + i] * c[j * d + j]);
      if (i == j || denom <= 0) continue;
      p[i * d + j] = std::max(0.0, c[i * d + j] / denom);
    }
  return out;
}

Tensor sparsify_affinity(const Tensor& affinity, int64_t top_k, double threshold, bool mutual) {
  SG_CHECK(affinity.defined() && !affinity.is_sparse() && affinity.dim() == 2 &&
               affinity.size(0) == affinity.size(1),
           "sparsify_affinity: expected a dense square matrix, got ",
           affinity.defined() ? shape_str(affinity.shape()) : std::string("undefined"));
  SG_CHECK(top_k >= 0, "sparsify_affinity: top_k must be >= 0, got ", top_k);
  const int64_t d = affinity.size(0);
  const Tensor a = affinity.to(DType::f64).contiguous();
  const double* v = a.data_ptr<double>();

  // chosen[i * d + j]: attribute i keeps j among its top-k candidates.
  std::vector<char> chosen(size_t(d * d), 0);
  std::vector<int64_t> cand;
  for (int64_t i = 0; i < d; ++i) {
    cand.clear();
    for (int64_t j = 0; j < d; ++j)
      if (j != i && v[i * d + j] > threshold) cand.push_back(j);
    if (top_k > 0 && int64_t(cand.size()) > top_k) {
      // Largest first; equal values go to the lower column, so the result is deterministic.
      std::partial_sort(cand.begin(), cand.begin() + top_k, cand.end(), [&](int64_t x, int64_t y) {
        return v[i * d + x] > v[i * d + y] || (v[i * d + x] == v[i * d + y] && x < y);
      });
      cand.resize(size_t(top_k));
    }
    for (int64_t j : cand) chosen[size_t(i * d + j)] = 1;
  }

  std::vector<int64_t> rows, cols;
  std::vector<float> vals;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const bool ij = chosen[size_t(i * d + j)], ji = chosen[size_t(j * d + i)];
      if (mutual ? (ij && ji) : (ij || ji)) {
        rows.push_back(i);
        cols.push_back(j);
        // The affinity is symmetric up to rounding; the larger of the two keeps A_F symmetric.
        vals.push_back(float(std::max(v[i * d + j], v[j * d + i])));
      }
    }
  const int64_t e = int64_t(vals.size());
  return sparse_csr_from_coo(from_vector(rows, {e}), from_vector(cols, {e}), from_vector(vals, {e}),
                             {d, d});
}

Tensor attribute_graph(const Tensor& features, const AttributeGraphOptions& options) {
  SG_CHECK(options.self_loop >= 0, "attribute_graph: self_loop must be >= 0, got ",
           options.self_loop);
  AttributeAffinity kind = options.affinity;
  if (kind == AttributeAffinity::automatic)
    kind = all_non_negative(features) ? AttributeAffinity::ppmi : AttributeAffinity::correlation;
  const Tensor dense = kind == AttributeAffinity::ppmi
                           ? ppmi_matrix(features, options.min_cooccurrence)
                           : positive_correlation_matrix(features);
  Tensor a = sparsify_affinity(dense, options.top_k, options.threshold, options.mutual);
  if (options.self_loop > 0) a = add_self_loops(a, options.self_loop);
  return a;
}

Tensor attribute_filter(const Tensor& attribute_graph) {
  SG_CHECK(attribute_graph.defined() && attribute_graph.is_sparse(),
           "attribute_filter: expected a CSR A_F");
  return sym_normalize(attribute_graph);
}

AttributeGraphStats attribute_graph_stats(const Tensor& attribute_graph) {
  SG_CHECK(attribute_graph.defined() && attribute_graph.is_sparse(),
           "attribute_graph_stats: expected a CSR A_F");
  const auto crow = csr_crow(attribute_graph).to_vector<int64_t>();
  const auto col = csr_col(attribute_graph).to_vector<int64_t>();
  AttributeGraphStats s;
  s.attributes = attribute_graph.size(0);
  int64_t off_diagonal = 0;
  for (int64_t i = 0; i < s.attributes; ++i) {
    int64_t deg = 0;
    for (int64_t e = crow[size_t(i)]; e < crow[size_t(i + 1)]; ++e) deg += col[size_t(e)] != i;
    off_diagonal += deg;
    s.isolated += deg == 0;
  }
  s.edges = off_diagonal / 2;
  s.mean_degree = double(off_diagonal) / double(std::max<int64_t>(1, s.attributes));
  return s;
}

}  // namespace stackgrad::algo
