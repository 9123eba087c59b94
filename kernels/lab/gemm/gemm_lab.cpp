// GEMM versions side by side (docs/kernels/gemm.md has the measured table). Each version is
// first validated against a double-precision dot product on sampled C entries, then timed in
// interleaved rounds (every version once per round, so a neighbour's compile slows them all
// alike); best and median GFLOP/s per version, the median on-CPU rate (flops per CPU-second
// of the process, times the thread count), and the ratios to OpenBLAS.
//   STACKGRAD_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 ./build-bench/gemm_lab [shape ...]
// LAB_ROUNDS (default 7) sets the rounds, LAB_VERSIONS=v3,v4,openblas picks versions by prefix.
// Shapes are M x K x N (A [M, K], B [K, N], all row-major f32), e.g. 1024x1024x1024; a leading
// `t` (t1433x2708x16) makes A the transposed view of a row-major X [K, M], as in dW = Xᵀ·dH.
//   v1       the first packed GEMM: vector-extension 6x16 microkernel, one task per MC x NC tile,
//            each task packing its own A block and B panel, buffers allocated per call
//   v2       the blocked driver (gemm_driver.h) with the portable C++ microkernel
//   v3       the driver with the AVX2 intrinsics microkernel, M split between the threads,
//            each thread packing all of B for itself
//   v4       the same kernel, B panels packed once and shared by the team (the library's path)
//   v4 kc/mc the same with other KC / MC blockings
//   v4 A in place  narrow C reading A through its strides whatever its layout (before v5)
//   v5 pack A      narrow C with a column-major A: A packed (contiguous reads along M)
//   v6 pack B      narrow C with a column-major A computed as Cᵀ = Bᵀ·Aᵀ, Aᵀ packed as B
//   v4 avx2        the library (v8): that B read in place (direct B) when C' is at most 3 MR
//                  strips tall, the next strip's rows prefetched
//   v6 ncN         the library with NC = N (a packed B panel that fits L2)
//   openblas cblas_sgemm
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/runtime/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_avx2.h"
#include "kernels/cpu/gemm_driver.h"

#ifdef STACKGRAD_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace sk = stackgrad::kernels;
using Problem = sk::GemmProblem<float>;

// ---------------------------------------------------------------------------------------------
// v1: the first version (kernels/cpu/matmul.cpp before the ISA dispatch), f32 only.
namespace v1 {

constexpr int kMR = 6, kNR = 16;
constexpr int64_t kKC = 256, kMC = 72, kNC = 256;
using Vec [[gnu::vector_size(32)]] = float;

Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, float* ap) {
  for (int64_t s = 0; s < mc; s += kMR) {
    const int m = static_cast<int>(std::min<int64_t>(kMR, mc - s));
    float* dst = ap + s * kc;
    if (m < kMR) std::fill(dst, dst + kc * kMR, 0.0f);
    for (int i = 0; i < m; ++i)
      for (int64_t k = 0; k < kc; ++k) dst[k * kMR + i] = a[(s + i) * rs + k * cs];
  }
}

void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, float* bp) {
  for (int64_t t = 0; t < nc; t += kNR) {
    const int n = static_cast<int>(std::min<int64_t>(kNR, nc - t));
    float* dst = bp + t * kc;
    if (n < kNR) std::fill(dst, dst + kc * kNR, 0.0f);
    for (int64_t k = 0; k < kc; ++k)
      for (int j = 0; j < n; ++j) dst[k * kNR + j] = b[k * rs + (t + j) * cs];
  }
}

void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c,
                  int64_t rs, int m, int n, bool accumulate) {
  Vec acc[kMR][2] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const Vec b0 = load(bp + k * kNR), b1 = load(bp + k * kNR + 8);
    const float* ak = ap + k * kMR;
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      acc[i][0] += b0 * ak[i];
      acc[i][1] += b1 * ak[i];
    }
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      const float v = acc[i][j / 8][j % 8];
      c[i * rs + j] = accumulate ? c[i * rs + j] + v : v;
    }
}

void gemm(const Problem& p) {
  const int64_t mblocks = (p.M + kMC - 1) / kMC, nblocks = (p.N + kNC - 1) / kNC;
  stackgrad::parallel_for(0, mblocks * nblocks, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> ap(kMC * kKC), bp(kKC * kNC);
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t ic = task / nblocks * kMC, jc = task % nblocks * kNC;
      const int64_t mc = std::min(kMC, p.M - ic), nc = std::min(kNC, p.N - jc);
      for (int64_t pc = 0; pc < p.K; pc += kKC) {
        const int64_t kc = std::min(kKC, p.K - pc);
        pack_a(mc, kc, p.a + ic * p.a_rs + pc * p.a_cs, p.a_rs, p.a_cs, ap.data());
        pack_b(kc, nc, p.b + pc * p.b_rs + jc * p.b_cs, p.b_rs, p.b_cs, bp.data());
        for (int64_t jr = 0; jr < nc; jr += kNR)
          for (int64_t ir = 0; ir < mc; ir += kMR)
            micro_kernel(kc, ap.data() + ir * kc, bp.data() + jr * kc,
                         p.c + (ic + ir) * p.c_rs + jc + jr, p.c_rs,
                         static_cast<int>(std::min<int64_t>(kMR, mc - ir)),
                         static_cast<int>(std::min<int64_t>(kNR, nc - jr)), pc > 0);
      }
    }
  });
}

}  // namespace v1

