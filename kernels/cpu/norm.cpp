// CPU kernels of the norm family.
//
// Normalisations. A "set" is what one mean and rstd describe: a channel over the batch
// (batch_norm), a row (layer_norm), a (sample, group) pair (group_norm). Sets are split over
// parallel_for and each is reduced by one thread in a fixed order, so results do not depend on
// the thread count. Every sum runs in double: 8 elements at a time are widened to two double
// vectors (D8), which also keeps f32 results within rounding of the reference. Statistics take
// two passes (sum, then squared deviations from the mean), as the reference does; a set is
// read three times in the forward (twice for the statistics, once to normalise), which stays in
// cache for sets up to the L2 size. Inner loops are vectorised where the innermost stride is 1
// and scalar (still in double) otherwise.
//   batch_norm on [N, C] (S = 1, channels contiguous) gives each thread a range of channels and
// walks it row by row, instead of one channel at a stride of C.
//   The weight and bias gradients of batch_norm and group_norm are per-set sums of the same
// products the input gradient needs; layer_norm's are column sums over rows, taken in a second
// pass split over column ranges (each column summed in row order: no atomics, no partials).
//
// Embedding: the forward copies rows. The backward sorts positions by index (a stable counting
// sort, serial, O(M + V)) and then sums each weight row's gradients in position order, split
// over rows of the weight: deterministic, no atomics.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/vec_math.h"

namespace stackgrad::kernels {
namespace {

using vec::D4;
using vec::F8;

// Eight values widened to double.
struct D8 {
  D4 lo, hi;
};
inline D8 operator+(D8 a, D8 b) { return {a.lo + b.lo, a.hi + b.hi}; }
inline D8 operator-(D8 a, D8 b) { return {a.lo - b.lo, a.hi - b.hi}; }
inline D8 operator*(D8 a, D8 b) { return {a.lo * b.lo, a.hi * b.hi}; }
inline D8 splat(double v) { return {D4{} + v, D4{} + v}; }
inline double hsum(D8 v) {
  const D4 s = v.lo + v.hi;
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <typename T>
inline D8 load8(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    F8 v;
    std::memcpy(&v, p, sizeof(v));
    using F4 [[gnu::vector_size(16)]] = float;
    F4 lo, hi;
    std::memcpy(&lo, &v, sizeof(lo));
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(lo), sizeof(hi));
    return {__builtin_convertvector(lo, D4), __builtin_convertvector(hi, D4)};
  } else {
    D8 v;
    std::memcpy(&v.lo, p, sizeof(D4));
    std::memcpy(&v.hi, p + 4, sizeof(D4));
    return v;
  }
}

template <typename T>
inline void store8(T* p, D8 v) {
  if constexpr (std::is_same_v<T, float>) {
    using F4 [[gnu::vector_size(16)]] = float;
    const F4 lo = __builtin_convertvector(v.lo, F4), hi = __builtin_convertvector(v.hi, F4);
    std::memcpy(p, &lo, sizeof(lo));
    std::memcpy(p + 4, &hi, sizeof(hi));
  } else {
    std::memcpy(p, &v.lo, sizeof(D4));
    std::memcpy(p + 4, &v.hi, sizeof(D4));
  }
}

// --- row primitives: a row of n elements at stride s (vector body when s == 1) ------------

template <typename T>
double row_sum(const T* x, int64_t n, int64_t s) {
  double acc = 0;
  int64_t i = 0;
  if (s == 1) {
    D8 a = {}, b = {};
    for (; i + 16 <= n; i += 16) {
      a = a + load8(x + i);
      b = b + load8(x + i + 8);
    }
    for (; i + 8 <= n; i += 8) a = a + load8(x + i);
    acc = hsum(a + b);
  }
  for (; i < n; ++i) acc += static_cast<double>(x[i * s]);
  return acc;
}

// Sum of (x - mean)^2.
template <typename T>
double row_sq_dev(const T* x, int64_t n, int64_t s, double mean) {
  double acc = 0;
  int64_t i = 0;
  if (s == 1) {
    const D8 m = splat(mean);
    D8 a = {};
    for (; i + 8 <= n; i += 8) {
      const D8 d = load8(x + i) - m;
      a = a + d * d;
    }
    acc = hsum(a);
  }
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i * s]) - mean;
    acc += d * d;
  }
  return acc;
}

