// cpu kernels of the linalg family: dense and iterative linear algebra on raw pointers.
// Contracts in linalg.h, math and measured accuracy in docs/kernels/linalg.md.
#include "kernels/cpu/linalg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/core/error.h"

namespace stackgrad::kernels {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

using DoubleOp = std::function<void(const double* x, double* y)>;

double dot(int64_t n, const double* x, const double* y) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}

double norm2(int64_t n, const double* x) { return std::sqrt(dot(n, x, x)); }

// Leaves (I - tau v vᵀ) x = beta e_0 with v[0] = 1, where v holds x (length len >= 1) on entry
// and the reflector on exit; returns tau. tau = 0 (the identity) when x is already along e_0.
// beta takes the sign opposite to x[0] so that x[0] - beta never cancels.
double make_householder(int64_t len, double* v, double& beta) {
  double tail = 0.0;
  for (int64_t i = 1; i < len; ++i) tail += v[i] * v[i];
  const double alpha = v[0];
  v[0] = 1.0;
  if (tail == 0.0) {
    beta = alpha;
    return 0.0;
  }
  const double norm = std::sqrt(alpha * alpha + tail);
  beta = alpha >= 0.0 ? -norm : norm;
  const double scale = 1.0 / (alpha - beta);
  for (int64_t i = 1; i < len; ++i) v[i] *= scale;
  return (beta - alpha) / beta;
}

// Rows [row0, row0 + len) of the row-major matrix x (cols columns) become H x, with
// H = I - tau v vᵀ.
void apply_householder_left(int64_t len, const double* v, double tau, double* x, int64_t cols,
                            int64_t row0, std::vector<double>& work) {
  if (tau == 0.0) return;
  work.assign(cols, 0.0);
  for (int64_t i = 0; i < len; ++i) {
    const double* row = x + (row0 + i) * cols;
    for (int64_t c = 0; c < cols; ++c) work[c] += v[i] * row[c];
  }
  for (int64_t i = 0; i < len; ++i) {
    double* row = x + (row0 + i) * cols;
    const double f = tau * v[i];
    for (int64_t c = 0; c < cols; ++c) row[c] -= f * work[c];
  }
}

// splitmix64: a tiny, well-mixed generator, enough for deterministic start vectors.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform_pm1() { return 2.0 * static_cast<double>(next() >> 11) * 0x1.0p-53 - 1.0; }
};

// Orthogonalises w (length n) against the rows basis[0..count) (orthonormal) by classical
// Gram-Schmidt, repeated while a pass removes more than 30% of the norm (at most three passes,
// after Daniel-Gragg-Kaufman-Stewart). Coefficients are added to coef when it is not null.
// Returns the norm of w before the first pass; the final norm is left in `after`.
double orthogonalize(int64_t n, const double* basis, int64_t count, double* w, double* coef,
                     double& after) {
  const double before = norm2(n, w);
  double previous = before;
  after = before;
  for (int pass = 0; pass < 3 && count > 0; ++pass) {
    for (int64_t i = 0; i < count; ++i) {
      const double* b = basis + i * n;
      const double h = dot(n, b, w);
      if (coef) coef[i] += h;
      for (int64_t t = 0; t < n; ++t) w[t] -= h * b[t];
    }
    after = norm2(n, w);
    if (after > 0.7 * previous) break;
    previous = after;
  }
  return before;
}

// Fills rows [have, total) of `rows` (each of length dim, the first `have` orthonormal) with
// orthonormal vectors: each is the standard basis vector that keeps the most norm after
// Gram-Schmidt against the rows so far. Deterministic; O(dim² · total) per vector.
void complete_orthonormal(int64_t dim, int64_t have, int64_t total, double* rows) {
  std::vector<double> w(dim), best(dim);
  for (int64_t r = have; r < total; ++r) {
    double best_norm = -1.0;
    for (int64_t e = 0; e < dim; ++e) {
      std::fill(w.begin(), w.end(), 0.0);
      w[e] = 1.0;
      double after = 0.0;
      orthogonalize(dim, rows, r, w.data(), nullptr, after);
      if (after > best_norm + 1e-12) {
        best_norm = after;
        best = w;
      }
    }
    SG_CHECK(best_norm > 0.0, "complete_orthonormal: no direction left for vector ", r, " of ",
             total, " in dimension ", dim);
    for (int64_t t = 0; t < dim; ++t) rows[r * dim + t] = best[t] / best_norm;
  }
}

// Flips the sign of x so that its largest-magnitude entry (the first one on ties) is positive.
void sign_normalize(int64_t n, double* x) {
  if (n == 0) return;
  int64_t arg = 0;
  for (int64_t i = 1; i < n; ++i)
    if (std::abs(x[i]) > std::abs(x[arg])) arg = i;
  if (x[arg] >= 0.0) return;
  for (int64_t i = 0; i < n; ++i) x[i] = -x[i];
}

// ---------------------------------------------------------------------------------------------
// Symmetric eigensolver pieces (all on dense row-major double n x n arrays)

