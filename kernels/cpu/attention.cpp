// CPU kernels of the attention family: fused scaled dot-product attention, the FlashAttention
// scheme (Dao et al. 2022; the loop order of FlashAttention-2).
//
// Forward: one task per (batch, head, tile of kBq = 128 query rows). The task walks the key tiles
// (kBk = 128 keys): S = Q Kᵀ through the packed GEMM (kernels/cpu/gemm.h), scale, mask, then the
// online softmax: the running row max m and sum l, the output accumulator rescaled by
// e^(m_old - m_new) whenever the max grows, Acc += P V by GEMM. At the end O = Acc / l and
// L = m + log l. Only O and L ([B,H,Lq]) are written; memory beyond them is O(tile^2) per thread.
// Causal (top-left: query i sees keys 0..i) skips the key tiles wholly above the diagonal.
//
// Backward: P = exp(S - L) is recomputed per tile, dV_j += Pdᵀ dO_i, dP = (dO_i V_jᵀ) o Z,
// dS = P o (dP - D_i) with D_i = rowsum(dO o O), dK_j += scale dSᵀ Q_i, dQ_i += scale dS K_j.
// One task per (batch, head) (key tiles outer, query tiles inner) when there are at least as
// many heads as threads; otherwise two passes, dK/dV over (head, key tile), then dQ over (head,
// query tile), recomputing S and dP. Every gradient element is summed by one thread with its
// tiles in ascending order in both schedules: the same bits on any thread count, no atomics.
//
// Fully masked rows (every key masked) give O = 0, L = +inf, and zero gradients: with L = +inf
// the recomputed P = exp(S - L) is 0 without a special case.
//
// Dropout: element e = ((b H + h) Lq + i) Lk + j is dropped when word e % 4 of
// Philox(seed, offset + e / 4) is below p 2^32, kept ones scaled by 1 / (1 - p); the backward
// regenerates the same mask (once per element), which is never stored.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/cpu/widen.h"
#include "kernels/reference/philox.h"

