#include "algorithms/rpc/consensus.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/matmul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "train/cluster.h"

namespace stackgrad::algo {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

void check_square(const char* fn, const Tensor& A) {
  check_defined(fn, A, "affinity");
  SG_CHECK(A.dim() == 2 && A.size(0) == A.size(1) && A.dtype() == DType::f64, fn,
           ": affinity must be f64 [N, N], got ", describe(A));
}

// tr(Xᵀ Y) for equally shaped X, Y.
double inner(const Tensor& X, const Tensor& Y) { return sum(X * Y).item(); }
}  // namespace

Tensor self_tuning_affinity(const Tensor& X, int64_t neighbor) {
  check_defined("self_tuning_affinity", X, "X");
  SG_CHECK(X.dim() == 2 && X.dtype() == DType::f64,
           "self_tuning_affinity: X must be f64 [N, D], got ", describe(X));
  const int64_t N = X.size(0);
  SG_CHECK(neighbor >= 1 && neighbor <= N - 1,
           "self_tuning_affinity: neighbor must be in [1, N - 1] = [1, ", N - 1, "], got ",
           neighbor);
  NoGradGuard no_grad;
  const Tensor D2 = train::squared_distances(X, X).contiguous();
  const double* d2 = D2.data_ptr<double>();
  // σ_i: the K-th smallest distance to another point.
  std::vector<double> sigma(static_cast<size_t>(N)), row(static_cast<size_t>(N - 1));
  double mean_sigma = 0;
  for (int64_t i = 0; i < N; ++i) {
    int64_t n = 0;
    for (int64_t j = 0; j < N; ++j)
      if (j != i) row[n++] = d2[i * N + j];
    std::nth_element(row.begin(), row.begin() + (neighbor - 1), row.end());
    sigma[i] = std::sqrt(row[neighbor - 1]);
    mean_sigma += sigma[i] / double(N);
  }
  const double floor = mean_sigma > 0 ? 1e-12 * mean_sigma : 1e-300;
  for (double& s : sigma) s = std::max(s, floor);
  const Tensor s = from_vector(sigma);
  Tensor W = exp(-(D2 / (s.unsqueeze(1) * s.unsqueeze(0))));
  return W * (1.0 - eye(N, -1, DType::f64));
}

Tensor normalized_affinity(const Tensor& W) {
  check_square("normalized_affinity", W);
  NoGradGuard no_grad;
  const Tensor deg = sum(W, {1});
  const Tensor positive = deg > 0.0;
  const Tensor inv_sqrt =
      where(positive, rsqrt(where(positive, deg, ones_like(deg))), zeros_like(deg));
  return (inv_sqrt.unsqueeze(1) * W * inv_sqrt.unsqueeze(0)).contiguous();
}

Tensor top_eigenvectors(const Tensor& A, int64_t k) {
  check_square("top_eigenvectors", A);
  SG_CHECK(k >= 1 && k <= A.size(0), "top_eigenvectors: k must be in [1, N], got ", k);
  NoGradGuard no_grad;
  return eigsh_topk(A, k).vectors.contiguous();
}

Tensor normalize_rows(const Tensor& U) {
  NoGradGuard no_grad;
  return U / clamp(norm(U, 2.0, {1}, true), 1e-12, kInf);
}

ConsensusResult consensus_embedding(const std::vector<Tensor>& affinities, int64_t k,
                                    const ConsensusOptions& options) {
  SG_CHECK(!affinities.empty(), "consensus_embedding: no affinities");
  for (const Tensor& A : affinities) check_square("consensus_embedding", A);
  const int64_t N = affinities[0].size(0);
  for (const Tensor& A : affinities)
    SG_CHECK(A.size(0) == N, "consensus_embedding: affinities differ in size (", N, " vs ",
             A.size(0), ")");
  SG_CHECK(k >= 1 && k <= N, "consensus_embedding: k must be in [1, N] = [1, ", N, "], got ", k);
  SG_CHECK(options.lambda >= 0, "consensus_embedding: lambda must be >= 0, got ", options.lambda);
  NoGradGuard no_grad;
  const int64_t V = int64_t(affinities.size());

  // Start every world, and the consensus, at the spectral embedding of the worlds' mean
  // affinity. (Starting each world at its own embedding instead is worse: one noisy world's
  // top eigenvectors often split off small groups of near neighbours, and the first consensus
  // step averages those splits; see the README.)
  Tensor mean_affinity = affinities[0];
  for (int64_t v = 1; v < V; ++v) mean_affinity = mean_affinity + affinities[v];
  const Tensor start = top_eigenvectors(mean_affinity * (1.0 / double(V)), k);
  std::vector<Tensor> U(static_cast<size_t>(V), start);

  // U* ← top-k eigenvectors of Σ_v U_v U_vᵀ = B Bᵀ with B = [U_1 … U_V]: from the small Gram
  // BᵀB = Q diag(s) Qᵀ, the top eigenvectors of B Bᵀ are B q / sqrt(s).
  auto update_consensus = [&] {
    const Tensor B = cat(U, 1);
    const EighResult e = eigh(mm(B.t(), B));
    const int64_t m = B.size(1);
    const Tensor top = e.eigenvectors.narrow(1, m - k, k);
    const Tensor s = clamp(e.eigenvalues.narrow(0, m - k, k), 1e-12, kInf);
    return (mm(B, top) * rsqrt(s).unsqueeze(0)).contiguous();
  };
  Tensor consensus = start;

  ConsensusResult out;
  auto record = [&] {
    double objective = 0, disagreement = 0;
    for (int64_t v = 0; v < V; ++v) {
      const double agree = sum(square(mm(U[v].t(), consensus))).item();
      objective += inner(U[v], mm(affinities[v], U[v])) + options.lambda * agree;
      disagreement += double(k) - agree;
    }
    out.objective.push_back(objective);
    out.disagreement.push_back(disagreement);
  };
  record();

  for (int64_t it = 0; it < options.iterations; ++it) {
    for (int64_t v = 0; v < V; ++v) {
      // Orthogonal iteration on A_v + λ U* U*ᵀ + I: the identity shift makes the operator
      // positive semi-definite (A_v's spectrum lies in [-1, 1]), so its dominant subspace is the
      // top-k eigenspace we want.
      Tensor Q = U[v];
      for (int64_t step = 0; step < options.subspace_steps; ++step) {
        const Tensor Y =
            mm(affinities[v], Q) + options.lambda * mm(consensus, mm(consensus.t(), Q)) + Q;
        Q = qr(Y).Q;
      }
      U[v] = Q.contiguous();
    }
    consensus = update_consensus();
    record();
  }
  out.embedding = consensus;
  return out;
}

}  // namespace stackgrad::algo
