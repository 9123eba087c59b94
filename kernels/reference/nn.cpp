// Reference kernels of the nn family (losses): one row (sample) at a time, every sum in double.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Smoothed target probability of class c: (1 - eps) y_c + eps / C.
struct Smoothing {
  double eps;
  int64_t classes;
  double operator()(double y) const { return (1.0 - eps) * y + eps / static_cast<double>(classes); }
};

void ref_cross_entropy(const KernelCall& c) {
  const TensorArg &x = c.in[0], &t = c.in[1], &loss = c.out[0], &lse_out = c.out[1];
  const int64_t C = x.shape[x.ndim - 1], rows = loss.numel;
  const bool probs = c.attrs.mode == 1;
  const int64_t ignore = c.attrs.k;
  const Smoothing smooth{c.attrs.alpha, C};
  SG_DISPATCH_FLOAT(x.dtype, "cross_entropy", [&] {
    using T = scalar_t;
    for (int64_t r = 0; r < rows; ++r) {
      auto xc = [&](int64_t k) { return static_cast<double>(ref_at<T>(x, r * C + k)); };
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < C; ++k) m = std::max(m, xc(k));
      double s = 0;
      for (int64_t k = 0; k < C; ++k) s += std::exp(xc(k) - m);
      const double lse = m + std::log(s);
      double l = 0;
      if (probs) {
        for (int64_t k = 0; k < C; ++k)
          l += smooth(static_cast<double>(ref_at<T>(t, r * C + k))) * (lse - xc(k));
      } else {
        const int64_t target = ref_at<int64_t>(t, r);
        if (target != ignore) {
          // (1 - eps)(lse - x_t) + eps/C sum_k (lse - x_k): every term is non-negative.
          double spread = 0;
          for (int64_t k = 0; k < C; ++k) spread += lse - xc(k);
          l = (1.0 - smooth.eps) * (lse - xc(target)) +
              smooth.eps / static_cast<double>(C) * spread;
        }
      }
      ref_at<T>(loss, r) = static_cast<T>(l);
      ref_at<T>(lse_out, r) = static_cast<T>(lse);
    }
  });
}

void ref_cross_entropy_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &t = c.in[1], &lse = c.in[2], &g = c.in[3], &dx = c.out[0];
  const int64_t C = x.shape[x.ndim - 1], rows = lse.numel;
  const bool probs = c.attrs.mode == 1;
  const int64_t ignore = c.attrs.k;
  const Smoothing smooth{c.attrs.alpha, C};
  SG_DISPATCH_FLOAT(x.dtype, "cross_entropy_backward", [&] {
    using T = scalar_t;
    for (int64_t r = 0; r < rows; ++r) {
      const double gr = static_cast<double>(ref_at<T>(g, r));
      const double l = static_cast<double>(ref_at<T>(lse, r));
      if (probs) {
        double ysum = 0;
        for (int64_t k = 0; k < C; ++k)
          ysum += smooth(static_cast<double>(ref_at<T>(t, r * C + k)));
        for (int64_t k = 0; k < C; ++k) {
          const double p = std::exp(static_cast<double>(ref_at<T>(x, r * C + k)) - l);
          const double y = smooth(static_cast<double>(ref_at<T>(t, r * C + k)));
          ref_at<T>(dx, r * C + k) = static_cast<T>(gr * (p * ysum - y));
        }
        continue;
      }
      const int64_t target = ref_at<int64_t>(t, r);
      for (int64_t k = 0; k < C; ++k) {
        double d = 0;
        if (target != ignore) {
          const double p = std::exp(static_cast<double>(ref_at<T>(x, r * C + k)) - l);
          d = gr * (p - smooth(k == target ? 1.0 : 0.0));
        }
        ref_at<T>(dx, r * C + k) = static_cast<T>(d);
      }
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_nn() {
  register_kernel(OpId::cross_entropy, Backend::reference, kernels::ref_cross_entropy);
  register_kernel(OpId::cross_entropy_backward, Backend::reference,
                  kernels::ref_cross_entropy_backward);
}
}  // namespace stackgrad
