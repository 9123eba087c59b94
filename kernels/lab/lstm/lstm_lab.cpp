// LSTM kernel versions side by side (docs/kernels/lstm.md), each validated against the reference
// kernel and then timed on the benchmark size (I 64, H 128, T 50, B 64, f32):
//   v1_gemm_then_gates  per step: the recurrent GEMM split by gemm() itself over its C tiles,
//                       then a second parallel pass for the gate math (two regions per step);
//                       backward likewise (dh GEMM, then a gate pass).
//   v2_four_gemms_chunk per step, one parallel region: each thread owns a chunk of hidden units
//                       and runs the GEMM columns of its units' four gates (one gemm per gate),
//                       then their vector gate math; forward only, its backward is v3's.
//   v3_one_gemm_chunk   v2 with w_hhᵀ's columns permuted once per call so a chunk's four gates
//                       are one GEMM per step (kernels/cpu/rnn.cpp, the version the op uses);
//                       backward: per step and chunk the dh GEMM then the gate backward.
// Both use one input-projection GEMM over all T*B rows and single weight-gradient GEMMs.
//   STACKGRAD_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ./build-bench/lstm_lab
// Times are process CPU time (see cpu_ms), medians of 15 runs.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <vector>

#include "engine/dispatch/dispatch.h"
#include "engine/runtime/parallel.h"
#include "engine/stackgrad.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/vec_math.h"

#ifdef STACKGRAD_HAVE_OPENBLAS
#include <cblas.h>
#endif

using namespace stackgrad;
using kernels::gemm;

namespace {

float sigmoidf(float x) {
  return kernels::vec::scalar_via([](auto v) { return kernels::vec::sigmoid(v); }, x);
}
float tanhf_(float x) {
  return kernels::vec::scalar_via([](auto v) { return kernels::vec::tanh(v); }, x);
}

// ---- v1: gemm over its own tiles, then a separate gate pass ---------------------------------
// f32, contiguous inputs (the lab's problem); same argument lists as the lstm kernels.
void v1_forward(const KernelCall& call) {
  const TensorArg &x = call.in[0], &w_ih = call.in[3], &w_hh = call.in[4];
  const int64_t T = x.shape[0], B = x.shape[1], I = x.shape[2], H = call.in[1].shape[1];
  const int64_t G = 4 * H, BH = B * H;
  const float *h0 = call.in[1].ptr<float>(), *c0 = call.in[2].ptr<float>();
  const float* bias = call.in[5].ptr<float>();
  float *out = call.out[0].ptr<float>(), *cs = call.out[3].ptr<float>();
  float* gates = call.out[4].ptr<float>();
  gemm<float>({T * B, G, I, x.ptr<float>(), I, 1, w_ih.ptr<float>(), 1, I, gates, G, 1});
  for (int64_t t = 0; t < T; ++t) {
    const float* hp = t == 0 ? h0 : out + (t - 1) * BH;
    const float* cp = t == 0 ? c0 : cs + (t - 1) * BH;
    float* g = gates + t * B * G;
    gemm<float>({B, G, H, hp, H, 1, w_hh.ptr<float>(), 1, H, g, G, 1}, true);
    parallel_for(0, B, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) {
        float* r = g + b * G;
        for (int64_t j = 0; j < H; ++j) {
          const float i = sigmoidf(r[j] + bias[j]), f = sigmoidf(r[H + j] + bias[H + j]);
          const float gg = tanhf_(r[2 * H + j] + bias[2 * H + j]);
          const float o = sigmoidf(r[3 * H + j] + bias[3 * H + j]);
          const float c = f * cp[b * H + j] + i * gg;
          r[j] = i, r[H + j] = f, r[2 * H + j] = gg, r[3 * H + j] = o;
          cs[t * BH + b * H + j] = c;
          out[t * BH + b * H + j] = o * tanhf_(c);
        }
      }
    });
  }
  std::memcpy(call.out[1].ptr<float>(), out + (T - 1) * BH, sizeof(float) * BH);
  std::memcpy(call.out[2].ptr<float>(), cs + (T - 1) * BH, sizeof(float) * BH);
}