// y = (x - mean) * a + b into a contiguous row y.
template <typename T>
void row_affine(const T* x, int64_t s, T* y, int64_t n, double mean, double a, double b) {
  int64_t i = 0;
  if (s == 1) {
    const D8 m = splat(mean), va = splat(a), vb = splat(b);
    for (; i + 8 <= n; i += 8) store8(y + i, (load8(x + i) - m) * va + vb);
  }
  for (; i < n; ++i) y[i] = static_cast<T>((static_cast<double>(x[i * s]) - mean) * a + b);
}

// Sums of g and of g (x - mean).
template <typename T>
void row_grad_sums(const T* g, int64_t sg, const T* x, int64_t sx, int64_t n, double mean,
                   double& sum_g, double& sum_gx) {
  int64_t i = 0;
  double a = 0, b = 0;
  if (sg == 1 && sx == 1) {
    const D8 m = splat(mean);
    D8 va = {}, vb = {};
    for (; i + 8 <= n; i += 8) {
      const D8 gv = load8(g + i);
      va = va + gv;
      vb = vb + gv * (load8(x + i) - m);
    }
    a = hsum(va);
    b = hsum(vb);
  }
  for (; i < n; ++i) {
    const double gv = static_cast<double>(g[i * sg]);
    a += gv;
    b += gv * (static_cast<double>(x[i * sx]) - mean);
  }
  sum_g += a;
  sum_gx += b;
}

// dx = k1 g + k2 (x - mean) + k3 into a contiguous row dx.
template <typename T>
void row_grad(const T* g, int64_t sg, const T* x, int64_t sx, T* dx, int64_t n, double mean,
              double k1, double k2, double k3) {
  int64_t i = 0;
  if (sg == 1 && sx == 1) {
    const D8 m = splat(mean), v1 = splat(k1), v2 = splat(k2), v3 = splat(k3);
    for (; i + 8 <= n; i += 8) store8(dx + i, load8(g + i) * v1 + (load8(x + i) - m) * v2 + v3);
  }
  for (; i < n; ++i)
    dx[i] = static_cast<T>(static_cast<double>(g[i * sg]) * k1 +
                           (static_cast<double>(x[i * sx]) - mean) * k2 + k3);
}

// Parameter c of an optional per-channel operand ([0] when absent), at its stride.
template <typename T>
double param(const TensorArg& p, int64_t c, double absent) {
  return p.numel == 0 ? absent : static_cast<double>(p.ptr<T>()[c * p.strides[0]]);
}

int64_t set_grain(int64_t set_size) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, set_size));
}

// --- batch_norm ----------------------------------------------------------------------------

struct Stats {
  double mean, var;
};

// The mean and biased variance of rows r = 0..rows-1 (each n elements at stride s, row r at
// base(r)), in two passes.
template <typename T, typename Base>
Stats set_stats(int64_t rows, Base base, int64_t n, int64_t s) {
  const double count = static_cast<double>(rows * n);
  if (count == 0) return {0.0, 0.0};
  double sum = 0, sq = 0;
  for (int64_t r = 0; r < rows; ++r) sum += row_sum(base(r), n, s);
  const double mean = sum / count;
  for (int64_t r = 0; r < rows; ++r) sq += row_sq_dev(base(r), n, s, mean);
  return {mean, sq / count};
}

