#include "train/cluster.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/autograd/grad_mode.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/matmul.h"
#include "engine/ops/random.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/ops/sparse.h"

namespace stackgrad::train {

namespace {

void check_points(const char* fn, const Tensor& X, int64_t k) {
  check_defined(fn, X, "X");
  SG_CHECK(X.dim() == 2 && (X.dtype() == DType::f32 || X.dtype() == DType::f64), fn,
           ": X must be floating [N, D], got ", describe(X));
  SG_CHECK(k >= 1 && k <= X.size(0), fn, ": k must be in [1, N] = [1, ", X.size(0), "], got ", k);
}

std::vector<double> host_f64(const Tensor& t) {
  return t.to(Device::cpu()).to(DType::f64).contiguous().to_vector<double>();
}

Tensor rows_of(const Tensor& X, const std::vector<int64_t>& rows) {
  return index_select(X, 0, from_vector(rows).to(X.device()));
}

// ‖x‖² − 2 x·c + ‖c‖², with the rows' ‖x‖² [N, 1] computed once by the caller (every seeding
// step and every Lloyd iteration reuses them).
Tensor distances(const Tensor& X, const Tensor& x_sq, const Tensor& C) {
  const Tensor c_sq = sum(square(C), {1}).unsqueeze(0);  // [1, k]
  return clamp(x_sq - 2.0 * mm(X, C.t()) + c_sq, 0.0, std::numeric_limits<double>::infinity());
}

// One uniform number in [0, 1) from the generator.
double uniform(Generator& gen) { return rand({1}, gen, DType::f64).item(); }

// Greedy k-means++ (Arthur and Vassilvitskii 2007; the variant scikit-learn uses): the first
// center uniform; for each next one, 2 + ln k candidates are drawn with probability proportional
// to the squared distance to the nearest center so far (D² sampling), and the candidate that
// lowers the total squared distance most is kept. The candidates cost one matmul together, and
// the better seeds save Lloyd iterations.
Tensor seed_plus_plus(const Tensor& X, const Tensor& x_sq, int64_t k, Generator& gen) {
  const int64_t N = X.size(0);
  const int64_t trials = 2 + static_cast<int64_t>(std::log(double(k)));
  std::vector<int64_t> chosen = {std::min<int64_t>(N - 1, int64_t(uniform(gen) * double(N)))};
  std::vector<double> nearest = host_f64(distances(X, x_sq, rows_of(X, chosen)));
  std::vector<double> cumulative(N);
  while (static_cast<int64_t>(chosen.size()) < k) {
    double total = 0;
    for (int64_t i = 0; i < N; ++i) cumulative[i] = total += nearest[i];
    const auto u = rand({trials}, gen, DType::f64).to_vector<double>();
    std::vector<int64_t> candidates(trials);
    for (int64_t t = 0; t < trials; ++t) {
      if (total > 0) {
        // The first point whose cumulative weight exceeds u * total has a positive weight.
        auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u[t] * total);
        if (it == cumulative.end())
          it = std::lower_bound(cumulative.begin(), cumulative.end(), total);
        candidates[t] = it - cumulative.begin();
      } else {
        // Every point sits on a center (duplicates): any unchosen one will do.
        int64_t pick = std::min<int64_t>(N - 1, int64_t(u[t] * double(N)));
        while (std::find(chosen.begin(), chosen.end(), pick) != chosen.end()) pick = (pick + 1) % N;
        candidates[t] = pick;
      }
    }
    const auto d = host_f64(distances(X, x_sq, rows_of(X, candidates)));  // [N, trials]
    int64_t best = 0;
    double best_potential = std::numeric_limits<double>::infinity();
    for (int64_t t = 0; t < trials; ++t) {
      double potential = 0;
      for (int64_t i = 0; i < N; ++i) potential += std::min(nearest[i], d[i * trials + t]);
      if (potential < best_potential) best_potential = potential, best = t;
    }
    chosen.push_back(candidates[best]);
    for (int64_t i = 0; i < N; ++i) nearest[i] = std::min(nearest[i], d[i * trials + best]);
  }
  return rows_of(X, chosen);
}

Tensor seed_random(const Tensor& X, int64_t k, Generator& gen) {
  return index_select(X, 0, randperm(X.size(0), gen).narrow(0, 0, k).to(X.device()));
}

// Stop when the centers' total squared shift is at most this (sklearn's scale-free tolerance).
double absolute_tol(const Tensor& X, double tol) { return tol * mean(var(X, {0}, 0)).item(); }

// Lloyd iterations from `initial` [k, D] (checked by the callers), grad mode off.
KMeansResult lloyd(const Tensor& X, const Tensor& x_sq, const Tensor& initial, double tol,
                   int64_t max_iter) {
  const int64_t k = initial.size(0);
  KMeansResult result;
  Tensor centers = initial.contiguous();
  for (int64_t it = 1; it <= max_iter; ++it) {
    result.iterations = it;
    const Tensor d = distances(X, x_sq, centers);
    const Tensor labels = argmin(d, 1);
    // New centers: the mean of each cluster, as (one-hot)ᵀ X / counts.
    const Tensor assign = one_hot(labels, k).to(X.dtype());
    const Tensor counts = sum(assign, {0});
    Tensor next = mm(assign.t(), X) /
                  clamp(counts, 1.0, std::numeric_limits<double>::infinity()).unsqueeze(1);
    const auto count = host_f64(counts);
    if (std::find(count.begin(), count.end(), 0.0) != count.end()) {
      // Empty clusters take the points farthest from their centers, the farthest first.
      auto nearest = host_f64(min(d, {1}));
      for (int64_t c = 0; c < k; ++c) {
        if (count[c] > 0) continue;
        const int64_t far = std::max_element(nearest.begin(), nearest.end()) - nearest.begin();
        next.select(0, c).copy_(X.select(0, far));
        nearest[far] = -1.0;
      }
    }
    const double shift = sum(square(next - centers)).item();
    centers = next;
    if (shift <= tol) break;
  }
  const Tensor d = distances(X, x_sq, centers);
  result.labels = argmin(d, 1);
  result.inertia = sum(min(d, {1})).item();
  result.centers = centers;
  return result;
}

}  // namespace