void v1_backward(const KernelCall& call) {
  const TensorArg &x = call.in[0], &w_ih = call.in[3], &w_hh = call.in[4];
  const int64_t T = x.shape[0], B = x.shape[1], I = x.shape[2], H = call.in[1].shape[1];
  const int64_t G = 4 * H, BH = B * H;
  const float *h0 = call.in[1].ptr<float>(), *c0 = call.in[2].ptr<float>();
  const float *out = call.in[5].ptr<float>(), *cs = call.in[6].ptr<float>();
  const float *gates = call.in[7].ptr<float>(), *dout = call.in[8].ptr<float>();
  float *dx = call.out[0].ptr<float>(), *dh0 = call.out[1].ptr<float>();
  float* dc = call.out[2].ptr<float>();
  std::vector<float> dG(T * B * G), dh(call.in[9].ptr<float>(), call.in[9].ptr<float>() + BH);
  std::memcpy(dc, call.in[10].ptr<float>(), sizeof(float) * BH);
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* cp = t == 0 ? c0 : cs + (t - 1) * BH;
    float* dg = dG.data() + t * B * G;
    if (t < T - 1)
      gemm<float>({B, H, G, dg + B * G, G, 1, w_hh.ptr<float>(), H, 1, dh.data(), H, 1});
    parallel_for(0, B, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) {
        const float* g = gates + (t * B + b) * G;
        for (int64_t j = 0; j < H; ++j) {
          const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
          const float tc = tanhf_(cs[t * BH + b * H + j]);
          const float d = dh[b * H + j] + dout[t * BH + b * H + j];
          const float dct = dc[b * H + j] + d * o * (1 - tc * tc);
          float* r = dg + b * G;
          r[j] = dct * gg * i * (1 - i);
          r[H + j] = dct * cp[b * H + j] * f * (1 - f);
          r[2 * H + j] = dct * i * (1 - gg * gg);
          r[3 * H + j] = d * tc * o * (1 - o);
          dc[b * H + j] = dct * f;
        }
      }
    });
  }
  gemm<float>({B, H, G, dG.data(), G, 1, w_hh.ptr<float>(), H, 1, dh0, H, 1});
  const int64_t rows = T * B;
  gemm<float>({rows, I, G, dG.data(), G, 1, w_ih.ptr<float>(), I, 1, dx, I, 1});
  gemm<float>({G, I, rows, dG.data(), 1, G, x.ptr<float>(), I, 1, call.out[3].ptr<float>(), I, 1});
  float* dw_hh = call.out[4].ptr<float>();
  gemm<float>({G, H, B, dG.data(), 1, G, h0, H, 1, dw_hh, H, 1});
  gemm<float>({G, H, rows - B, dG.data() + B * G, 1, G, out, H, 1, dw_hh, H, 1}, true);
  float* db = call.out[5].ptr<float>();
  for (int64_t j = 0; j < G; ++j) db[j] = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < G; ++j) db[j] += dG[r * G + j];
}