namespace stackgrad::kernels {
namespace {

constexpr int64_t kBq = 128;  // query rows per tile
constexpr int64_t kBk = 128;  // keys per tile

// The problem as the kernels read it: element strides of q, k, v, the mask (4-D, stride 0 on
// broadcast dims) and dO, with the attributes decoded.
struct Problem {
  int64_t B, H, Lq, Lk, D, Dv;
  double scale, p;
  bool causal;
  int mask_mode;  // 0 none, 1 bool (true = may attend), 2 additive
  uint64_t seed, offset;
  uint32_t threshold;  // dropped when the Philox word is below it
};

Problem decode(const KernelCall& c, const TensorArg& mask) {
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2];
  Problem p{q.shape[0],
            q.shape[1],
            q.shape[2],
            k.shape[2],
            q.shape[3],
            v.shape[3],
            c.attrs.alpha,
            c.attrs.beta,
            c.attrs.flag,
            static_cast<int>(c.attrs.mode),
            c.attrs.seed,
            c.attrs.offset,
            0};
  if (mask.data == nullptr) p.mask_mode = 0;
  p.threshold = static_cast<uint32_t>(p.p * 4294967296.0);
  return p;
}

// Pointer to row `row` of the (b, h) matrix of a 4-D argument.
template <typename T>
const T* row_ptr(const TensorArg& t, int64_t b, int64_t h, int64_t row) {
  return t.ptr<T>() + b * t.strides[0] + h * t.strides[1] + row * t.strides[2];
}

template <typename T>
using V = vec::Vec<T>;
template <typename T>
constexpr int64_t W = vec::kLanes<T>;

template <typename T>
V<T> load(const T* p) {
  V<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
void store(T* p, V<T> v) {
  std::memcpy(p, &v, sizeof v);
}

// Scores of one tile row, in place: s *= scale, then the mask and the causal cut (-inf).
// Row i of the query tile, keys j0 .. j0 + n.
template <typename T>
void score_row(const Problem& pr, const TensorArg& mask, int64_t b, int64_t h, int64_t i,
               int64_t j0, int64_t n, T* s) {
  const T scale = static_cast<T>(pr.scale);
  for (int64_t j = 0; j < n; ++j) s[j] *= scale;
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  if (pr.mask_mode == 1) {
    const bool* m = row_ptr<bool>(mask, b, h, i) + j0 * mask.strides[3];
    for (int64_t j = 0; j < n; ++j)
      if (!m[j * mask.strides[3]]) s[j] = ninf;
  } else if (pr.mask_mode == 2) {
    const T* m = row_ptr<T>(mask, b, h, i) + j0 * mask.strides[3];
    for (int64_t j = 0; j < n; ++j) s[j] += m[j * mask.strides[3]];
  }
  if (pr.causal)
    for (int64_t j = std::max<int64_t>(0, i - j0 + 1); j < n; ++j) s[j] = ninf;
}

// s[j] = exp(s[j] - shift) for j < n; returns the sum.
template <typename T>
T exp_row(T* s, int64_t n, T shift) {
  V<T> acc{};
  int64_t j = 0;
  for (; j + W<T> <= n; j += W<T>) {
    const V<T> e = vec::exp(load(s + j) - shift);
    store(s + j, e);
    acc += e;
  }
  T sum = 0;
  for (int l = 0; l < W<T>; ++l) sum += acc[l];
  if (j < n) {
    T tmp[W<T>];
    std::fill(tmp, tmp + W<T>, -std::numeric_limits<T>::infinity());
    std::copy(s + j, s + n, tmp);
    const V<T> e = vec::exp(load(tmp) - shift);
    for (int64_t l = 0; l < n - j; ++l) {
      s[j + l] = e[l];
      sum += e[l];
    }
  }
  return sum;
}

template <typename T>
T max_row(const T* s, int64_t n) {
  V<T> m = V<T>{} - std::numeric_limits<T>::infinity();
  int64_t j = 0;
  for (; j + W<T> <= n; j += W<T>) {
    const V<T> x = load(s + j);
    m = x > m ? x : m;
  }
  T r = -std::numeric_limits<T>::infinity();
  for (int l = 0; l < W<T>; ++l) r = std::max(r, m[l]);
  for (; j < n; ++j) r = std::max(r, s[j]);
  return r;
}

// Multiplies s[j] by the dropout factor Z of element (b, h, i, j0 + j). Element e (the flat
// index of (b, h, i, j)) reads word e % 4 of Philox(seed, offset + e / 4): one Philox block
// serves four consecutive elements.
template <typename T>
void dropout_row(const Problem& pr, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n, T* s) {
  const T keep = static_cast<T>(1.0 / (1.0 - pr.p));
  uint64_t e = static_cast<uint64_t>(((b * pr.H + h) * pr.Lq + i) * pr.Lk + j0);
  Philox4 r = philox4x32(pr.seed, pr.offset + e / 4);
  for (int64_t j = 0; j < n; ++j, ++e) {
    if (e % 4 == 0 && j > 0) r = philox4x32(pr.seed, pr.offset + e / 4);
    s[j] = r.v[e % 4] < pr.threshold ? T(0) : s[j] * keep;
  }
}

// The last key (exclusive) query rows [i0, i0 + m) can see.
int64_t key_end(const Problem& pr, int64_t i0, int64_t m) {
  return pr.causal ? std::min(pr.Lk, i0 + m) : pr.Lk;
}

template <typename T>
void sdpa_forward(const KernelCall& c) {
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2];
  const TensorArg mask = c.in.size() > 3 ? c.in[3] : TensorArg{};
  const Problem pr = decode(c, mask);
  T* out = c.out[0].ptr<T>();
  T* lse = c.out[1].ptr<T>();
  const int64_t qtiles = (pr.Lq + kBq - 1) / kBq;
  parallel_for(0, pr.B * pr.H * qtiles, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> S(kBq * kBk), acc(kBq * pr.Dv), m(kBq), l(kBq);
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t bh = task / qtiles, b = bh / pr.H, h = bh % pr.H;
      const int64_t i0 = task % qtiles * kBq, mq = std::min(kBq, pr.Lq - i0);
      std::fill(acc.begin(), acc.end(), T(0));
      std::fill(m.begin(), m.end(), -std::numeric_limits<T>::infinity());
      std::fill(l.begin(), l.end(), T(0));
      const T* qt = row_ptr<T>(q, b, h, i0);
      for (int64_t j0 = 0; j0 < key_end(pr, i0, mq); j0 += kBk) {
        const int64_t nk = std::min(kBk, pr.Lk - j0);
        gemm<T>({mq, nk, pr.D, qt, q.strides[2], q.strides[3], row_ptr<T>(k, b, h, j0),
                 k.strides[3], k.strides[2], S.data(), kBk, 1});
        for (int64_t r = 0; r < mq; ++r) {
          T* s = &S[r * kBk];
          score_row(pr, mask, b, h, i0 + r, j0, nk, s);
          const T m_new = std::max(m[r], max_row(s, nk));
          if (m_new == -std::numeric_limits<T>::infinity()) {  // nothing visible yet
            std::fill(s, s + nk, T(0));
            continue;
          }
          const T alpha = std::exp(m[r] - m_new);  // 0 on the first visible tile
          l[r] = l[r] * alpha + exp_row(s, nk, m_new);
          m[r] = m_new;
          if (alpha != T(1))
            for (int64_t e = 0; e < pr.Dv; ++e) acc[r * pr.Dv + e] *= alpha;
          if (pr.p > 0) dropout_row(pr, b, h, i0 + r, j0, nk, s);
        }
        gemm<T>({mq, pr.Dv, nk, S.data(), kBk, 1, row_ptr<T>(v, b, h, j0), v.strides[2],
                 v.strides[3], acc.data(), pr.Dv, 1},
                /*accumulate=*/true);
      }
      for (int64_t r = 0; r < mq; ++r) {
        const int64_t row = bh * pr.Lq + i0 + r;
        const T inv = l[r] > 0 ? T(1) / l[r] : T(0);
        for (int64_t e = 0; e < pr.Dv; ++e) out[row * pr.Dv + e] = acc[r * pr.Dv + e] * inv;
        lse[row] = l[r] > 0 ? m[r] + std::log(l[r]) : std::numeric_limits<T>::infinity();
      }
    }
  });
}