Tensor squared_distances(const Tensor& X, const Tensor& C) {
  return distances(X, sum(square(X), {1}, true), C);
}

KMeansResult kmeans_from(const Tensor& X, const Tensor& initial_centers,
                         const KMeansOptions& options) {
  check_defined("kmeans", initial_centers, "initial_centers");
  SG_CHECK(initial_centers.dim() == 2, "kmeans: initial_centers must be [k, D], got ",
           describe(initial_centers));
  check_points("kmeans", X, initial_centers.size(0));
  SG_CHECK(initial_centers.size(1) == X.size(1) && initial_centers.dtype() == X.dtype(),
           "kmeans: initial_centers must be [k, ", X.size(1), "] of X's dtype, got ",
           describe(initial_centers));
  SG_CHECK(options.max_iter >= 1, "kmeans: max_iter must be positive, got ", options.max_iter);
  NoGradGuard no_grad;
  const Tensor points = X.detach();
  return lloyd(points, sum(square(points), {1}, true), initial_centers.detach(),
               absolute_tol(points, options.tol), options.max_iter);
}

KMeansResult kmeans(const Tensor& X, int64_t k, const KMeansOptions& options, Generator& gen) {
  check_points("kmeans", X, k);
  SG_CHECK(options.restarts >= 1, "kmeans: restarts must be positive, got ", options.restarts);
  SG_CHECK(options.max_iter >= 1, "kmeans: max_iter must be positive, got ", options.max_iter);
  NoGradGuard no_grad;
  const Tensor points = X.detach();
  const Tensor x_sq = sum(square(points), {1}, true);
  const double tol = absolute_tol(points, options.tol);
  KMeansResult best;
  for (int64_t r = 0; r < options.restarts; ++r) {
    const Tensor init = options.init == KMeansInit::kmeans_plus_plus
                            ? seed_plus_plus(points, x_sq, k, gen)
                            : seed_random(points, k, gen);
    KMeansResult run = lloyd(points, x_sq, init, tol, options.max_iter);
    if (r == 0 || run.inertia < best.inertia) best = std::move(run);
  }
  return best;
}

