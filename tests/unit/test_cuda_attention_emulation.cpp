// The CUDA attention kernels (kernels/cuda/attention_kernels.cuh) compiled as C++ and run on the
// CPU under tests/support/cuda_emulation.h: 128 std::threads per block, barriers for
// __syncthreads and the warp shuffles, mma.sync from its PTX fragment layout, shared memory and
// outputs NaN until written. Each configuration runs the kernels the CUDA dispatcher would pick
// (head dims up to 128: the tiled kernels in f32, and for bf16 and f16 the tensor-core forward
// with the tiled backward; the generic kernels for f64 and larger head dims), plus the generic
// kernels in f32 for coverage, and compares O, the log-sum-exp and dQ, dK, dV with a
// double-precision reference written from the op's definition (the reference kernel's loops,
// on the values the kernel reads: half inputs rounded first), dropout mask included.
//
// The default configurations are small (each block costs 128 thread switches per barrier);
// STACKGRAD_EMULATION=full adds larger ones, with every head-dim instance, strided inputs and
// masks (minutes):
//   STACKGRAD_EMULATION=full ./build/test_cuda_attention_emulation
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/core/half.h"
#include "tests/support/cuda_emulation.h"

namespace stackgrad::kernels::gpu::attention {
// The kernels' dynamic shared memory (SG_EXTERN_SHARED): float smem[] in the tiled kernels,
// unsigned char raw[] in the generic ones, uint16_t hsmem[] in the tensor-core forward. 227 KiB
// covers every plan.
alignas(16) float smem[227 * 1024 / 4];
alignas(16) unsigned char raw[227 * 1024];
alignas(16) uint16_t hsmem[227 * 1024 / 2];  // fwd_mma (bf16, f16)
}  // namespace stackgrad::kernels::gpu::attention

#include "kernels/cuda/attention_kernels.cuh"