// The backward's view of one problem: operands, per-row D_i and L_i, and gradient outputs.
template <typename T>
struct Backward {
  const TensorArg &q, &k, &v, &dout, &mask;
  const Problem& pr;
  const std::vector<T>&Di, &Li;  // [B H Lq]
  T *dq, *dk, *dv;               // contiguous [B, H, L, D]

  // Contributions of query tile i0 x key tile j0: dK_j, dV_j when `kv`, dQ_i when `q_grad`.
  // Every gradient element sums its tiles in ascending order whichever pass calls this, so the
  // one-pass and two-pass schedules give the same bits.
  void tile(T* P, T* Pd, T* dS, int64_t b, int64_t h, int64_t i0, int64_t j0, bool kv,
            bool q_grad) const {
    const int64_t bh = b * pr.H + h, mq = std::min(kBq, pr.Lq - i0), nk = std::min(kBk, pr.Lk - j0);
    const T scale = static_cast<T>(pr.scale);
    const T* qt = row_ptr<T>(q, b, h, i0);
    const T* gt = row_ptr<T>(dout, b, h, i0);
    gemm<T>({mq, nk, pr.D, qt, q.strides[2], q.strides[3], row_ptr<T>(k, b, h, j0), k.strides[3],
             k.strides[2], P, kBk, 1});
    for (int64_t r = 0; r < mq; ++r) {
      T* s = P + r * kBk;
      score_row(pr, mask, b, h, i0 + r, j0, nk, s);
      exp_row(s, nk, Li[bh * pr.Lq + i0 + r]);
      if (pr.p > 0) {
        std::copy(s, s + nk, Pd + r * kBk);
        dropout_row(pr, b, h, i0 + r, j0, nk, Pd + r * kBk);
      }
    }
    const T* pd = pr.p > 0 ? Pd : P;
    if (kv)  // dV_j += Pdᵀ dO_i
      gemm<T>({nk, pr.Dv, mq, pd, 1, kBk, gt, dout.strides[2], dout.strides[3],
               dv + (bh * pr.Lk + j0) * pr.Dv, pr.Dv, 1},
              true);
    // dPd = dO_i V_jᵀ
    gemm<T>({mq, nk, pr.Dv, gt, dout.strides[2], dout.strides[3], row_ptr<T>(v, b, h, j0),
             v.strides[3], v.strides[2], dS, kBk, 1});
    // dS = P o (dPd o Z - D_i) = Pd o dPd - P D_i: Z is already in Pd, so the mask is
    // generated once per element here.
    for (int64_t r = 0; r < mq; ++r) {
      T* ds = dS + r * kBk;
      const T *p = P + r * kBk, *pdr = pd + r * kBk;
      const T d = Di[bh * pr.Lq + i0 + r];
      for (int64_t j = 0; j < nk; ++j) ds[j] = scale * (pdr[j] * ds[j] - p[j] * d);
    }
    if (kv)  // dK_j += dSᵀ Q_i (scale already in dS)
      gemm<T>({nk, pr.D, mq, dS, 1, kBk, qt, q.strides[2], q.strides[3],
               dk + (bh * pr.Lk + j0) * pr.D, pr.D, 1},
              true);
    if (q_grad)  // dQ_i += dS K_j
      gemm<T>({mq, pr.D, nk, dS, kBk, 1, row_ptr<T>(k, b, h, j0), k.strides[2], k.strides[3],
               dq + (bh * pr.Lq + i0) * pr.D, pr.D, 1},
              true);
  }
};