// Reduces the full symmetric a to tridiagonal form T = Qᵀ A Q by n - 2 Householder reflections
// H_k acting on rows/columns k+1..n-1. On exit d (n) and e (n - 1) hold the diagonal and
// subdiagonal of T and qt holds Qᵀ (so the rows of qt are the columns of Q).
void tridiagonalize(int64_t n, std::vector<double>& a, std::vector<double>& qt,
                    std::vector<double>& d, std::vector<double>& e) {
  qt.assign(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) qt[i * n + i] = 1.0;
  std::vector<double> v(n), p(n), w(n), work;
  for (int64_t k = 0; k + 2 < n; ++k) {
    const int64_t len = n - k - 1;
    for (int64_t i = 0; i < len; ++i) v[i] = a[(k + 1 + i) * n + k];
    double beta = 0.0;
    const double tau = make_householder(len, v.data(), beta);
    a[(k + 1) * n + k] = a[k * n + k + 1] = beta;
    for (int64_t i = 1; i < len; ++i) a[(k + 1 + i) * n + k] = a[k * n + k + 1 + i] = 0.0;
    if (tau == 0.0) continue;
    // Trailing block B <- H B H = B - v wᵀ - w vᵀ with p = tau B v, w = p - (tau/2)(pᵀv) v.
    double* b = a.data() + (k + 1) * n + (k + 1);
    for (int64_t i = 0; i < len; ++i) p[i] = tau * dot(len, b + i * n, v.data());
    const double half = 0.5 * tau * dot(len, p.data(), v.data());
    for (int64_t i = 0; i < len; ++i) w[i] = p[i] - half * v[i];
    for (int64_t i = 0; i < len; ++i)
      for (int64_t j = 0; j < len; ++j) b[i * n + j] -= v[i] * w[j] + w[i] * v[j];
    // Q <- Q H_k, i.e. Qᵀ <- H_k Qᵀ on rows k+1..n-1.
    apply_householder_left(len, v.data(), tau, qt.data(), n, k + 1, work);
  }
  d.resize(n);
  e.assign(std::max<int64_t>(n - 1, 0), 0.0);
  for (int64_t i = 0; i < n; ++i) d[i] = a[i * n + i];
  for (int64_t i = 0; i + 1 < n; ++i) e[i] = a[(i + 1) * n + i];
}

bool negligible(double off, double d0, double d1) {
  return std::abs(off) <= kEps * (std::abs(d0) + std::abs(d1)) || std::abs(off) <= kEps * kEps;
}

// One implicit symmetric QR step with a Wilkinson shift on the unreduced block [lo, hi] of the
// tridiagonal (d, e): the rotation that the shifted QR step would apply first is applied, and
// the bulge it creates is chased down with Givens rotations. zt (rows = eigenvector estimates)
// accumulates the rotations.
void implicit_qr_step(int64_t n, int64_t lo, int64_t hi, double* d, double* e, double* zt) {
  const double b = e[hi - 1];
  const double delta = 0.5 * (d[hi - 1] - d[hi]);
  const double mu = d[hi] - b * b / (delta + std::copysign(std::hypot(delta, b), delta));
  double x = d[lo] - mu;
  double y = e[lo];
  for (int64_t k = lo; k < hi; ++k) {
    const double r = std::hypot(x, y);
    const double c = r == 0.0 ? 1.0 : x / r;
    const double s = r == 0.0 ? 0.0 : y / r;
    if (k > lo) e[k - 1] = r;
    const double ak = d[k], ak1 = d[k + 1], bk = e[k];
    d[k] = c * c * ak + 2.0 * c * s * bk + s * s * ak1;
    d[k + 1] = s * s * ak - 2.0 * c * s * bk + c * c * ak1;
    e[k] = c * s * (ak1 - ak) + (c * c - s * s) * bk;
    if (k + 1 < hi) {
      x = e[k];
      y = s * e[k + 1];  // the bulge at (k + 2, k)
      e[k + 1] *= c;
    }
    double* zk = zt + k * n;
    double* zk1 = zt + (k + 1) * n;
    for (int64_t t = 0; t < n; ++t) {
      const double u0 = zk[t], u1 = zk1[t];
      zk[t] = c * u0 + s * u1;
      zk1[t] = -s * u0 + c * u1;
    }
  }
}

// Diagonalises the tridiagonal (d, e) in place, deflating from the bottom; the rows of zt are
// rotated along. Error after 30 n QR steps.
void tridiagonal_eigen(int64_t n, double* d, double* e, double* zt) {
  int64_t steps = 0;
  const int64_t max_steps = 30 * n;
  int64_t hi = n - 1;
  while (hi > 0) {
    if (negligible(e[hi - 1], d[hi - 1], d[hi])) {
      e[hi - 1] = 0.0;
      --hi;
      continue;
    }
    int64_t lo = hi - 1;
    while (lo > 0 && !negligible(e[lo - 1], d[lo - 1], d[lo])) --lo;
    if (lo > 0) e[lo - 1] = 0.0;
    SG_CHECK(++steps <= max_steps, "eigh: QR iteration did not converge for n=", n, " after ",
             max_steps, " steps");
    implicit_qr_step(n, lo, hi, d, e, zt);
  }
}

// ---------------------------------------------------------------------------------------------
// Lanczos with thick restarts, on a double operator of size n. Writes the k wanted eigenvalues
// to values and their eigenvectors to the rows of vecs (k x n).

