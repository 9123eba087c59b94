// CPU emulation of the CUDA attention kernels (kernels/cuda/attention_kernels.cuh), for checking
// their index arithmetic, barriers and shuffles on a machine without a GPU. Each block's 128
// threads (256 for row_dot) run as std::threads: __syncthreads is a std::barrier over the block,
// __shfl_xor_sync a pair of barriers over the warp (so a shuffle that not every lane of the warp
// reaches deadlocks instead of passing), shared memory is reset to NaN before every block, and
// outputs start as NaN so an element no thread writes shows up. Results are compared with a
// double-precision reference written like kernels/reference/attention.cpp (same Philox dropout
// mask): the tiled f32 kernels (head-dim instances 32, 64, 128) and the generic f64 kernels, on
// ragged tiles, causal with Lq != Lk, D != Dv, strided [B, L, H, D] inputs, bool and additive
// masks with fully masked rows, dropout, and no keys.
//
// Not part of the build (slow: minutes). By hand, from the repository root:
//   g++ -std=c++20 -O1 -I. -pthread kernels/lab/attention/attention_cuda_emulation.cpp -o /tmp/emu
//   /tmp/emu [name]   (only the configs whose name contains `name`, with the generic kernels
//                      in f32 as well)
#include <barrier>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
thread_local dim3 threadIdx;
dim3 blockIdx, blockDim, gridDim;
std::barrier<>* g_block_bar;
struct WarpCtx {
  std::barrier<>* bar;
  double buf[32];
};
WarpCtx g_warps[8];
inline void __syncthreads() { g_block_bar->arrive_and_wait(); }
template <class V>
V __shfl_xor_sync(unsigned mask, V v, int o) {
  if (mask != 0xffffffffu) std::abort();
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  WarpCtx& W = g_warps[w];
  W.buf[lane] = static_cast<double>(v);
  W.bar->arrive_and_wait();
  const V r = static_cast<V>(W.buf[lane ^ o]);
  W.bar->arrive_and_wait();
  return r;
}
#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(x)
#define __shared__
#define __align__(n) __attribute__((aligned(n)))

namespace stackgrad::kernels::gpu::attention {
float smem[64 * 1024];
alignas(16) unsigned char raw[256 * 1024];
}  // namespace stackgrad::kernels::gpu::attention
#include "kernels/cuda/attention_kernels.cuh"

using namespace stackgrad::kernels::gpu::attention;
using stackgrad::kernels::philox4x32;

template <class F>
void launch_emu(int64_t blocks, int threads, F body) {
  blockDim.x = threads;
  gridDim.x = static_cast<unsigned>(blocks);
  std::barrier<> bar(threads);
  g_block_bar = &bar;
  std::vector<std::unique_ptr<std::barrier<>>> wb;
  for (int w = 0; w < threads / 32; ++w) {
    wb.emplace_back(new std::barrier<>(32));
    g_warps[w].bar = wb.back().get();
  }
  // A persistent team of `threads` threads walks the blocks in order; thread 0 resets the
  // shared memory (to NaN) and sets blockIdx between two barriers.
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      threadIdx.x = t;
      for (int64_t b = 0; b < blocks; ++b) {
        bar.arrive_and_wait();
        if (t == 0) {
          blockIdx.x = static_cast<unsigned>(b);
          for (auto& x : smem) x = std::numeric_limits<float>::quiet_NaN();
          std::memset(raw, 0xff, sizeof raw);
        }
        bar.arrive_and_wait();
        body();
      }
    });
  for (auto& t : ts) t.join();
}

struct Config {
  const char* name;
  int64_t B, H, Lq, Lk, D, Dv;
  bool causal;
  int mask;  // 0 none, 1 bool [Lq, Lk] (row 1 fully masked), 2 additive [B,1,Lq,Lk] (-inf, row 2)
  double p, scale;
  bool transposed;  // q, k, v stored as [B, L, H, D]
};

