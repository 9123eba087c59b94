// CUDA kernels of the linalg family: eigh, cholesky, solve_triangular, solve, inverse, qr, svd.
// They run the reference's algorithms (kernels/reference/linalg.cpp), in double, with one block
// of 256 threads per matrix: the sequential outer loop of each algorithm (columns, pivots,
// Jacobi rotations) stays sequential and every inner loop is shared out over the block, with a
// barrier between the steps. This is for the small and medium matrices the algorithms use
// (graph filters, few-shot heads, whitening) and for batches of them, where one block per
// matrix keeps the GPU busy; a large single matrix leaves most of the GPU idle (blocked
// algorithms are the next step). The conventions are the reference's, so the results equal the
// CPU's to rounding: eigenvalues ascending, vectors with their largest-magnitude entry positive,
// diag(R) >= 0, the same completions of rank-deficient Q, U and V, and the same errors (not
// positive definite, singular, zero diagonal, non-finite input, naming the matrix's first bad
// pivot or entry), which each matrix records in a status word that the host reads back.
//
// Sums the reference takes in a sequential loop over one index (a row times a column) are taken
// the same way here by one thread; the dot products of QR's Gram-Schmidt and the Frobenius norm
// are block reductions in a fixed order (no atomics), so the bits depend only on the input.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/dispatch/registry.h"
#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "kernels/cuda/loops.cuh"

namespace stackgrad::kernels::gpu {
namespace {

constexpr int kLinThreads = 256;  // one block per matrix; a multiple of 32
// Matrices per launch: at most 1024, and no more than keep the double-precision workspace of one
// launch within 256 MiB (a batch of many matrices runs in several launches).
constexpr int64_t kMaxMatricesPerLaunch = 1024;
constexpr int64_t kMaxWorkspaceDoubles = (int64_t{256} << 20) / 8;

// What went wrong with one matrix (code 0: nothing); the host reports the first failing matrix
// of the batch with the reference's message.
struct Status {
  int code;
  int64_t index;
  double value;
};
enum StatusCode : int {
  kOk = 0,
  kNotPositiveDefinite,  // cholesky: pivot `index` is `value`
  kZeroDiagonal,         // solve_triangular: zero at row `index`
  kSingular,             // solve, inverse: column `index` has no nonzero pivot
  kNonFinite,            // eigh, svd: entry `value` is not finite
  kNoConvergence,        // eigh, svd: Jacobi ran out of sweeps
};

// --- block primitives ------------------------------------------------------------------------
// Each starts with a barrier (so `red` may be reused at once) and ends with every thread holding
// the same result; all threads of the block must call them.

__device__ double block_sum(double v, double* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  double t = 0.0;
  for (int w = 0; w < int(blockDim.x >> 5); ++w) t += red[w];
  return t;
}

// std::max's rule (a < b ? b : a): a NaN never replaces the running value.
__device__ __forceinline__ double max_keep(double a, double b) { return a < b ? b : a; }

__device__ double block_max(double v, double* red) {
  for (int o = 16; o > 0; o >>= 1) v = max_keep(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  double t = red[0];
  for (int w = 1; w < int(blockDim.x >> 5); ++w) t = max_keep(t, red[w]);
  return t;
}

// (value, index) pairs: the larger value wins, ties go to the smaller index.
__device__ __forceinline__ void arg_take(double& v, int64_t& i, double ov, int64_t oi) {
  if (ov > v || (ov == v && oi < i)) {
    v = ov;
    i = oi;
  }
}

__device__ int64_t block_argmax(double v, int64_t i, double* redv, int64_t* redi) {
  for (int o = 16; o > 0; o >>= 1) {
    const double ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int64_t oi = __shfl_xor_sync(0xffffffffu, i, o);
    arg_take(v, i, ov, oi);
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) {
    redv[threadIdx.x >> 5] = v;
    redi[threadIdx.x >> 5] = i;
  }
  __syncthreads();
  double bv = redv[0];
  int64_t bi = redi[0];
  for (int w = 1; w < int(blockDim.x >> 5); ++w) arg_take(bv, bi, redv[w], redi[w]);
  return bi;
}

__device__ int64_t block_min_index(int64_t i, int64_t* redi) {
  for (int o = 16; o > 0; o >>= 1) {
    const int64_t other = __shfl_xor_sync(0xffffffffu, i, o);
    i = other < i ? other : i;
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) redi[threadIdx.x >> 5] = i;
  __syncthreads();
  int64_t t = redi[0];
  for (int w = 1; w < int(blockDim.x >> 5); ++w) t = redi[w] < t ? redi[w] : t;
  return t;
}

struct Shared {
  double red[32];
  int64_t redi[32];
  int flag;
};

// --- operands --------------------------------------------------------------------------------

// Element (i, j) of matrix b of the batch in the last two dims of `a` (read as double).
template <typename T>
struct MatrixIn {
  const T* p;
  int64_t rs, cs;
  __device__ double operator()(int64_t i, int64_t j) const {
    return static_cast<double>(p[i * rs + j * cs]);
  }
};

template <typename T>
__device__ MatrixIn<T> matrix_in(const TensorArg& a, int64_t b) {
  const int nb = a.ndim - 2;
  int64_t off = 0;
  for (int d = nb - 1; d >= 0; --d) {
    off += (b % a.shape[d]) * a.strides[d];
    b /= a.shape[d];
  }
  return {static_cast<const T*>(a.data) + off, a.strides[nb], a.strides[nb + 1]};
}

// Matrix b of a contiguous output whose matrices hold `size` elements each.
template <typename T>
__device__ T* matrix_out(const TensorArg& out, int64_t b, int64_t size) {
  return static_cast<T*>(out.data) + b * size;
}

// Per-matrix double workspace carved into consecutive arrays.
struct Carve {
  double* p;
  __device__ double* take(int64_t n) {
    double* r = p;
    p += n;
    return r;
  }
};

// --- shared algorithms -----------------------------------------------------------------------

// Column j of the rows x cols matrix q (columns 0..j-1 orthonormal) becomes the standard basis
// vector that keeps the largest component orthogonal to them, after two Gram-Schmidt passes,
// normalised: the reference's complete_column. x and best hold `rows` doubles each.
__device__ void complete_column(double* q, int64_t rows, int64_t cols, int64_t j, double* x,
                                double* best, Shared& sh) {
  double best_norm = -1.0;
  for (int64_t e = 0; e < rows; ++e) {
    __syncthreads();
    for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) x[i] = i == e ? 1.0 : 0.0;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t c = 0; c < j; ++c) {
        __syncthreads();
        double part = 0.0;
        for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) part += q[i * cols + c] * x[i];
        const double d = block_sum(part, sh.red);
        for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) x[i] -= d * q[i * cols + c];
      }
    __syncthreads();
    double part = 0.0;
    for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) part += x[i] * x[i];
    const double nrm = sqrt(block_sum(part, sh.red));
    if (nrm > best_norm + 1e-12) {  // the same decision in every thread
      best_norm = nrm;
      for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) best[i] = x[i];
    }
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) q[i * cols + j] = best[i] / best_norm;
  __syncthreads();
}

