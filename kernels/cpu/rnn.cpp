// CPU kernels of the rnn family: the LSTM cell, the LSTM over a sequence and its backward
// through time (see docs/kernels/lstm.md). Gate order i, f, g, o.
//
// Algorithm. The input projection of every step is one GEMM, X [T*B, I] · W_ihᵀ, written
// straight into the saved-gates buffer. Each step then splits the hidden units into one chunk
// per thread; a chunk runs one recurrent GEMM for its columns of the four gates (h_{t-1} ·
// W_hhᵀ, serial gemm inside the parallel_for; W_hhᵀ's columns are permuted once per call so a
// chunk's four gates are adjacent) and the gate math on them, so one step costs one parallel
// region (its end is the barrier the next step's h_{t-1} needs). Backward mirrors it:
// per step and chunk, dh = dgates_{t+1} · W_hh on the chunk's units, then the gate backward;
// after the loop the weight gradients are single GEMMs over all T*B rows.
// Determinism: every output element is computed by one task in a fixed order; no atomics.
// Limits: outputs must be contiguous (the op allocates them); strided inputs are packed first.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/vec_math.h"

namespace stackgrad::kernels {
namespace {

// A contiguous pointer to a (<= 3-D) argument: its own data, or a packed copy in `buf`.
template <typename T>
const T* dense(const TensorArg& a, std::vector<T>& buf) {
  if (a.is_contiguous()) return a.ptr<T>();
  int64_t n[3] = {1, 1, 1}, s[3] = {0, 0, 0};
  for (int d = 0; d < a.ndim; ++d) {
    n[3 - a.ndim + d] = a.shape[d];
    s[3 - a.ndim + d] = a.strides[d];
  }
  buf.resize(static_cast<size_t>(a.numel));
  T* o = buf.data();
  const T* p = a.ptr<T>();
  for (int64_t i = 0; i < n[0]; ++i)
    for (int64_t j = 0; j < n[1]; ++j)
      for (int64_t k = 0; k < n[2]; ++k) *o++ = p[i * s[0] + j * s[1] + k * s[2]];
  return buf.data();
}

template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// Forward gate math on units [j, j + n) of one row, n <= lanes, in the chunk starting at u0.
// g: the row's 4H input projections, replaced by the activated gates; rec: the chunk's
// recurrent sums h_{t-1} w_hhᵀ, gate q at rec[q * w + (u - u0)]; cp: c_{t-1}; writes c_t, h_t.
template <typename T>
[[gnu::always_inline]] inline void gates_forward_lanes(T* g, const T* rec, int64_t w, const T* bias,
                                                       const T* cp, T* cn, T* hn, int64_t H,
                                                       int64_t u0, int64_t j, int64_t n) {
  using V = vec::Vec<T>;
  auto ld = [n](const T* p) { return vec::load_partial<V>(p, n); };
  auto st = [n](T* p, V v) { vec::store_partial(p, v, n); };
  auto pre = [&](int64_t q) {
    return ld(g + q * H + j) + ld(rec + q * w + j - u0) + ld(bias + q * H + j);
  };
  const V i = vec::sigmoid(pre(0)), f = vec::sigmoid(pre(1));
  const V gg = vec::tanh(pre(2)), o = vec::sigmoid(pre(3));
  const V c = f * ld(cp + j) + i * gg;
  st(g + j, i);
  st(g + H + j, f);
  st(g + 2 * H + j, gg);
  st(g + 3 * H + j, o);
  st(cn + j, c);
  st(hn + j, o * vec::tanh(c));
}

template <typename T>
void gates_forward(T* g, const T* rec, const T* bias, const T* cp, T* cn, T* hn, int64_t H,
                   int64_t u0, int64_t u1) {
  constexpr int L = vec::kLanes<T>;
  const int64_t w = u1 - u0;
  int64_t j = u0;
  for (; j + L <= u1; j += L) gates_forward_lanes(g, rec, w, bias, cp, cn, hn, H, u0, j, L);
  if (j < u1) gates_forward_lanes(g, rec, w, bias, cp, cn, hn, H, u0, j, u1 - j);
}

// Backward gate math on units [j, j + n) of one row (docs/kernels/lstm.md):
//   dc'_tot = dc' + dh o (1 - tanh²c'), then through c' = f c + i g and the activations.
// dh is the recurrent part plus, when given, d_output; dc holds dc' and is replaced by dc.
template <typename T>
[[gnu::always_inline]] inline void gates_backward_lanes(const T* g, const T* cp, const T* cn,
                                                        const T* dh, const T* dout, T* dc, T* dg,
                                                        int64_t H, int64_t j, int64_t n) {
  using V = vec::Vec<T>;
  auto ld = [n](const T* p) { return vec::load_partial<V>(p, n); };
  auto st = [n](T* p, V v) { vec::store_partial(p, v, n); };
  const V i = ld(g + j), f = ld(g + H + j), gg = ld(g + 2 * H + j), o = ld(g + 3 * H + j);
  const V tc = vec::tanh(ld(cn + j));
  V d = ld(dh + j);
  if (dout) d += ld(dout + j);
  const V dct = ld(dc + j) + d * o * (T(1) - tc * tc);
  st(dg + j, dct * gg * i * (T(1) - i));
  st(dg + H + j, dct * ld(cp + j) * f * (T(1) - f));
  st(dg + 2 * H + j, dct * i * (T(1) - gg * gg));
  st(dg + 3 * H + j, d * tc * o * (T(1) - o));
  st(dc + j, dct * f);
}

template <typename T>
void gates_backward(const T* g, const T* cp, const T* cn, const T* dh, const T* dout, T* dc, T* dg,
                    int64_t H, int64_t u0, int64_t u1) {
  constexpr int L = vec::kLanes<T>;
  int64_t j = u0;
  for (; j + L <= u1; j += L) gates_backward_lanes(g, cp, cn, dh, dout, dc, dg, H, j, L);
  if (j < u1) gates_backward_lanes(g, cp, cn, dh, dout, dc, dg, H, j, u1 - j);
}

// Hidden units split into one chunk per thread, chunk edges on vector boundaries: chunk c is
// [edges[c], edges[c + 1]). `work` (about the multiply-adds of the call) keeps small problems on
// one thread: a parallel region costs microseconds, more than a step of a tiny LSTM.
template <typename T>
std::vector<int64_t> unit_chunks(int64_t H, int64_t work) {
  constexpr int L = vec::kLanes<T>;
  constexpr int64_t kMinWorkPerThread = 1 << 15;
  const int64_t blocks = (H + L - 1) / L;
  const int64_t chunks = std::max<int64_t>(
      1, std::min({static_cast<int64_t>(num_threads()), blocks, work / kMinWorkPerThread}));
  std::vector<int64_t> edges(chunks + 1);
  for (int64_t c = 0; c <= chunks; ++c) edges[c] = std::min(H, blocks * c / chunks * L);
  return edges;
}

template <typename F>
void for_chunks(const std::vector<int64_t>& edges, F&& f) {
  parallel_for(0, static_cast<int64_t>(edges.size()) - 1, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c)
      if (edges[c] < edges[c + 1]) f(edges[c], edges[c + 1]);
  });
}