// Training and eval of one channel block: the statistics of channel c (batch or running), the
// running update, then y.
template <typename T>
void batch_norm_channels(const KernelCall& c, int64_t lo, int64_t hi) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2], &rm = c.in[3], &rv = c.in[4];
  const TensorArg &y = c.out[0], &mean_out = c.out[1], &rstd_out = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], n = N * S;
  const bool training = c.attrs.flag, running = rm.numel != 0;
  const double momentum = c.attrs.alpha, eps = c.attrs.beta;
  const T* xp = x.ptr<T>();
  T* yp = y.ptr<T>();
  for (int64_t ch = lo; ch < hi; ++ch) {
    Stats st;
    if (training) {
      st = set_stats<T>(
          N, [&](int64_t i) { return xp + i * x.strides[0] + ch * x.strides[1]; }, S, x.strides[2]);
      if (running && n > 0) {
        const double unbiased = n > 1 ? st.var * n / (n - 1) : st.var;
        T& m = rm.ptr<T>()[ch * rm.strides[0]];
        T& v = rv.ptr<T>()[ch * rv.strides[0]];
        m = static_cast<T>((1 - momentum) * static_cast<double>(m) + momentum * st.mean);
        v = static_cast<T>((1 - momentum) * static_cast<double>(v) + momentum * unbiased);
      }
    } else {
      st = {param<T>(rm, ch, 0), param<T>(rv, ch, 1)};
    }
    const double rstd = 1.0 / std::sqrt(st.var + eps);
    const double a = rstd * param<T>(w, ch, 1), bc = param<T>(b, ch, 0);
    for (int64_t i = 0; i < N; ++i)
      row_affine(xp + i * x.strides[0] + ch * x.strides[1], x.strides[2], yp + (i * C + ch) * S, S,
                 st.mean, a, bc);
    mean_out.ptr<T>()[ch] = static_cast<T>(st.mean);
    rstd_out.ptr<T>()[ch] = static_cast<T>(rstd);
  }
}

// [N, C] inputs (S = 1) with contiguous channels: the channel range [c0, c1) is walked row by
// row, each row's slice read contiguously into per-channel double accumulators. (One channel at
// a stride of C would read a cache line per element, and a power-of-two C maps all those lines
// to a few cache sets.)
template <typename T>
void batch_norm_columns(const KernelCall& c, int64_t c0, int64_t c1) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2], &rm = c.in[3], &rv = c.in[4];
  const TensorArg &y = c.out[0], &mean_out = c.out[1], &rstd_out = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], W = c1 - c0, sx = x.strides[0];
  const bool training = c.attrs.flag, running = rm.numel != 0;
  const double momentum = c.attrs.alpha, eps = c.attrs.beta;
  const T* xp = x.ptr<T>() + c0;
  std::vector<double> mean(W, 0.0), var(W, 0.0), a(W), bias(W);
  if (training) {
    for (int64_t i = 0; i < N; ++i) {
      const T* xr = xp + i * sx;
      for (int64_t j = 0; j < W; ++j) mean[j] += static_cast<double>(xr[j]);
    }
    for (int64_t j = 0; j < W; ++j) mean[j] /= static_cast<double>(N);
    for (int64_t i = 0; i < N; ++i) {
      const T* xr = xp + i * sx;
      for (int64_t j = 0; j < W; ++j) {
        const double d = static_cast<double>(xr[j]) - mean[j];
        var[j] += d * d;
      }
    }
    for (int64_t j = 0; j < W; ++j) var[j] /= static_cast<double>(N);
  }
  for (int64_t j = 0; j < W; ++j) {
    const int64_t ch = c0 + j;
    if (training && running) {
      T& m = rm.ptr<T>()[ch * rm.strides[0]];
      T& v = rv.ptr<T>()[ch * rv.strides[0]];
      const double unbiased = var[j] * N / (N - 1);
      m = static_cast<T>((1 - momentum) * static_cast<double>(m) + momentum * mean[j]);
      v = static_cast<T>((1 - momentum) * static_cast<double>(v) + momentum * unbiased);
    } else if (!training) {
      mean[j] = param<T>(rm, ch, 0);
      var[j] = param<T>(rv, ch, 1);
    }
    const double rstd = 1.0 / std::sqrt(var[j] + eps);
    a[j] = rstd * param<T>(w, ch, 1);
    bias[j] = param<T>(b, ch, 0);
    mean_out.ptr<T>()[ch] = static_cast<T>(mean[j]);
    rstd_out.ptr<T>()[ch] = static_cast<T>(rstd);
  }
  for (int64_t i = 0; i < N; ++i) {
    const T* xr = xp + i * sx;
    T* yr = y.ptr<T>() + i * C + c0;
    for (int64_t j = 0; j < W; ++j)
      yr[j] = static_cast<T>((static_cast<double>(xr[j]) - mean[j]) * a[j] + bias[j]);
  }
}

