// reference kernels of the linalg family: textbook algorithms, in double, one matrix at a time,
// chosen to differ from the fast kernels so that comparing the two is a real test.
//   eigh              cyclic Jacobi rotations          (fast: Householder + implicit QL/QR)
//   cholesky          Cholesky–Banachiewicz, by rows   (fast: left-looking, by columns)
//   solve_triangular  forward / back substitution, one right-hand side at a time
//   solve             Gaussian elimination with partial pivoting on [A | B]   (fast: LU)
//   inverse           Gauss–Jordan elimination on [A | I]                     (fast: LU)
//   qr                modified Gram–Schmidt            (fast: Householder)
//   svd               Jacobi eigendecomposition of AᵀA (or AAᵀ)  (fast: one-sided Jacobi)
// Sign conventions are shared with the fast kernels: eigenvectors and left singular vectors have
// their largest-magnitude entry positive (the first, among entries within a relative 1e-9 of the
// largest), diag(R) >= 0.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/core/error.h"
#include "engine/dispatch/registry.h"

namespace stackgrad {
namespace {

using Mat = std::vector<double>;  // dense row-major

// Matrix b of the batch in the last two dims of `a`, as a row-major double matrix.
template <typename T>
Mat load_matrix(const TensorArg& a, int64_t b) {
  const int nb = a.ndim - 2;
  int64_t off = 0;
  for (int d = nb - 1; d >= 0; --d) {
    off += (b % a.shape[d]) * a.strides[d];
    b /= a.shape[d];
  }
  const int64_t rows = a.shape[nb], cols = a.shape[nb + 1];
  Mat m(rows * cols);
  const T* p = a.ptr<T>() + off;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      m[i * cols + j] = p[i * a.strides[nb] + j * a.strides[nb + 1]];
  return m;
}

int64_t batch_count(const TensorArg& a) {
  int64_t count = 1;
  for (int d = 0; d < a.ndim - 2; ++d) count *= a.shape[d];
  return count;
}

template <typename T>
void store_matrix(const Mat& m, const TensorArg& out, int64_t b) {
  T* p = out.ptr<T>() + b * static_cast<int64_t>(m.size());
  for (size_t i = 0; i < m.size(); ++i) p[i] = static_cast<T>(m[i]);
}

// Flips column j of the rows x cols matrix m (and row j of `partner`, if given, with pcols
// columns) so that the column's largest-magnitude entry is positive; near-ties go to the first.
void normalize_column_sign(Mat& m, int64_t rows, int64_t cols, int64_t j, Mat* partner = nullptr,
                           int64_t pcols = 0) {
  double big = 0.0;
  for (int64_t i = 0; i < rows; ++i) big = std::max(big, std::fabs(m[i * cols + j]));
  for (int64_t i = 0; i < rows; ++i) {
    const double x = m[i * cols + j];
    if (std::fabs(x) < big * (1.0 - 1e-9)) continue;
    if (x >= 0.0) return;
    for (int64_t r = 0; r < rows; ++r) m[r * cols + j] = -m[r * cols + j];
    if (partner)
      for (int64_t c = 0; c < pcols; ++c) (*partner)[j * pcols + c] = -(*partner)[j * pcols + c];
    return;
  }
}

// Cyclic Jacobi eigenvalue algorithm on the symmetric n x n matrix s (destroyed): rotations
// J(p, q, θ) zero s_pq in turn, sweep after sweep, until no off-diagonal entry is above
// 1e-20 ‖S‖_F. Returns eigenvalues ascending and eigenvectors as the columns of v.
void jacobi_eigen(int64_t n, Mat s, std::vector<double>& w, Mat& v) {
  v.assign(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  double frob = 0.0;
  for (double x : s) {
    SG_CHECK(std::isfinite(x), "eigh: the ", n, "x", n, " matrix has a non-finite entry (", x, ")");
    frob += x * x;
  }
  const double tiny = 1e-20 * std::sqrt(frob);
  bool rotated = true;
  for (int sweep = 0; rotated; ++sweep) {
    SG_CHECK(sweep < 100, "eigh (reference): Jacobi did not converge for n=", n);
    rotated = false;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = s[p * n + q];
        if (std::fabs(apq) <= tiny) continue;
        rotated = true;
        // t = tan θ is the smaller root of t² + 2ζt - 1 = 0, which makes the new s_pq zero.
        const double zeta = (s[q * n + q] - s[p * n + p]) / (2.0 * apq);
        const double t =
            (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(zeta * zeta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), sn = t * c;
        // S ← Jᵀ S J with J the identity except J_pp = J_qq = c, J_pq = sn, J_qp = -sn.
        for (int64_t k = 0; k < n; ++k) {  // columns p and q
          const double xp = s[k * n + p], xq = s[k * n + q];
          s[k * n + p] = c * xp - sn * xq;
          s[k * n + q] = sn * xp + c * xq;
        }
        for (int64_t k = 0; k < n; ++k) {  // rows p and q
          const double xp = s[p * n + k], xq = s[q * n + k];
          s[p * n + k] = c * xp - sn * xq;
          s[q * n + k] = sn * xp + c * xq;
        }
        s[p * n + q] = s[q * n + p] = 0.0;
        for (int64_t k = 0; k < n; ++k) {  // V ← V J
          const double xp = v[k * n + p], xq = v[k * n + q];
          v[k * n + p] = c * xp - sn * xq;
          v[k * n + q] = sn * xp + c * xq;
        }
      }
    }
  }
  // Sort ascending (selection sort: obviously correct), moving eigenvector columns along.
  w.resize(n);
  for (int64_t i = 0; i < n; ++i) w[i] = s[i * n + i];
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = i;
    for (int64_t j = i + 1; j < n; ++j)
      if (w[j] < w[best]) best = j;
    if (best == i) continue;
    std::swap(w[i], w[best]);
    for (int64_t k = 0; k < n; ++k) std::swap(v[k * n + i], v[k * n + best]);
  }
}

// Fills column j of the rows x cols matrix q, whose columns 0..j-1 are orthonormal, with the
// standard basis vector that keeps the largest component orthogonal to them (classical
// Gram–Schmidt, twice), normalised.
void complete_column(Mat& q, int64_t rows, int64_t cols, int64_t j) {
  std::vector<double> best;
  double best_norm = -1.0;
  for (int64_t e = 0; e < rows; ++e) {
    std::vector<double> x(rows, 0.0);
    x[e] = 1.0;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t c = 0; c < j; ++c) {
        double d = 0.0;
        for (int64_t i = 0; i < rows; ++i) d += q[i * cols + c] * x[i];
        for (int64_t i = 0; i < rows; ++i) x[i] -= d * q[i * cols + c];
      }
    double nrm = 0.0;
    for (double y : x) nrm += y * y;
    nrm = std::sqrt(nrm);
    if (nrm > best_norm + 1e-12) {
      best_norm = nrm;
      best = x;
    }
  }
  for (int64_t i = 0; i < rows; ++i) q[i * cols + j] = best[i] / best_norm;
}

