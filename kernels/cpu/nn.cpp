// CPU kernels of the nn family (losses): rows (samples) split over parallel_for; each row is
// reduced by one thread in a fixed order, so results do not depend on the thread count.
// f32 rows run 8 classes at a time through vec::exp8 of kernels/cpu/vec_math.h (std::exp is a
// scalar libm call, and GCC will not vectorise a clamped polynomial written per element: it
// turns the clamp into branches); the log-sum-exp and the loss sums run in double. f64 (the gradcheck dtype) uses
// std::exp one element at a time.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

using vec::D4;
using vec::F8;
using F4 [[gnu::vector_size(16)]] = float;

// e^x on 8 floats (kernels/cpu/vec_math.h), x clamped to [-87, 88] as these kernels always have
// (e^-87 ~ 1.6e-38 stands in for smaller values; callers pass x <= ~0); NaN stays NaN.
inline F8 exp8(F8 x) {
  x = x < -87.0f ? F8{} - 87.0f : x;
  x = x > 88.0f ? F8{} + 88.0f : x;
  return vec::exp8(x);
}

// The same function on one value (row tails), so every element of a row sees the same math.
inline float exp_f32(float x) { return exp8(F8{} + x)[0]; }

template <typename T>
inline T exp_t(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return exp_f32(x);
  } else {
    return std::exp(x);
  }
}

// A row of C values at p with stride s.
template <typename T>
struct Row {
  T* p;
  int64_t s;
  T& operator[](int64_t k) const { return p[k * s]; }
};

template <typename T>
Row<T> row_of(const TensorArg& t, int64_t r) {
  return {t.ptr<T>() + row_offset(r, t), t.strides[t.ndim - 1]};
}

inline F8 load8(const Row<const float>& x, int64_t k) {
  F8 v;
  if (x.s == 1) {
    std::memcpy(&v, x.p + k, sizeof(v));
  } else {
    for (int l = 0; l < 8; ++l) v[l] = x[k + l];
  }
  return v;
}

inline void store8(const Row<float>& y, int64_t k, F8 v) {
  if (y.s == 1) {
    std::memcpy(y.p + k, &v, sizeof(v));
  } else {
    for (int l = 0; l < 8; ++l) y[k + l] = v[l];
  }
}

// The 8 lanes widened to double and summed in pairs: (0 + 4, 1 + 5, 2 + 6, 3 + 7).
inline D4 widen_sum(F8 v) {
  F4 lo, hi;
  std::memcpy(&lo, &v, sizeof(lo));
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(lo), sizeof(hi));
  return __builtin_convertvector(lo, D4) + __builtin_convertvector(hi, D4);
}

template <typename T>
T row_max(const Row<const T>& x, int64_t C) {
  T m = -std::numeric_limits<T>::infinity();
  int64_t k = 0;
  if constexpr (std::is_same_v<T, float>) {
    // Eight running maxima: one would be a serial chain of 3-cycle max latencies.
    F8 m8 = F8{} + m;
    for (; k + 8 <= C; k += 8) {
      const F8 v = load8(x, k);
      m8 = m8 < v ? v : m8;
    }
    for (int l = 0; l < 8; ++l) m = std::max(m, m8[l]);
  }
  for (; k < C; ++k) m = std::max(m, x[k]);
  return m;
}

// log(sum_k exp(x_k)) with the maximum subtracted first.
template <typename T>
double log_sum_exp(const Row<const T>& x, int64_t C) {
  const T m = row_max(x, C);
  double s = 0;
  int64_t k = 0;
  if constexpr (std::is_same_v<T, float>) {
    D4 acc = {};
    for (; k + 8 <= C; k += 8) acc += widen_sum(exp8(load8(x, k) - m));
    s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  for (; k < C; ++k) s += static_cast<double>(exp_t<T>(x[k] - m));
  return static_cast<double>(m) + std::log(s);
}

int64_t row_grain(int64_t C) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, C));
}