// Column j's sign, the reference's normalize_column_sign: true when the first entry within a
// relative 1e-9 of the largest magnitude is negative (the column is to be flipped). One thread.
__device__ bool column_needs_flip(const double* m, int64_t rows, int64_t cols, int64_t j) {
  double big = 0.0;
  for (int64_t i = 0; i < rows; ++i) big = max_keep(big, fabs(m[i * cols + j]));
  for (int64_t i = 0; i < rows; ++i) {
    const double x = m[i * cols + j];
    if (fabs(x) < big * (1.0 - 1e-9)) continue;
    return !(x >= 0.0);  // the reference flips unless x >= 0 (so a NaN flips too)
  }
  return false;
}

// Cyclic Jacobi on the symmetric n x n matrix s (destroyed), the reference's jacobi_eigen:
// eigenvalues ascending into w, eigenvectors as the columns of v. `order` (n int64) is scratch.
// Returns false (status set) when the input has a non-finite entry or Jacobi does not converge.
__device__ bool jacobi_eigen(int64_t n, double* s, double* w, double* v, int64_t* order,
                             Status* status, Shared& sh) {
  const int64_t nn = n * n;
  double part = 0.0;
  int64_t bad = nn;
  for (int64_t i = threadIdx.x; i < nn; i += blockDim.x) {
    v[i] = (i / n == i % n) ? 1.0 : 0.0;
    part += s[i] * s[i];
    if (!isfinite(s[i]) && bad == nn) bad = i;
  }
  bad = block_min_index(bad, sh.redi);
  if (bad < nn) {
    if (threadIdx.x == 0) *status = {kNonFinite, bad, s[bad]};
    return false;
  }
  const double tiny = 1e-20 * sqrt(block_sum(part, sh.red));
  bool rotated = true;
  for (int sweep = 0; rotated; ++sweep) {
    if (sweep >= 100) {
      if (threadIdx.x == 0) *status = {kNoConvergence, n, 0.0};
      return false;
    }
    rotated = false;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        __syncthreads();  // the previous rotation's writes are visible
        const double apq = s[p * n + q];
        if (fabs(apq) <= tiny) continue;  // the same in every thread
        rotated = true;
        const double zeta = (s[q * n + q] - s[p * n + p]) / (2.0 * apq);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(zeta * zeta + 1.0));
        const double c = 1.0 / sqrt(t * t + 1.0), sn = t * c;
        __syncthreads();  // everyone has read s_pp, s_qq, s_pq
        for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {  // columns p and q
          const double xp = s[k * n + p], xq = s[k * n + q];
          s[k * n + p] = c * xp - sn * xq;
          s[k * n + q] = sn * xp + c * xq;
        }
        __syncthreads();
        for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {  // rows p and q, and V <- V J
          const double xp = s[p * n + k], xq = s[q * n + k];
          s[p * n + k] = c * xp - sn * xq;
          s[q * n + k] = sn * xp + c * xq;
          const double vp = v[k * n + p], vq = v[k * n + q];
          v[k * n + p] = c * vp - sn * vq;
          v[k * n + q] = sn * vp + c * vq;
        }
        __syncthreads();
        if (threadIdx.x == 0) s[p * n + q] = s[q * n + p] = 0.0;
      }
    }
  }
  __syncthreads();
  // The reference's selection sort, on (eigenvalue, original column) pairs by one thread; the
  // columns then move in one parallel pass (s is free now and holds the sorted copy).
  if (threadIdx.x == 0) {
    for (int64_t i = 0; i < n; ++i) {
      w[i] = s[i * n + i];
      order[i] = i;
    }
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = i;
      for (int64_t j = i + 1; j < n; ++j)
        if (w[j] < w[best]) best = j;
      if (best == i) continue;
      const double tw = w[i];
      w[i] = w[best];
      w[best] = tw;
      const int64_t to = order[i];
      order[i] = order[best];
      order[best] = to;
    }
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < nn; i += blockDim.x) s[i] = v[(i / n) * n + order[i % n]];
  __syncthreads();
  for (int64_t i = threadIdx.x; i < nn; i += blockDim.x) v[i] = s[i];
  __syncthreads();
  return true;
}

