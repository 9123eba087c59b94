#include "algorithms/rpc/uncertain.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/core/error.h"
#include "engine/ops/random.h"

namespace stackgrad::algo {

UncertaintyShape parse_uncertainty_shape(const std::string& name) {
  if (name == "uniform") return UncertaintyShape::uniform;
  if (name == "normal") return UncertaintyShape::normal;
  fail("uncertainty shape must be 'uniform' or 'normal', got '", name, "'");
}

Tensor UncertainDataset::means() const {
  const int64_t N = size(), S = num_samples(), D = dim();
  const double* x = samples.data_ptr<double>();
  Tensor out = zeros({N, D}, DType::f64);
  double* m = out.data_ptr<double>();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t j = 0; j < D; ++j) m[i * D + j] += x[(i * S + s) * D + j] / double(S);
  return out;
}

Tensor UncertainDataset::total_variances() const {
  const int64_t N = size(), S = num_samples(), D = dim();
  const Tensor mu = means();
  const double* x = samples.data_ptr<double>();
  const double* m = mu.data_ptr<double>();
  Tensor out = zeros({N}, DType::f64);
  double* v = out.data_ptr<double>();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t j = 0; j < D; ++j) {
        const double d = x[(i * S + s) * D + j] - m[i * D + j];
        v[i] += d * d / double(S);
      }
  return out;
}

UncertainDataset make_uncertain(const data::TableDataset& certain, double level,
                                const UncertaintyOptions& options, Generator& gen) {
  check_defined("make_uncertain", certain.features, "features");
  SG_CHECK(certain.features.dim() == 2, "make_uncertain: features must be [N, D], got ",
           describe(certain.features));
  SG_CHECK(std::isfinite(level) && level >= 0, "make_uncertain: level must be >= 0, got ", level);
  SG_CHECK(options.samples >= 1, "make_uncertain: samples must be >= 1, got ", options.samples);
  const Tensor X = certain.features.to(DType::f64).contiguous();
  const int64_t N = X.size(0), D = X.size(1), S = options.samples;
  const double* x = X.data_ptr<double>();

  UncertainDataset u;
  u.truth = X.clone();
  u.labels = certain.labels;
  u.num_classes = certain.num_classes();
  u.level = level;
  u.widths = zeros({D}, DType::f64);
  double* w = u.widths.data_ptr<double>();
  for (int64_t j = 0; j < D; ++j) {
    double lo = x[j], hi = x[j];
    for (int64_t i = 0; i < N; ++i)
      lo = std::min(lo, x[i * D + j]), hi = std::max(hi, x[i * D + j]);
    w[j] = level * (hi - lo);
  }
  // Unit noise for every (object, sample, attribute), scaled per attribute below: uniform
  // [-1/2, 1/2) times w, or standard normal times w / sqrt(12).
  const bool uniform = options.shape == UncertaintyShape::uniform;
  const Tensor unit =
      uniform ? rand({N, S, D}, gen, DType::f64, -0.5, 0.5) : randn({N, S, D}, gen, DType::f64);
  const double scale = uniform ? 1.0 : 1.0 / std::sqrt(12.0);
  u.samples = empty({N, S, D}, DType::f64);
  const double* e = unit.data_ptr<double>();
  double* out = u.samples.data_ptr<double>();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t j = 0; j < D; ++j) {
        const int64_t at = (i * S + s) * D + j;
        out[at] = x[i * D + j] + scale * w[j] * e[at];
      }
  return u;
}

double js_divergence(std::span<const double> p, std::span<const double> q) {
  SG_CHECK(p.size() == q.size(), "js_divergence: p and q differ in length (", p.size(), " vs ",
           q.size(), ")");
  double sp = 0, sq = 0;
  for (size_t t = 0; t < p.size(); ++t) {
    SG_CHECK(p[t] >= 0 && q[t] >= 0, "js_divergence: weights must be non-negative (entry ", t, ": ",
             p[t], ", ", q[t], ")");
    sp += p[t], sq += q[t];
  }
  SG_CHECK(sp > 0 && sq > 0, "js_divergence: p and q need a positive total weight");
  double js = 0;
  for (size_t t = 0; t < p.size(); ++t) {
    const double a = p[t] / sp, b = q[t] / sq, m = 0.5 * (a + b);
    if (a > 0) js += 0.5 * a * std::log(a / m);
    if (b > 0) js += 0.5 * b * std::log(b / m);
  }
  return std::max(0.0, js);
}

namespace {
void check_object(const char* fn, const Tensor& samples_i, std::span<const double> c) {
  SG_CHECK(samples_i.dim() == 2 && samples_i.dtype() == DType::f64, fn,
           ": samples must be f64 [S, D], got ", describe(samples_i));
  SG_CHECK(int64_t(c.size()) == samples_i.size(1), fn, ": center has ", c.size(),
           " entries, samples have D = ", samples_i.size(1));
}
}  // namespace

double expected_squared_distance(const Tensor& samples_i, std::span<const double> c) {
  check_object("expected_squared_distance", samples_i, c);
  const Tensor x = samples_i.contiguous();
  const int64_t S = x.size(0), D = x.size(1);
  const double* p = x.data_ptr<double>();
  double total = 0;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t j = 0; j < D; ++j) total += (p[s * D + j] - c[j]) * (p[s * D + j] - c[j]);
  return total / double(S);
}

double expected_squared_distance_by_moments(const Tensor& samples_i, std::span<const double> c) {
  check_object("expected_squared_distance_by_moments", samples_i, c);
  const Tensor x = samples_i.contiguous();
  const int64_t S = x.size(0), D = x.size(1);
  const double* p = x.data_ptr<double>();
  double to_center = 0, trace = 0;
  for (int64_t j = 0; j < D; ++j) {
    double mu = 0, var = 0;
    for (int64_t s = 0; s < S; ++s) mu += p[s * D + j] / double(S);
    for (int64_t s = 0; s < S; ++s) var += (p[s * D + j] - mu) * (p[s * D + j] - mu) / double(S);
    to_center += (mu - c[j]) * (mu - c[j]);
    trace += var;
  }
  return to_center + trace;
}

}  // namespace stackgrad::algo