// The backward of the [N, C] case, walked the same way.
template <typename T>
void batch_norm_backward_columns(const KernelCall& c, int64_t c0, int64_t c1) {
  const TensorArg &x = c.in[0], &g = c.in[1], &mean_in = c.in[2], &rstd_in = c.in[3], &w = c.in[4];
  const TensorArg &dx = c.out[0], &dw = c.out[1], &db = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], W = c1 - c0;
  const bool training = c.attrs.flag;
  const T* xp = x.ptr<T>() + c0;
  const T* gp = g.ptr<T>() + c0;
  std::vector<double> mean(W), sum_g(W, 0.0), sum_gx(W, 0.0), k1(W), k2(W), k3(W);
  for (int64_t j = 0; j < W; ++j) mean[j] = param<T>(mean_in, c0 + j, 0);
  for (int64_t i = 0; i < N; ++i) {
    const T *xr = xp + i * x.strides[0], *gr = gp + i * g.strides[0];
    for (int64_t j = 0; j < W; ++j) {
      const double gv = static_cast<double>(gr[j]);
      sum_g[j] += gv;
      sum_gx[j] += gv * (static_cast<double>(xr[j]) - mean[j]);
    }
  }
  for (int64_t j = 0; j < W; ++j) {
    const double rstd = param<T>(rstd_in, c0 + j, 0), n = static_cast<double>(N);
    k1[j] = param<T>(w, c0 + j, 1) * rstd;
    k2[j] = training ? -k1[j] * rstd * rstd * sum_gx[j] / n : 0.0;
    k3[j] = training ? -k1[j] * sum_g[j] / n : 0.0;
    dw.ptr<T>()[c0 + j] = static_cast<T>(sum_gx[j] * rstd);
    db.ptr<T>()[c0 + j] = static_cast<T>(sum_g[j]);
  }
  for (int64_t i = 0; i < N; ++i) {
    const T *xr = xp + i * x.strides[0], *gr = gp + i * g.strides[0];
    T* dxr = dx.ptr<T>() + i * C + c0;
    for (int64_t j = 0; j < W; ++j)
      dxr[j] = static_cast<T>(static_cast<double>(gr[j]) * k1[j] +
                              (static_cast<double>(xr[j]) - mean[j]) * k2[j] + k3[j]);
  }
}

// Channel ranges for the [N, C] paths: at least 8 channels and a grain's worth of elements.
int64_t column_grain(int64_t N) {
  return std::max<int64_t>(8, kElementwiseGrain / std::max<int64_t>(N, 1));
}

void cpu_batch_norm(const KernelCall& c) {
  const TensorArg& x = c.in[0];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  // The [N, C] path needs N >= 2 in training (the op guarantees it).
  const bool columns = S == 1 && x.strides[1] == 1 && N > 1;
  SG_DISPATCH_FLOAT(x.dtype, "batch_norm", [&] {
    using T = scalar_t;
    if (columns) {
      parallel_for(0, C, column_grain(N),
                   [&](int64_t lo, int64_t hi) { batch_norm_columns<T>(c, lo, hi); });
      return;
    }
    parallel_for(0, C, set_grain(N * S),
                 [&](int64_t lo, int64_t hi) { batch_norm_channels<T>(c, lo, hi); });
  });
}

