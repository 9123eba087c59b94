// Reference kernels of the norm family: plain loops, the oracle of the op tests. Every sum runs
// in double, variances in two passes (mean first, then squared deviations).
//
// One scheme serves the three normalisations: a set of elements (a channel over the batch, a
// row, a group) is normalised as xhat = (x - mean) * rstd with rstd = 1 / sqrt(var + eps), var
// the biased variance, and then scaled per channel (or per column): y = xhat * w + b. Its
// gradient, with dxhat = g * w and n elements in the set, is
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
// when the statistics come from x (docs/kernels/norm.md derives it), and dx = rstd * dxhat when
// they are constants (batch_norm in eval).
#include <cmath>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Element (i, j, k) of a 3-D argument, (i, j) of a 2-D one.
template <typename T>
T& at3(const TensorArg& t, int64_t i, int64_t j, int64_t k) {
  return t.ptr<T>()[i * t.strides[0] + j * t.strides[1] + k * t.strides[2]];
}
template <typename T>
T& at2(const TensorArg& t, int64_t i, int64_t j) {
  return t.ptr<T>()[i * t.strides[0] + j * t.strides[1]];
}

// Parameter c of an optional per-channel operand (an absent one is [0]).
template <typename T>
double param(const TensorArg& p, int64_t c, double absent) {
  return p.numel == 0 ? absent : static_cast<double>(ref_at<T>(p, c));
}

void ref_batch_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2], &rm = c.in[3], &rv = c.in[4];
  const TensorArg &y = c.out[0], &mean_out = c.out[1], &rstd_out = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], n = N * S;
  const bool training = c.attrs.flag, running = rm.numel != 0;
  const double momentum = c.attrs.alpha, eps = c.attrs.beta;
  SG_DISPATCH_FLOAT(x.dtype, "batch_norm", [&] {
    using T = scalar_t;
    for (int64_t ch = 0; ch < C; ++ch) {
      double mean = 0, var = 0;
      if (training) {
        for (int64_t i = 0; i < N; ++i)
          for (int64_t k = 0; k < S; ++k) mean += static_cast<double>(at3<T>(x, i, ch, k));
        if (n > 0) mean /= static_cast<double>(n);
        for (int64_t i = 0; i < N; ++i)
          for (int64_t k = 0; k < S; ++k) {
            const double d = static_cast<double>(at3<T>(x, i, ch, k)) - mean;
            var += d * d;
          }
        if (n > 0) var /= static_cast<double>(n);
        if (running && n > 0) {
          const double unbiased = n > 1 ? var * n / (n - 1) : var;
          ref_at<T>(rm, ch) =
              static_cast<T>((1 - momentum) * param<T>(rm, ch, 0) + momentum * mean);
          ref_at<T>(rv, ch) =
              static_cast<T>((1 - momentum) * param<T>(rv, ch, 0) + momentum * unbiased);
        }
      } else {
        mean = param<T>(rm, ch, 0);
        var = param<T>(rv, ch, 1);
      }
      const double rstd = 1.0 / std::sqrt(var + eps);
      const double wc = param<T>(w, ch, 1), bc = param<T>(b, ch, 0);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < S; ++k)
          at3<T>(y, i, ch, k) =
              static_cast<T>((static_cast<double>(at3<T>(x, i, ch, k)) - mean) * rstd * wc + bc);
      ref_at<T>(mean_out, ch) = static_cast<T>(mean);
      ref_at<T>(rstd_out, ch) = static_cast<T>(rstd);
    }
  });
}

void ref_batch_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &mean_in = c.in[2], &rstd_in = c.in[3], &w = c.in[4];
  const TensorArg &dx = c.out[0], &dw = c.out[1], &db = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2];
  const double n = static_cast<double>(N * S);
  const bool training = c.attrs.flag;
  SG_DISPATCH_FLOAT(x.dtype, "batch_norm_backward", [&] {
    using T = scalar_t;
    for (int64_t ch = 0; ch < C; ++ch) {
      const double mean = ref_at<T>(mean_in, ch), rstd = ref_at<T>(rstd_in, ch);
      const double wc = param<T>(w, ch, 1);
      auto xhat = [&](int64_t i, int64_t k) {
        return (static_cast<double>(at3<T>(x, i, ch, k)) - mean) * rstd;
      };
      double sum_g = 0, sum_gx = 0;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < S; ++k) {
          const double gv = at3<T>(g, i, ch, k);
          sum_g += gv;
          sum_gx += gv * xhat(i, k);
        }
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < S; ++k) {
          const double gv = at3<T>(g, i, ch, k);
          const double d =
              training ? wc * rstd * (gv - sum_g / n - xhat(i, k) * sum_gx / n) : wc * rstd * gv;
          at3<T>(dx, i, ch, k) = static_cast<T>(d);
        }
      ref_at<T>(dw, ch) = static_cast<T>(sum_gx);
      ref_at<T>(db, ch) = static_cast<T>(sum_g);
    }
  });
}