// Completes columns have..cols-1 of q (columns 0..have-1 orthonormal).
void complete_columns(Mat& q, int64_t rows, int64_t cols, int64_t have) {
  for (int64_t j = have; j < cols; ++j) complete_column(q, rows, cols, j);
}

// --- kernels -------------------------------------------------------------------------------

template <typename T>
void eigh_t(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1];
  for (int64_t b = 0; b < batch_count(a); ++b) {
    Mat m = load_matrix<T>(a, b);
    for (int64_t i = 0; i < n; ++i)  // the lower triangle defines the matrix
      for (int64_t j = i + 1; j < n; ++j) m[i * n + j] = m[j * n + i];
    std::vector<double> w;
    Mat v;
    jacobi_eigen(n, m, w, v);
    for (int64_t j = 0; j < n; ++j) normalize_column_sign(v, n, n, j);
    store_matrix<T>(w, c.out[0], b);
    store_matrix<T>(v, c.out[1], b);
  }
}

// Cholesky–Banachiewicz: row i of L from the rows above it.
template <typename T>
void cholesky_t(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1];
  const bool upper = c.attrs.flag;
  for (int64_t b = 0; b < batch_count(a); ++b) {
    Mat m = load_matrix<T>(a, b);
    Mat l(n * n, 0.0);
    // The symmetric matrix as given by the chosen triangle: element (i, j) for j <= i.
    auto sym = [&](int64_t i, int64_t j) { return upper ? m[j * n + i] : m[i * n + j]; };
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j <= i; ++j) {
        double s = 0.0;
        for (int64_t k = 0; k < j; ++k) s += l[i * n + k] * l[j * n + k];
        if (i == j) {
          const double d = sym(i, i) - s;
          SG_CHECK(d > 0.0 && std::isfinite(d), "cholesky: ", n, "x", n,
                   " matrix is not positive definite (pivot ", i, " is ", d, ")");
          l[i * n + i] = std::sqrt(d);
        } else {
          l[i * n + j] = (sym(i, j) - s) / l[j * n + j];
        }
      }
    }
    if (upper) {
      Mat u(n * n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) u[i * n + j] = l[j * n + i];
      l = u;
    }
    store_matrix<T>(l, c.out[0], b);
  }
}