template <class T>
struct Host {
  std::vector<T> data;
  int64_t s[4];
  Mat4<T> mat() { return {data.data(), s[0], s[1], s[2], s[3]}; }
  Mat4<const T> cmat() const { return {data.data(), s[0], s[1], s[2], s[3]}; }
  T at(int64_t a, int64_t b, int64_t c, int64_t d) const {
    return data[a * s[0] + b * s[1] + c * s[2] + d * s[3]];
  }
};

template <class T>
Host<T> make(int64_t B, int64_t H, int64_t L, int64_t D, bool transposed, std::mt19937_64& r) {
  Host<T> h;
  h.data.resize(B * H * L * D);
  std::normal_distribution<double> n;
  for (auto& x : h.data) x = static_cast<T>(n(r));
  if (transposed) {  // memory [B, L, H, D]
    h.s[0] = L * H * D;
    h.s[1] = D;
    h.s[2] = H * D;
    h.s[3] = 1;
  } else {
    h.s[0] = H * L * D;
    h.s[1] = L * D;
    h.s[2] = D;
    h.s[3] = 1;
  }
  return h;
}

template <class T>
Host<T> zeros(int64_t B, int64_t H, int64_t L, int64_t D) {
  Host<T> h;
  h.data.assign(B * H * L * D, std::numeric_limits<T>::quiet_NaN());  // kernels must write all
  h.s[0] = H * L * D;
  h.s[1] = L * D;
  h.s[2] = D;
  h.s[3] = 1;
  return h;
}

struct Ref {
  std::vector<double> O, L, dQ, dK, dV;
};

// kernels/reference/attention.cpp in plain loops.
Ref reference(const Config& c, const Host<double>& q, const Host<double>& k, const Host<double>& v,
              const Host<double>& g, const std::vector<double>& maskv) {
  Ref r;
  const int64_t B = c.B, H = c.H, Lq = c.Lq, Lk = c.Lk, D = c.D, Dv = c.Dv;
  r.O.assign(B * H * Lq * Dv, 0);
  r.L.assign(B * H * Lq, 0);
  r.dQ.assign(B * H * Lq * D, 0);
  r.dK.assign(B * H * Lk * D, 0);
  r.dV.assign(B * H * Lk * Dv, 0);
  const double inf = std::numeric_limits<double>::infinity();
  const uint32_t thr = static_cast<uint32_t>(c.p * 4294967296.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t bh = b * H + h;
      std::vector<double> P(Lq * Lk), Z(Lq * Lk, 1.0), dS(Lq * Lk);
      for (int64_t i = 0; i < Lq; ++i) {
        double m = -inf;
        for (int64_t j = 0; j < Lk; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += q.at(b, h, i, d) * k.at(b, h, j, d);
          double s = c.scale * dot;
          if (c.mask == 1 && maskv[i * Lk + j] == 0) s = -inf;
          if (c.mask == 2) s += maskv[(b * Lq + i) * Lk + j];
          if (c.causal && j > i) s = -inf;
          P[i * Lk + j] = s;
          m = std::max(m, s);
        }
        double sum = 0;
        for (int64_t j = 0; j < Lk; ++j) sum += m == -inf ? 0 : std::exp(P[i * Lk + j] - m);
        for (int64_t j = 0; j < Lk; ++j)
          P[i * Lk + j] = m == -inf ? 0 : std::exp(P[i * Lk + j] - m) / sum;
        r.L[bh * Lq + i] = m == -inf ? inf : m + std::log(sum);
        if (c.p > 0)
          for (int64_t j = 0; j < Lk; ++j) {
            const uint64_t e = static_cast<uint64_t>((bh * Lq + i) * Lk + j);
            Z[i * Lk + j] = philox4x32(1234, 77 + e / 4).v[e % 4] < thr ? 0.0 : 1.0 / (1.0 - c.p);
          }
      }
      for (int64_t i = 0; i < Lq; ++i)
        for (int64_t e = 0; e < Dv; ++e) {
          double a = 0;
          for (int64_t j = 0; j < Lk; ++j) a += P[i * Lk + j] * Z[i * Lk + j] * v.at(b, h, j, e);
          r.O[(bh * Lq + i) * Dv + e] = a;
        }
      for (int64_t i = 0; i < Lq; ++i) {
        double Di = 0;
        for (int64_t j = 0; j < Lk; ++j) {
          double dp = 0;
          for (int64_t e = 0; e < Dv; ++e) dp += g.at(b, h, i, e) * v.at(b, h, j, e);
          dS[i * Lk + j] = dp * Z[i * Lk + j];
          Di += P[i * Lk + j] * dS[i * Lk + j];
        }
        for (int64_t j = 0; j < Lk; ++j) dS[i * Lk + j] = P[i * Lk + j] * (dS[i * Lk + j] - Di);
      }
      for (int64_t j = 0; j < Lk; ++j)
        for (int64_t e = 0; e < Dv; ++e) {
          double a = 0;
          for (int64_t i = 0; i < Lq; ++i) a += P[i * Lk + j] * Z[i * Lk + j] * g.at(b, h, i, e);
          r.dV[(bh * Lk + j) * Dv + e] = a;
        }
      for (int64_t i = 0; i < Lq; ++i)
        for (int64_t d = 0; d < D; ++d) {
          double a = 0;
          for (int64_t j = 0; j < Lk; ++j) a += dS[i * Lk + j] * k.at(b, h, j, d);
          r.dQ[(bh * Lq + i) * D + d] = c.scale * a;
        }
      for (int64_t j = 0; j < Lk; ++j)
        for (int64_t d = 0; d < D; ++d) {
          double a = 0;
          for (int64_t i = 0; i < Lq; ++i) a += dS[i * Lk + j] * q.at(b, h, i, d);
          r.dK[(bh * Lk + j) * D + d] = c.scale * a;
        }
    }
  return r;
}

