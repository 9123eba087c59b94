// CPU kernels of the nn family (losses): rows (samples) split over parallel_for; each row is
// reduced by one thread in a fixed order, so results do not depend on the thread count.
// Exponentials run in the input type, sums and the log-sum-exp in double. The class dim is
// walked with its stride; stride 1 (logits [N, C]) is the vectorisable common case.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

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

// log(sum_k exp(x_k)) with the maximum subtracted first.
template <typename T>
double log_sum_exp(const Row<const T>& x, int64_t C) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t k = 0; k < C; ++k) m = std::max(m, x[k]);
  double s = 0;
  if (x.s == 1) {
    for (int64_t k = 0; k < C; ++k) s += static_cast<double>(std::exp(x.p[k] - m));
  } else {
    for (int64_t k = 0; k < C; ++k) s += static_cast<double>(std::exp(x[k] - m));
  }
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

void cpu_cross_entropy_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &t = c.in[1], &lse = c.in[2], &g = c.in[3], &dx = c.out[0];
  const int64_t C = x.shape[x.ndim - 1], rows = lse.numel;
  const bool probs = c.attrs.mode == 1;
  const int64_t ignore = c.attrs.k;
  const double eps = c.attrs.alpha, uniform = eps / static_cast<double>(C);
  SG_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    parallel_for(0, rows, row_grain(C), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const Row<const T> xr = row_of<const T>(x, r);
        const Row<T> dr = row_of<T>(dx, r);
        const T gr = g.ptr<T>()[ref_offset(r, g)];
        const T l = lse.ptr<T>()[ref_offset(r, lse)];
        if (probs) {
          const Row<const T> yr = row_of<const T>(t, r);
          double ysum = 0;
          for (int64_t k = 0; k < C; ++k)
            ysum += (1.0 - eps) * static_cast<double>(yr[k]) + uniform;
          const T scale = static_cast<T>(ysum);
          for (int64_t k = 0; k < C; ++k) {
            const T y = static_cast<T>((1.0 - eps) * static_cast<double>(yr[k]) + uniform);
            dr[k] = gr * (std::exp(xr[k] - l) * scale - y);
          }
          continue;
        }
        const int64_t target = t.ptr<int64_t>()[ref_offset(r, t)];
        if (target == ignore) {
          for (int64_t k = 0; k < C; ++k) dr[k] = T(0);
          continue;
        }
        const T off = static_cast<T>(uniform);
        if (xr.s == 1 && dr.s == 1) {
          for (int64_t k = 0; k < C; ++k) dr.p[k] = gr * (std::exp(xr.p[k] - l) - off);
        } else {
          for (int64_t k = 0; k < C; ++k) dr[k] = gr * (std::exp(xr[k] - l) - off);
        }
        dr[target] -= gr * static_cast<T>(1.0 - eps);
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