template <typename T>
void solve_triangular_t(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1], k = c.in[1].shape[c.in[1].ndim - 1];
  const bool upper = c.attrs.flag, unit = c.attrs.flag2;
  for (int64_t b = 0; b < batch_count(a); ++b) {
    Mat m = load_matrix<T>(a, b), x = load_matrix<T>(c.in[1], b);
    for (int64_t i = 0; i < n && !unit; ++i)
      SG_CHECK(m[i * n + i] != 0.0, "solve_triangular: zero on the diagonal at row ", i, " of the ",
               n, "x", n, " triangular matrix");
    for (int64_t col = 0; col < k; ++col) {
      for (int64_t step = 0; step < n; ++step) {
        const int64_t i = upper ? n - 1 - step : step;  // back or forward substitution
        double s = x[i * k + col];
        for (int64_t j = upper ? i + 1 : 0; j < (upper ? n : i); ++j)
          s -= m[i * n + j] * x[j * k + col];
        x[i * k + col] = unit ? s : s / m[i * n + i];
      }
    }
    store_matrix<T>(x, c.out[0], b);
  }
}

// Gaussian elimination with partial pivoting on the augmented matrix [A | B], then back
// substitution.
template <typename T>
void solve_t(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1], k = c.in[1].shape[c.in[1].ndim - 1];
  for (int64_t b = 0; b < batch_count(a); ++b) {
    Mat m = load_matrix<T>(a, b), x = load_matrix<T>(c.in[1], b);
    for (int64_t col = 0; col < n; ++col) {
      int64_t p = col;
      for (int64_t i = col + 1; i < n; ++i)
        if (std::fabs(m[i * n + col]) > std::fabs(m[p * n + col])) p = i;
      SG_CHECK(m[p * n + col] != 0.0, "solve: ", n, "x", n, " matrix is singular (column ", col,
               " has no nonzero pivot)");
      for (int64_t j = 0; j < n; ++j) std::swap(m[col * n + j], m[p * n + j]);
      for (int64_t j = 0; j < k; ++j) std::swap(x[col * k + j], x[p * k + j]);
      for (int64_t i = col + 1; i < n; ++i) {
        const double f = m[i * n + col] / m[col * n + col];
        for (int64_t j = col; j < n; ++j) m[i * n + j] -= f * m[col * n + j];
        for (int64_t j = 0; j < k; ++j) x[i * k + j] -= f * x[col * k + j];
      }
    }
    for (int64_t i = n - 1; i >= 0; --i)
      for (int64_t j = 0; j < k; ++j) {
        double s = x[i * k + j];
        for (int64_t t = i + 1; t < n; ++t) s -= m[i * n + t] * x[t * k + j];
        x[i * k + j] = s / m[i * n + i];
      }
    store_matrix<T>(x, c.out[0], b);
  }
}