// ---------------------------------------------------------------------------------------------
// v3 and v4 blockings: the AVX2 kernel with some KC / MC (MR = 6 always).
template <int64_t KC, int64_t MC, int64_t NC>
struct Blocked : sk::gemm_detail::Avx2Kernel<sk::gemm_detail::F32x8, 6, KC, MC, NC> {};

// v3: each thread owns a range of MR-row strips and runs the whole blocked loop on it.
void v3_private_b(const Problem& p) {
  using K = Blocked<256, 144, 4080>;
  const int64_t strips = (p.M + K::MR - 1) / K::MR, parts = stackgrad::num_threads();
  stackgrad::parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t q = lo; q < hi; ++q)
      sk::gemm_detail::gemm_rect<float, K>(p, std::min(p.M, strips * q / parts * K::MR),
                                           std::min(p.M, strips * (q + 1) / parts * K::MR), 0, p.N,
                                           false);
  });
}

template <int64_t KC, int64_t MC, int64_t NC>
void v4_blocked(const Problem& p) {
  sk::gemm_detail::gemm_run<float, Blocked<KC, MC, NC>>(&p, 1, false);
}

// v4 before the B strip prefetch.
struct NoPrefetch : Blocked<256, 144, 4080> {
  static constexpr bool kNoPrefetch = true;
};
void v4_no_prefetch(const Problem& p) {
  sk::gemm_detail::gemm_run<float, NoPrefetch>(&p, 1, false);
}

// Narrow C with a column-major A (tM x K x N shapes): v4 as it was, A read in place through its
// strides; v5 packs such an A like any other; the library (v6) computes Cᵀ = Bᵀ·Aᵀ instead.
struct InPlace : Blocked<256, 144, 4080> {
  static constexpr bool kDirectAnyLayout = true;
};
struct PackA : Blocked<256, 144, 4080> {
  static constexpr bool kNoSwap = true;
};
struct PackB : Blocked<256, 144, 4080> {
  static constexpr bool kNoDirectB = true;
};
template <typename K>
void driver(const Problem& p) {
  sk::gemm_detail::gemm_run<float, K>(&p, 1, false);
}

void library(sk::GemmIsa isa, const Problem& p) {
  sk::set_gemm_isa(isa);
  sk::gemm(p);
}

struct Version {
  std::string name;
  std::function<void(const Problem&)> run;
};

std::vector<Version> versions() {
  std::vector<Version> v = {
      {"v1", v1::gemm},
      {"v2 portable", [](const Problem& p) { library(sk::GemmIsa::portable, p); }},
      {"v3 private B", v3_private_b},
      {"v4 avx2", [](const Problem& p) { library(sk::GemmIsa::avx2, p); }},
      {"v4 no B prefetch", v4_no_prefetch},
      {"v4 A in place", driver<InPlace>},
      {"v5 pack A", driver<PackA>},
      {"v6 pack B", driver<PackB>},
      {"v6 nc128", v4_blocked<256, 144, 128>},
      {"v6 nc256", v4_blocked<256, 144, 256>},
      {"v6 nc512", v4_blocked<256, 144, 512>},
      {"v4 kc384/mc96", v4_blocked<384, 96, 4080>},
      {"v4 kc256/mc72", v4_blocked<256, 72, 4080>},
      {"v4 kc256/mc288", v4_blocked<256, 288, 4080>},
      {"v4 kc256/nc1024", v4_blocked<256, 144, 1024>},
      {"v4 kc384/mc192", v4_blocked<384, 192, 4080>},
  };
#ifdef STACKGRAD_HAVE_OPENBLAS
  v.push_back({"openblas", [](const Problem& p) {
                 const bool t = p.a_cs != 1;  // a tM x K x N shape: A = Xᵀ, X [K, M]
                 cblas_sgemm(CblasRowMajor, t ? CblasTrans : CblasNoTrans, CblasNoTrans, p.M, p.N,
                             p.K, 1.0f, p.a, t ? p.a_cs : p.a_rs, p.b, p.b_rs, 0.0f, p.c, p.c_rs);
               }});
#endif
  // LAB_VERSIONS=v3,v4,openblas keeps the versions whose name starts with one of those.
  if (const char* keep = std::getenv("LAB_VERSIONS")) {
    std::vector<Version> kept;
    for (auto& ver : v) {
      const std::string list = std::string(",") + keep + ",";
      for (size_t at = 0; (at = list.find(',', at)) != std::string::npos && at + 1 < list.size();) {
        const size_t end = list.find(',', at + 1);
        if (ver.name.rfind(list.substr(at + 1, end - at - 1), 0) == 0) {
          kept.push_back(ver);
          break;
        }
        at = end;
      }
    }
    v = kept;
  }
  return v;
}

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of the whole process (all threads), for the on-CPU rate: on a machine shared with
// other jobs it leaves out the time a thread was not scheduled (but counts a thread spinning
// at a barrier while its partner was descheduled).
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