// ---- v2: four GEMMs per chunk and step -------------------------------------------------------
// The unit-chunk kernel before its weights were permuted: w_hhᵀ is a plain contiguous transpose
// and each chunk runs one GEMM per gate (packing h_{t-1} four times per step). Forward only
// (the backward is the kernel's).
void v2_forward(const KernelCall& call) {
  using kernels::vec::F8;
  const TensorArg &x = call.in[0], &w_ih = call.in[3], &w_hh = call.in[4];
  const int64_t T = x.shape[0], B = x.shape[1], I = x.shape[2], H = call.in[1].shape[1];
  const int64_t G = 4 * H, BH = B * H;
  const float *h0 = call.in[1].ptr<float>(), *c0 = call.in[2].ptr<float>();
  const float* bias = call.in[5].ptr<float>();
  float *out = call.out[0].ptr<float>(), *cs = call.out[3].ptr<float>();
  float* gates = call.out[4].ptr<float>();
  gemm<float>({T * B, G, I, x.ptr<float>(), I, 1, w_ih.ptr<float>(), 1, I, gates, G, 1});
  // Chunks of units on 8-float boundaries, one per thread (H a multiple of 8 here).
  const int64_t chunks = std::min<int64_t>(num_threads(), H / 8);
  std::vector<int64_t> edge(chunks + 1);
  for (int64_t c = 0; c <= chunks; ++c) edge[c] = H / 8 * c / chunks * 8;
  std::vector<float> wt(H * G);  // w_hhᵀ
  const float* wh = w_hh.ptr<float>();
  for (int64_t j = 0; j < G; ++j)
    for (int64_t k = 0; k < H; ++k) wt[k * G + j] = wh[j * H + k];
  std::vector<float> scratch(B * G);
  for (int64_t t = 0; t < T; ++t) {
    const float* hp = t == 0 ? h0 : out + (t - 1) * BH;
    const float* cp = t == 0 ? c0 : cs + (t - 1) * BH;
    float* g = gates + t * B * G;
    parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const int64_t u0 = edge[c], w = edge[c + 1] - u0;
        float* sc = scratch.data() + B * 4 * u0;
        for (int64_t q = 0; q < 4; ++q)
          gemm<float>({B, w, H, hp, H, 1, wt.data() + q * H + u0, G, 1, sc + q * w, 4 * w, 1});
        for (int64_t b = 0; b < B; ++b) {
          float* r = g + b * G;
          const float* s = sc + b * 4 * w;
          for (int64_t j = 0; j < w; j += 8) {
            auto ld = [](const float* p) { return kernels::vec::load_partial<F8>(p, 8); };
            auto st = [](float* p, F8 v) { kernels::vec::store_partial(p, v, 8); };
            const int64_t u = u0 + j;
            const F8 i = kernels::vec::sigmoid(ld(r + u) + ld(s + j) + ld(bias + u));
            const F8 f = kernels::vec::sigmoid(ld(r + H + u) + ld(s + w + j) + ld(bias + H + u));
            const F8 gg =
                kernels::vec::tanh(ld(r + 2 * H + u) + ld(s + 2 * w + j) + ld(bias + 2 * H + u));
            const F8 o =
                kernels::vec::sigmoid(ld(r + 3 * H + u) + ld(s + 3 * w + j) + ld(bias + 3 * H + u));
            const F8 cn = f * ld(cp + b * H + u) + i * gg;
            st(r + u, i), st(r + H + u, f), st(r + 2 * H + u, gg), st(r + 3 * H + u, o);
            st(cs + t * BH + b * H + u, cn);
            st(out + t * BH + b * H + u, o * kernels::vec::tanh(cn));
          }
        }
      }
    });
  }
  std::memcpy(call.out[1].ptr<float>(), out + (T - 1) * BH, sizeof(float) * BH);
  std::memcpy(call.out[2].ptr<float>(), cs + (T - 1) * BH, sizeof(float) * BH);
}

// ---- harness -----------------------------------------------------------------------------

std::vector<TensorArg> args(const std::vector<Tensor>& ts) {
  std::vector<TensorArg> a;
  for (const auto& t : ts) a.push_back(make_arg(t));
  return a;
}

void call(KernelFn fn, const std::vector<Tensor>& in, const std::vector<Tensor>& out) {
  auto a = args(in), b = args(out);
  OpAttrs attrs;
  fn(KernelCall{a, b, attrs});
}