template <typename T, typename F>
void for_unit_chunks(int64_t H, int64_t work, F&& f) {
  for_chunks(unit_chunks<T>(H, work), f);
}

// The recurrent weights of one call as a strided [H, 4H] GEMM operand whose column 4 u0 starts
// chunk [u0, u1)'s four gates: the permuted copy below, or, for a single step on a single
// chunk (the layouts agree), w_hh itself read transposed: there the copy would cost as much as
// a small batch's GEMM, while over a sequence it pays for itself (every step packs unit-stride
// rows instead of walking w_hh's long stride).
template <typename T>
struct RecurrentWeights {
  std::vector<T> copy;
  const T* data;
  int64_t rs, cs;
};

// One recurrent step forward for every row. Each chunk runs one GEMM, h_{t-1} [B, H] times its
// columns of the recurrent weights, into its part of `rec` ([B, 4w] at rec + 4 B u0), then the
// gate math adds the input projection (already in `gates`) and the bias.
template <typename T>
void step_forward(int64_t B, int64_t H, const std::vector<int64_t>& edges, const T* h_prev,
                  const RecurrentWeights<T>& wr, const T* bias, const T* c_prev, T* gates, T* rec,
                  T* c_new, T* h_new) {
  const int64_t G = 4 * H;
  for_chunks(edges, [&](int64_t u0, int64_t u1) {
    const int64_t w = u1 - u0;
    T* r = rec + 4 * B * u0;
    gemm<T>({B, 4 * w, H, h_prev, H, 1, wr.data + 4 * u0 * wr.cs, wr.rs, wr.cs, r, 4 * w, 1});
    for (int64_t b = 0; b < B; ++b)
      gates_forward(gates + b * G, r + b * 4 * w, bias, c_prev + b * H, c_new + b * H,
                    h_new + b * H, H, u0, u1);
  });
}