// --- spectral --------------------------------------------------------------------------------

Tensor spectral_embedding(const Tensor& W, int64_t k, const SpectralOptions& options) {
  check_defined("spectral_embedding", W, "affinity");
  SG_CHECK(W.dim() == 2 && W.size(0) == W.size(1) &&
               (W.dtype() == DType::f32 || W.dtype() == DType::f64),
           "spectral_embedding: affinity must be a square floating matrix [N, N], got ",
           describe(W));
  const int64_t N = W.size(0);
  SG_CHECK(k >= 1 && k <= N, "spectral_embedding: k must be in [1, N] = [1, ", N, "], got ", k);
  NoGradGuard no_grad;
  const Options opts(W.dtype(), W.device());
  // Degrees of W + (tau / N) 1 1ᵀ: each row gains tau.
  const Tensor raw_deg = W.is_sparse() ? spmv(W, ones({N}, opts)) : sum(W, {1});
  double tau = options.regularization;
  if (tau < 0) tau = W.is_sparse() ? 1e-2 * sum(raw_deg).item() / double(N) : 0.0;
  const Tensor deg = raw_deg + tau;
  const double spread = tau / double(N);
  // W_tau x = W x + (tau / N) sum(x), never forming the dense rank-one term for sparse W.
  auto apply_w = [&](const Tensor& x) {
    const Tensor wx = W.is_sparse() ? spmv(W, x) : matmul(W, x);
    return spread == 0 ? wx : wx + sum(x) * spread;
  };
  // D^-1/2 with isolated nodes (degree 0) scaled by 0.
  const Tensor positive = deg > 0.0;
  const Tensor inv_sqrt =
      where(positive, rsqrt(where(positive, deg, ones_like(deg))), zeros_like(deg));

  Tensor E;
  if (!W.is_sparse()) {
    const double scale = max(abs(W)).item();
    const double asym = max(abs(W - W.t())).item();
    SG_CHECK(asym <= 1e-6 * scale,
             "spectral_embedding: affinity is not symmetric (max |W - Wᵀ| = ", asym, ")");
    const Tensor Wt = spread == 0 ? W : W + spread;
    if (options.normalized) {
      // The top-k eigenvectors of D^-1/2 W D^-1/2.
      E = eigh(inv_sqrt.unsqueeze(1) * Wt * inv_sqrt.unsqueeze(0)).eigenvectors.narrow(1, N - k, k);
    } else {
      // The bottom-k eigenvectors of the unnormalised Laplacian D - W.
      E = eigh(eye(N, -1, opts) * deg.unsqueeze(1) - Wt).eigenvectors.narrow(1, 0, k);
    }
  } else if (options.normalized) {
    auto apply = [&](const Tensor& x) {
      const Tensor xd = x.to(W.device());
      return (inv_sqrt * apply_w(inv_sqrt * xd)).to(Device::cpu());
    };
    E = eigsh_topk(apply, N, k, W.dtype()).vectors.to(W.device());
  } else {
    // The bottom of L = D - W is the top of c I - L with c >= the largest eigenvalue of L
    // (2 max degree, by Gershgorin); Lanczos finds tops.
    const double c = 2.0 * max(deg).item() + 1.0;
    auto apply = [&](const Tensor& x) {
      const Tensor xd = x.to(W.device());
      return (c * xd - (deg * xd - apply_w(xd))).to(Device::cpu());
    };
    E = eigsh_topk(apply, N, k, W.dtype()).vectors.to(W.device());
  }
  if (options.normalized) {
    const Tensor norms = norm(E, 2.0, {1}, true);
    E = E / clamp(norms, 1e-12, std::numeric_limits<double>::infinity());
  }
  return E.contiguous();
}

Tensor spectral_clustering(const Tensor& affinity, int64_t k, const SpectralOptions& options,
                           Generator& gen) {
  return kmeans(spectral_embedding(affinity, k, options), k, options.kmeans, gen).labels;
}

}  // namespace stackgrad::train
