// GEMM throughput: stackgrad's packed GEMM (kernels/cpu/gemm.h, called on raw buffers as conv,
// attention and the linear layers call it) against OpenBLAS's cblas_sgemm / cblas_dgemm in
// the same process, on the same buffers. Cases `gemm/<M>x<K>x<N>/<impl>` (A [M, K] · B [K, N],
// row-major); `gemm/t<M>x<K>x<N>/<impl>` has A = Xᵀ, the transposed view of a row-major X [K, M]
// (OpenBLAS: CblasTrans). The OpenBLAS case first checks that both outputs agree (aborts
// otherwise).
//   STACKGRAD_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 ./build-bench/bench_gemm
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.h"

#ifdef STACKGRAD_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using stackgrad::kernels::GemmProblem;

template <typename T>
struct Operands {
  int64_t M, K, N;
  bool trans;  // A is the transposed view of a row-major X [K, M] (a weight gradient Xᵀ·dH)
  std::vector<T> a, b, c;
  Operands(int64_t m, int64_t k, int64_t n, bool t = false)
      : M(m), K(k), N(n), trans(t), a(m * k), b(k * n), c(m * n) {
    std::mt19937 rng(0);
    std::normal_distribution<float> dist;
    for (auto& x : a) x = dist(rng);
    for (auto& x : b) x = dist(rng);
  }
  void ours() {
    stackgrad::kernels::gemm(GemmProblem<T>{M, N, K, a.data(), trans ? 1 : K, trans ? M : 1,
                                            b.data(), N, 1, c.data(), N, 1});
  }
#ifdef STACKGRAD_HAVE_OPENBLAS
  void openblas() {
    const auto ta = trans ? CblasTrans : CblasNoTrans;
    const int64_t lda = trans ? M : K;
    if constexpr (sizeof(T) == 4)
      cblas_sgemm(CblasRowMajor, ta, CblasNoTrans, M, N, K, 1.0f, a.data(), lda, b.data(), N, 0.0f,
                  c.data(), N);
    else
      cblas_dgemm(CblasRowMajor, ta, CblasNoTrans, M, N, K, 1.0, a.data(), lda, b.data(), N, 0.0,
                  c.data(), N);
  }
#endif
};

template <typename T>
void set_rate(benchmark::State& state, const Operands<T>& op) {
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * op.M * op.N * op.K * state.iterations(),
                                                benchmark::Counter::kIsRate);
}

template <typename T>
void bm_ours(benchmark::State& state, int64_t M, int64_t K, int64_t N, bool trans) {
  Operands<T> op(M, K, N, trans);
  for (auto _ : state) {
    op.ours();
    benchmark::DoNotOptimize(op.c.data());
  }
  set_rate(state, op);
}

#ifdef STACKGRAD_HAVE_OPENBLAS
template <typename T>
void bm_openblas(benchmark::State& state, int64_t M, int64_t K, int64_t N, bool trans) {
  Operands<T> op(M, K, N, trans);
  op.ours();
  const std::vector<T> mine = op.c;
  op.openblas();
  for (size_t i = 0; i < mine.size(); ++i) {
    const double tol = (sizeof(T) == 4 ? 1e-4 : 1e-10) * std::sqrt(double(K)) * 4;
    if (std::abs(double(mine[i]) - double(op.c[i])) > tol * (1 + std::abs(double(op.c[i])))) {
      std::fprintf(stderr, "gemm %ldx%ldx%ld: ours %g, OpenBLAS %g at %zu\n", long(M), long(K),
                   long(N), double(mine[i]), double(op.c[i]), i);
      std::abort();
    }
  }
  for (auto _ : state) {
    op.openblas();
    benchmark::DoNotOptimize(op.c.data());
  }
  set_rate(state, op);
}
#endif

template <typename T>
void add_case(const std::string& name, int64_t M, int64_t K, int64_t N, bool trans = false) {
  benchmark::RegisterBenchmark(("gemm/" + name + "/ours").c_str(), bm_ours<T>, M, K, N, trans)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
#ifdef STACKGRAD_HAVE_OPENBLAS
  benchmark::RegisterBenchmark(("gemm/" + name + "/openblas").c_str(), bm_openblas<T>, M, K, N,
                               trans)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
#endif
}

// Registered before main() runs: square sizes, the tall-skinny shapes of a graph-network layer
// (M x K x N), and one double-precision product.
const bool registered = [] {
  for (int64_t n : {256, 512, 1024, 2048}) {
    const std::string s = std::to_string(n);
    add_case<float>(s + "x" + s + "x" + s, n, n, n);
  }
  add_case<float>("2708x1433x16", 2708, 1433, 16);
  add_case<float>("19717x500x16", 19717, 500, 16);
  // The weight gradients of that layer: Xᵀ·dH (X [2708, 1433]) and hiddenᵀ·dH ([2708, 16]ᵀ).
  add_case<float>("t1433x2708x16", 1433, 2708, 16, true);
  add_case<float>("t16x2708x7", 16, 2708, 7, true);
  add_case<double>("f64_1024x1024x1024", 1024, 1024, 1024);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
