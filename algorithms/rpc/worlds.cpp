#include "algorithms/rpc/worlds.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/ops/random.h"

namespace stackgrad::algo {

namespace {

void check_worlds(const char* fn, const UncertainDataset& data, const Tensor& worlds) {
  check_defined(fn, worlds, "worlds");
  SG_CHECK(worlds.dim() == 2 && worlds.dtype() == DType::i64 && worlds.size(1) == data.size(), fn,
           ": worlds must be i64 [M, N] with N = ", data.size(), ", got ", describe(worlds));
}

// JS between the uniform distribution on S points and the weights q (normalised here): the
// inner loop of the selection, so written out instead of calling js_divergence (the tests check
// that the two agree).
double js_to_uniform(const double* q, int64_t S) {
  double total = 0;
  for (int64_t t = 0; t < S; ++t) total += q[t];
  const double p = 1.0 / double(S), log_p = std::log(p);
  double js = 0;
  for (int64_t t = 0; t < S; ++t) {
    const double b = q[t] / total, log_m = std::log(0.5 * (p + b));
    js += 0.5 * p * (log_p - log_m);
    if (b > 0) js += 0.5 * b * (std::log(b) - log_m);
  }
  return std::max(0.0, js);
}

}  // namespace

SelectionRule parse_selection_rule(const std::string& name) {
  if (name == "marginal") return SelectionRule::marginal;
  if (name == "coverage") return SelectionRule::coverage;
  fail("selection rule must be 'marginal' or 'coverage', got '", name, "'");
}

Tensor sample_worlds(const UncertainDataset& data, int64_t count, Generator& gen) {
  SG_CHECK(count >= 1, "sample_worlds: count must be >= 1, got ", count);
  return randint(0, data.num_samples(), {count, data.size()}, gen);
}

Tensor world_points(const UncertainDataset& data, const Tensor& worlds, int64_t w) {
  check_worlds("world_points", data, worlds);
  SG_CHECK(w >= 0 && w < worlds.size(0), "world_points: world ", w, " out of [0, ", worlds.size(0),
           ")");
  const int64_t N = data.size(), S = data.num_samples(), D = data.dim();
  const Tensor choice = worlds.select(0, w).contiguous();
  const int64_t* c = choice.data_ptr<int64_t>();
  const double* x = data.samples.data_ptr<double>();
  Tensor out = empty({N, D}, DType::f64);
  double* o = out.data_ptr<double>();
  for (int64_t i = 0; i < N; ++i) std::copy_n(x + (i * S + c[i]) * D, D, o + i * D);
  return out;
}

RepresentativeLoss::RepresentativeLoss(const UncertainDataset& data, const Tensor& worlds,
                                       const RepresentativeOptions& options) {
  check_worlds("RepresentativeLoss", data, worlds);
  SG_CHECK(options.bandwidth > 0, "RepresentativeLoss: bandwidth must be > 0, got ",
           options.bandwidth);
  M_ = worlds.size(0), N_ = data.size(), S_ = data.num_samples();
  const int64_t D = data.dim();
  choice_ = worlds.contiguous().to_vector<int64_t>();
  const Tensor trace = data.total_variances();
  const double* tr = trace.data_ptr<double>();
  const double* x = data.samples.data_ptr<double>();
  gram_.assign(size_t(N_ * S_ * S_), 1.0);
  for (int64_t i = 0; i < N_; ++i) {
    if (!(tr[i] > 0)) continue;  // a point mass: every sample is the same point
    const double two_h2 = 2.0 * options.bandwidth * tr[i];
    const double* xi = x + i * S_ * D;
    double* g = gram_.data() + i * S_ * S_;
    for (int64_t s = 0; s < S_; ++s)
      for (int64_t t = s + 1; t < S_; ++t) {
        double d2 = 0;
        for (int64_t j = 0; j < D; ++j)
          d2 += (xi[s * D + j] - xi[t * D + j]) * (xi[s * D + j] - xi[t * D + j]);
        g[s * S_ + t] = g[t * S_ + s] = std::exp(-d2 / two_h2);
      }
  }
}

std::vector<double> RepresentativeLoss::per_object(const std::vector<int64_t>& subset) const {
  SG_CHECK(!subset.empty(), "RepresentativeLoss: the subset of worlds is empty");
  for (int64_t w : subset)
    SG_CHECK(w >= 0 && w < M_, "RepresentativeLoss: world ", w, " out of [0, ", M_, ")");
  std::vector<double> q(static_cast<size_t>(S_)), out(static_cast<size_t>(N_));
  for (int64_t i = 0; i < N_; ++i) {
    std::fill(q.begin(), q.end(), 0.0);
    for (int64_t w : subset)
      for (int64_t t = 0; t < S_; ++t) q[t] += kernel(i, choice(w, i), t);
    out[i] = js_to_uniform(q.data(), S_);
  }
  return out;
}

double RepresentativeLoss::operator()(const std::vector<int64_t>& subset) const {
  const std::vector<double> js = per_object(subset);
  double total = 0;
  for (double v : js) total += v;
  return total / double(N_);
}

WorldSelection select_representative_worlds(const RepresentativeLoss& loss, int64_t keep,
                                            SelectionRule rule) {
  const int64_t M = loss.num_worlds(), N = loss.num_objects(), S = loss.num_samples();
  SG_CHECK(keep >= 1 && keep <= M, "select_representative_worlds: keep must be in [1, ", M,
           "], got ", keep);
  WorldSelection sel;
  std::vector<int64_t> alive(static_cast<size_t>(M));
  for (int64_t w = 0; w < M; ++w) alive[w] = w;
  for (int64_t w = 0; w < M; ++w) sel.world_loss.push_back(loss({w}));
  sel.loss.push_back(loss(alive));

  if (rule == SelectionRule::marginal) {
    // Drop the worst world first: sort by L({w}) descending (ties: the lower index first).
    std::vector<int64_t> order = alive;
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return sel.world_loss[a] > sel.world_loss[b]; });
    for (int64_t d = 0; d < M - keep; ++d) {
      sel.dropped.push_back(order[d]);
      alive.erase(std::find(alive.begin(), alive.end(), order[d]));
      sel.loss.push_back(loss(alive));
    }
    sel.kept = alive;
    return sel;
  }

  // acc[i, t] = Σ_{w alive} K_i(x_it, x_{i,c_w(i)}): the unnormalised q_i of the current set, so
  // that trying a removal costs N·S instead of |R|·N·S.
  std::vector<double> acc(static_cast<size_t>(N * S), 0.0);
  for (int64_t w = 0; w < M; ++w)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t t = 0; t < S; ++t) acc[i * S + t] += loss.kernel(i, loss.choice(w, i), t);

  std::vector<double> q(static_cast<size_t>(S));
  while (int64_t(alive.size()) > keep) {
    double best = std::numeric_limits<double>::infinity();
    size_t best_at = 0;
    for (size_t a = 0; a < alive.size(); ++a) {
      const int64_t w = alive[a];
      double total = 0;
      for (int64_t i = 0; i < N; ++i) {
        const int64_t c = loss.choice(w, i);
        for (int64_t t = 0; t < S; ++t) q[t] = std::max(0.0, acc[i * S + t] - loss.kernel(i, c, t));
        total += js_to_uniform(q.data(), S);
      }
      if (total < best) best = total, best_at = a;  // ties: the lower index
    }
    const int64_t dropped = alive[best_at];
    for (int64_t i = 0; i < N; ++i)
      for (int64_t t = 0; t < S; ++t) acc[i * S + t] -= loss.kernel(i, loss.choice(dropped, i), t);
    alive.erase(alive.begin() + int64_t(best_at));
    sel.dropped.push_back(dropped);
    sel.loss.push_back(best / double(N));
  }
  sel.kept = alive;
  return sel;
}

WorldSelection select_representative_worlds(const UncertainDataset& data, const Tensor& worlds,
                                            int64_t keep, const RepresentativeOptions& options) {
  return select_representative_worlds(RepresentativeLoss(data, worlds, options), keep,
                                      options.rule);
}

}  // namespace stackgrad::algo