EigshResult lanczos_topk(int64_t n, int64_t k, const DoubleOp& op, uint64_t seed, double tol,
                         int64_t max_iter, bool largest_magnitude, double* values, double* vecs) {
  EigshResult result;
  const int64_t m = std::min(n, std::max(2 * k + 1, k + 24));
  const int64_t keep = std::min(m - 1, k + (m - k) / 2);
  std::vector<double> basis((m + 1) * n, 0.0);  // rows are the Lanczos vectors
  std::vector<double> h((m + 1) * m, 0.0);      // projected matrix, h[i * m + j]
  std::vector<double> coef(m + 1), sym(m * m), theta(m), y(m * m), ritz(std::max(keep, k) * n);
  std::vector<int64_t> order(m);
  SplitMix64 rng{seed};

  // A fresh random direction orthonormal to basis rows [0, count); zero if none is left.
  auto random_direction = [&](int64_t count, double* out) {
    for (int64_t t = 0; t < n; ++t) out[t] = rng.uniform_pm1();
    double after = 0.0;
    const double before = orthogonalize(n, basis.data(), count, out, nullptr, after);
    if (!(after > 1e-8 * before)) {
      std::fill(out, out + n, 0.0);
      return;
    }
    for (int64_t t = 0; t < n; ++t) out[t] /= after;
  };
  random_direction(0, basis.data());

  int64_t start = 0;
  for (;;) {
    // Expand the basis from `start` to m vectors (Arnoldi form: the coefficients against all
    // earlier vectors are measured, which also covers the arrow part left by a restart).
    for (int64_t j = start; j < m; ++j) {
      double* w = basis.data() + (j + 1) * n;
      op(basis.data() + j * n, w);
      ++result.operator_applications;
      std::fill(coef.begin(), coef.end(), 0.0);
      double beta = 0.0;
      const double before = orthogonalize(n, basis.data(), j + 1, w, coef.data(), beta);
      for (int64_t i = 0; i <= j; ++i) h[i * m + j] = coef[i];
      if (beta > 0.0 && beta > 1e-14 * before) {
        h[(j + 1) * m + j] = beta;
        for (int64_t t = 0; t < n; ++t) w[t] /= beta;
      } else {  // invariant subspace: continue with a new direction, decoupled
        h[(j + 1) * m + j] = 0.0;
        if (j + 1 < n) {
          random_direction(j + 1, w);
        } else {
          std::fill(w, w + n, 0.0);
        }
      }
    }

    // Rayleigh-Ritz on the (numerically symmetric) projected matrix.
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) sym[i * m + j] = 0.5 * (h[i * m + j] + h[j * m + i]);
    eigh<double>(m, sym.data(), m, theta.data(), y.data(), m);
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
      return largest_magnitude ? std::abs(theta[p]) > std::abs(theta[q]) : theta[p] > theta[q];
    });
    // ||A x_i - θ_i x_i|| = |beta_m y_{m-1, i}| for the Ritz pair i.
    const double beta_m = h[m * m + m - 1];
    double scale = 0.0;
    for (int64_t i = 0; i < m; ++i) scale = std::max(scale, std::abs(theta[i]));
    if (scale == 0.0) scale = 1.0;
    result.max_residual = 0.0;
    for (int64_t i = 0; i < k; ++i)
      result.max_residual =
          std::max(result.max_residual, std::abs(beta_m * y[(m - 1) * m + order[i]]) / scale);
    result.converged = result.max_residual <= tol;
    ++result.iterations;
    const bool done = result.converged || result.iterations >= max_iter || m == n;

    // Ritz vectors of the first `count` wanted pairs: basis[0..m)ᵀ y_order[i].
    const int64_t count = done ? k : keep;
    for (int64_t i = 0; i < count; ++i) {
      double* out = ritz.data() + i * n;
      std::fill(out, out + n, 0.0);
      for (int64_t l = 0; l < m; ++l) {
        const double c = y[l * m + order[i]];
        const double* b = basis.data() + l * n;
        for (int64_t t = 0; t < n; ++t) out[t] += c * b[t];
      }
    }
    if (done) {
      for (int64_t i = 0; i < k; ++i) {
        values[i] = theta[order[i]];
        double* out = vecs + i * n;
        std::copy(ritz.data() + i * n, ritz.data() + (i + 1) * n, out);
        sign_normalize(n, out);
      }
      return result;
    }

    // Thick restart: A [X, v] = [X, v] [[Θ, b], [bᵀ, ·]] + ... with b_i = beta_m y_{m-1, i}.
    std::copy(basis.data() + m * n, basis.data() + (m + 1) * n, basis.data() + keep * n);
    std::copy(ritz.data(), ritz.data() + keep * n, basis.data());
    std::fill(h.begin(), h.end(), 0.0);
    for (int64_t i = 0; i < keep; ++i) {
      h[i * m + i] = theta[order[i]];
      h[keep * m + i] = beta_m * y[(m - 1) * m + order[i]];
    }
    start = keep;
  }
}