// --- kernels ---------------------------------------------------------------------------------
// Every kernel: blockIdx.x is the matrix (first + blockIdx.x of the batch), `ws` its workspace.

template <typename T>
__global__ void __launch_bounds__(kLinThreads)
    eigh_kernel(TensorArg a, TensorArg w_out, TensorArg v_out, int64_t first, double* ws,
                int64_t ws_per, Status* status) {
  __shared__ Shared sh;
  const int64_t b = first + blockIdx.x, n = a.shape[a.ndim - 1];
  Carve cv{ws + blockIdx.x * ws_per};
  double *s = cv.take(n * n), *v = cv.take(n * n), *w = cv.take(n);
  int64_t* order = reinterpret_cast<int64_t*>(cv.take(n));
  const MatrixIn<T> m = matrix_in<T>(a, b);
  for (int64_t i = threadIdx.x; i < n * n; i += blockDim.x) {  // the lower triangle defines it
    const int64_t r = i / n, c = i % n;
    s[i] = r >= c ? m(r, c) : m(c, r);
  }
  __syncthreads();
  if (!jacobi_eigen(n, s, w, v, order, &status[blockIdx.x], sh)) return;
  T* wo = matrix_out<T>(w_out, b, n);
  T* vo = matrix_out<T>(v_out, b, n * n);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    wo[j] = static_cast<T>(w[j]);
    const double sign = column_needs_flip(v, n, n, j) ? -1.0 : 1.0;
    for (int64_t i = 0; i < n; ++i) vo[i * n + j] = static_cast<T>(sign * v[i * n + j]);
  }
}

// Column by column (left-looking): the same L entries, from the same sums in the same order, as
// the reference's row-by-row Cholesky-Banachiewicz, and the same first failing pivot.
template <typename T>
__global__ void __launch_bounds__(kLinThreads)
    cholesky_kernel(TensorArg a, TensorArg out, bool upper, int64_t first, double* ws,
                    int64_t ws_per, Status* status) {
  __shared__ Shared sh;
  const int64_t b = first + blockIdx.x, n = a.shape[a.ndim - 1];
  double* l = ws + blockIdx.x * ws_per;
  const MatrixIn<T> m = matrix_in<T>(a, b);
  auto sym = [&](int64_t i, int64_t j) { return upper ? m(j, i) : m(i, j); };  // j <= i
  for (int64_t i = threadIdx.x; i < n * n; i += blockDim.x) l[i] = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    __syncthreads();
    if (threadIdx.x == 0) {
      double s = 0.0;
      for (int64_t k = 0; k < j; ++k) s += l[j * n + k] * l[j * n + k];
      const double d = sym(j, j) - s;
      sh.flag = d > 0.0 && isfinite(d);
      if (sh.flag)
        l[j * n + j] = sqrt(d);
      else
        status[blockIdx.x] = {kNotPositiveDefinite, j, d};
    }
    __syncthreads();
    if (!sh.flag) return;
    const double ljj = l[j * n + j];
    for (int64_t i = j + 1 + threadIdx.x; i < n; i += blockDim.x) {
      double s = 0.0;
      for (int64_t k = 0; k < j; ++k) s += l[i * n + k] * l[j * n + k];
      l[i * n + j] = (sym(i, j) - s) / ljj;
    }
  }
  __syncthreads();
  T* o = matrix_out<T>(out, b, n * n);
  for (int64_t i = threadIdx.x; i < n * n; i += blockDim.x) {
    const int64_t r = i / n, c = i % n;
    o[i] = static_cast<T>(upper ? l[c * n + r] : l[i]);
  }
}