void cpu_batch_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &mean_in = c.in[2], &rstd_in = c.in[3], &w = c.in[4];
  const TensorArg &dx = c.out[0], &dw = c.out[1], &db = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const double n = static_cast<double>(N * S);
  const bool training = c.attrs.flag;
  SG_DISPATCH_FLOAT(x.dtype, "batch_norm_backward", [&] {
    using T = scalar_t;
    if (S == 1 && x.strides[1] == 1 && g.strides[1] == 1) {
      parallel_for(0, C, column_grain(N),
                   [&](int64_t lo, int64_t hi) { batch_norm_backward_columns<T>(c, lo, hi); });
      return;
    }
    const T *xp = x.ptr<T>(), *gp = g.ptr<T>();
    T* dxp = dx.ptr<T>();
    parallel_for(0, C, set_grain(N * S), [&](int64_t lo, int64_t hi) {
      for (int64_t ch = lo; ch < hi; ++ch) {
        const double mean = param<T>(mean_in, ch, 0), rstd = param<T>(rstd_in, ch, 0);
        const double wc = param<T>(w, ch, 1);
        auto xrow = [&](int64_t i) { return xp + i * x.strides[0] + ch * x.strides[1]; };
        auto grow = [&](int64_t i) { return gp + i * g.strides[0] + ch * g.strides[1]; };
        double sum_g = 0, sum_gx = 0;
        for (int64_t i = 0; i < N; ++i)
          row_grad_sums(grow(i), g.strides[2], xrow(i), x.strides[2], S, mean, sum_g, sum_gx);
        // dx = w rstd (g - sum_g / n - xhat sum(g xhat) / n), xhat = (x - mean) rstd.
        const double k1 = wc * rstd;
        const double k2 = training ? -k1 * rstd * rstd * sum_gx / n : 0.0;
        const double k3 = training ? -k1 * sum_g / n : 0.0;
        for (int64_t i = 0; i < N; ++i)
          row_grad(grow(i), g.strides[2], xrow(i), x.strides[2], dxp + (i * C + ch) * S, S, mean,
                   k1, k2, k3);
        dw.ptr<T>()[ch] = static_cast<T>(sum_gx * rstd);
        db.ptr<T>()[ch] = static_cast<T>(sum_g);
      }
    });
  });
}

// --- layer_norm ----------------------------------------------------------------------------

void cpu_layer_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2];
  const TensorArg &y = c.out[0], &mean_out = c.out[1], &rstd_out = c.out[2];
  const int64_t R = x.shape[0], D = x.shape[1];
  const double eps = c.attrs.beta;
  SG_DISPATCH_FLOAT(x.dtype, "layer_norm", [&] {
    using T = scalar_t;
    const T *wp = w.numel ? w.ptr<T>() : nullptr, *bp = b.numel ? b.ptr<T>() : nullptr;
    parallel_for(0, R, set_grain(D), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const T* xr = x.ptr<T>() + r * x.strides[0];
        const int64_t s = x.strides[1];
        const Stats st = set_stats<T>(
            1, [&](int64_t) { return xr; }, D, s);
        const double rstd = 1.0 / std::sqrt(st.var + eps);
        T* yr = y.ptr<T>() + r * D;
        if (!wp && !bp) {
          row_affine(xr, s, yr, D, st.mean, rstd, 0.0);
        } else {
          // y = xhat * w + b, w and b contiguous [D] (the op passes them so).
          int64_t d = 0;
          if (s == 1 && wp && bp) {
            const D8 m = splat(st.mean), vr = splat(rstd);
            for (; d + 8 <= D; d += 8)
              store8(yr + d, (load8(xr + d) - m) * vr * load8(wp + d) + load8(bp + d));
          }
          for (; d < D; ++d)
            yr[d] = static_cast<T>((static_cast<double>(xr[d * s]) - st.mean) * rstd *
                                       (wp ? static_cast<double>(wp[d]) : 1.0) +
                                   (bp ? static_cast<double>(bp[d]) : 0.0));
        }
        mean_out.ptr<T>()[r] = static_cast<T>(st.mean);
        rstd_out.ptr<T>()[r] = static_cast<T>(rstd);
      }
    });
  });
}