template <class T>
double worst(const std::vector<T>& got, const std::vector<double>& want, double rtol, double atol) {
  double w = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = static_cast<double>(got[i]), x = want[i];
    if (std::isinf(x) && g == x) continue;
    const double e = std::abs(g - x) / (atol + rtol * std::abs(x));
    if (!(e <= w)) w = e;
  }
  return w;
}

template <class T>
Host<T> cast(const Host<double>& h) {
  Host<T> o;
  o.data.assign(h.data.begin(), h.data.end());
  std::memcpy(o.s, h.s, sizeof o.s);
  return o;
}

template <class T, class Acc>
Problem<T, Acc> problem(const Config& c, const Host<T>& q, const Host<T>& k, const Host<T>& v,
                        const std::vector<T>& maskT, const std::vector<bool>& maskB,
                        std::unique_ptr<bool[]>& mb) {
  Problem<T, Acc> p{};
  p.q = q.cmat();
  p.k = k.cmat();
  p.v = v.cmat();
  p.B = c.B;
  p.H = c.H;
  p.Lq = c.Lq;
  p.Lk = c.Lk;
  p.D = c.D;
  p.Dv = c.Dv;
  p.scale = static_cast<Acc>(c.scale);
  p.mode = c.mask;
  if (c.mask == 1) {
    mb.reset(new bool[maskB.size()]);
    for (size_t i = 0; i < maskB.size(); ++i) mb[i] = maskB[i];
    p.mask_bool = {mb.get(), 0, 0, c.Lk, 1};
  }
  if (c.mask == 2) p.mask_add = {maskT.data(), c.Lq * c.Lk, 0, c.Lk, 1};
  p.causal = c.causal;
  p.dropout = c.p > 0;
  p.seed = 1234;
  p.offset = 77;
  p.threshold = static_cast<uint32_t>(c.p * 4294967296.0);
  p.keep = static_cast<Acc>(1.0 / (1.0 - c.p));
  return p;
}

