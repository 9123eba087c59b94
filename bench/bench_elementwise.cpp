// Elementwise and reduction throughput on the CPU. Each elementwise case has an in-process
// comparator, a STREAM triad (a[i] = b[i] + s * c[i]) moving the same number of bytes, split
// with the same parallel_for: it is what the memory system gives a plain loop, so
// `ours / triad` bandwidth is how close the kernel runs to memory speed (target 0.8). Reductions
// compare with PyTorch (bench/peers/peer_elementwise.py). Names follow <suite>/<case>/<impl>:
//   STACKGRAD_NUM_THREADS=2 ./build-bench/bench_elementwise
#include <benchmark/benchmark.h>

#include <vector>

#include "engine/runtime/parallel.h"
#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

constexpr int64_t kN = int64_t{1} << 24;  // 16M floats: 64 MB per operand, far past the caches
constexpr int64_t kRows = 4096, kCols = 1024;
constexpr int64_t kGrain = 32768;  // the elementwise kernels' grain (kernels/cpu/loops.h)

Tensor input(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, g);
}

template <typename F>
void run_ours(benchmark::State& state, int64_t bytes, F f) {
  // One call before timing: the first output of a size is fresh memory whose page faults
  // would land in the first iterations (later ones reuse it through the caching allocator).
  benchmark::DoNotOptimize(f().raw_data());
  for (auto _ : state) {
    Tensor y = f();
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

// STREAM triad over arrays sized so that one pass moves `bytes` (3 arrays of 4-byte floats).
void run_triad(benchmark::State& state, int64_t bytes) {
  const int64_t n = bytes / 12;
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const float s = 3.0f;
  float* pa = a.data();
  const float* pb = b.data();
  const float* pc = c.data();
  for (auto _ : state) {
    parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
    });
    benchmark::DoNotOptimize(pa);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * 12);
}

void BM_add(benchmark::State& s) {
  Tensor a = input({kN}, 1), b = input({kN}, 2);
  run_ours(s, kN * 12, [&] { return add(a, b); });
}
void BM_mul(benchmark::State& s) {
  Tensor a = input({kN}, 1), b = input({kN}, 2);
  run_ours(s, kN * 12, [&] { return mul(a, b); });
}
void BM_exp(benchmark::State& s) {
  Tensor a = input({kN}, 1);
  run_ours(s, kN * 8, [&] { return exp(a); });
}
// [4096, 4096] + [4096]: the row operand stays in cache, so 8 bytes move per element.
void BM_add_row(benchmark::State& s) {
  Tensor a = input({4096, 4096}, 1), b = input({4096}, 2);
  run_ours(s, kN * 8, [&] { return add(a, b); });
}
void BM_triad12(benchmark::State& s) { run_triad(s, kN * 12); }
void BM_triad8(benchmark::State& s) { run_triad(s, kN * 8); }

void BM_sum_rows(benchmark::State& s) {
  Tensor a = input({kRows, kCols}, 1);
  run_ours(s, kRows * kCols * 4, [&] { return sum(a, {1}); });
}
void BM_sum_cols(benchmark::State& s) {
  Tensor a = input({kRows, kCols}, 1);
  run_ours(s, kRows * kCols * 4, [&] { return sum(a, {0}); });
}
void BM_sum_all(benchmark::State& s) {
  Tensor a = input({kRows, kCols}, 1);
  run_ours(s, kRows * kCols * 4, [&] { return sum(a); });
}
void BM_softmax_rows(benchmark::State& s) {
  Tensor a = input({kRows, kCols}, 1);
  run_ours(s, kRows * kCols * 8, [&] { return softmax(a, 1); });
}

}  // namespace

BENCHMARK(BM_add)->Name("elementwise/add_16M/ours")->UseRealTime();
BENCHMARK(BM_triad12)->Name("elementwise/add_16M/triad")->UseRealTime();
BENCHMARK(BM_mul)->Name("elementwise/mul_16M/ours")->UseRealTime();
BENCHMARK(BM_triad12)->Name("elementwise/mul_16M/triad")->UseRealTime();
BENCHMARK(BM_exp)->Name("elementwise/exp_16M/ours")->UseRealTime();
BENCHMARK(BM_triad8)->Name("elementwise/exp_16M/triad")->UseRealTime();
BENCHMARK(BM_add_row)->Name("elementwise/add_row_4096x4096/ours")->UseRealTime();
BENCHMARK(BM_triad8)->Name("elementwise/add_row_4096x4096/triad")->UseRealTime();
BENCHMARK(BM_sum_rows)->Name("reduce/sum_rows_4096x1024/ours")->UseRealTime();
BENCHMARK(BM_sum_cols)->Name("reduce/sum_cols_4096x1024/ours")->UseRealTime();
BENCHMARK(BM_sum_all)->Name("reduce/sum_all_4096x1024/ours")->UseRealTime();
BENCHMARK(BM_softmax_rows)->Name("reduce/softmax_rows_4096x1024/ours")->UseRealTime();
BENCHMARK_MAIN();