// Process CPU time (all threads): on a shared, oversubscribed machine wall time mostly measures
// the wait for a core; with one thread, CPU time is the kernel's own cost.
double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double median_ms(const std::function<void()>& f, int reps) {
  f();
  std::vector<double> ts;
  for (int r = 0; r < reps; ++r) {
    const double t0 = cpu_ms();
    f();
    ts.push_back(cpu_ms() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

double max_diff(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, max(abs(a[i] - b[i])).item());
  return m;
}

}  // namespace

int main() {
  const int64_t I = 64, H = 128, T = 50, B = 64, G = 4 * H;
  Generator gen(0);
  auto r = [&](const Shape& s, double scale) { return randn(s, gen) * scale; };
  Tensor x = r({T, B, I}, 1.0), h0 = r({B, H}, 1.0), c0 = r({B, H}, 1.0);
  Tensor w_ih = r({G, I}, 0.08), w_hh = r({G, H}, 0.08), bias = r({G}, 0.08);
  Tensor d_out = r({T, B, H}, 1.0), dh = r({B, H}, 1.0), dc = r({B, H}, 1.0);
  auto fwd_outs = [&] {
    return std::vector<Tensor>{empty({T, B, H}), empty({B, H}), empty({B, H}), empty({T, B, H}),
                               empty({T, B, G})};
  };
  auto bwd_outs = [&] {
    return std::vector<Tensor>{empty({T, B, I}), empty({B, H}), empty({B, H}),
                               empty({G, I}),    empty({G, H}), empty({G})};
  };
  const std::vector<Tensor> fin = {x, h0, c0, w_ih, w_hh, bias};
  auto ref_f = fwd_outs(), ref_b = bwd_outs();
  call(find_kernel(OpId::lstm, Backend::reference), fin, ref_f);
  const std::vector<Tensor> bin = {x,        h0,       c0,    w_ih, w_hh, ref_f[0],
                                   ref_f[3], ref_f[4], d_out, dh,   dc};
  call(find_kernel(OpId::lstm_backward, Backend::reference), bin, ref_b);

  struct Version {
    const char* name;
    KernelFn fwd, bwd;
  };
  const Version versions[] = {
      {"v1_gemm_then_gates", v1_forward, v1_backward},
      {"v2_four_gemms_chunk", v2_forward, find_kernel(OpId::lstm_backward, Backend::cpu)},
      {"v3_one_gemm_chunk", find_kernel(OpId::lstm, Backend::cpu),
       find_kernel(OpId::lstm_backward, Backend::cpu)},
  };
  const double fwd_flops = 2.0 * T * B * G * (I + H);
  std::printf("LSTM I %lld, H %lld, T %lld, B %lld, f32, %d threads\n", (long long)I, (long long)H,
              (long long)T, (long long)B, num_threads());
  for (const auto& v : versions) {
    auto f = fwd_outs(), b = bwd_outs();
    call(v.fwd, fin, f);
    call(v.bwd, bin, b);
    const double ef = max_diff(f, ref_f), eb = max_diff(b, ref_b);
    const bool ok = ef < 1e-4 && eb < 1e-3;
    const double tf = median_ms([&] { call(v.fwd, fin, f); }, 15);
    const double tb = median_ms([&] { call(v.bwd, bin, b); }, 15);
    std::printf(
        "%-20s %s (max err fwd %.1e bwd %.1e)  forward %7.2f ms (%5.1f GFLOP/s)  "
        "backward %7.2f ms (%5.1f GFLOP/s)\n",
        v.name, ok ? "ok " : "BAD", ef, eb, tf, fwd_flops / tf / 1e6, tb, 2 * fwd_flops / tb / 1e6);
    if (!ok) return 1;
  }
  // The forward's GEMMs alone (input projection + T recurrent products, no gate math): the
  // floor a fused forward can reach with this GEMM.
  Tensor g = empty({T, B, G});
  const float *xp = x.data_ptr<float>(), *wi = w_ih.data_ptr<float>();
  const float *wh = w_hh.data_ptr<float>(), *hp = h0.data_ptr<float>();
  float* gp = g.data_ptr<float>();
  const double tg = median_ms(
      [&] {
        gemm<float>({T * B, G, I, xp, I, 1, wi, 1, I, gp, G, 1});
        for (int64_t t = 0; t < T; ++t)
          gemm<float>({B, G, H, hp, H, 1, wh, 1, H, gp + t * B * G, G, 1}, true);
      },
      15);
  std::printf("%-20s forward GEMMs only %7.2f ms (%5.1f GFLOP/s)\n", "gemm_floor_ours", tg,
              fwd_flops / tg / 1e6);
#ifdef STACKGRAD_HAVE_OPENBLAS
  const double tb = median_ms(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T * B, G, I, 1.0f, xp, I, wi, I, 0.0f,
                    gp, G);
        for (int64_t t = 0; t < T; ++t)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, G, H, 1.0f, hp, H, wh, H, 1.0f,
                      gp + t * B * G, G);
      },
      15);
  std::printf("%-20s forward GEMMs only %7.2f ms (%5.1f GFLOP/s)\n", "gemm_floor_openblas", tb,
              fwd_flops / tb / 1e6);
#endif
  return 0;
}
