// cpu kernels of the linalg family: adapters from the kernel table's strided, batched arguments
// to the raw-pointer factorizations of kernels/cpu/linalg.h. Each matrix of a batch is copied
// into a dense row-major buffer (the factorizations work in place), factorized, and written to
// the contiguous outputs; the batch is split across threads (one matrix per task, so the result
// does not depend on the thread count). eigh, qr and svd run in double for both dtypes and are
// sign-normalised in double before rounding, the convention the reference kernels share.
#include <algorithm>
#include <cmath>
#include <exception>
#include <vector>

#include "engine/core/error.h"
#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/linalg.h"

namespace stackgrad {
namespace {

// The matrices in the last two dims of a kernel argument; leading dims form the batch.
struct Matrices {
  const TensorArg* arg = nullptr;
  int64_t count = 1, rows = 0, cols = 0, rs = 0, cs = 0;

  explicit Matrices(const TensorArg& a) : arg(&a) {
    const int nb = a.ndim - 2;
    for (int d = 0; d < nb; ++d) count *= a.shape[d];
    rows = a.shape[nb];
    cols = a.shape[nb + 1];
    rs = a.strides[nb];
    cs = a.strides[nb + 1];
  }
  // Element offset of matrix b (C order over the batch dims; broadcast dims have stride 0).
  int64_t offset(int64_t b) const {
    int64_t off = 0;
    for (int d = arg->ndim - 3; d >= 0; --d) {
      off += (b % arg->shape[d]) * arg->strides[d];
      b /= arg->shape[d];
    }
    return off;
  }
  // Copies matrix b into a dense row-major buffer of D.
  template <typename S, typename D>
  void load(int64_t b, D* dst) const {
    const S* src = arg->ptr<S>() + offset(b);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = static_cast<D>(src[i * rs + j * cs]);
  }
};

// Runs f(b) for every matrix of the batch in parallel. The error of the lowest failing matrix is
// rethrown (naming it when there is a batch), so the message does not depend on thread timing.
template <typename F>
void for_each_matrix(int64_t count, F&& f) {
  std::vector<std::exception_ptr> errors(count);
  parallel_for(0, count, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      try {
        f(b);
      } catch (...) {
        errors[b] = std::current_exception();
      }
    }
  });
  for (int64_t b = 0; b < count; ++b) {
    if (!errors[b]) continue;
    if (count == 1) std::rethrow_exception(errors[b]);
    try {
      std::rethrow_exception(errors[b]);
    } catch (const Error& e) {
      fail(e.what(), " (matrix ", b, " of a batch of ", count, ")");
    }
  }
}