template <class T, int HT>
bool run_config(const Config& c, const Host<double>& q64, const Host<double>& k64,
                const Host<double>& v64, const Host<double>& g64, const std::vector<double>& maskv,
                const Ref& ref, bool generic) {
  using Acc = T;
  Host<T> q = cast<T>(q64), k = cast<T>(k64), v = cast<T>(v64), g = cast<T>(g64);
  std::vector<T> maskT(maskv.begin(), maskv.end());
  std::vector<bool> maskB(maskv.size());
  for (size_t i = 0; i < maskv.size(); ++i) maskB[i] = maskv[i] != 0;
  std::unique_ptr<bool[]> mb;
  auto pr = problem<T, Acc>(c, q, k, v, maskT, maskB, mb);
  const Plan plan = plan_attention(sizeof(T), c.B, c.H, c.Lq, c.Lk, c.D, c.Dv, 227 * 1024);
  if (!generic && (plan.path != Path::tiled || plan.head_tile != HT)) {
    std::printf("%s: plan mismatch\n", c.name);
    return false;
  }
  Host<T> O = zeros<T>(c.B, c.H, c.Lq, c.Dv), dQ = zeros<T>(c.B, c.H, c.Lq, c.D),
          dK = zeros<T>(c.B, c.H, c.Lk, c.D), dV = zeros<T>(c.B, c.H, c.Lk, c.Dv);
  std::vector<T> L(c.B * c.H * c.Lq, std::numeric_limits<T>::quiet_NaN());
  Lse<T> lse{L.data(), c.H * c.Lq, c.Lq, 1};
  Lse<const T> clse{L.data(), c.H * c.Lq, c.Lq, 1};
  std::vector<Acc> Dw(c.B * c.H * c.Lq, std::numeric_limits<Acc>::quiet_NaN());
  if constexpr (std::is_same_v<T, float>) {
    if (!generic) {
      launch_emu(plan.fwd_blocks, kThreads,
                 [&] { fwd_tiled<T, HT>(pr, O.mat(), lse, plan.q_tiles); });
    }
  }
  if (generic)
    launch_emu(plan.fwd_blocks, kThreads, [&] { fwd_generic<T, Acc>(pr, O.mat(), lse); });
  const int64_t rows = c.B * c.H * c.Lq;
  launch_emu((rows + 7) / 8, 256,
             [&] { row_dot<T, Acc>(O.cmat(), g.cmat(), c.H, c.Lq, c.Dv, rows, Dw.data()); });
  if constexpr (std::is_same_v<T, float>) {
    if (!generic) {
      launch_emu(plan.kv_blocks, kThreads, [&] {
        bwd_kv_tiled<T, HT>(pr, g.cmat(), clse, Dw.data(), dK.mat(), dV.mat(), plan.k_tiles);
      });
      launch_emu(plan.dq_blocks, kThreads, [&] {
        bwd_q_tiled<T, HT>(pr, g.cmat(), clse, Dw.data(), dQ.mat(), plan.dq_tiles);
      });
    }
  }
  if (generic) {
    launch_emu(plan.kv_blocks, kThreads,
               [&] { bwd_kv_generic<T, Acc>(pr, g.cmat(), clse, Dw.data(), dK.mat(), dV.mat()); });
    launch_emu(plan.dq_blocks, kThreads,
               [&] { bwd_q_generic<T, Acc>(pr, g.cmat(), clse, Dw.data(), dQ.mat()); });
  }
  const bool f64 = sizeof(T) == 8;
  const double rt = f64 ? 1e-10 : 1e-4, at_ = f64 ? 1e-12 : 1e-5;
  const double eo = worst(O.data, ref.O, rt, at_), el = worst(L, ref.L, rt, at_);
  const double eq = worst(dQ.data, ref.dQ, rt * 10, at_ * 10),
               ek = worst(dK.data, ref.dK, rt * 10, at_ * 10),
               ev = worst(dV.data, ref.dV, rt * 10, at_ * 10);
  const bool ok = eo <= 1 && el <= 1 && eq <= 1 && ek <= 1 && ev <= 1;
  std::printf("%-44s %s %-8s O %.3g L %.3g dQ %.3g dK %.3g dV %.3g  %s\n", c.name,
              f64 ? "f64" : "f32", generic ? "generic" : "tiled", eo, el, eq, ek, ev,
              ok ? "ok" : "FAIL");
  return ok;
}

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Config> cfgs = {
      {"hd32 70x100", 1, 2, 70, 100, 32, 32, false, 0, 0, 0, false},
      {"hd32 70x100 causal", 1, 2, 70, 100, 32, 32, true, 0, 0, 0, false},
      {"hd64 Dv48 100x70 causal", 1, 1, 100, 70, 64, 48, true, 0, 0, 0, false},
      {"hd128 40x70 transposed", 1, 2, 40, 70, 128, 128, false, 0, 0, 0, true},
      {"hd100 Dv8 65x33", 1, 1, 65, 33, 100, 8, false, 0, 0, 0, false},
      {"hd32 bool mask 70x100", 1, 2, 70, 100, 32, 16, false, 1, 0, 0, false},
      {"hd64 additive mask 66x65 B2", 2, 1, 66, 65, 64, 64, false, 2, 0, 0, false},
      {"hd32 causal dropout 0.2 scale 0.3 70x100", 1, 2, 70, 100, 32, 32, true, 0, 0.2, 0.3, false},
      {"hd64 bool mask causal dropout 130x66", 1, 1, 130, 66, 64, 64, true, 1, 0.3, 0, true},
      {"hd8 no keys", 1, 1, 3, 0, 8, 8, false, 0, 0, 0, false},
      {"hd160 Dv20 9x11 (generic in f32 too)", 1, 1, 9, 11, 160, 20, true, 2, 0.1, 0, false},
  };
  int fails = 0;
  for (Config c : cfgs) {
    if (argc > 1 && !std::strstr(c.name, argv[1])) continue;
    if (c.scale == 0) c.scale = 1.0 / std::sqrt(double(c.D));
    std::mt19937_64 r(42);
    auto q = make<double>(c.B, c.H, c.Lq, c.D, c.transposed, r);
    auto k = make<double>(c.B, c.H, c.Lk, c.D, c.transposed, r);
    auto v = make<double>(c.B, c.H, c.Lk, c.Dv, c.transposed, r);
    auto g = make<double>(c.B, c.H, c.Lq, c.Dv, false, r);
    std::vector<double> maskv;
    if (c.mask == 1) {
      std::uniform_real_distribution<double> u;
      maskv.resize(c.Lq * c.Lk);
      for (int64_t i = 0; i < c.Lq; ++i)
        for (int64_t j = 0; j < c.Lk; ++j) maskv[i * c.Lk + j] = i != 1 && u(r) > 0.3;
    } else if (c.mask == 2) {
      std::normal_distribution<double> n;
      maskv.resize(c.B * c.Lq * c.Lk);
      for (size_t e = 0; e < maskv.size(); ++e) maskv[e] = e % 7 == 0 ? -inf : n(r);
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t j = 0; j < c.Lk; ++j) maskv[(b * c.Lq + 2) * c.Lk + j] = -inf;
    }
    const Ref ref = reference(c, q, k, v, g, maskv);
    const int ht = head_tile_for(c.D, c.Dv);
    bool ok = true;
    if (ht == 32) ok = run_config<float, 32>(c, q, k, v, g, maskv, ref, false);
    if (ht == 64) ok = run_config<float, 64>(c, q, k, v, g, maskv, ref, false);
    if (ht == 128) ok = run_config<float, 128>(c, q, k, v, g, maskv, ref, false);
    ok = run_config<double, 32>(c, q, k, v, g, maskv, ref, true) && ok;
    if (argc > 1 || ht == 0) ok = run_config<float, 32>(c, q, k, v, g, maskv, ref, true) && ok;
    fails += !ok;
  }
  std::printf("%d failing configs\n", fails);
  return fails != 0;
}