// Causal: query tiles that start at or below key j0's tile (the rows above see none of it).
int64_t first_query_tile(const Problem& pr, int64_t j0) { return pr.causal ? j0 / kBq * kBq : 0; }

template <typename T>
void sdpa_backward(const KernelCall& c) {
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2], &o = c.in[3], &L = c.in[4],
                  &dout = c.in[5];
  const TensorArg mask = c.in.size() > 6 ? c.in[6] : TensorArg{};
  const Problem pr = decode(c, mask);
  const int64_t BH = pr.B * pr.H, rows = BH * pr.Lq;
  // D_i = rowsum(dO o O) = sum_j P_ij dP_ij and L_i, once per row.
  std::vector<T> Di(rows), Li(rows);
  parallel_for(0, rows, 256, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t bh = row / pr.Lq, i = row % pr.Lq, b = bh / pr.H, h = bh % pr.H;
      const T *oi = row_ptr<T>(o, b, h, i), *gi = row_ptr<T>(dout, b, h, i);
      T d = 0;
      for (int64_t e = 0; e < pr.Dv; ++e) d += oi[e * o.strides[3]] * gi[e * dout.strides[3]];
      Di[row] = d;
      Li[row] = row_ptr<T>(L, b, h, 0)[i * L.strides[2]];
    }
  });
  const Backward<T> bw{
      q, k, v, dout, mask, pr, Di, Li, c.out[0].ptr<T>(), c.out[1].ptr<T>(), c.out[2].ptr<T>()};
  const int64_t qtiles = (pr.Lq + kBq - 1) / kBq, ktiles = (pr.Lk + kBk - 1) / kBk;
  auto zero = [](T* p, int64_t n) { std::fill(p, p + n, T(0)); };
  if (BH >= num_threads()) {
    // One pass, one task per (batch, head): key tiles outer, query tiles inner.
    parallel_for(0, BH, 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> P(kBq * kBk), Pd(kBq * kBk), dS(kBq * kBk);
      for (int64_t bh = lo; bh < hi; ++bh) {
        zero(bw.dq + bh * pr.Lq * pr.D, pr.Lq * pr.D);
        zero(bw.dk + bh * pr.Lk * pr.D, pr.Lk * pr.D);
        zero(bw.dv + bh * pr.Lk * pr.Dv, pr.Lk * pr.Dv);
        for (int64_t j0 = 0; j0 < pr.Lk; j0 += kBk)
          for (int64_t i0 = first_query_tile(pr, j0); i0 < pr.Lq; i0 += kBq)
            bw.tile(P.data(), Pd.data(), dS.data(), bh / pr.H, bh % pr.H, i0, j0, true, true);
      }
    });
    return;
  }
  // Fewer heads than threads: dK, dV parallel over key tiles, then dQ over query tiles. Each
  // pass recomputes S and dP (two more GEMMs per tile pair) but keeps every thread busy.
  parallel_for(0, BH * ktiles, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> P(kBq * kBk), Pd(kBq * kBk), dS(kBq * kBk);
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t bh = t / ktiles, j0 = t % ktiles * kBk, nk = std::min(kBk, pr.Lk - j0);
      zero(bw.dk + (bh * pr.Lk + j0) * pr.D, nk * pr.D);
      zero(bw.dv + (bh * pr.Lk + j0) * pr.Dv, nk * pr.Dv);
      for (int64_t i0 = first_query_tile(pr, j0); i0 < pr.Lq; i0 += kBq)
        bw.tile(P.data(), Pd.data(), dS.data(), bh / pr.H, bh % pr.H, i0, j0, true, false);
    }
  });
  parallel_for(0, BH * qtiles, 1, [&](int64_t lo, int64_t hi) {
    std::vector<T> P(kBq * kBk), Pd(kBq * kBk), dS(kBq * kBk);
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t bh = t / qtiles, i0 = t % qtiles * kBq, mq = std::min(kBq, pr.Lq - i0);
      zero(bw.dq + (bh * pr.Lq + i0) * pr.D, mq * pr.D);
      for (int64_t j0 = 0; j0 < pr.Lk; j0 += kBk)
        if (first_query_tile(pr, j0) <= i0)  // the same tile pairs as the one-pass loop
          bw.tile(P.data(), Pd.data(), dS.data(), bh / pr.H, bh % pr.H, i0, j0, false, true);
    }
  });
}

// bf16 and f16: the f32 kernels on f32 copies of the operands, results rounded once
// (kernels/cpu/widen.h); the log-sum-exp is f32 already.
void cpu_sdpa(const KernelCall& c) {
  if (is_half(c.in[0].dtype))
    return run_widened(c, [](const KernelCall& w) { sdpa_forward<float>(w); });
  SG_DISPATCH_FLOAT(c.in[0].dtype, "scaled_dot_product_attention",
                    [&] { sdpa_forward<scalar_t>(c); });
}

void cpu_sdpa_backward(const KernelCall& c) {
  if (is_half(c.in[0].dtype))
    return run_widened(c, [](const KernelCall& w) { sdpa_backward<float>(w); });
  SG_DISPATCH_FLOAT(c.in[0].dtype, "scaled_dot_product_attention_backward",
                    [&] { sdpa_backward<scalar_t>(c); });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_attention() {
  register_kernel(OpId::scaled_dot_product_attention, Backend::cpu, kernels::cpu_sdpa);
  register_kernel(OpId::scaled_dot_product_attention_backward, Backend::cpu,
                  kernels::cpu_sdpa_backward);
}
}  // namespace stackgrad