// Forward or back substitution, one right-hand side per thread (the reference's loop each),
// the solution kept in double until it is stored.
template <typename T>
__global__ void __launch_bounds__(kLinThreads)
    solve_triangular_kernel(TensorArg a, TensorArg rhs, TensorArg out, bool upper, bool unit,
                            int64_t first, double* ws, int64_t ws_per, Status* status) {
  __shared__ Shared sh;
  const int64_t b = first + blockIdx.x, n = a.shape[a.ndim - 1], k = rhs.shape[rhs.ndim - 1];
  const MatrixIn<T> m = matrix_in<T>(a, b), x_in = matrix_in<T>(rhs, b);
  if (threadIdx.x == 0) {
    sh.flag = 1;
    for (int64_t i = 0; i < n && !unit; ++i)
      if (m(i, i) == 0.0) {
        status[blockIdx.x] = {kZeroDiagonal, i, 0.0};
        sh.flag = 0;
        break;
      }
  }
  __syncthreads();
  if (!sh.flag) return;
  double* x = ws + blockIdx.x * ws_per;
  T* o = matrix_out<T>(out, b, n * k);
  for (int64_t col = threadIdx.x; col < k; col += blockDim.x) {
    for (int64_t step = 0; step < n; ++step) {
      const int64_t i = upper ? n - 1 - step : step;
      double s = x_in(i, col);
      for (int64_t j = upper ? i + 1 : 0; j < (upper ? n : i); ++j) s -= m(i, j) * x[j * k + col];
      x[i * k + col] = unit ? s : s / m(i, i);
      o[i * k + col] = static_cast<T>(x[i * k + col]);
    }
  }
}

// Pivot row of column `col` among rows col..n-1 of the row-major n-column matrix mat: the first
// largest magnitude, as the reference's strict `>` scan from row col finds it (a NaN never wins,
// except at row col itself, where the scan starts).
__device__ int64_t pivot_row(const double* mat, int64_t n, int64_t col, Shared& sh) {
  double best = -1.0;
  int64_t bi = n;
  for (int64_t i = col + threadIdx.x; i < n; i += blockDim.x) {
    const double v = fabs(mat[i * n + col]);
    if (v > best) {
      best = v;
      bi = i;
    }
  }
  const int64_t p = block_argmax(best, bi, sh.red, sh.redi);
  return isnan(mat[col * n + col]) || p >= n ? col : p;
}

// Gaussian elimination with partial pivoting on [A | B], then back substitution (one
// right-hand side per thread).
template <typename T>
__global__ void __launch_bounds__(kLinThreads)
    solve_kernel(TensorArg a, TensorArg rhs, TensorArg out, int64_t first, double* ws,
                 int64_t ws_per, Status* status) {
  __shared__ Shared sh;
  const int64_t b = first + blockIdx.x, n = a.shape[a.ndim - 1], k = rhs.shape[rhs.ndim - 1];
  Carve cv{ws + blockIdx.x * ws_per};
  double *m = cv.take(n * n), *x = cv.take(n * k), *f = cv.take(n);
  const MatrixIn<T> am = matrix_in<T>(a, b), bm = matrix_in<T>(rhs, b);
  for (int64_t i = threadIdx.x; i < n * n; i += blockDim.x) m[i] = am(i / n, i % n);
  for (int64_t i = threadIdx.x; i < n * k; i += blockDim.x) x[i] = bm(i / k, i % k);
  for (int64_t col = 0; col < n; ++col) {
    __syncthreads();
    const int64_t p = pivot_row(m, n, col, sh);
    if (m[p * n + col] == 0.0) {  // the same in every thread
      if (threadIdx.x == 0) status[blockIdx.x] = {kSingular, col, 0.0};
      return;
    }
    __syncthreads();
    if (p != col) {
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        const double t = m[col * n + j];
        m[col * n + j] = m[p * n + j];
        m[p * n + j] = t;
      }
      for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
        const double t = x[col * k + j];
        x[col * k + j] = x[p * k + j];
        x[p * k + j] = t;
      }
    }
    __syncthreads();
    for (int64_t i = col + 1 + threadIdx.x; i < n; i += blockDim.x)
      f[i] = m[i * n + col] / m[col * n + col];
    __syncthreads();
    const int64_t rows = n - col - 1, wm = n - col;
    for (int64_t e = threadIdx.x; e < rows * wm; e += blockDim.x) {
      const int64_t i = col + 1 + e / wm, j = col + e % wm;
      m[i * n + j] -= f[i] * m[col * n + j];
    }
    for (int64_t e = threadIdx.x; e < rows * k; e += blockDim.x) {
      const int64_t i = col + 1 + e / k, j = e % k;
      x[i * k + j] -= f[i] * x[col * k + j];
    }
  }
  __syncthreads();
  T* o = matrix_out<T>(out, b, n * k);
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x)
    for (int64_t i = n - 1; i >= 0; --i) {
      double s = x[i * k + j];
      for (int64_t t = i + 1; t < n; ++t) s -= m[i * n + t] * x[t * k + j];
      x[i * k + j] = s / m[i * n + i];
      o[i * k + j] = static_cast<T>(x[i * k + j]);
    }
}

