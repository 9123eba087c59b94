// Reference kernels of the attention family: plain loops, the oracle of the op tests. Unlike
// the CPU kernels they DO materialise the [Lq, Lk] score and probability matrices of one
// (batch, head) at a time, every sum in double. bf16 and f16 inputs are read exactly and each
// result is rounded once to the output's dtype (the log-sum-exp to f32).
#include <cmath>
#include <limits>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"
#include "kernels/reference/philox.h"

namespace stackgrad::kernels {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Element [i0, i1, i2, i3] of a 4-D strided argument.
template <typename T>
T at4(const TensorArg& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  return t.ptr<T>()[i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2] + i3 * t.strides[3]];
}
template <typename T>
T& at4_mut(const TensorArg& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  return t.ptr<T>()[i0 * t.strides[0] + i1 * t.strides[1] + i2 * t.strides[2] + i3 * t.strides[3]];
}

// The probabilities of one (batch, head): P[i][j] = softmax_j(scale q_i.k_j + mask), and the
// dropout multipliers Z[i][j] (0 for a dropped element, 1 / (1 - p) for a kept one).
// A row with every key masked gets P = 0 (so O = 0 and no gradient).
// L[i] is the row's log-sum-exp (+inf for a fully masked row, as the CPU kernel stores it).
struct HeadProbabilities {
  std::vector<double> P, Z, L;
};

template <typename T>
HeadProbabilities head_probabilities(const KernelCall& c, const TensorArg* mask, int64_t b,
                                     int64_t h) {
  const TensorArg &q = c.in[0], &k = c.in[1];
  const int64_t H = q.shape[1], Lq = q.shape[2], Lk = k.shape[2], D = q.shape[3];
  const double scale = c.attrs.alpha, p = c.attrs.beta;
  const bool causal = c.attrs.flag;
  HeadProbabilities r{std::vector<double>(Lq * Lk), std::vector<double>(Lq * Lk, 1.0),
                      std::vector<double>(Lq)};
  for (int64_t i = 0; i < Lq; ++i) {
    double* s = r.P.data() + i * Lk;  // (data(): P is empty when there are no keys)
    double m = -kInf;
    for (int64_t j = 0; j < Lk; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < D; ++d)
        dot +=
            static_cast<double>(at4<T>(q, b, h, i, d)) * static_cast<double>(at4<T>(k, b, h, j, d));
      s[j] = scale * dot;
      if (mask && c.attrs.mode == 1 && !at4<bool>(*mask, b, h, i, j)) s[j] = -kInf;
      if (mask && c.attrs.mode == 2) s[j] += static_cast<double>(at4<T>(*mask, b, h, i, j));
      if (causal && j > i) s[j] = -kInf;  // top-left aligned: query i sees keys 0..i
      m = std::max(m, s[j]);
    }
    double sum = 0;
    for (int64_t j = 0; j < Lk; ++j) sum += m == -kInf ? 0.0 : std::exp(s[j] - m);
    for (int64_t j = 0; j < Lk; ++j) s[j] = m == -kInf ? 0.0 : std::exp(s[j] - m) / sum;
    r.L[i] = m == -kInf ? kInf : m + std::log(sum);
  }
  if (p > 0) {
    // Element e = ((b H + h) Lq + i) Lk + j is dropped when word e % 4 of Philox(seed,
    // offset + e / 4) is below p 2^32.
    const uint64_t threshold = static_cast<uint64_t>(p * 4294967296.0);
    const uint64_t base = static_cast<uint64_t>((b * H + h) * Lq * Lk);
    for (int64_t x = 0; x < Lq * Lk; ++x) {
      const uint64_t e = base + static_cast<uint64_t>(x);
      r.Z[x] = philox4x32(c.attrs.seed, c.attrs.offset + e / 4).v[e % 4] < threshold
                   ? 0.0
                   : 1.0 / (1.0 - p);
    }
  }
  return r;
}