// Gauss–Jordan elimination with partial pivoting: [A | I] -> [I | A⁻¹].
template <typename T>
void inverse_t(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1];
  for (int64_t b = 0; b < batch_count(a); ++b) {
    Mat m = load_matrix<T>(a, b), inv(n * n, 0.0);
    for (int64_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
    for (int64_t col = 0; col < n; ++col) {
      int64_t p = col;
      for (int64_t i = col + 1; i < n; ++i)
        if (std::fabs(m[i * n + col]) > std::fabs(m[p * n + col])) p = i;
      SG_CHECK(m[p * n + col] != 0.0, "inverse: ", n, "x", n, " matrix is singular (column ", col,
               " has no nonzero pivot)");
      for (int64_t j = 0; j < n; ++j) {
        std::swap(m[col * n + j], m[p * n + j]);
        std::swap(inv[col * n + j], inv[p * n + j]);
      }
      const double d = m[col * n + col];
      for (int64_t j = 0; j < n; ++j) {
        m[col * n + j] /= d;
        inv[col * n + j] /= d;
      }
      for (int64_t i = 0; i < n; ++i) {
        if (i == col) continue;
        const double f = m[i * n + col];
        for (int64_t j = 0; j < n; ++j) {
          m[i * n + j] -= f * m[col * n + j];
          inv[i * n + j] -= f * inv[col * n + j];
        }
      }
    }
    store_matrix<T>(inv, c.out[0], b);
  }
}

// Modified Gram–Schmidt: column j is orthogonalised against q_0..q_{j-1} one at a time, each
// projection taken from the partly orthogonalised column. Q columns beyond the rank (or beyond
// n in complete mode) are orthonormal completions.
template <typename T>
void qr_t(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = std::min(m, n);
  const int64_t qcols = c.attrs.flag ? k : m;
  for (int64_t b = 0; b < batch_count(a); ++b) {
    Mat am = load_matrix<T>(a, b), q(m * qcols, 0.0), r(qcols * n, 0.0);
    double scale = 0.0;
    for (double x : am) scale = std::max(scale, std::fabs(x));
    for (int64_t j = 0; j < n; ++j) {
      std::vector<double> v(m);
      for (int64_t i = 0; i < m; ++i) v[i] = am[i * n + j];
      for (int64_t i = 0; i < std::min(j, k); ++i) {
        double d = 0.0;
        for (int64_t t = 0; t < m; ++t) d += q[t * qcols + i] * v[t];
        r[i * n + j] = d;
        for (int64_t t = 0; t < m; ++t) v[t] -= d * q[t * qcols + i];
      }
      if (j >= k) continue;
      double nrm = 0.0;
      for (double x : v) nrm += x * x;
      nrm = std::sqrt(nrm);
      if (nrm <= 1e-14 * scale) {  // dependent column: R_jj = 0 and any new direction for q_j
        complete_column(q, m, qcols, j);
        continue;
      }
      r[j * n + j] = nrm;
      for (int64_t t = 0; t < m; ++t) q[t * qcols + j] = v[t] / nrm;
    }
    complete_columns(q, m, qcols, k);
    store_matrix<T>(q, c.out[0], b);
    store_matrix<T>(r, c.out[1], b);
  }
}