void cpu_layer_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &mean_in = c.in[2], &rstd_in = c.in[3], &w = c.in[4];
  const TensorArg &dx = c.out[0], &dw = c.out[1], &db = c.out[2];
  const int64_t R = x.shape[0], D = x.shape[1];
  SG_DISPATCH_FLOAT(x.dtype, "layer_norm_backward", [&] {
    using T = scalar_t;
    const T* wp = w.numel ? w.ptr<T>() : nullptr;
    const int64_t sx = x.strides[1], sg = g.strides[1];
    auto wt = [&](int64_t d) { return wp ? static_cast<double>(wp[d]) : 1.0; };
    // dx per row: dxhat = g w, dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)).
    parallel_for(0, R, set_grain(D), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const T* xr = x.ptr<T>() + r * x.strides[0];
        const T* gr = g.ptr<T>() + r * g.strides[0];
        T* dxr = dx.ptr<T>() + r * D;
        const double mean = mean_in.ptr<T>()[r * mean_in.strides[0]];
        const double rstd = rstd_in.ptr<T>()[r * rstd_in.strides[0]];
        if (!wp) {
          double sum_g = 0, sum_gx = 0;
          row_grad_sums(gr, sg, xr, sx, D, mean, sum_g, sum_gx);
          row_grad(gr, sg, xr, sx, dxr, D, mean, rstd, -rstd * rstd * rstd * sum_gx / D,
                   -rstd * sum_g / D);
          continue;
        }
        double sum_h = 0, sum_hx = 0;  // sums of dxhat and of dxhat (x - mean)
        int64_t d = 0;
        const bool unit = sx == 1 && sg == 1;
        if (unit) {
          const D8 m = splat(mean);
          D8 a = {}, b = {};
          for (; d + 8 <= D; d += 8) {
            const D8 h = load8(gr + d) * load8(wp + d);
            a = a + h;
            b = b + h * (load8(xr + d) - m);
          }
          sum_h = hsum(a);
          sum_hx = hsum(b);
        }
        for (; d < D; ++d) {
          const double h = static_cast<double>(gr[d * sg]) * wt(d);
          sum_h += h;
          sum_hx += h * (static_cast<double>(xr[d * sx]) - mean);
        }
        const double k2 = -rstd * rstd * rstd * sum_hx / D, k3 = -rstd * sum_h / D;
        d = 0;
        if (unit) {
          const D8 m = splat(mean), vr = splat(rstd), v2 = splat(k2), v3 = splat(k3);
          for (; d + 8 <= D; d += 8)
            store8(dxr + d, load8(gr + d) * load8(wp + d) * vr + (load8(xr + d) - m) * v2 + v3);
        }
        for (; d < D; ++d)
          dxr[d] = static_cast<T>(static_cast<double>(gr[d * sg]) * wt(d) * rstd +
                                  (static_cast<double>(xr[d * sx]) - mean) * k2 + k3);
      }
    });
    // dweight and dbias: column sums over rows in row order, each thread a range of columns
    // whose accumulators stay in cache while the rows stream through.
    parallel_for(0, D, column_grain(R), [&](int64_t d0, int64_t d1) {
      const int64_t W = d1 - d0;
      std::vector<double> aw(W, 0.0), ab(W, 0.0);
      for (int64_t r = 0; r < R; ++r) {
        const T* xr = x.ptr<T>() + r * x.strides[0] + d0 * sx;
        const T* gr = g.ptr<T>() + r * g.strides[0] + d0 * sg;
        const double mean = mean_in.ptr<T>()[r * mean_in.strides[0]];
        const double rstd = rstd_in.ptr<T>()[r * rstd_in.strides[0]];
        if (sx == 1 && sg == 1) {
          for (int64_t j = 0; j < W; ++j) {
            const double gv = static_cast<double>(gr[j]);
            aw[j] += gv * ((static_cast<double>(xr[j]) - mean) * rstd);
            ab[j] += gv;
          }
        } else {
          for (int64_t j = 0; j < W; ++j) {
            const double gv = static_cast<double>(gr[j * sg]);
            aw[j] += gv * ((static_cast<double>(xr[j * sx]) - mean) * rstd);
            ab[j] += gv;
          }
        }
      }
      for (int64_t j = 0; j < W; ++j) {
        dw.ptr<T>()[d0 + j] = static_cast<T>(aw[j]);
        db.ptr<T>()[d0 + j] = static_cast<T>(ab[j]);
      }
    });
  });
}

// --- group_norm ----------------------------------------------------------------------------

// group_norm's fused activation (attrs.mode 1): silu on the affine output y (in place), and the
// gradient of the affine output, g silu'(y), with y recomputed from x and the statistics.
template <typename T>
void silu_row(T* y, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const double v = static_cast<double>(y[k]);
    y[k] = static_cast<T>(v / (1.0 + std::exp(-v)));
  }
}

template <typename T>
void silu_grad_row(const T* g, int64_t sg, const T* x, int64_t sx, T* out, int64_t n, double mean,
                   double a, double b) {
  for (int64_t k = 0; k < n; ++k) {
    const double v = (static_cast<double>(x[k * sx]) - mean) * a + b;
    const double sig = 1.0 / (1.0 + std::exp(-v));
    out[k] = static_cast<T>(static_cast<double>(g[k * sg]) * sig * (1.0 + v * (1.0 - sig)));
  }
}