void ref_layer_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2];
  const TensorArg &y = c.out[0], &mean_out = c.out[1], &rstd_out = c.out[2];
  const int64_t R = x.shape[0], D = x.shape[1];
  const double eps = c.attrs.beta;
  SG_DISPATCH_FLOAT(x.dtype, "layer_norm", [&] {
    using T = scalar_t;
    for (int64_t r = 0; r < R; ++r) {
      double mean = 0, var = 0;
      for (int64_t d = 0; d < D; ++d) mean += static_cast<double>(at2<T>(x, r, d));
      if (D > 0) mean /= static_cast<double>(D);
      for (int64_t d = 0; d < D; ++d) {
        const double v = static_cast<double>(at2<T>(x, r, d)) - mean;
        var += v * v;
      }
      if (D > 0) var /= static_cast<double>(D);
      const double rstd = 1.0 / std::sqrt(var + eps);
      for (int64_t d = 0; d < D; ++d)
        at2<T>(y, r, d) = static_cast<T>((static_cast<double>(at2<T>(x, r, d)) - mean) * rstd *
                                             param<T>(w, d, 1) +
                                         param<T>(b, d, 0));
      ref_at<T>(mean_out, r) = static_cast<T>(mean);
      ref_at<T>(rstd_out, r) = static_cast<T>(rstd);
    }
  });
}

void ref_layer_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &mean_in = c.in[2], &rstd_in = c.in[3], &w = c.in[4];
  const TensorArg &dx = c.out[0], &dw = c.out[1], &db = c.out[2];
  const int64_t R = x.shape[0], D = x.shape[1];
  SG_DISPATCH_FLOAT(x.dtype, "layer_norm_backward", [&] {
    using T = scalar_t;
    std::vector<double> sum_w(D, 0.0), sum_b(D, 0.0);
    for (int64_t r = 0; r < R; ++r) {
      const double mean = ref_at<T>(mean_in, r), rstd = ref_at<T>(rstd_in, r);
      auto xhat = [&](int64_t d) { return (static_cast<double>(at2<T>(x, r, d)) - mean) * rstd; };
      double sum_dxhat = 0, sum_dxhat_xhat = 0;
      for (int64_t d = 0; d < D; ++d) {
        const double gv = at2<T>(g, r, d), dxhat = gv * param<T>(w, d, 1);
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat(d);
        sum_w[d] += gv * xhat(d);
        sum_b[d] += gv;
      }
      for (int64_t d = 0; d < D; ++d) {
        const double dxhat = static_cast<double>(at2<T>(g, r, d)) * param<T>(w, d, 1);
        at2<T>(dx, r, d) =
            static_cast<T>(rstd * (dxhat - sum_dxhat / D - xhat(d) * sum_dxhat_xhat / D));
      }
    }
    for (int64_t d = 0; d < D; ++d) {
      ref_at<T>(dw, d) = static_cast<T>(sum_w[d]);
      ref_at<T>(db, d) = static_cast<T>(sum_b[d]);
    }
  });
}

// group_norm's fused activation (attrs.mode 1): silu on the affine output, and the factor its
// backward multiplies the incoming gradient by.
double silu(double v) { return v / (1.0 + std::exp(-v)); }
double silu_grad(double v) {
  const double s = 1.0 / (1.0 + std::exp(-v));
  return s * (1.0 + v * (1.0 - s));
}

void ref_group_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2];
  const TensorArg &y = c.out[0], &mean_out = c.out[1], &rstd_out = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], G = c.attrs.k, Cg = C / G;
  const double n = static_cast<double>(Cg * S), eps = c.attrs.beta;
  SG_DISPATCH_FLOAT(x.dtype, "group_norm", [&] {
    using T = scalar_t;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t grp = 0; grp < G; ++grp) {
        double mean = 0, var = 0;
        for (int64_t ch = grp * Cg; ch < (grp + 1) * Cg; ++ch)
          for (int64_t k = 0; k < S; ++k) mean += static_cast<double>(at3<T>(x, i, ch, k));
        if (n > 0) mean /= n;
        for (int64_t ch = grp * Cg; ch < (grp + 1) * Cg; ++ch)
          for (int64_t k = 0; k < S; ++k) {
            const double d = static_cast<double>(at3<T>(x, i, ch, k)) - mean;
            var += d * d;
          }
        if (n > 0) var /= n;
        const double rstd = 1.0 / std::sqrt(var + eps);
        for (int64_t ch = grp * Cg; ch < (grp + 1) * Cg; ++ch)
          for (int64_t k = 0; k < S; ++k) {
            const double a = (static_cast<double>(at3<T>(x, i, ch, k)) - mean) * rstd *
                                 param<T>(w, ch, 1) +
                             param<T>(b, ch, 0);
            at3<T>(y, i, ch, k) = static_cast<T>(c.attrs.mode == 1 ? silu(a) : a);
          }
        ref_at<T>(mean_out, i * G + grp) = static_cast<T>(mean);
        ref_at<T>(rstd_out, i * G + grp) = static_cast<T>(rstd);
      }
  });
}