// `trans`: A is the transposed view of a row-major X [K, M] (a_rs = 1, a_cs = M).
void run_shape(int64_t M, int64_t K, int64_t N, bool trans, int rounds) {
  std::mt19937 rng(0);
  std::normal_distribution<float> dist;
  std::vector<float> a(M * K), b(K * N), c(M * N);
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  const int64_t a_rs = trans ? 1 : K, a_cs = trans ? M : 1;
  const Problem p{M, N, K, a.data(), a_rs, a_cs, b.data(), N, 1, c.data(), N, 1};
  const double flops = 2.0 * M * N * K;
  const auto vs = versions();
  std::printf("\n%s%ldx%ldx%ld (M x K x N), %d threads, %d rounds\n", trans ? "t" : "", long(M),
              long(K), long(N), stackgrad::num_threads(), rounds);
  // Validate each version on 256 sampled entries, and find how many calls make ~30 ms.
  std::vector<int> reps(vs.size());
  for (size_t v = 0; v < vs.size(); ++v) {
    std::fill(c.begin(), c.end(), std::nanf(""));
    const double t0 = seconds();
    vs[v].run(p);
    reps[v] = std::max(1, static_cast<int>(0.03 / std::max(seconds() - t0, 1e-6)));
    std::mt19937 pick(1);
    for (int s = 0; s < 256; ++s) {
      const int64_t i = pick() % M, j = pick() % N;
      double ref = 0, mag = 0;
      for (int64_t l = 0; l < K; ++l) {
        ref += double(a[i * a_rs + l * a_cs]) * b[l * N + j];
        mag += std::abs(double(a[i * a_rs + l * a_cs]) * b[l * N + j]);
      }
      if (!(std::abs(c[i * N + j] - ref) <= 1e-5 * (mag + 1))) {
        std::printf("%s: WRONG at (%ld, %ld): %g, expected %g\n", vs[v].name.c_str(), long(i),
                    long(j), c[i * N + j], ref);
        std::exit(1);
      }
    }
  }
  std::vector<std::vector<double>> gflops(vs.size()), oncpu(vs.size());
  const double threads = stackgrad::num_threads();
  for (int r = 0; r < rounds; ++r)
    for (size_t v = 0; v < vs.size(); ++v) {
      const double t0 = seconds(), c0 = cpu_seconds();
      for (int i = 0; i < reps[v]; ++i) vs[v].run(p);
      gflops[v].push_back(flops * reps[v] / (seconds() - t0) / 1e9);
      oncpu[v].push_back(flops * reps[v] / ((cpu_seconds() - c0) / threads) / 1e9);
    }
  auto best = [&](size_t v) { return *std::max_element(gflops[v].begin(), gflops[v].end()); };
  auto median = [&](size_t v, const std::vector<std::vector<double>>& of) {
    auto g = of[v];
    std::nth_element(g.begin(), g.begin() + g.size() / 2, g.end());
    return g[g.size() / 2];
  };
  const size_t ref = vs.back().name == "openblas" ? vs.size() - 1 : vs.size();
  for (size_t v = 0; v < vs.size(); ++v) {
    std::printf("  %-16s best %6.1f  median %6.1f  on-CPU %6.1f GFLOP/s", vs[v].name.c_str(),
                best(v), median(v, gflops), median(v, oncpu));
    if (ref < vs.size())
      std::printf("   x OpenBLAS: best %.2f  median %.2f  on-CPU %.2f", best(v) / best(ref),
                  median(v, gflops) / median(ref, gflops), median(v, oncpu) / median(ref, oncpu));
    std::printf("\n");
  }
}

int main(int argc, char** argv) {
  std::vector<std::string> shapes = {"256x256x256",    "512x512x512",  "1024x1024x1024",
                                     "2048x2048x2048", "2708x1433x16", "19717x500x16",
                                     "t1433x2708x16",  "t16x2708x7"};
  if (argc > 1) shapes.assign(argv + 1, argv + argc);
  const char* env = std::getenv("LAB_ROUNDS");
  const int rounds = env ? std::atoi(env) : 7;
  const sk::GemmIsa saved = sk::gemm_isa();
  for (const auto& s : shapes) {
    long M, K, N;
    const bool trans = !s.empty() && s[0] == 't';
    if (std::sscanf(s.c_str() + trans, "%ldx%ldx%ld", &M, &K, &N) != 3) {
      std::printf("bad shape %s (want MxKxN)\n", s.c_str());
      return 1;
    }
    run_shape(M, K, N, trans, rounds);
    sk::set_gemm_isa(saved);
  }
}