template <typename T>
void store(const std::vector<double>& src, T* dst) {
  for (size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<T>(src[i]);
}

// in: A [.., n, n]; out: w [.., n], V [.., n, n] (contiguous).
template <typename T>
void eigh_impl(const KernelCall& c) {
  const Matrices a(c.in[0]);
  const int64_t n = a.rows;
  for_each_matrix(a.count, [&](int64_t b) {
    std::vector<double> s(n * n), w(n), v(n * n);
    a.load<T>(b, s.data());
    kernels::eigh<double>(n, s.data(), n, w.data(), v.data(), n);
    for (int64_t j = 0; j < n; ++j)
      if (kernels::leading_sign(n, v.data() + j, n) < 0)
        for (int64_t i = 0; i < n; ++i) v[i * n + j] = -v[i * n + j];
    store(w, c.out[0].ptr<T>() + b * n);
    store(v, c.out[1].ptr<T>() + b * n * n);
  });
}

// in: A [.., n, n]; out: the factor [.., n, n]. attrs.flag: upper.
template <typename T>
void cholesky_impl(const KernelCall& c) {
  const Matrices a(c.in[0]);
  const int64_t n = a.rows;
  for_each_matrix(a.count, [&](int64_t b) {
    T* out = c.out[0].ptr<T>() + b * n * n;
    a.load<T>(b, out);
    kernels::cholesky<T>(n, out, n, c.attrs.flag);
  });
}

// in: A [.., n, n], B [.., n, k] (same batch shape); out: X [.., n, k].
// attrs.flag: upper, attrs.flag2: unit diagonal.
template <typename T>
void solve_triangular_impl(const KernelCall& c) {
  const Matrices a(c.in[0]), rhs(c.in[1]);
  const int64_t n = a.rows, k = rhs.cols;
  for_each_matrix(a.count, [&](int64_t b) {
    std::vector<T> am(n * n);
    a.load<T>(b, am.data());
    T* x = c.out[0].ptr<T>() + b * n * k;
    rhs.load<T>(b, x);
    kernels::solve_triangular<T>(n, k, am.data(), n, x, k, c.attrs.flag, /*transpose_a=*/false,
                                 c.attrs.flag2);
  });
}

// in: A [.., n, n], B [.., n, k] (same batch shape); out: X [.., n, k].
template <typename T>
void solve_impl(const KernelCall& c) {
  const Matrices a(c.in[0]), rhs(c.in[1]);
  const int64_t n = a.rows, k = rhs.cols;
  for_each_matrix(a.count, [&](int64_t b) {
    std::vector<T> am(n * n);
    a.load<T>(b, am.data());
    T* x = c.out[0].ptr<T>() + b * n * k;
    rhs.load<T>(b, x);
    kernels::solve<T>(n, k, am.data(), n, x, k);
  });
}

// in: A [.., n, n]; out: A⁻¹ [.., n, n].
template <typename T>
void inverse_impl(const KernelCall& c) {
  const Matrices a(c.in[0]);
  const int64_t n = a.rows;
  for_each_matrix(a.count, [&](int64_t b) {
    T* out = c.out[0].ptr<T>() + b * n * n;
    a.load<T>(b, out);
    kernels::inverse<T>(n, out, n);
  });
}

// in: A [.., m, n]; out: Q [.., m, q], R [.., q, n] with q = min(m, n) (attrs.flag: reduced) or m.
template <typename T>
void qr_impl(const KernelCall& c) {
  const Matrices a(c.in[0]);
  const int64_t m = a.rows, n = a.cols;
  const int64_t qcols = c.attrs.flag ? std::min(m, n) : m;
  for_each_matrix(a.count, [&](int64_t b) {
    std::vector<double> am(m * n), q(m * qcols), r(qcols * n);
    a.load<T>(b, am.data());
    kernels::qr<double>(m, n, am.data(), n, q.data(), r.data(), c.attrs.flag);
    store(q, c.out[0].ptr<T>() + b * m * qcols);
    store(r, c.out[1].ptr<T>() + b * qcols * n);
  });
}

// in: A [.., m, n]; out: U [.., m, ku], S [.., k], Vh [.., kv, n] with k = min(m, n) and
// ku = m, kv = n when attrs.flag (full matrices), else ku = kv = k.
template <typename T>
void svd_impl(const KernelCall& c) {
  const Matrices a(c.in[0]);
  const int64_t m = a.rows, n = a.cols, k = std::min(m, n);
  const bool full = c.attrs.flag;
  const int64_t ku = full ? m : k, kv = full ? n : k;
  for_each_matrix(a.count, [&](int64_t b) {
    std::vector<double> am(m * n), u(m * ku), s(k), vh(kv * n);
    a.load<T>(b, am.data());
    kernels::svd<double>(m, n, am.data(), n, u.data(), s.data(), vh.data(), full);
    for (int64_t j = 0; j < ku; ++j) {
      if (kernels::leading_sign(m, u.data() + j, ku) > 0) continue;
      for (int64_t i = 0; i < m; ++i) u[i * ku + j] = -u[i * ku + j];
      if (j < kv)
        for (int64_t i = 0; i < n; ++i) vh[j * n + i] = -vh[j * n + i];
    }
    store(u, c.out[0].ptr<T>() + b * m * ku);
    store(s, c.out[1].ptr<T>() + b * k);
    store(vh, c.out[2].ptr<T>() + b * kv * n);
  });
}

#define SG_LINALG_CPU_KERNEL(name)                                              \
  void cpu_##name(const KernelCall& c) {                                        \
    SG_DISPATCH_FLOAT(c.in[0].dtype, #name, [&] { name##_impl<scalar_t>(c); }); \
  }
SG_LINALG_CPU_KERNEL(eigh)
SG_LINALG_CPU_KERNEL(cholesky)
SG_LINALG_CPU_KERNEL(solve_triangular)
SG_LINALG_CPU_KERNEL(solve)
SG_LINALG_CPU_KERNEL(inverse)
SG_LINALG_CPU_KERNEL(qr)
SG_LINALG_CPU_KERNEL(svd)
#undef SG_LINALG_CPU_KERNEL

}  // namespace

void register_cpu_linalg() {
  register_kernel(OpId::eigh, Backend::cpu, cpu_eigh);
  register_kernel(OpId::cholesky, Backend::cpu, cpu_cholesky);
  register_kernel(OpId::solve_triangular, Backend::cpu, cpu_solve_triangular);
  register_kernel(OpId::solve, Backend::cpu, cpu_solve);
  register_kernel(OpId::inverse, Backend::cpu, cpu_inverse);
  register_kernel(OpId::qr, Backend::cpu, cpu_qr);
  register_kernel(OpId::svd, Backend::cpu, cpu_svd);
}

}  // namespace stackgrad