void ref_group_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &mean_in = c.in[2], &rstd_in = c.in[3], &w = c.in[4];
  const TensorArg &dx = c.out[0], &dw = c.out[1], &db = c.out[2];
  const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], G = c.attrs.k, Cg = C / G;
  const double n = static_cast<double>(Cg * S);
  const bool fused_silu = c.attrs.mode == 1;  // then in[5] is the bias
  SG_DISPATCH_FLOAT(x.dtype, "group_norm_backward", [&] {
    using T = scalar_t;
    std::vector<double> sum_w(C, 0.0), sum_b(C, 0.0);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t grp = 0; grp < G; ++grp) {
        const double mean = ref_at<T>(mean_in, i * G + grp);
        const double rstd = ref_at<T>(rstd_in, i * G + grp);
        auto xhat = [&](int64_t ch, int64_t k) {
          return (static_cast<double>(at3<T>(x, i, ch, k)) - mean) * rstd;
        };
        // The gradient of the affine output: g, or g silu'(affine) with the fused activation.
        auto grad = [&](int64_t ch, int64_t k) {
          const double gv = at3<T>(g, i, ch, k);
          if (!fused_silu) return gv;
          return gv * silu_grad(xhat(ch, k) * param<T>(w, ch, 1) + param<T>(c.in[5], ch, 0));
        };
        double sum_dxhat = 0, sum_dxhat_xhat = 0;
        for (int64_t ch = grp * Cg; ch < (grp + 1) * Cg; ++ch)
          for (int64_t k = 0; k < S; ++k) {
            const double gv = grad(ch, k), dxhat = gv * param<T>(w, ch, 1);
            sum_dxhat += dxhat;
            sum_dxhat_xhat += dxhat * xhat(ch, k);
            sum_w[ch] += gv * xhat(ch, k);
            sum_b[ch] += gv;
          }
        for (int64_t ch = grp * Cg; ch < (grp + 1) * Cg; ++ch)
          for (int64_t k = 0; k < S; ++k) {
            const double dxhat = grad(ch, k) * param<T>(w, ch, 1);
            at3<T>(dx, i, ch, k) =
                static_cast<T>(rstd * (dxhat - sum_dxhat / n - xhat(ch, k) * sum_dxhat_xhat / n));
          }
      }
    for (int64_t ch = 0; ch < C; ++ch) {
      ref_at<T>(dw, ch) = static_cast<T>(sum_w[ch]);
      ref_at<T>(db, ch) = static_cast<T>(sum_b[ch]);
    }
  });
}

void ref_embedding(const KernelCall& c) {
  const TensorArg &w = c.in[0], &idx = c.in[1], &y = c.out[0];
  const int64_t M = idx.numel, D = w.shape[1];
  SG_DISPATCH_FLOAT(w.dtype, "embedding", [&] {
    using T = scalar_t;
    for (int64_t m = 0; m < M; ++m) {
      const int64_t v = ref_at<int64_t>(idx, m);
      for (int64_t d = 0; d < D; ++d) at2<T>(y, m, d) = at2<T>(w, v, d);
    }
  });
}

void ref_embedding_backward(const KernelCall& c) {
  const TensorArg &g = c.in[0], &idx = c.in[1], &dw = c.out[0];
  const int64_t M = idx.numel, V = dw.shape[0], D = dw.shape[1], padding = c.attrs.k;
  SG_DISPATCH_FLOAT(g.dtype, "embedding_backward", [&] {
    using T = scalar_t;
    std::vector<double> acc(V * D, 0.0);
    for (int64_t m = 0; m < M; ++m) {
      const int64_t v = ref_at<int64_t>(idx, m);
      if (v == padding) continue;
      for (int64_t d = 0; d < D; ++d) acc[v * D + d] += static_cast<double>(at2<T>(g, m, d));
    }
    for (int64_t v = 0; v < V; ++v)
      for (int64_t d = 0; d < D; ++d) at2<T>(dw, v, d) = static_cast<T>(acc[v * D + d]);
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_norm() {
  using namespace kernels;
  register_kernel(OpId::batch_norm, Backend::reference, ref_batch_norm);
  register_kernel(OpId::batch_norm_backward, Backend::reference, ref_batch_norm_backward);
  register_kernel(OpId::layer_norm, Backend::reference, ref_layer_norm);
  register_kernel(OpId::layer_norm_backward, Backend::reference, ref_layer_norm_backward);
  register_kernel(OpId::group_norm, Backend::reference, ref_group_norm);
  register_kernel(OpId::group_norm_backward, Backend::reference, ref_group_norm_backward);
  register_kernel(OpId::embedding, Backend::reference, ref_embedding);
  register_kernel(OpId::embedding_backward, Backend::reference, ref_embedding_backward);
}
}  // namespace stackgrad