void cpu_group_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2];
  const TensorArg &y = c.out[0], &mean_out = c.out[1], &rstd_out = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], G = c.attrs.k, Cg = C / G;
  const double eps = c.attrs.beta;
  SG_DISPATCH_FLOAT(x.dtype, "group_norm", [&] {
    using T = scalar_t;
    parallel_for(0, N * G, set_grain(Cg * S), [&](int64_t lo, int64_t hi) {
      for (int64_t set = lo; set < hi; ++set) {
        const int64_t i = set / G, c0 = (set % G) * Cg;
        auto row = [&](int64_t r) {
          return x.ptr<T>() + i * x.strides[0] + (c0 + r) * x.strides[1];
        };
        const Stats st = set_stats<T>(Cg, row, S, x.strides[2]);
        const double rstd = 1.0 / std::sqrt(st.var + eps);
        for (int64_t r = 0; r < Cg; ++r) {
          T* yr = y.ptr<T>() + (i * C + c0 + r) * S;
          row_affine(row(r), x.strides[2], yr, S, st.mean, rstd * param<T>(w, c0 + r, 1),
                     param<T>(b, c0 + r, 0));
          if (c.attrs.mode == 1) silu_row(yr, S);
        }
        mean_out.ptr<T>()[set] = static_cast<T>(st.mean);
        rstd_out.ptr<T>()[set] = static_cast<T>(rstd);
      }
    });
  });
}

void cpu_group_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &mean_in = c.in[2], &rstd_in = c.in[3], &w = c.in[4];
  const TensorArg &dx = c.out[0], &dw = c.out[1], &db = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], G = c.attrs.k, Cg = C / G;
  const double n = static_cast<double>(Cg * S);
  const bool fused_silu = c.attrs.mode == 1;  // then in[5] is the bias
  SG_DISPATCH_FLOAT(x.dtype, "group_norm_backward", [&] {
    using T = scalar_t;
    // Per (sample, channel): sum of g and sum of g xhat, for dx and then dweight, dbias.
    std::vector<double> part_g(N * C), part_gx(N * C);
    parallel_for(0, N * G, set_grain(Cg * S), [&](int64_t lo, int64_t hi) {
      // With the fused activation, the set's gradient of the affine output, g silu'(y).
      std::vector<T> g_affine(fused_silu ? Cg * S : 0);
      for (int64_t set = lo; set < hi; ++set) {
        const int64_t i = set / G, c0 = (set % G) * Cg;
        const double mean = mean_in.ptr<T>()[set * mean_in.strides[0]];
        const double rstd = rstd_in.ptr<T>()[set * rstd_in.strides[0]];
        auto xrow = [&](int64_t r) {
          return x.ptr<T>() + i * x.strides[0] + (c0 + r) * x.strides[1];
        };
        const int64_t gs = fused_silu ? 1 : g.strides[2];
        auto grow = [&](int64_t r) -> const T* {
          if (fused_silu) return g_affine.data() + r * S;
          return g.ptr<T>() + i * g.strides[0] + (c0 + r) * g.strides[1];
        };
        if (fused_silu)
          for (int64_t r = 0; r < Cg; ++r)
            silu_grad_row(g.ptr<T>() + i * g.strides[0] + (c0 + r) * g.strides[1], g.strides[2],
                          xrow(r), x.strides[2], g_affine.data() + r * S, S, mean,
                          rstd * param<T>(w, c0 + r, 1), param<T>(c.in[5], c0 + r, 0));
        double sum_h = 0, sum_hx = 0;  // sums of dxhat = g w and of dxhat (x - mean)
        for (int64_t r = 0; r < Cg; ++r) {
          double sg = 0, sgx = 0;
          row_grad_sums(grow(r), gs, xrow(r), x.strides[2], S, mean, sg, sgx);
          part_g[i * C + c0 + r] = sg;
          part_gx[i * C + c0 + r] = sgx * rstd;
          const double wc = param<T>(w, c0 + r, 1);
          sum_h += sg * wc;
          sum_hx += sgx * wc;
        }
        const double k2 = -rstd * rstd * rstd * sum_hx / n, k3 = -rstd * sum_h / n;
        for (int64_t r = 0; r < Cg; ++r)
          row_grad(grow(r), gs, xrow(r), x.strides[2], dx.ptr<T>() + (i * C + c0 + r) * S, S, mean,
                   rstd * param<T>(w, c0 + r, 1), k2, k3);
      }
    });
    for (int64_t ch = 0; ch < C; ++ch) {
      double a = 0, b = 0;
      for (int64_t i = 0; i < N; ++i) {
        a += part_gx[i * C + ch];
        b += part_g[i * C + ch];
      }
      dw.ptr<T>()[ch] = static_cast<T>(a);
      db.ptr<T>()[ch] = static_cast<T>(b);
    }
  });
}