// Gauss-Jordan elimination with partial pivoting: [A | I] -> [I | A^-1].
template <typename T>
__global__ void __launch_bounds__(kLinThreads)
    inverse_kernel(TensorArg a, TensorArg out, int64_t first, double* ws, int64_t ws_per,
                   Status* status) {
  __shared__ Shared sh;
  const int64_t b = first + blockIdx.x, n = a.shape[a.ndim - 1];
  Carve cv{ws + blockIdx.x * ws_per};
  double *m = cv.take(n * n), *inv = cv.take(n * n), *f = cv.take(n);
  const MatrixIn<T> am = matrix_in<T>(a, b);
  for (int64_t i = threadIdx.x; i < n * n; i += blockDim.x) {
    m[i] = am(i / n, i % n);
    inv[i] = (i / n == i % n) ? 1.0 : 0.0;
  }
  for (int64_t col = 0; col < n; ++col) {
    __syncthreads();
    const int64_t p = pivot_row(m, n, col, sh);
    if (m[p * n + col] == 0.0) {
      if (threadIdx.x == 0) status[blockIdx.x] = {kSingular, col, 0.0};
      return;
    }
    __syncthreads();
    if (p != col)
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        double t = m[col * n + j];
        m[col * n + j] = m[p * n + j];
        m[p * n + j] = t;
        t = inv[col * n + j];
        inv[col * n + j] = inv[p * n + j];
        inv[p * n + j] = t;
      }
    __syncthreads();
    const double d = m[col * n + col];
    __syncthreads();  // everyone has d before the pivot row changes
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      m[col * n + j] /= d;
      inv[col * n + j] /= d;
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) f[i] = m[i * n + col];
    __syncthreads();
    for (int64_t e = threadIdx.x; e < n * n; e += blockDim.x) {
      const int64_t i = e / n, j = e % n;
      if (i == col) continue;
      m[i * n + j] -= f[i] * m[col * n + j];
      inv[i * n + j] -= f[i] * inv[col * n + j];
    }
  }
  __syncthreads();
  T* o = matrix_out<T>(out, b, n * n);
  for (int64_t i = threadIdx.x; i < n * n; i += blockDim.x) o[i] = static_cast<T>(inv[i]);
}

// Modified Gram-Schmidt with the reference's completions (reduced: Q m x k, complete: m x m).
template <typename T>
__global__ void __launch_bounds__(kLinThreads)
    qr_kernel(TensorArg a, TensorArg q_out, TensorArg r_out, int64_t qcols, int64_t first,
              double* ws, int64_t ws_per) {
  __shared__ Shared sh;
  const int64_t b = first + blockIdx.x, m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1];
  const int64_t k = m < n ? m : n;
  Carve cv{ws + blockIdx.x * ws_per};
  double *q = cv.take(m * qcols), *r = cv.take(qcols * n), *v = cv.take(m), *x = cv.take(m),
         *best = cv.take(m);
  const MatrixIn<T> am = matrix_in<T>(a, b);
  double part = 0.0;
  for (int64_t i = threadIdx.x; i < m * qcols; i += blockDim.x) q[i] = 0.0;
  for (int64_t i = threadIdx.x; i < qcols * n; i += blockDim.x) r[i] = 0.0;
  for (int64_t i = threadIdx.x; i < m * n; i += blockDim.x)
    part = max_keep(part, fabs(am(i / n, i % n)));
  const double scale = block_max(part, sh.red);
  for (int64_t j = 0; j < n; ++j) {
    __syncthreads();
    for (int64_t t = threadIdx.x; t < m; t += blockDim.x) v[t] = am(t, j);
    for (int64_t i = 0; i < (j < k ? j : k); ++i) {
      __syncthreads();
      double dp = 0.0;
      for (int64_t t = threadIdx.x; t < m; t += blockDim.x) dp += q[t * qcols + i] * v[t];
      const double d = block_sum(dp, sh.red);
      if (threadIdx.x == 0) r[i * n + j] = d;
      for (int64_t t = threadIdx.x; t < m; t += blockDim.x) v[t] -= d * q[t * qcols + i];
    }
    if (j >= k) continue;
    __syncthreads();
    double sq = 0.0;
    for (int64_t t = threadIdx.x; t < m; t += blockDim.x) sq += v[t] * v[t];
    const double nrm = sqrt(block_sum(sq, sh.red));
    if (nrm <= 1e-14 * scale) {  // dependent column: R_jj = 0, any new direction for q_j
      complete_column(q, m, qcols, j, x, best, sh);
      continue;
    }
    if (threadIdx.x == 0) r[j * n + j] = nrm;
    for (int64_t t = threadIdx.x; t < m; t += blockDim.x) q[t * qcols + j] = v[t] / nrm;
  }
  for (int64_t j = k; j < qcols; ++j) {
    __syncthreads();
    complete_column(q, m, qcols, j, x, best, sh);
  }
  __syncthreads();
  T* qo = matrix_out<T>(q_out, b, m * qcols);
  T* ro = matrix_out<T>(r_out, b, qcols * n);
  for (int64_t i = threadIdx.x; i < m * qcols; i += blockDim.x) qo[i] = static_cast<T>(q[i]);
  for (int64_t i = threadIdx.x; i < qcols * n; i += blockDim.x) ro[i] = static_cast<T>(r[i]);
}

