#include "algorithms/dsgc/dsgc.h"

#include <vector>

#include "engine/stackgrad.h"
#include "nn/graph.h"

namespace stackgrad::algo {

ObjectFilter parse_object_filter(const std::string& name) {
  if (name == "rw") return ObjectFilter::random_walk;
  if (name == "ar") return ObjectFilter::ar;
  fail("object filter: expected rw or ar, got '", name, "'");
}

Tensor filter_objects(const data::GraphDataset& ds, const Tensor& x,
                      const ObjectFilterOptions& options) {
  SG_CHECK(x.defined() && x.dim() == 2 && x.size(0) == ds.num_nodes,
           "filter_objects: expected features [", ds.num_nodes, ", d], got ",
           x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  NoGradGuard no_grad;
  if (options.kind == ObjectFilter::random_walk) {
    SG_CHECK(options.steps >= 0, "filter_objects: steps must be >= 0, got ", options.steps);
    const Tensor P =
        nn::random_walk_norm(ds.edges, ds.num_nodes, /*add_self_loops=*/true, x.dtype());
    return nn::graph_filter::random_walk(P, x, options.steps);
  }
  SG_CHECK(options.ar_alpha > 0, "filter_objects: ar_alpha must be > 0, got ", options.ar_alpha);
  const Tensor S = nn::gcn_norm(ds.edges, ds.num_nodes, /*add_self_loops=*/true, x.dtype());
  return nn::graph_filter::ar(S, x, options.ar_alpha);
}

Tensor filter_attributes(const Tensor& x, const Tensor& F) {
  SG_CHECK(F.defined() && F.is_sparse() && F.size(0) == F.size(1),
           "filter_attributes: F must be a square CSR matrix");
  SG_CHECK(x.defined() && x.dim() == 2 && x.size(1) == F.size(0), "filter_attributes: features ",
           x.defined() ? shape_str(x.shape()) : std::string("undefined"), " do not match F ",
           shape_str(F.shape()));
  NoGradGuard no_grad;
  const Tensor f = F.dtype() == x.dtype() ? F : csr_with_values(F, csr_values(F).to(x.dtype()));
  // (X F)ᵀ = Fᵀ Xᵀ = F Xᵀ for symmetric F.
  return spmm(f, x.t().contiguous()).t().contiguous();
}

Tensor filter_2d(const data::GraphDataset& ds, const Tensor& x, const Tensor& F,
                 const ObjectFilterOptions& options) {
  return filter_objects(ds, filter_attributes(x, F), options);
}

Tensor lazy_attribute_filter(const Tensor& F) {
  SG_CHECK(F.defined() && F.is_sparse(), "lazy_attribute_filter: F must be CSR");
  NoGradGuard no_grad;
  const Tensor half = csr_with_values(F, csr_values(F) * 0.5);
  return add_self_loops(half, 0.5);
}

double within_class_variance_ratio(const Tensor& x, const Tensor& labels) {
  SG_CHECK(x.defined() && !x.is_sparse() && x.dim() == 2,
           "within_class_variance_ratio: expected dense x [N, d]");
  SG_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1 &&
               labels.size(0) == x.size(0),
           "within_class_variance_ratio: labels must be i64 [", x.size(0), "]");
  const Tensor xd = x.to(DType::f64).contiguous();
  const auto y = labels.to_vector<int64_t>();
  const int64_t n = x.size(0), d = x.size(1);
  int64_t classes = 0;
  for (int64_t c : y) classes = std::max(classes, c + 1);
  const double* v = xd.data_ptr<double>();
  std::vector<double> class_sum(size_t(classes * d), 0.0), total_sum(size_t(d), 0.0);
  std::vector<int64_t> class_count(size_t(classes), 0);
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (y[size_t(i)] < 0) continue;
    ++m;
    ++class_count[size_t(y[size_t(i)])];
    for (int64_t j = 0; j < d; ++j) {
      class_sum[size_t(y[size_t(i)] * d + j)] += v[i * d + j];
      total_sum[size_t(j)] += v[i * d + j];
    }
  }
  SG_CHECK(m >= 2, "within_class_variance_ratio: need at least 2 labelled rows, got ", m);
  double within = 0, total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = y[size_t(i)];
    if (c < 0) continue;
    for (int64_t j = 0; j < d; ++j) {
      const double dc =
          v[i * d + j] - class_sum[size_t(c * d + j)] / double(class_count[size_t(c)]);
      const double dt = v[i * d + j] - total_sum[size_t(j)] / double(m);
      within += dc * dc;
      total += dt * dt;
    }
  }
  SG_CHECK(total > 0, "within_class_variance_ratio: the labelled rows are all equal");
  return within / total;
}

}  // namespace stackgrad::algo