// Presents a LinOp<T> as an operator on double vectors (a copy each way for float). The output
// is zeroed before the call so that operators that accumulate into y still give A x.
template <typename T>
DoubleOp as_double_op(int64_t n_in, int64_t n_out, const LinOp<T>& op) {
  if constexpr (std::is_same_v<T, double>) {
    return [&op, n_out](const double* x, double* y) {
      std::fill(y, y + n_out, 0.0);
      op(x, y);
    };
  } else {
    auto xt = std::make_shared<std::vector<T>>(n_in);
    auto yt = std::make_shared<std::vector<T>>(n_out);
    return [&op, xt, yt, n_in, n_out](const double* x, double* y) {
      for (int64_t i = 0; i < n_in; ++i) (*xt)[i] = static_cast<T>(x[i]);
      std::fill(yt->begin(), yt->end(), T(0));
      op(xt->data(), yt->data());
      for (int64_t i = 0; i < n_out; ++i) y[i] = (*yt)[i];
    };
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Dense

template <typename T>
void eigh(int64_t n, T* a, int64_t lda, T* w, T* v, int64_t ldv) {
  SG_CHECK(n >= 0, "eigh: n must be non-negative, got ", n);
  SG_CHECK(lda >= n && ldv >= n, "eigh: leading dimensions (lda=", lda, ", ldv=", ldv,
           ") must be at least n=", n);
  if (n == 0) return;
  // Copy the lower triangle into a full symmetric double matrix scaled to max |a_ij| = 1, so
  // that the shifts and rotations can neither overflow nor underflow.
  std::vector<double> s(n * n);
  double scale = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      const double x = a[i * lda + j];
      SG_CHECK(std::isfinite(x), "eigh: entry (", i, ", ", j, ") of the ", n, "x", n,
               " matrix is not finite (", x, ")");
      s[i * n + j] = s[j * n + i] = x;
      scale = std::max(scale, std::abs(x));
    }
  }
  if (scale == 0.0) scale = 1.0;
  for (double& x : s) x /= scale;

  std::vector<double> qt, d, e;
  tridiagonalize(n, s, qt, d, e);
  tridiagonal_eigen(n, d.data(), e.data(), qt.data());

  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return d[p] < d[q]; });
  for (int64_t j = 0; j < n; ++j) {
    w[j] = static_cast<T>(d[order[j]] * scale);
    const double* z = qt.data() + order[j] * n;
    for (int64_t i = 0; i < n; ++i) v[i * ldv + j] = static_cast<T>(z[i]);
  }
}