// SVD from the Jacobi eigendecomposition of BᵀB, B = A (tall) or Aᵀ (wide), as the reference.
template <typename T>
__global__ void __launch_bounds__(kLinThreads)
    svd_kernel(TensorArg a, TensorArg u_out, TensorArg s_out, TensorArg vh_out, bool full,
               int64_t first, double* ws, int64_t ws_per, Status* status) {
  __shared__ Shared sh;
  const int64_t b = first + blockIdx.x, m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1];
  const int64_t k = m < n ? m : n, ku = full ? m : k, kv = full ? n : k;
  const bool tall = m >= n;
  const int64_t rows = tall ? m : n, cols = tall ? n : m, xcols = full ? rows : cols;
  Carve cv{ws + blockIdx.x * ws_per};
  double *gram = cv.take(cols * cols), *y = cv.take(cols * cols), *lam = cv.take(cols),
         *sigma = cv.take(cols), *x = cv.take(rows * xcols), *u = cv.take(m * ku),
         *vh = cv.take(kv * n), *t1 = cv.take(rows), *t2 = cv.take(rows);
  int64_t* order = reinterpret_cast<int64_t*>(cv.take(cols));
  const MatrixIn<T> am = matrix_in<T>(a, b);
  auto bm = [&](int64_t i, int64_t j) { return tall ? am(i, j) : am(j, i); };
  // The reference checks the input for non-finite entries first (row-major order of A).
  int64_t bad = m * n;
  for (int64_t i = threadIdx.x; i < m * n; i += blockDim.x)
    if (!isfinite(am(i / n, i % n)) && bad == m * n) bad = i;
  bad = block_min_index(bad, sh.redi);
  if (bad < m * n) {
    if (threadIdx.x == 0) status[blockIdx.x] = {kNonFinite, bad, am(bad / n, bad % n)};
    return;
  }
  for (int64_t e = threadIdx.x; e < cols * cols; e += blockDim.x) {
    const int64_t i = e / cols, j = e % cols;
    double s = 0.0;
    for (int64_t t = 0; t < rows; ++t) s += bm(t, i) * bm(t, j);
    gram[e] = s;
  }
  __syncthreads();
  if (!jacobi_eigen(cols, gram, lam, y, order, &status[blockIdx.x], sh)) return;
  // Descending: sigma_j and column j of yd (kept in gram, free again) from lam/y's column
  // cols-1-j.
  for (int64_t e = threadIdx.x; e < cols * cols; e += blockDim.x) {
    const int64_t i = e / cols, j = e % cols;
    gram[e] = y[i * cols + cols - 1 - j];
  }
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    sigma[j] = sqrt(max(lam[cols - 1 - j], 0.0));
  for (int64_t i = threadIdx.x; i < rows * xcols; i += blockDim.x) x[i] = 0.0;
  __syncthreads();
  const double* yd = gram;
  const double smax = cols > 0 ? sigma[0] : 0.0;
  int64_t good = 0;
  while (good < cols && sigma[good] > 1e-6 * smax) ++good;
  for (int64_t e = threadIdx.x; e < rows * good; e += blockDim.x) {
    const int64_t i = e / good, g = e % good;
    double s = 0.0;
    for (int64_t t = 0; t < cols; ++t) s += bm(i, t) * yd[t * cols + g];
    x[i * xcols + g] = s / sigma[g];
  }
  for (int64_t j = good; j < xcols; ++j) {
    __syncthreads();
    complete_column(x, rows, xcols, j, t1, t2, sh);
  }
  __syncthreads();
  for (int64_t e = threadIdx.x; e < m * ku; e += blockDim.x) {
    const int64_t i = e / ku, j = e % ku;
    u[e] = tall ? x[i * xcols + j] : yd[i * cols + j];
  }
  for (int64_t e = threadIdx.x; e < kv * n; e += blockDim.x) {
    const int64_t j = e / n, i = e % n;
    vh[e] = tall ? yd[i * cols + j] : x[i * xcols + j];
  }
  __syncthreads();
  T* uo = matrix_out<T>(u_out, b, m * ku);
  T* so = matrix_out<T>(s_out, b, k);
  T* vo = matrix_out<T>(vh_out, b, kv * n);
  // Column j of U and row j of Vh flip together; rows of Vh beyond ku (none: ku >= kv or the
  // extra ones are completions) keep their sign.
  for (int64_t j = threadIdx.x; j < ku; j += blockDim.x) {
    const double sign = column_needs_flip(u, m, ku, j) ? -1.0 : 1.0;
    for (int64_t i = 0; i < m; ++i) uo[i * ku + j] = static_cast<T>(sign * u[i * ku + j]);
    if (j < kv)
      for (int64_t i = 0; i < n; ++i) vo[j * n + i] = static_cast<T>(sign * vh[j * n + i]);
  }
  for (int64_t j = ku + threadIdx.x; j < kv; j += blockDim.x)
    for (int64_t i = 0; i < n; ++i) vo[j * n + i] = static_cast<T>(vh[j * n + i]);
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) so[j] = static_cast<T>(sigma[j]);
}