// w_hhᵀ [H, 4H] with its columns permuted once per call so that each chunk's four gates are
// adjacent: w_hh[q H + u, k] goes to column 4 u0 + q w + (u - u0) of row k, for the chunk
// [u0, u0 + w) holding u. A step then costs one GEMM per chunk (one packing of h_{t-1}).
template <typename T>
RecurrentWeights<T> recurrent_weights(const TensorArg& wt, const std::vector<int64_t>& edges,
                                      int64_t steps) {
  const int64_t G = wt.shape[0], H = wt.shape[1];
  if (edges.size() <= 2 && steps == 1) return {{}, wt.ptr<T>(), wt.strides[1], wt.strides[0]};
  RecurrentWeights<T> r{std::vector<T>(static_cast<size_t>(G * H)), nullptr, G, 1};
  const T* p = wt.ptr<T>();
  for (size_t c = 0; c + 1 < edges.size(); ++c) {
    const int64_t u0 = edges[c], w = edges[c + 1] - u0;
    for (int64_t q = 0; q < 4; ++q)
      for (int64_t u = u0; u < u0 + w; ++u)
        for (int64_t k = 0; k < H; ++k)
          r.copy[k * G + 4 * u0 + q * w + (u - u0)] =
              p[(q * H + u) * wt.strides[0] + k * wt.strides[1]];
  }
  r.data = r.copy.data();
  return r;
}

// gates [rows, 4H] = X [rows, I] · W_ihᵀ: the input projection of every row at once.
template <typename T>
void input_projection(int64_t rows, int64_t I, int64_t G, const T* x, const TensorArg& w_ih,
                      T* gates) {
  gemm<T>({rows, G, I, x, I, 1, w_ih.ptr<T>(), w_ih.strides[1], w_ih.strides[0], gates, G, 1});
}

void cpu_lstm_cell(const KernelCall& call) {
  const TensorArg &x = call.in[0], &h = call.in[1], &c = call.in[2], &w_ih = call.in[3],
                  &w_hh = call.in[4], &bias = call.in[5];
  const int64_t B = x.shape[0], I = x.shape[1], H = h.shape[1];
  SG_DISPATCH_FLOAT(x.dtype, "lstm_cell", [&] {
    using T = scalar_t;
    std::vector<T> xb, hb, cb, bb;
    T* gates = call.out[2].ptr<T>();
    input_projection<T>(B, I, 4 * H, dense(x, xb), w_ih, gates);
    const auto edges = unit_chunks<T>(H, B * 4 * H * (H + 8));
    const RecurrentWeights<T> whh = recurrent_weights<T>(w_hh, edges, 1);
    auto rec = scratch<T>(B * 4 * H);
    step_forward<T>(B, H, edges, dense(h, hb), whh, dense(bias, bb), dense(c, cb), gates, rec.get(),
                    call.out[1].ptr<T>(), call.out[0].ptr<T>());
  });
}