// --- embedding -----------------------------------------------------------------------------

void cpu_embedding(const KernelCall& c) {
  const TensorArg &w = c.in[0], &idx = c.in[1], &y = c.out[0];
  const int64_t M = idx.numel, D = w.shape[1];
  const int64_t* ip = idx.ptr<int64_t>();
  SG_DISPATCH_FLOAT(w.dtype, "embedding", [&] {
    using T = scalar_t;
    parallel_for(0, M, set_grain(D), [&](int64_t lo, int64_t hi) {
      for (int64_t m = lo; m < hi; ++m) {
        const T* src = w.ptr<T>() + ip[m * idx.strides[0]] * w.strides[0];
        T* dst = y.ptr<T>() + m * D;
        if (w.strides[1] == 1) {
          std::memcpy(dst, src, D * sizeof(T));
        } else {
          for (int64_t d = 0; d < D; ++d) dst[d] = src[d * w.strides[1]];
        }
      }
    });
  });
}

void cpu_embedding_backward(const KernelCall& c) {
  const TensorArg &g = c.in[0], &idx = c.in[1], &dw = c.out[0];
  const int64_t M = idx.numel, V = dw.shape[0], D = dw.shape[1], padding = c.attrs.k;
  const int64_t* ip = idx.ptr<int64_t>();
  // Positions grouped by index, ascending within each group (stable counting sort).
  std::vector<int64_t> start(V + 1, 0), order(M);
  for (int64_t m = 0; m < M; ++m) ++start[ip[m * idx.strides[0]] + 1];
  for (int64_t v = 0; v < V; ++v) start[v + 1] += start[v];
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t m = 0; m < M; ++m) order[next[ip[m * idx.strides[0]]]++] = m;
  }
  SG_DISPATCH_FLOAT(g.dtype, "embedding_backward", [&] {
    using T = scalar_t;
    const int64_t gs0 = g.strides[0], gs1 = g.strides[1];
    const int64_t per_row = std::max<int64_t>(1, M / std::max<int64_t>(1, V)) * D;
    parallel_for(0, V, set_grain(per_row), [&](int64_t lo, int64_t hi) {
      for (int64_t v = lo; v < hi; ++v) {
        T* out = dw.ptr<T>() + v * D;
        std::fill(out, out + D, T(0));
        if (v == padding) continue;
        for (int64_t k = start[v]; k < start[v + 1]; ++k) {
          const T* src = g.ptr<T>() + order[k] * gs0;
          if (gs1 == 1) {
            for (int64_t d = 0; d < D; ++d) out[d] += src[d];
          } else {
            for (int64_t d = 0; d < D; ++d) out[d] += src[d * gs1];
          }
        }
      }
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_norm() {
  using namespace kernels;
  register_kernel(OpId::batch_norm, Backend::cpu, cpu_batch_norm);
  register_kernel(OpId::batch_norm_backward, Backend::cpu, cpu_batch_norm_backward);
  register_kernel(OpId::layer_norm, Backend::cpu, cpu_layer_norm);
  register_kernel(OpId::layer_norm_backward, Backend::cpu, cpu_layer_norm_backward);
  register_kernel(OpId::group_norm, Backend::cpu, cpu_group_norm);
  register_kernel(OpId::group_norm_backward, Backend::cpu, cpu_group_norm_backward);
  register_kernel(OpId::embedding, Backend::cpu, cpu_embedding);
  register_kernel(OpId::embedding_backward, Backend::cpu, cpu_embedding_backward);
}
}  // namespace stackgrad