template <typename T>
void cholesky(int64_t n, T* a, int64_t lda, bool upper) {
  SG_CHECK(n >= 0, "cholesky: n must be non-negative, got ", n);
  SG_CHECK(lda >= n, "cholesky: lda=", lda, " must be at least n=", n);
  // Element (i, j), j <= i, of the lower factor L; for upper it lives transposed (U = Lᵀ).
  auto at = [&](int64_t i, int64_t j) -> T& { return upper ? a[j * lda + i] : a[i * lda + j]; };
  for (int64_t j = 0; j < n; ++j) {
    double pivot = at(j, j);
    for (int64_t k = 0; k < j; ++k) pivot -= static_cast<double>(at(j, k)) * at(j, k);
    if (!(pivot > 0.0) || !std::isfinite(pivot))
      fail("cholesky: ", n, "x", n, " matrix is not positive definite (pivot ", j, " is ", pivot,
           ")");
    const double ljj = std::sqrt(pivot);
    at(j, j) = static_cast<T>(ljj);
    for (int64_t i = j + 1; i < n; ++i) {
      double sum = at(i, j);
      for (int64_t k = 0; k < j; ++k) sum -= static_cast<double>(at(i, k)) * at(j, k);
      at(i, j) = static_cast<T>(sum / ljj);
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) at(i, j) = T(0);
}

template <typename T>
void solve_triangular(int64_t n, int64_t nrhs, const T* a, int64_t lda, T* b, int64_t ldb,
                      bool upper, bool transpose_a, bool unit_diagonal) {
  SG_CHECK(n >= 0 && nrhs >= 0, "solve_triangular: sizes must be non-negative, got n=", n,
           ", nrhs=", nrhs);
  SG_CHECK(lda >= n && ldb >= nrhs, "solve_triangular: lda=", lda, " must be at least n=", n,
           " and ldb=", ldb, " at least nrhs=", nrhs);
  if (!unit_diagonal)
    for (int64_t i = 0; i < n; ++i)
      SG_CHECK(a[i * lda + i] != T(0), "solve_triangular: zero on the diagonal at row ", i,
               " of the ", n, "x", n, " triangular matrix");
  if (nrhs == 0) return;
  // op(A)(i, j); op(A) is lower triangular exactly when upper == transpose_a.
  auto op_a = [&](int64_t i, int64_t j) -> double {
    return transpose_a ? a[j * lda + i] : a[i * lda + j];
  };
  const bool lower = upper == transpose_a;
  std::vector<double> acc(nrhs);
  for (int64_t step = 0; step < n; ++step) {
    const int64_t i = lower ? step : n - 1 - step;
    T* bi = b + i * ldb;
    for (int64_t c = 0; c < nrhs; ++c) acc[c] = bi[c];
    const int64_t j0 = lower ? 0 : i + 1;
    const int64_t j1 = lower ? i : n;
    for (int64_t j = j0; j < j1; ++j) {
      const double f = op_a(i, j);
      if (f == 0.0) continue;
      const T* bj = b + j * ldb;
      for (int64_t c = 0; c < nrhs; ++c) acc[c] -= f * bj[c];
    }
    const double diag = unit_diagonal ? 1.0 : op_a(i, i);
    for (int64_t c = 0; c < nrhs; ++c) bi[c] = static_cast<T>(acc[c] / diag);
  }
}

template <typename T>
void lu_factor(int64_t n, T* a, int64_t lda, int64_t* pivots) {
  SG_CHECK(n >= 0, "lu_factor: n must be non-negative, got ", n);
  SG_CHECK(lda >= n, "lu_factor: lda=", lda, " must be at least n=", n);
  for (int64_t k = 0; k < n; ++k) {
    int64_t p = k;
    for (int64_t i = k + 1; i < n; ++i)
      if (std::abs(a[i * lda + k]) > std::abs(a[p * lda + k])) p = i;
    if (a[p * lda + k] == T(0))
      fail("lu_factor: ", n, "x", n, " matrix is singular (column ", k, " has no nonzero pivot)");
    pivots[k] = p;
    if (p != k) std::swap_ranges(a + k * lda, a + k * lda + n, a + p * lda);
    const T* rk = a + k * lda;
    for (int64_t i = k + 1; i < n; ++i) {
      T* ri = a + i * lda;
      const T l = ri[k] / rk[k];
      ri[k] = l;
      for (int64_t j = k + 1; j < n; ++j) ri[j] -= l * rk[j];
    }
  }
}

template <typename T>
void lu_solve(int64_t n, int64_t nrhs, const T* lu, int64_t lda, const int64_t* pivots, T* b,
              int64_t ldb) {
  SG_CHECK(n >= 0 && nrhs >= 0, "lu_solve: sizes must be non-negative, got n=", n, ", nrhs=", nrhs);
  SG_CHECK(ldb >= nrhs, "lu_solve: ldb=", ldb, " must be at least nrhs=", nrhs);
  for (int64_t k = 0; k < n; ++k) {
    SG_CHECK(pivots[k] >= k && pivots[k] < n, "lu_solve: pivot ", k, " is ", pivots[k],
             ", outside [", k, ", ", n, ")");
    if (pivots[k] != k) std::swap_ranges(b + k * ldb, b + k * ldb + nrhs, b + pivots[k] * ldb);
  }
  solve_triangular(n, nrhs, lu, lda, b, ldb, /*upper=*/false, /*transpose_a=*/false,
                   /*unit_diagonal=*/true);
  solve_triangular(n, nrhs, lu, lda, b, ldb, /*upper=*/true, /*transpose_a=*/false,
                   /*unit_diagonal=*/false);
}

template <typename T>
void solve(int64_t n, int64_t nrhs, T* a, int64_t lda, T* b, int64_t ldb) {
  SG_CHECK(n >= 0, "solve: n must be non-negative, got ", n);
  std::vector<int64_t> pivots(n);
  lu_factor(n, a, lda, pivots.data());
  lu_solve(n, nrhs, a, lda, pivots.data(), b, ldb);
}

template <typename T>
void inverse(int64_t n, T* a, int64_t lda) {
  SG_CHECK(n >= 0, "inverse: n must be non-negative, got ", n);
  std::vector<int64_t> pivots(n);
  lu_factor(n, a, lda, pivots.data());
  std::vector<T> x(n * n, T(0));
  for (int64_t i = 0; i < n; ++i) x[i * n + i] = T(1);
  lu_solve(n, n, a, lda, pivots.data(), x.data(), n);
  for (int64_t i = 0; i < n; ++i) std::copy(x.data() + i * n, x.data() + (i + 1) * n, a + i * lda);
}

template <typename T>
void qr(int64_t m, int64_t n, const T* a, int64_t lda, T* q, T* r, bool reduced) {
  SG_CHECK(m >= 0 && n >= 0, "qr: sizes must be non-negative, got ", m, "x", n);
  SG_CHECK(lda >= n, "qr: lda=", lda, " must be at least n=", n);
  const int64_t k = std::min(m, n);
  const int64_t qcols = reduced ? k : m;  // also the number of rows of R
  std::vector<double> rw(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) rw[i * n + j] = a[i * lda + j];

  std::vector<double> vs(k * m, 0.0), taus(k), work;  // reflector j in vs[j * m + (0..m-j)]
  for (int64_t j = 0; j < k; ++j) {
    const int64_t len = m - j;
    double* v = vs.data() + j * m;
    for (int64_t i = 0; i < len; ++i) v[i] = rw[(j + i) * n + j];
    double beta = 0.0;
    taus[j] = make_householder(len, v, beta);
    apply_householder_left(len, v, taus[j], rw.data(), n, j, work);
    rw[j * n + j] = beta;  // the reflected column is known exactly
    for (int64_t i = j + 1; i < m; ++i) rw[i * n + j] = 0.0;
  }
  // Non-negative diagonal: flip row i of R and column i of Q together.
  std::vector<double> sign(k, 1.0);
  for (int64_t i = 0; i < k; ++i) {
    if (rw[i * n + i] >= 0.0) continue;
    sign[i] = -1.0;
    for (int64_t j = i; j < n; ++j) rw[i * n + j] = -rw[i * n + j];
  }
  for (int64_t i = 0; i < qcols; ++i)
    for (int64_t j = 0; j < n; ++j) r[i * n + j] = static_cast<T>(j >= i ? rw[i * n + j] : 0.0);
  if (q == nullptr) return;

  // Q = H_0 H_1 ... H_{k-1} [I; 0], applied right to left.
  std::vector<double> qw(m * qcols, 0.0);
  for (int64_t i = 0; i < qcols; ++i) qw[i * qcols + i] = 1.0;
  for (int64_t j = k - 1; j >= 0; --j)
    apply_householder_left(m - j, vs.data() + j * m, taus[j], qw.data(), qcols, j, work);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < qcols; ++j)
      q[i * qcols + j] = static_cast<T>(j < k ? sign[j] * qw[i * qcols + j] : qw[i * qcols + j]);
}