void cpu_lstm_cell_backward(const KernelCall& call) {
  const TensorArg& c = call.in[1];
  const int64_t B = c.shape[0], H = c.shape[1];
  SG_DISPATCH_FLOAT(c.dtype, "lstm_cell_backward", [&] {
    using T = scalar_t;
    std::vector<T> b0, b1, b2, b3, b4;
    const T *g = dense(call.in[0], b0), *cp = dense(c, b1), *cn = dense(call.in[2], b2);
    const T *dh = dense(call.in[3], b3), *dcn = dense(call.in[4], b4);
    T *dg = call.out[0].ptr<T>(), *dc = call.out[1].ptr<T>();
    if (B * H > 0) std::memcpy(dc, dcn, sizeof(T) * static_cast<size_t>(B * H));
    for_unit_chunks<T>(H, B * H * 32, [&](int64_t u0, int64_t u1) {
      for (int64_t b = 0; b < B; ++b)
        gates_backward<T>(g + b * 4 * H, cp + b * H, cn + b * H, dh + b * H, nullptr, dc + b * H,
                          dg + b * 4 * H, H, u0, u1);
    });
  });
}

void cpu_lstm(const KernelCall& call) {
  const TensorArg &x = call.in[0], &w_ih = call.in[3], &w_hh = call.in[4];
  const int64_t T_ = x.shape[0], B = x.shape[1], I = x.shape[2], H = call.in[1].shape[1];
  const int64_t G = 4 * H, BH = B * H;
  SG_DISPATCH_FLOAT(x.dtype, "lstm", [&] {
    using T = scalar_t;
    std::vector<T> xb, hb, cb, bb;
    const T *h0 = dense(call.in[1], hb), *c0 = dense(call.in[2], cb), *bias = dense(call.in[5], bb);
    T *out = call.out[0].ptr<T>(), *cs = call.out[3].ptr<T>(), *gates = call.out[4].ptr<T>();
    input_projection<T>(T_ * B, I, G, dense(x, xb), w_ih, gates);
    const auto edges = unit_chunks<T>(H, B * G * (H + 8));
    const RecurrentWeights<T> whh = recurrent_weights<T>(w_hh, edges, T_);
    auto rec = scratch<T>(B * G);
    for (int64_t t = 0; t < T_; ++t)
      step_forward<T>(B, H, edges, t == 0 ? h0 : out + (t - 1) * BH, whh, bias,
                      t == 0 ? c0 : cs + (t - 1) * BH, gates + t * B * G, rec.get(), cs + t * BH,
                      out + t * BH);
    if (BH > 0) {
      const size_t bytes = sizeof(T) * static_cast<size_t>(BH);
      std::memcpy(call.out[1].ptr<T>(), T_ > 0 ? out + (T_ - 1) * BH : h0, bytes);
      std::memcpy(call.out[2].ptr<T>(), T_ > 0 ? cs + (T_ - 1) * BH : c0, bytes);
    }
  });
}