// --- host side -------------------------------------------------------------------------------

int64_t batch_count(const TensorArg& a) {
  int64_t count = 1;
  for (int d = 0; d < a.ndim - 2; ++d) count *= a.shape[d];
  return count;
}

// Device scratch for one launch, returned to the caching allocator when done.
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t nbytes)
      : device_(cuda_current_device()), p_(nbytes ? cuda_alloc(device_, nbytes) : nullptr) {}
  ~DeviceScratch() {
    if (p_) cuda_free(device_, p_);
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <typename P>
  P* as() const {
    return static_cast<P*>(p_);
  }

 private:
  int device_;
  void* p_;
};

// Runs `launch(first, count, ws, ws_per, status)` over the batch in chunks, then reads the
// statuses back and fails with `report(matrix, status)` for the first failing matrix.
template <typename Launch, typename Report>
void run_batched(int64_t batch, int64_t ws_per, Launch&& launch, Report&& report) {
  if (batch == 0) return;
  const int64_t chunk =
      std::min({batch, kMaxMatricesPerLaunch,
                std::max<int64_t>(1, kMaxWorkspaceDoubles / std::max<int64_t>(1, ws_per))});
  DeviceScratch ws(static_cast<size_t>(chunk * ws_per) * sizeof(double));
  DeviceScratch st(static_cast<size_t>(chunk) * sizeof(Status));
  std::vector<Status> host(chunk);
  cudaStream_t stream = current_stream();
  for (int64_t first = 0; first < batch; first += chunk) {
    const int64_t count = std::min(chunk, batch - first);
    SG_CUDA_CHECK(cudaMemsetAsync(st.as<Status>(), 0, count * sizeof(Status), stream));
    launch(first, count, ws.as<double>(), ws_per, st.as<Status>());
    SG_CUDA_CHECK(cudaMemcpyAsync(host.data(), st.as<Status>(), count * sizeof(Status),
                                  cudaMemcpyDeviceToHost, stream));
    SG_CUDA_CHECK(cudaStreamSynchronize(stream));
    for (int64_t i = 0; i < count; ++i)
      if (host[i].code != kOk) report(first + i, host[i]);
  }
}

int grid_of(int64_t count) { return static_cast<int>(count); }

void cuda_eigh(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1];
  SG_DISPATCH_FLOAT(a.dtype, "eigh", [&] {
    run_batched(
        batch_count(a), 2 * n * n + 2 * n,
        [&](int64_t first, int64_t count, double* ws, int64_t per, Status* st) {
          eigh_kernel<scalar_t><<<grid_of(count), kLinThreads, 0, current_stream()>>>(
              a, c.out[0], c.out[1], first, ws, per, st);
          SG_CUDA_CHECK_LAUNCH("eigh_kernel");
        },
        [&](int64_t, const Status& s) {
          if (s.code == kNonFinite)
            fail("eigh: the ", n, "x", n, " matrix has a non-finite entry (", s.value, ")");
          fail("eigh: Jacobi did not converge for n=", n);
        });
  });
}

void cuda_cholesky(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1];
  SG_DISPATCH_FLOAT(a.dtype, "cholesky", [&] {
    run_batched(
        batch_count(a), n * n,
        [&](int64_t first, int64_t count, double* ws, int64_t per, Status* st) {
          cholesky_kernel<scalar_t><<<grid_of(count), kLinThreads, 0, current_stream()>>>(
              a, c.out[0], c.attrs.flag, first, ws, per, st);
          SG_CUDA_CHECK_LAUNCH("cholesky_kernel");
        },
        [&](int64_t, const Status& s) {
          fail("cholesky: ", n, "x", n, " matrix is not positive definite (pivot ", s.index, " is ",
               s.value, ")");
        });
  });
}