template <typename T>
void svd(int64_t m, int64_t n, const T* a, int64_t lda, T* u, T* s, T* vt, bool full_matrices) {
  SG_CHECK(m >= 0 && n >= 0, "svd: sizes must be non-negative, got ", m, "x", n);
  SG_CHECK(lda >= n, "svd: lda=", lda, " must be at least n=", n);
  const int64_t k = std::min(m, n);
  // Work on B = A (m >= n) or B = Aᵀ (m < n), rows x cols with rows >= cols, stored as Bᵀ so
  // that each column of B is a contiguous row of bt.
  const bool tall = m >= n;
  const int64_t rows = tall ? m : n, cols = tall ? n : m;
  std::vector<double> bt(cols * rows), vw(cols * cols, 0.0);  // vw rows = columns of V_B
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double x = a[i * lda + j];
      SG_CHECK(std::isfinite(x), "svd: entry (", i, ", ", j, ") of the ", m, "x", n,
               " matrix is not finite (", x, ")");
      if (tall) {
        bt[j * rows + i] = x;
      } else {
        bt[i * rows + j] = x;
      }
    }
  for (int64_t i = 0; i < cols; ++i) vw[i * cols + i] = 1.0;

  // Scale by a power of two (exact) so that max|B| is in [1, 2): squared column norms of tiny
  // or huge matrices then neither underflow nor overflow, and `negligible` below is never 0 for
  // a nonzero matrix.
  double amax = 0.0;
  for (const double x : bt) amax = std::max(amax, std::abs(x));
  const int scale_exp = amax > 0.0 ? std::ilogb(amax) : 0;
  if (scale_exp != 0)
    for (double& x : bt) x = std::ldexp(x, -scale_exp);
  const double fro2 = dot(cols * rows, bt.data(), bt.data());  // rotations keep ||B||_F

  // Cyclic one-sided Jacobi: rotate column pairs of B (and of V_B) until all are orthogonal.
  // A column whose squared norm is at most (eps ||B||_F)² is rounding noise of a column that is
  // zero in exact arithmetic (rank deficiency): it cannot be made orthogonal to the others
  // relative to its own norm (with fused multiply-adds it shrinks by about eps per sweep until
  // it underflows, and never passes the relative test), and it is below the backward error of
  // the decomposition anyway. Pairs with such a column are left alone, so it never changes
  // again, and it counts as a zero singular value below.
  const double negligible = kEps * kEps * fro2;
  const double tol = kEps * std::sqrt(static_cast<double>(std::max<int64_t>(rows, 1)));
  const int max_sweeps = 60;
  bool converged = false;
  for (int sweep = 0; sweep < max_sweeps && !converged; ++sweep) {
    converged = true;
    for (int64_t p = 0; p + 1 < cols; ++p) {
      for (int64_t q = p + 1; q < cols; ++q) {
        double* bp = bt.data() + p * rows;
        double* bq = bt.data() + q * rows;
        const double alpha = dot(rows, bp, bp), beta = dot(rows, bq, bq);
        if (std::min(alpha, beta) <= negligible) continue;
        const double gamma = dot(rows, bp, bq);
        if (gamma == 0.0 || std::abs(gamma) <= tol * std::sqrt(alpha * beta)) continue;
        converged = false;
        // The rotation that zeroes the (p, q) entry of BᵀB restricted to these two columns.
        const double zeta = (beta - alpha) / (2.0 * gamma);
        const double t = std::copysign(1.0, zeta) / (std::abs(zeta) + std::hypot(1.0, zeta));
        const double c = 1.0 / std::sqrt(1.0 + t * t), sn = c * t;
        for (int64_t i = 0; i < rows; ++i) {
          const double x = bp[i], y = bq[i];
          bp[i] = c * x - sn * y;
          bq[i] = sn * x + c * y;
        }
        double* vp = vw.data() + p * cols;
        double* vq = vw.data() + q * cols;
        for (int64_t i = 0; i < cols; ++i) {
          const double x = vp[i], y = vq[i];
          vp[i] = c * x - sn * y;
          vq[i] = sn * x + c * y;
        }
      }
    }
  }
  SG_CHECK(converged, "svd: one-sided Jacobi did not converge in ", max_sweeps, " sweeps for the ",
           m, "x", n, " matrix");

  std::vector<double> sigma(cols);
  for (int64_t j = 0; j < cols; ++j) {
    const double* bj = bt.data() + j * rows;
    const double norm_sq = dot(rows, bj, bj);
    sigma[j] = norm_sq <= negligible ? 0.0 : std::sqrt(norm_sq);
  }
  std::vector<int64_t> order(cols);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t p, int64_t q) { return sigma[p] > sigma[q]; });
  for (int64_t j = 0; j < k; ++j) s[j] = static_cast<T>(std::ldexp(sigma[order[j]], scale_exp));

  // Left vectors of B as rows of ub: the normalised columns, then orthonormal completions for
  // (numerically) zero singular values and, for full matrices, for the rest of the basis.
  const int64_t ub_rows = full_matrices ? rows : cols;
  const bool need_ub = tall ? u != nullptr : vt != nullptr;
  const bool need_vb = tall ? vt != nullptr : u != nullptr;
  if (need_ub) {
    std::vector<double> ub(ub_rows * rows, 0.0);
    int64_t good = 0;  // the sort put the zero singular values last
    while (good < cols && sigma[order[good]] > 0.0) {
      const double* bj = bt.data() + order[good] * rows;
      for (int64_t i = 0; i < rows; ++i) ub[good * rows + i] = bj[i] / sigma[order[good]];
      ++good;
    }
    complete_orthonormal(rows, good, ub_rows, ub.data());
    if (tall) {  // U = ubᵀ
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < ub_rows; ++j) u[i * ub_rows + j] = static_cast<T>(ub[j * rows + i]);
    } else {  // Vt = U_Bᵀ: its rows are the rows of ub
      for (int64_t j = 0; j < ub_rows; ++j)
        for (int64_t i = 0; i < n; ++i) vt[j * n + i] = static_cast<T>(ub[j * rows + i]);
    }
  }
  if (need_vb) {  // V_B is cols x cols: already complete in both modes
    if (tall) {   // Vt = V_Bᵀ: row j is vw row order[j]
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < n; ++i) vt[j * n + i] = static_cast<T>(vw[order[j] * cols + i]);
    } else {  // U = V_B
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j) u[i * m + j] = static_cast<T>(vw[order[j] * cols + i]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Iterative

template <typename T>
CgResult conjugate_gradient(int64_t n, const LinOpArg<T>& apply_a, const T* b, T* x, double tol,
                            int64_t max_iter, const LinOpArg<T>* preconditioner) {
  SG_CHECK(n >= 0, "conjugate_gradient: n must be non-negative, got ", n);
  SG_CHECK(tol >= 0.0 && max_iter >= 0, "conjugate_gradient: need tol >= 0 and max_iter >= 0, got ",
           tol, " and ", max_iter, " (n=", n, ")");
  auto vdot = [n](const T* p, const T* q) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i]) * q[i];
    return s;
  };
  CgResult result;
  const double bnorm = std::sqrt(vdot(b, b));
  if (bnorm == 0.0) {
    std::fill(x, x + n, T(0));
    result.converged = true;
    return result;
  }
  std::vector<T> r(n), z(n), p(n), ap(n);
  apply_a(x, ap.data());
  for (int64_t i = 0; i < n; ++i) r[i] = b[i] - ap[i];
  auto precondition = [&]() {
    if (preconditioner) {
      (*preconditioner)(r.data(), z.data());
    } else {
      z = r;
    }
  };
  precondition();
  p = z;
  double rz = vdot(r.data(), z.data());
  result.residual_norm = std::sqrt(vdot(r.data(), r.data())) / bnorm;
  while (result.residual_norm > tol && result.iterations < max_iter) {
    apply_a(p.data(), ap.data());
    ++result.iterations;
    const double pap = vdot(p.data(), ap.data());
    if (!(pap > 0.0))
      fail("conjugate_gradient: operator is not positive definite (pᵀAp = ", pap, " at iteration ",
           result.iterations, ", n=", n, ")");
    const double alpha = rz / pap;
    for (int64_t i = 0; i < n; ++i) {
      x[i] += static_cast<T>(alpha * p[i]);
      r[i] -= static_cast<T>(alpha * ap[i]);
    }
    precondition();
    const double rz_next = vdot(r.data(), z.data());
    if (rz_next < 0.0)
      fail("conjugate_gradient: preconditioner is not positive definite (rᵀM⁻¹r = ", rz_next,
           " at iteration ", result.iterations, ", n=", n, ")");
    const double gamma = rz_next / rz;
    rz = rz_next;
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(z[i] + gamma * p[i]);
    result.residual_norm = std::sqrt(vdot(r.data(), r.data())) / bnorm;
  }
  result.converged = result.residual_norm <= tol;
  return result;
}