void ref_sdpa(const KernelCall& c) {
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2], &o = c.out[0], &lse = c.out[1];
  const TensorArg* mask = c.in.size() > 3 ? &c.in[3] : nullptr;
  const int64_t B = q.shape[0], H = q.shape[1], Lq = q.shape[2], Lk = k.shape[2], Dv = v.shape[3];
  SG_DISPATCH_FLOAT_AND_HALF(q.dtype, "scaled_dot_product_attention", [&] {
    using T = scalar_t;
    using L = accumulation_t<T>;  // the log-sum-exp's type
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const HeadProbabilities hp = head_probabilities<T>(c, mask, b, h);
        for (int64_t i = 0; i < Lq; ++i) {
          for (int64_t e = 0; e < Dv; ++e) {
            double acc = 0;
            for (int64_t j = 0; j < Lk; ++j)
              acc +=
                  hp.P[i * Lk + j] * hp.Z[i * Lk + j] * static_cast<double>(at4<T>(v, b, h, j, e));
            at4_mut<T>(o, b, h, i, e) = static_cast<T>(acc);
          }
          lse.ptr<L>()[(b * H + h) * Lq + i] = static_cast<L>(hp.L[i]);
        }
      }
  });
}

// Backward from the materialised P (its own, not the L input): with Pd = P o Z the dropped
// probabilities and O = Pd V,
//   dV = Pdᵀ dO,  dP = (dO Vᵀ) o Z,  dS = P o (dP - D),  D_i = rowsum(dO o O)_i,
//   dQ = scale dS K,  dK = scale dSᵀ Q.
// D_i = rowsum(P o dP)_i as well; it is taken from the O input, as every backward kernel does,
// so that a rounded O (bf16, f16) means the same thing here as in the kernels.
void ref_sdpa_backward(const KernelCall& c) {
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2], &o = c.in[3], &dout = c.in[5];
  const TensorArg &dq = c.out[0], &dk = c.out[1], &dv = c.out[2];
  const TensorArg* mask = c.in.size() > 6 ? &c.in[6] : nullptr;
  const int64_t B = q.shape[0], H = q.shape[1], Lq = q.shape[2], Lk = k.shape[2], D = q.shape[3],
                Dv = v.shape[3];
  const double scale = c.attrs.alpha;
  SG_DISPATCH_FLOAT_AND_HALF(q.dtype, "scaled_dot_product_attention_backward", [&] {
    using T = scalar_t;
    auto g = [](const TensorArg& t, int64_t b, int64_t h, int64_t i, int64_t d) {
      return static_cast<double>(at4<T>(t, b, h, i, d));
    };
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const HeadProbabilities hp = head_probabilities<T>(c, mask, b, h);
        std::vector<double> dS(Lq * Lk);
        for (int64_t i = 0; i < Lq; ++i) {
          double Di = 0;
          for (int64_t e = 0; e < Dv; ++e) Di += g(dout, b, h, i, e) * g(o, b, h, i, e);
          for (int64_t j = 0; j < Lk; ++j) {
            double dp = 0;
            for (int64_t e = 0; e < Dv; ++e) dp += g(dout, b, h, i, e) * g(v, b, h, j, e);
            dS[i * Lk + j] = hp.P[i * Lk + j] * (dp * hp.Z[i * Lk + j] - Di);
          }
        }
        for (int64_t j = 0; j < Lk; ++j)
          for (int64_t e = 0; e < Dv; ++e) {
            double acc = 0;
            for (int64_t i = 0; i < Lq; ++i)
              acc += hp.P[i * Lk + j] * hp.Z[i * Lk + j] * g(dout, b, h, i, e);
            at4_mut<T>(dv, b, h, j, e) = static_cast<T>(acc);
          }
        for (int64_t i = 0; i < Lq; ++i)
          for (int64_t d = 0; d < D; ++d) {
            double acc = 0;
            for (int64_t j = 0; j < Lk; ++j) acc += dS[i * Lk + j] * g(k, b, h, j, d);
            at4_mut<T>(dq, b, h, i, d) = static_cast<T>(scale * acc);
          }
        for (int64_t j = 0; j < Lk; ++j)
          for (int64_t d = 0; d < D; ++d) {
            double acc = 0;
            for (int64_t i = 0; i < Lq; ++i) acc += dS[i * Lk + j] * g(q, b, h, i, d);
            at4_mut<T>(dk, b, h, j, d) = static_cast<T>(scale * acc);
          }
      }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_attention() {
  register_kernel(OpId::scaled_dot_product_attention, Backend::reference, kernels::ref_sdpa);
  register_kernel(OpId::scaled_dot_product_attention_backward, Backend::reference,
                  kernels::ref_sdpa_backward);
}
}  // namespace stackgrad