// SVD from the symmetric eigenproblem: for m >= n, AᵀA = V diag(σ²) Vᵀ (Jacobi) and
// u_j = A v_j / σ_j; for m < n the same on AAᵀ, with v_j = Aᵀ u_j / σ_j. Vectors of σ below
// 1e-6 σ_max and the extra columns of full matrices are orthonormal completions. Squaring the
// matrix limits this to well-conditioned inputs (σ accurate to about ε σ_max² / σ).
template <typename T>
void svd_t(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = std::min(m, n);
  const bool full = c.attrs.flag;
  const int64_t ku = full ? m : k, kv = full ? n : k;
  for (int64_t b = 0; b < batch_count(a); ++b) {
    Mat am = load_matrix<T>(a, b);
    for (double x : am)
      SG_CHECK(std::isfinite(x), "svd: the ", m, "x", n, " matrix has a non-finite entry (", x,
               ")");
    const bool tall = m >= n;
    // B = A (tall) or Aᵀ (wide): rows x cols with rows >= cols; B = X diag(σ) Yᵀ.
    const int64_t rows = tall ? m : n, cols = tall ? n : m;
    auto bm = [&](int64_t i, int64_t j) { return tall ? am[i * n + j] : am[j * n + i]; };
    Mat gram(cols * cols, 0.0);
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t t = 0; t < rows; ++t) gram[i * cols + j] += bm(t, i) * bm(t, j);
    std::vector<double> lam;
    Mat y;  // cols x cols, eigenvectors as columns, ascending
    jacobi_eigen(cols, gram, lam, y);
    std::vector<double> sigma(cols);
    Mat yd(cols * cols);  // descending
    for (int64_t j = 0; j < cols; ++j) {
      sigma[j] = std::sqrt(std::max(lam[cols - 1 - j], 0.0));
      for (int64_t i = 0; i < cols; ++i) yd[i * cols + j] = y[i * cols + cols - 1 - j];
    }
    const int64_t xcols = full ? rows : cols;
    Mat x(rows * xcols, 0.0);
    int64_t good = 0;
    const double smax = cols > 0 ? sigma[0] : 0.0;
    // Eigenvalues of the Gram matrix carry rounding noise of about ε λ_max, so σ below ~1e-7
    // σ_max is noise: those vectors are completions rather than B y / σ.
    while (good < cols && sigma[good] > 1e-6 * smax) {
      for (int64_t i = 0; i < rows; ++i) {
        double s = 0.0;
        for (int64_t t = 0; t < cols; ++t) s += bm(i, t) * yd[t * cols + good];
        x[i * xcols + good] = s / sigma[good];
      }
      ++good;
    }
    complete_columns(x, rows, xcols, good);
    // U = X, Vᵀ = Yᵀ (tall) or U = Y, Vᵀ = Xᵀ (wide).
    Mat u(m * ku), vh(kv * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < ku; ++j) u[i * ku + j] = tall ? x[i * xcols + j] : yd[i * cols + j];
    for (int64_t j = 0; j < kv; ++j)
      for (int64_t i = 0; i < n; ++i) vh[j * n + i] = tall ? yd[i * cols + j] : x[i * xcols + j];
    for (int64_t j = 0; j < ku; ++j) normalize_column_sign(u, m, ku, j, j < kv ? &vh : nullptr, n);
    store_matrix<T>(u, c.out[0], b);
    store_matrix<T>(std::vector<double>(sigma.begin(), sigma.begin() + k), c.out[1], b);
    store_matrix<T>(vh, c.out[2], b);
  }
}

#define SG_LINALG_REF_KERNEL(name)                                           \
  void ref_##name(const KernelCall& c) {                                     \
    SG_DISPATCH_FLOAT(c.in[0].dtype, #name, [&] { name##_t<scalar_t>(c); }); \
  }
SG_LINALG_REF_KERNEL(eigh)
SG_LINALG_REF_KERNEL(cholesky)
SG_LINALG_REF_KERNEL(solve_triangular)
SG_LINALG_REF_KERNEL(solve)
SG_LINALG_REF_KERNEL(inverse)
SG_LINALG_REF_KERNEL(qr)
SG_LINALG_REF_KERNEL(svd)
#undef SG_LINALG_REF_KERNEL

}  // namespace

void register_reference_linalg() {
  register_kernel(OpId::eigh, Backend::reference, ref_eigh);
  register_kernel(OpId::cholesky, Backend::reference, ref_cholesky);
  register_kernel(OpId::solve_triangular, Backend::reference, ref_solve_triangular);
  register_kernel(OpId::solve, Backend::reference, ref_solve);
  register_kernel(OpId::inverse, Backend::reference, ref_inverse);
  register_kernel(OpId::qr, Backend::reference, ref_qr);
  register_kernel(OpId::svd, Backend::reference, ref_svd);
}

}  // namespace stackgrad