template <typename T>
EigshResult eigsh_topk(int64_t n, int64_t k, const LinOpArg<T>& apply_a, T* values, T* vectors,
                       uint64_t seed, double tol, int64_t max_iter, bool largest_magnitude) {
  SG_CHECK(n >= 0 && k >= 0 && k <= n, "eigsh_topk: need 0 <= k <= n, got k=", k, ", n=", n);
  SG_CHECK(tol >= 0.0 && max_iter >= 1, "eigsh_topk: need tol >= 0 and max_iter >= 1, got ", tol,
           " and ", max_iter, " (n=", n, ", k=", k, ")");
  if (k == 0) return EigshResult{0, 0, 0.0, true};
  std::vector<double> vals(k), vecs(k * n);
  const EigshResult result = lanczos_topk(n, k, as_double_op<T>(n, n, apply_a), seed, tol, max_iter,
                                          largest_magnitude, vals.data(), vecs.data());
  for (int64_t j = 0; j < k; ++j) {
    values[j] = static_cast<T>(vals[j]);
    for (int64_t i = 0; i < n; ++i) vectors[i * k + j] = static_cast<T>(vecs[j * n + i]);
  }
  return result;
}

template <typename T>
EigshResult svds_topk(int64_t m, int64_t n, int64_t k, const LinOpArg<T>& apply_a,
                      const LinOpArg<T>& apply_at, T* u, T* s, T* v, uint64_t seed, double tol,
                      int64_t max_iter) {
  SG_CHECK(m >= 0 && n >= 0 && k >= 0 && k <= std::min(m, n),
           "svds_topk: need 0 <= k <= min(m, n), got k=", k, " for a ", m, "x", n, " operator");
  SG_CHECK(tol >= 0.0 && max_iter >= 1, "svds_topk: need tol >= 0 and max_iter >= 1, got ", tol,
           " and ", max_iter, " (", m, "x", n, ", k=", k, ")");
  if (k == 0) return EigshResult{0, 0, 0.0, true};
  // Eigenvectors of the smaller Gram matrix are the "near" singular vectors; the "far" ones
  // follow from one more application of A or Aᵀ.
  const bool gram_right = n <= m;  // AᵀA (n x n) gives V
  const int64_t near = gram_right ? n : m, far = gram_right ? m : n;
  const DoubleOp to_far =
      gram_right ? as_double_op<T>(n, m, apply_a) : as_double_op<T>(m, n, apply_at);
  const DoubleOp to_near =
      gram_right ? as_double_op<T>(m, n, apply_at) : as_double_op<T>(n, m, apply_a);
  std::vector<double> tmp(far);
  const DoubleOp gram = [&](const double* x, double* y) {
    to_far(x, tmp.data());
    to_near(tmp.data(), y);
  };
  std::vector<double> theta(k), near_vecs(k * near), far_vecs(k * far, 0.0);
  const EigshResult result =
      lanczos_topk(near, k, gram, seed, tol, max_iter, false, theta.data(), near_vecs.data());

  std::vector<double> sigma(k);
  for (int64_t j = 0; j < k; ++j) sigma[j] = std::sqrt(std::max(theta[j], 0.0));
  int64_t good = 0;
  while (good < k && sigma[good] > 0.0 && sigma[good] > 1e-7 * sigma[0]) {
    double* f = far_vecs.data() + good * far;
    to_far(near_vecs.data() + good * near, f);
    for (int64_t t = 0; t < far; ++t) f[t] /= sigma[good];
    double after = 0.0;
    orthogonalize(far, far_vecs.data(), good, f, nullptr, after);
    if (!(after > 0.5)) break;  // lost to rounding: treat as a zero singular value
    for (int64_t t = 0; t < far; ++t) f[t] /= after;
    ++good;
  }
  std::fill(far_vecs.begin() + good * far, far_vecs.end(), 0.0);
  complete_orthonormal(far, good, k, far_vecs.data());

  const double* uv = gram_right ? far_vecs.data() : near_vecs.data();
  const double* vv = gram_right ? near_vecs.data() : far_vecs.data();
  for (int64_t j = 0; j < k; ++j) {
    s[j] = static_cast<T>(sigma[j]);
    for (int64_t i = 0; i < m; ++i) u[i * k + j] = static_cast<T>(uv[j * m + i]);
    for (int64_t i = 0; i < n; ++i) v[i * k + j] = static_cast<T>(vv[j * n + i]);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Instantiations

#define SG_LINALG_INSTANTIATE(T)                                                                  \
  template void eigh<T>(int64_t, T*, int64_t, T*, T*, int64_t);                                   \
  template void cholesky<T>(int64_t, T*, int64_t, bool);                                          \
  template void solve_triangular<T>(int64_t, int64_t, const T*, int64_t, T*, int64_t, bool, bool, \
                                    bool);                                                        \
  template void lu_factor<T>(int64_t, T*, int64_t, int64_t*);                                     \
  template void lu_solve<T>(int64_t, int64_t, const T*, int64_t, const int64_t*, T*, int64_t);    \
  template void solve<T>(int64_t, int64_t, T*, int64_t, T*, int64_t);                             \
  template void inverse<T>(int64_t, T*, int64_t);                                                 \
  template void qr<T>(int64_t, int64_t, const T*, int64_t, T*, T*, bool);                         \
  template void svd<T>(int64_t, int64_t, const T*, int64_t, T*, T*, T*, bool);                    \
  template CgResult conjugate_gradient<T>(int64_t, const LinOpArg<T>&, const T*, T*, double,      \
                                          int64_t, const LinOpArg<T>*);                           \
  template EigshResult eigsh_topk<T>(int64_t, int64_t, const LinOpArg<T>&, T*, T*, uint64_t,      \
                                     double, int64_t, bool);                                      \
  template EigshResult svds_topk<T>(int64_t, int64_t, int64_t, const LinOpArg<T>&,                \
                                    const LinOpArg<T>&, T*, T*, T*, uint64_t, double, int64_t);

SG_LINALG_INSTANTIATE(float)
SG_LINALG_INSTANTIATE(double)
#undef SG_LINALG_INSTANTIATE

}  // namespace stackgrad::kernels
