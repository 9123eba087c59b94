#include "algorithms/graph_filtering_ssl/filters.h"

#include <cmath>
#include <sstream>

#include "engine/stackgrad.h"
#include "nn/graph.h"

namespace stackgrad::algo {

int64_t ar_series_terms(double alpha) {
  SG_CHECK(alpha > 0.0, "ar_series_terms: alpha must be > 0, got ", alpha);
  return int64_t(std::ceil(4.0 * alpha));
}

std::string Filter::describe() const {
  std::ostringstream s;
  switch (kind) {
    case FilterKind::none:
      s << "none";
      break;
    case FilterKind::rnm:
      s << "RNM k=" << k;
      break;
    case FilterKind::rw:
      s << "RW k=" << k;
      break;
    case FilterKind::ar:
      s << "AR alpha=" << alpha;
      if (solver == ArSolver::cg)
        s << " (cg)";
      else
        s << " (series, " << (terms > 0 ? terms : ar_series_terms(alpha)) << " terms)";
      break;
  }
  return s.str();
}

Tensor apply_filter(const Tensor& S, const Tensor& X, const Filter& filter) {
  switch (filter.kind) {
    case FilterKind::none:
      return X;
    case FilterKind::rnm:
      return nn::graph_filter::rnm(S, X, filter.k);
    // ((I + S̃) / 2)^k is what nn calls the low-pass filter (AGC's name for it); nn's random_walk
    // is the different P^k with P = D̃^-1 (A + I).
    case FilterKind::rw:
      return nn::graph_filter::low_pass(S, X, filter.k);
    case FilterKind::ar: {
      nn::graph_filter::ArOptions options;
      if (filter.solver == ArSolver::series) {
        options.method = nn::graph_filter::ArMethod::series;
        options.terms = filter.terms > 0 ? filter.terms : ar_series_terms(filter.alpha);
      } else {
        options.method = nn::graph_filter::ArMethod::cg;
      }
      return nn::graph_filter::ar(S, X, filter.alpha, options);
    }
  }
  SG_CHECK(false, "apply_filter: unknown filter kind ", int(filter.kind));
  return X;
}

Tensor label_propagation(const Tensor& S, const Tensor& train_idx, const Tensor& labels,
                         int64_t num_classes, const Filter& filter) {
  SG_CHECK(labels.defined() && labels.dim() == 1 && labels.dtype() == DType::i64,
           "label_propagation: labels must be i64 [N]");
  SG_CHECK(num_classes > 0, "label_propagation: num_classes must be positive, got ", num_classes);
  SG_CHECK(train_idx.defined() && train_idx.numel() > 0, "label_propagation: no training nodes");
  // Y: one-hot rows at the training nodes, zero rows elsewhere (built on the host: it is tiny).
  const int64_t n = labels.size(0);
  const std::vector<int64_t> y = labels.to_vector<int64_t>(), idx = train_idx.to_vector<int64_t>();
  std::vector<float> Y(size_t(n * num_classes), 0.0f);
  for (int64_t i : idx) {
    SG_CHECK(i >= 0 && i < n, "label_propagation: train index ", i, " outside [0, ", n, ")");
    SG_CHECK(y[size_t(i)] >= 0 && y[size_t(i)] < num_classes, "label_propagation: training node ",
             i, " has label ", y[size_t(i)], ", expected one in [0, ", num_classes, ")");
    Y[size_t(i * num_classes + y[size_t(i)])] = 1.0f;
  }
  NoGradGuard no_grad;
  return argmax(apply_filter(S, from_vector(Y, {n, num_classes}), filter), 1);
}

}  // namespace stackgrad::algo