void cpu_cross_entropy(const KernelCall& c) {
  const TensorArg &x = c.in[0], &t = c.in[1], &loss = c.out[0], &lse_out = c.out[1];
  const int64_t C = x.shape[x.ndim - 1], rows = loss.numel;
  const bool probs = c.attrs.mode == 1;
  const int64_t ignore = c.attrs.k;
  const double eps = c.attrs.alpha, uniform = eps / static_cast<double>(C);
  SG_DISPATCH_FLOAT(x.dtype, "cross_entropy", [&] {
    using T = scalar_t;
    T* out = loss.ptr<T>();
    T* lse_p = lse_out.ptr<T>();
    parallel_for(0, rows, row_grain(C), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const Row<const T> xr = row_of<const T>(x, r);
        const double lse = log_sum_exp(xr, C);
        double l = 0;
        if (probs) {
          const Row<const T> yr = row_of<const T>(t, r);
          for (int64_t k = 0; k < C; ++k)
            l += ((1.0 - eps) * static_cast<double>(yr[k]) + uniform) *
                 (lse - static_cast<double>(xr[k]));
        } else {
          const int64_t target = t.ptr<int64_t>()[ref_offset(r, t)];
          if (target != ignore) {
            l = (1.0 - eps) * (lse - static_cast<double>(xr[target]));
            if (eps != 0.0) {
              double spread = 0;
              for (int64_t k = 0; k < C; ++k) spread += lse - static_cast<double>(xr[k]);
              l += uniform * spread;
            }
          }
        }
        out[r] = static_cast<T>(l);
        lse_p[r] = static_cast<T>(lse);
      }
    });
  });
}

// One row of the gradient for a class-index target t (not ignored):
// d_k = g (e^(x_k - lse) - eps/C) - g (1 - eps) [k == t].
template <typename T>
void grad_row_index(const Row<const T>& x, const Row<T>& d, int64_t C, int64_t target, T g, T lse,
                    double eps) {
  const T off = static_cast<T>(eps / static_cast<double>(C));
  int64_t k = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; k + 8 <= C; k += 8) store8(d, k, g * (exp8(load8(x, k) - lse) - off));
  }
  for (; k < C; ++k) d[k] = g * (exp_t<T>(x[k] - lse) - off);
  d[target] -= g * static_cast<T>(1.0 - eps);
}

// One row of the gradient for a probability target y, smoothed to y' = (1 - eps) y + eps/C:
// d_k = g (e^(x_k - lse) sum_j y'_j - y'_k).
template <typename T>
void grad_row_probs(const Row<const T>& x, const Row<const T>& y, const Row<T>& d, int64_t C, T g,
                    T lse, double eps) {
  const double uniform = eps / static_cast<double>(C);
  double ysum = 0;
  for (int64_t k = 0; k < C; ++k) ysum += (1.0 - eps) * static_cast<double>(y[k]) + uniform;
  const T scale = static_cast<T>(ysum), keep = static_cast<T>(1.0 - eps);
  const T add = static_cast<T>(uniform);
  int64_t k = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; k + 8 <= C; k += 8)
      store8(d, k, g * (exp8(load8(x, k) - lse) * scale - (load8(y, k) * keep + add)));
  }
  for (; k < C; ++k) d[k] = g * (exp_t<T>(x[k] - lse) * scale - (y[k] * keep + add));
}

void cpu_cross_entropy_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &t = c.in[1], &lse = c.in[2], &g = c.in[3], &dx = c.out[0];
  const int64_t C = x.shape[x.ndim - 1], rows = lse.numel;
  const bool probs = c.attrs.mode == 1;
  const int64_t ignore = c.attrs.k;
  const double eps = c.attrs.alpha;
  SG_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    parallel_for(0, rows, row_grain(C), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const Row<const T> xr = row_of<const T>(x, r);
        const Row<T> dr = row_of<T>(dx, r);
        const T gr = g.ptr<T>()[ref_offset(r, g)];
        const T l = lse.ptr<T>()[ref_offset(r, lse)];
        if (probs) {
          grad_row_probs(xr, row_of<const T>(t, r), dr, C, gr, l, eps);
          continue;
        }
        const int64_t target = t.ptr<int64_t>()[ref_offset(r, t)];
        if (target == ignore) {
          for (int64_t k = 0; k < C; ++k) dr[k] = T(0);
        } else {
          grad_row_index(xr, dr, C, target, gr, l, eps);
        }
      }
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_nn() {
  register_kernel(OpId::cross_entropy, Backend::cpu, kernels::cpu_cross_entropy);
  register_kernel(OpId::cross_entropy_backward, Backend::cpu, kernels::cpu_cross_entropy_backward);
}
}  // namespace stackgrad