void cpu_lstm_backward(const KernelCall& call) {
  const TensorArg &x = call.in[0], &w_ih = call.in[3], &w_hh = call.in[4];
  const int64_t T_ = x.shape[0], B = x.shape[1], I = x.shape[2], H = call.in[1].shape[1];
  const int64_t G = 4 * H, BH = B * H;
  SG_DISPATCH_FLOAT(x.dtype, "lstm_backward", [&] {
    using T = scalar_t;
    std::vector<T> b[10];
    const T *xd = dense(x, b[0]), *h0 = dense(call.in[1], b[1]), *c0 = dense(call.in[2], b[2]);
    const T *out = dense(call.in[5], b[3]), *cs = dense(call.in[6], b[4]);
    const T *gates = dense(call.in[7], b[5]), *dout = dense(call.in[8], b[6]);
    const T *dh_last = dense(call.in[9], b[7]), *dc_last = dense(call.in[10], b[8]);
    T *dx = call.out[0].ptr<T>(), *dh0 = call.out[1].ptr<T>(), *dc = call.out[2].ptr<T>();
    T *dw_ih = call.out[3].ptr<T>(), *dw_hh = call.out[4].ptr<T>(), *db = call.out[5].ptr<T>();
    auto dgates = scratch<T>(T_ * B * G);
    auto dh = scratch<T>(BH);
    if (BH > 0) {
      std::memcpy(dh.get(), dh_last, sizeof(T) * static_cast<size_t>(BH));
      std::memcpy(dc, dc_last, sizeof(T) * static_cast<size_t>(BH));  // dc0 is the running dc
    }
    const T* whh = w_hh.ptr<T>();
    const int64_t w_rs = w_hh.strides[0], w_cs = w_hh.strides[1];
    // dh[:, u0:u1] = dgates_t · W_hh[:, u0:u1] for the chunk's units.
    auto recurrent_dh = [&](const T* dg_t, T* dst, int64_t u0, int64_t u1) {
      gemm<T>({B, u1 - u0, G, dg_t, G, 1, whh + u0 * w_cs, w_rs, w_cs, dst + u0, H, 1});
    };
    for (int64_t t = T_ - 1; t >= 0; --t) {
      const T* cp = t == 0 ? c0 : cs + (t - 1) * BH;
      T* dg = dgates.get() + t * B * G;
      for_unit_chunks<T>(H, B * G * (H + 8), [&](int64_t u0, int64_t u1) {
        if (t < T_ - 1) recurrent_dh(dg + B * G, dh.get(), u0, u1);
        for (int64_t b = 0; b < B; ++b)
          gates_backward<T>(gates + (t * B + b) * G, cp + b * H, cs + t * BH + b * H,
                            dh.get() + b * H, dout + t * BH + b * H, dc + b * H, dg + b * G, H, u0,
                            u1);
      });
    }
    if (T_ > 0)
      for_unit_chunks<T>(H, B * G * H,
                         [&](int64_t u0, int64_t u1) { recurrent_dh(dgates.get(), dh0, u0, u1); });
    else if (BH > 0)
      std::memcpy(dh0, dh.get(), sizeof(T) * static_cast<size_t>(BH));
    const T* dG = dgates.get();
    const int64_t rows = T_ * B;
    // dx = dG · W_ih, dW_ih = dGᵀ X, dW_hh = dG_0ᵀ h0 + dG_{1..}ᵀ output_{0..T-2}.
    gemm<T>({rows, I, G, dG, G, 1, w_ih.ptr<T>(), w_ih.strides[0], w_ih.strides[1], dx, I, 1});
    gemm<T>({G, I, rows, dG, 1, G, xd, I, 1, dw_ih, I, 1});
    gemm<T>({G, H, std::min<int64_t>(rows, B), dG, 1, G, h0, H, 1, dw_hh, H, 1});
    if (T_ > 1) gemm<T>({G, H, rows - B, dG + B * G, 1, G, out, H, 1, dw_hh, H, 1}, true);
    // db: column sums of dG, each column summed by one task in row order.
    parallel_for(0, G, 64, [&](int64_t lo, int64_t hi) {
      std::vector<T> acc(static_cast<size_t>(hi - lo), T(0));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = lo; j < hi; ++j) acc[j - lo] += dG[r * G + j];
      std::copy(acc.begin(), acc.end(), db + lo);
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_rnn() {
  register_kernel(OpId::lstm_cell, Backend::cpu, kernels::cpu_lstm_cell);
  register_kernel(OpId::lstm_cell_backward, Backend::cpu, kernels::cpu_lstm_cell_backward);
  register_kernel(OpId::lstm, Backend::cpu, kernels::cpu_lstm);
  register_kernel(OpId::lstm_backward, Backend::cpu, kernels::cpu_lstm_backward);
}
}  // namespace stackgrad