void cuda_solve_triangular(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1];
  SG_DISPATCH_FLOAT(a.dtype, "solve_triangular", [&] {
    run_batched(
        batch_count(a), n * c.in[1].shape[c.in[1].ndim - 1],
        [&](int64_t first, int64_t count, double* ws, int64_t per, Status* st) {
          solve_triangular_kernel<scalar_t><<<grid_of(count), kLinThreads, 0, current_stream()>>>(
              a, c.in[1], c.out[0], c.attrs.flag, c.attrs.flag2, first, ws, per, st);
          SG_CUDA_CHECK_LAUNCH("solve_triangular_kernel");
        },
        [&](int64_t, const Status& s) {
          fail("solve_triangular: zero on the diagonal at row ", s.index, " of the ", n, "x", n,
               " triangular matrix");
        });
  });
}

void cuda_solve(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1], k = c.in[1].shape[c.in[1].ndim - 1];
  SG_DISPATCH_FLOAT(a.dtype, "solve", [&] {
    run_batched(
        batch_count(a), n * n + n * k + n,
        [&](int64_t first, int64_t count, double* ws, int64_t per, Status* st) {
          solve_kernel<scalar_t><<<grid_of(count), kLinThreads, 0, current_stream()>>>(
              a, c.in[1], c.out[0], first, ws, per, st);
          SG_CUDA_CHECK_LAUNCH("solve_kernel");
        },
        [&](int64_t, const Status& s) {
          fail("solve: ", n, "x", n, " matrix is singular (column ", s.index,
               " has no nonzero pivot)");
        });
  });
}

void cuda_inverse(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t n = a.shape[a.ndim - 1];
  SG_DISPATCH_FLOAT(a.dtype, "inverse", [&] {
    run_batched(
        batch_count(a), 2 * n * n + n,
        [&](int64_t first, int64_t count, double* ws, int64_t per, Status* st) {
          inverse_kernel<scalar_t><<<grid_of(count), kLinThreads, 0, current_stream()>>>(
              a, c.out[0], first, ws, per, st);
          SG_CUDA_CHECK_LAUNCH("inverse_kernel");
        },
        [&](int64_t, const Status& s) {
          fail("inverse: ", n, "x", n, " matrix is singular (column ", s.index,
               " has no nonzero pivot)");
        });
  });
}

void cuda_qr(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1];
  const int64_t qcols = c.attrs.flag ? std::min(m, n) : m;
  SG_DISPATCH_FLOAT(a.dtype, "qr", [&] {
    run_batched(
        batch_count(a), m * qcols + qcols * n + 3 * m,
        [&](int64_t first, int64_t count, double* ws, int64_t per, Status*) {
          qr_kernel<scalar_t><<<grid_of(count), kLinThreads, 0, current_stream()>>>(
              a, c.out[0], c.out[1], qcols, first, ws, per);
          SG_CUDA_CHECK_LAUNCH("qr_kernel");
        },
        [&](int64_t, const Status&) { fail("qr: unexpected failure status"); });
  });
}

void cuda_svd(const KernelCall& c) {
  const TensorArg& a = c.in[0];
  const int64_t m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = std::min(m, n);
  const bool full = c.attrs.flag;
  const int64_t ku = full ? m : k, kv = full ? n : k;
  const int64_t rows = std::max(m, n), cols = k, xcols = full ? rows : cols;
  SG_DISPATCH_FLOAT(a.dtype, "svd", [&] {
    run_batched(
        batch_count(a), 2 * cols * cols + 3 * cols + rows * xcols + m * ku + kv * n + 2 * rows,
        [&](int64_t first, int64_t count, double* ws, int64_t per, Status* st) {
          svd_kernel<scalar_t><<<grid_of(count), kLinThreads, 0, current_stream()>>>(
              a, c.out[0], c.out[1], c.out[2], full, first, ws, per, st);
          SG_CUDA_CHECK_LAUNCH("svd_kernel");
        },
        [&](int64_t, const Status& s) {
          if (s.code == kNonFinite)
            fail("svd: the ", m, "x", n, " matrix has a non-finite entry (", s.value, ")");
          fail("svd: Jacobi did not converge for n=", cols);
        });
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_linalg() {
  using namespace kernels::gpu;
  register_kernel(OpId::eigh, Backend::cuda, cuda_eigh);
  register_kernel(OpId::cholesky, Backend::cuda, cuda_cholesky);
  register_kernel(OpId::solve_triangular, Backend::cuda, cuda_solve_triangular);
  register_kernel(OpId::solve, Backend::cuda, cuda_solve);
  register_kernel(OpId::inverse, Backend::cuda, cuda_inverse);
  register_kernel(OpId::qr, Backend::cuda, cuda_qr);
  register_kernel(OpId::svd, Backend::cuda, cuda_svd);
}

}  // namespace stackgrad