namespace {

using namespace stackgrad::kernels::gpu::attention;
using stackgrad::BFloat16;
using stackgrad::Float16;
using stackgrad::kernels::philox4x32;
namespace emu = stackgrad::testing::cuda_emulation;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr uint64_t kSeed = 1234, kOffset = 77;

struct Config {
  const char* name;
  int64_t B, H, Lq, Lk, D, Dv;
  bool causal;
  int mask;  // 0 none, 1 bool [Lq, Lk] (row 1 fully masked), 2 additive [B,1,Lq,Lk] (-inf, row 2)
  double p, scale;  // scale 0: 1 / sqrt(D)
  bool transposed;  // q, k, v stored as [B, L, H, D]
  bool full_only;   // only under STACKGRAD_EMULATION=full
};

// A host tensor of 4 strided dims.
template <class T>
struct Host {
  std::vector<T> data;
  int64_t s[4] = {};
  Mat4<T> mat() { return {data.data(), s[0], s[1], s[2], s[3]}; }
  Mat4<const T> cmat() const { return {data.data(), s[0], s[1], s[2], s[3]}; }
  double at(int64_t a, int64_t b, int64_t c, int64_t d) const {
    return static_cast<double>(data[a * s[0] + b * s[1] + c * s[2] + d * s[3]]);
  }
};

void set_strides(int64_t* s, int64_t H, int64_t L, int64_t D, bool transposed) {
  if (transposed) {  // memory [B, L, H, D]
    s[0] = L * H * D, s[1] = D, s[2] = H * D, s[3] = 1;
  } else {
    s[0] = H * L * D, s[1] = L * D, s[2] = D, s[3] = 1;
  }
}

Host<double> random_host(int64_t B, int64_t H, int64_t L, int64_t D, bool transposed,
                         std::mt19937_64& r) {
  Host<double> h;
  h.data.resize(B * H * L * D);
  std::normal_distribution<double> n;
  for (auto& x : h.data) x = n(r);
  set_strides(h.s, H, L, D, transposed);
  return h;
}

// NaN-filled output: an element no thread writes fails the comparison.
template <class T>
Host<T> nan_host(int64_t B, int64_t H, int64_t L, int64_t D) {
  Host<T> h;
  h.data.assign(B * H * L * D, T(std::numeric_limits<float>::quiet_NaN()));
  set_strides(h.s, H, L, D, false);
  return h;
}

template <class T>
Host<T> cast(const Host<double>& h) {
  Host<T> o;
  o.data.reserve(h.data.size());
  for (double x : h.data) o.data.push_back(static_cast<T>(x));
  std::memcpy(o.s, h.s, sizeof o.s);
  return o;
}

template <class T>
Host<double> widen(const Host<T>& h) {
  Host<double> o;
  for (const T& x : h.data) o.data.push_back(static_cast<double>(x));
  std::memcpy(o.s, h.s, sizeof o.s);
  return o;
}

struct Expected {
  std::vector<double> O, L, dQ, dK, dV;
};

// The op's definition in double (kernels/reference/attention.cpp's loops). The backward's row
// terms D_i = rowsum(dO o O) read `o_seen`, the O the kernels stored and the backward kernels
// read (as the reference kernel reads its O input), in [B, H, Lq, Dv] order.
Expected reference(const Config& c, const Host<double>& q, const Host<double>& k,
                   const Host<double>& v, const Host<double>& g, const std::vector<double>& mask,
                   const std::vector<double>& o_seen) {
  Expected r;
  const int64_t B = c.B, H = c.H, Lq = c.Lq, Lk = c.Lk, D = c.D, Dv = c.Dv;
  r.O.assign(B * H * Lq * Dv, 0);
  r.L.assign(B * H * Lq, 0);
  r.dQ.assign(B * H * Lq * D, 0);
  r.dK.assign(B * H * Lk * D, 0);
  r.dV.assign(B * H * Lk * Dv, 0);
  const uint32_t threshold = static_cast<uint32_t>(c.p * 4294967296.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t bh = b * H + h;
      std::vector<double> P(Lq * Lk), Z(Lq * Lk, 1.0), dS(Lq * Lk);
      for (int64_t i = 0; i < Lq; ++i) {
        double m = -kInf;
        for (int64_t j = 0; j < Lk; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += q.at(b, h, i, d) * k.at(b, h, j, d);
          double s = c.scale * dot;
          if (c.mask == 1 && mask[i * Lk + j] == 0) s = -kInf;
          if (c.mask == 2) s += mask[(b * Lq + i) * Lk + j];
          if (c.causal && j > i) s = -kInf;
          P[i * Lk + j] = s;
          m = std::max(m, s);
        }
        double sum = 0;
        for (int64_t j = 0; j < Lk; ++j) sum += m == -kInf ? 0 : std::exp(P[i * Lk + j] - m);
        for (int64_t j = 0; j < Lk; ++j)
          P[i * Lk + j] = m == -kInf ? 0 : std::exp(P[i * Lk + j] - m) / sum;
        r.L[bh * Lq + i] = m == -kInf ? kInf : m + std::log(sum);
        if (c.p > 0)
          for (int64_t j = 0; j < Lk; ++j) {
            const uint64_t e = static_cast<uint64_t>((bh * Lq + i) * Lk + j);
            Z[i * Lk + j] =
                philox4x32(kSeed, kOffset + e / 4).v[e % 4] < threshold ? 0.0 : 1.0 / (1.0 - c.p);
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
        for (int64_t e = 0; e < Dv; ++e)
          Di += g.at(b, h, i, e) * o_seen[(bh * Lq + i) * Dv + e];
        for (int64_t j = 0; j < Lk; ++j) {
          double dp = 0;
          for (int64_t e = 0; e < Dv; ++e) dp += g.at(b, h, i, e) * v.at(b, h, j, e);
          dS[i * Lk + j] = P[i * Lk + j] * (dp * Z[i * Lk + j] - Di);
        }
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

// Largest |got - want| / (atol + rtol |want|); equal infinities count as exact, NaN as failure.
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

// Tolerances per element type, relative to the double reference of the same inputs: f32 sums in
// f32 (the backward's cancellations get 10x); the half types also round every output once
// (bf16: 2^-8 relative, f16: 2^-11).
struct Tolerance {
  double rtol, atol, grad_scale;
};
template <class T>
Tolerance tolerance() {
  if constexpr (std::is_same_v<T, double>) return {1e-10, 1e-12, 10};
  if constexpr (std::is_same_v<T, float>) return {1e-4, 1e-5, 10};
  if constexpr (std::is_same_v<T, BFloat16>) return {1e-2, 1e-3, 1};
  return {2e-3, 2e-4, 1};  // Float16
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, double>) return "f64";
  if constexpr (std::is_same_v<T, float>) return "f32";
  if constexpr (std::is_same_v<T, BFloat16>) return "bf16";
  return "f16";
}

struct Inputs {
  Host<double> q, k, v, g;
  std::vector<double> mask;
};

Inputs make_inputs(const Config& c) {
  std::mt19937_64 r(42);
  Inputs in;
  in.q = random_host(c.B, c.H, c.Lq, c.D, c.transposed, r);
  in.k = random_host(c.B, c.H, c.Lk, c.D, c.transposed, r);
  in.v = random_host(c.B, c.H, c.Lk, c.Dv, c.transposed, r);
  in.g = random_host(c.B, c.H, c.Lq, c.Dv, false, r);
  if (c.mask == 1) {
    std::uniform_real_distribution<double> u;
    in.mask.resize(c.Lq * c.Lk);
    for (int64_t i = 0; i < c.Lq; ++i)
      for (int64_t j = 0; j < c.Lk; ++j) in.mask[i * c.Lk + j] = i != 1 && u(r) > 0.3;
  } else if (c.mask == 2) {
    std::normal_distribution<double> n;
    in.mask.resize(c.B * c.Lq * c.Lk);
    for (size_t e = 0; e < in.mask.size(); ++e) in.mask[e] = e % 7 == 0 ? -kInf : n(r);
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t j = 0; j < c.Lk; ++j) in.mask[(b * c.Lq + 2) * c.Lk + j] = -kInf;
  }
  return in;
}

// Runs forward and backward of element type T through the tiled instance HT (0: the generic
// kernels) and checks them against the reference of the inputs as T holds them.
template <class T, int HT>
void run_and_check(const Config& c, const Inputs& in64) {
  using Acc = stackgrad::accumulation_t<T>;
  const bool mma = HT != 0 && !std::is_same_v<Acc, T>;
  SCOPED_TRACE(std::string(type_name<T>()) + (HT ? " tiled " + std::to_string(HT) : " generic"));
  const Host<T> q = cast<T>(in64.q), k = cast<T>(in64.k), v = cast<T>(in64.v),
                g = cast<T>(in64.g);
  std::vector<T> mask_add;
  for (double x : in64.mask) mask_add.push_back(static_cast<T>(x));
  std::vector<double> mask_seen(mask_add.begin(), mask_add.end());

  std::unique_ptr<bool[]> mask_bool(new bool[in64.mask.size() + 1]);
  for (size_t i = 0; i < in64.mask.size(); ++i) mask_bool[i] = in64.mask[i] != 0;
  Problem<T, Acc> pr{};
  pr.q = q.cmat();
  pr.k = k.cmat();
  pr.v = v.cmat();
  pr.B = c.B, pr.H = c.H, pr.Lq = c.Lq, pr.Lk = c.Lk, pr.D = c.D, pr.Dv = c.Dv;
  pr.scale = static_cast<Acc>(c.scale);
  pr.mode = c.mask;
  if (c.mask == 1) pr.mask_bool = {mask_bool.get(), 0, 0, c.Lk, 1};
  if (c.mask == 2) pr.mask_add = {mask_add.data(), c.Lq * c.Lk, 0, c.Lk, 1};
  pr.causal = c.causal;
  pr.dropout = c.p > 0;
  pr.seed = kSeed;
  pr.offset = kOffset;
  pr.threshold = static_cast<uint32_t>(c.p * 4294967296.0);
  pr.keep = static_cast<Acc>(1.0 / (1.0 - c.p));

  // The dispatcher's plan for this type; the generic kernels' block counts from the f64 plan.
  const Plan plan = plan_attention(sizeof(Acc), c.B, c.H, c.Lq, c.Lk, c.D, c.Dv, 227 * 1024);
  const Plan generic = plan_attention(8, c.B, c.H, c.Lq, c.Lk, c.D, c.Dv, 227 * 1024);
  if (HT != 0) {
    ASSERT_EQ(plan.path, Path::tiled);
    ASSERT_EQ(plan.head_tile, HT);
  }

  Host<T> O = nan_host<T>(c.B, c.H, c.Lq, c.Dv), dQ = nan_host<T>(c.B, c.H, c.Lq, c.D),
          dK = nan_host<T>(c.B, c.H, c.Lk, c.D), dV = nan_host<T>(c.B, c.H, c.Lk, c.Dv);
  std::vector<Acc> L(c.B * c.H * c.Lq, std::numeric_limits<Acc>::quiet_NaN());
  std::vector<Acc> Dw(c.B * c.H * c.Lq, std::numeric_limits<Acc>::quiet_NaN());
  const Lse<Acc> lse{L.data(), c.H * c.Lq, c.Lq, 1};
  const Lse<const Acc> clse{L.data(), c.H * c.Lq, c.Lq, 1};
  emu::Emulator e({{smem, sizeof smem}, {raw, sizeof raw}, {hsmem, sizeof hsmem}});
  const int64_t rows = c.B * c.H * c.Lq;
  if constexpr (HT != 0) {
    if constexpr (std::is_same_v<Acc, T>)  // f32
      e.launch(plan.fwd_blocks, kThreads,
               [&] { fwd_tiled<T, HT>(pr, O.mat(), lse, plan.q_tiles); });
    else  // bf16, f16: tensor cores
      e.launch(plan.fwd_blocks, kThreads, [&] { fwd_mma<T, HT>(pr, O.mat(), lse, plan.q_tiles); });
    e.launch((rows + 7) / 8, 256,
             [&] { row_dot<T, Acc>(O.cmat(), g.cmat(), c.H, c.Lq, c.Dv, rows, Dw.data()); });
    e.launch(plan.kv_blocks, kThreads, [&] {
      bwd_kv_tiled<T, HT>(pr, g.cmat(), clse, Dw.data(), dK.mat(), dV.mat(), plan.k_tiles);
    });
    e.launch(plan.dq_blocks, kThreads,
             [&] { bwd_q_tiled<T, HT>(pr, g.cmat(), clse, Dw.data(), dQ.mat(), plan.dq_tiles); });
  } else {
    e.launch(generic.fwd_blocks, kThreads, [&] { fwd_generic<T, Acc>(pr, O.mat(), lse); });
    e.launch((rows + 7) / 8, 256,
             [&] { row_dot<T, Acc>(O.cmat(), g.cmat(), c.H, c.Lq, c.Dv, rows, Dw.data()); });
    e.launch(generic.kv_blocks, kThreads, [&] {
      bwd_kv_generic<T, Acc>(pr, g.cmat(), clse, Dw.data(), dK.mat(), dV.mat());
    });
    e.launch(generic.dq_blocks, kThreads,
             [&] { bwd_q_generic<T, Acc>(pr, g.cmat(), clse, Dw.data(), dQ.mat()); });
  }

  const Expected want =
      reference(c, widen(q), widen(k), widen(v), widen(g), mask_seen, widen(O).data);
  Tolerance t = tolerance<T>();
  // The tensor-core forward also rounds P to T for P V (as FlashAttention does): O carries
  // about one more half-type ulp of absolute error, relative to the values it averages.
  const double o_atol = mma ? 4 * t.atol : t.atol;
  const double gr = t.rtol * t.grad_scale, ga = t.atol * t.grad_scale;
  const double eo = worst(O.data, want.O, t.rtol, o_atol);
  const double el = worst(L, want.L, std::max(t.rtol, 1e-6), std::max(t.atol, 1e-6));
  const double eq = worst(dQ.data, want.dQ, gr, ga), ek = worst(dK.data, want.dK, gr, ga),
               ev = worst(dV.data, want.dV, gr, ga);
  std::printf("  %-42s %-4s %-10s O %.3g L %.3g dQ %.3g dK %.3g dV %.3g\n", c.name,
              type_name<T>(), mma ? "mma+tiled" : HT ? "tiled" : "generic", eo, el, eq, ek, ev);
  EXPECT_LE(eo, 1.0) << "O";
  EXPECT_LE(el, 1.0) << "log-sum-exp";
  EXPECT_LE(eq, 1.0) << "dQ";
  EXPECT_LE(ek, 1.0) << "dK";
  EXPECT_LE(ev, 1.0) << "dV";
}

template <int HT>
void run_tiled_types(const Config& c, const Inputs& in) {
  run_and_check<float, HT>(c, in);
  run_and_check<BFloat16, HT>(c, in);
  run_and_check<Float16, HT>(c, in);
}

const std::vector<Config>& configs() {
  static const std::vector<Config> all = {
      // name, B, H, Lq, Lk, D, Dv, causal, mask, p, scale, transposed, full_only
      {"hd32 70x100 causal dropout bool mask", 1, 1, 70, 100, 32, 32, true, 1, 0.2, 0.3, false,
       false},
      {"hd64 Dv48 66x65 additive mask B2", 2, 1, 66, 65, 64, 48, false, 2, 0, 0, false, false},
      {"hd160 Dv20 9x11 causal dropout (generic)", 1, 1, 9, 11, 160, 20, true, 2, 0.1, 0, false,
       false},
      {"hd8 no keys", 1, 1, 3, 0, 8, 8, false, 0, 0, 0, false, false},
      {"hd32 70x100", 1, 2, 70, 100, 32, 32, false, 0, 0, 0, false, true},
      {"hd64 Dv48 100x70 causal", 1, 1, 100, 70, 64, 48, true, 0, 0, 0, false, true},
      {"hd128 40x70 transposed", 1, 2, 40, 70, 128, 128, false, 0, 0, 0, true, true},
      {"hd100 Dv8 65x33", 1, 1, 65, 33, 100, 8, false, 0, 0, 0, false, true},
      {"hd64 bool mask causal dropout 130x66", 1, 1, 130, 66, 64, 64, true, 1, 0.3, 0, true, true},
  };
  return all;
}

class CudaAttentionEmulation : public ::testing::TestWithParam<Config> {};

TEST_P(CudaAttentionEmulation, MatchesTheDoubleReference) {
  Config c = GetParam();
  const char* mode = std::getenv("STACKGRAD_EMULATION");
  if (c.full_only && !(mode && std::string(mode) == "full"))
    GTEST_SKIP() << "a larger configuration: STACKGRAD_EMULATION=full runs it";
  if (c.scale == 0) c.scale = 1.0 / std::sqrt(static_cast<double>(c.D));
  const Inputs in = make_inputs(c);
  switch (head_tile_for(c.D, c.Dv)) {
    case 32:
      run_tiled_types<32>(c, in);
      break;
    case 64:
      run_tiled_types<64>(c, in);
      break;
    case 128:
      run_tiled_types<128>(c, in);
      break;
    default:  // no tiled instance: the generic kernels in every type
      run_and_check<float, 0>(c, in);
      run_and_check<BFloat16, 0>(c, in);
      run_and_check<Float16, 0>(c, in);
  }
  run_and_check<double, 0>(c, in);
  if (mode && std::string(mode) == "full" && head_tile_for(c.D, c.Dv) != 0)
    run_and_check<float, 0>(c, in);  // the generic kernels in f32 as well
}

std::string config_name(const ::testing::TestParamInfo<Config>& info) {
  std::string s;
  for (const char* p = info.param.name; *p; ++p)
    s += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaAttentionEmulation, ::testing::ValuesIn(configs()),
                         config_name);

}  // namespace
