// Elementwise and reduction throughput on the CPU, against a comparator measured in the same
// run: a plain loop over raw arrays doing the same arithmetic (what a compiler gives for free).
// Report ratios, not absolute times:
//   ./build-bench/bench_elementwise --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

constexpr int64_t kN = 1 << 22;  // 4M floats: 16 MB per operand, past the caches

void BM_add_stackgrad(benchmark::State& state) {
  Generator g(0);
  Tensor a = randn({kN}, g), b = randn({kN}, g);
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).raw_data());
  state.SetBytesProcessed(state.iterations() * kN * 12);
}

void BM_add_plain_loop(benchmark::State& state) {
  std::vector<float> a(kN, 1.0f), b(kN, 2.0f);
  for (auto _ : state) {
    std::vector<float> c(kN);
    for (int64_t i = 0; i < kN; ++i) c[i] = a[i] + b[i];
    benchmark::DoNotOptimize(c.data());
  }
  state.SetBytesProcessed(state.iterations() * kN * 12);
}

// 64 MB operands: past glibc's dynamic mmap threshold, so without the CPU caching allocator
// every call would fault in a fresh output.
void BM_add_64MB_stackgrad(benchmark::State& state) {
  Generator g(0);
  Tensor a = randn({kN * 4}, g), b = randn({kN * 4}, g);
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).raw_data());
  state.SetBytesProcessed(state.iterations() * kN * 4 * 12);
}

void BM_add_broadcast_row_stackgrad(benchmark::State& state) {
  Generator g(0);
  Tensor a = randn({kN / 1024, 1024}, g), b = randn({1024}, g);
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).raw_data());
  state.SetBytesProcessed(state.iterations() * kN * 8);
}

void BM_exp_stackgrad(benchmark::State& state) {
  Generator g(0);
  Tensor a = randn({kN}, g);
  for (auto _ : state) benchmark::DoNotOptimize(exp(a).raw_data());
  state.SetBytesProcessed(state.iterations() * kN * 8);
}

void BM_exp_plain_loop(benchmark::State& state) {
  std::vector<float> a(kN, 0.5f);
  for (auto _ : state) {
    std::vector<float> c(kN);
    for (int64_t i = 0; i < kN; ++i) c[i] = std::exp(a[i]);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetBytesProcessed(state.iterations() * kN * 8);
}

void BM_sum_rows_stackgrad(benchmark::State& state) {
  Generator g(0);
  Tensor a = randn({kN / 1024, 1024}, g);
  for (auto _ : state) benchmark::DoNotOptimize(sum(a, {1}).raw_data());
  state.SetBytesProcessed(state.iterations() * kN * 4);
}

void BM_sum_columns_stackgrad(benchmark::State& state) {
  Generator g(0);
  Tensor a = randn({kN / 1024, 1024}, g);
  for (auto _ : state) benchmark::DoNotOptimize(sum(a, {0}).raw_data());
  state.SetBytesProcessed(state.iterations() * kN * 4);
}

void BM_sum_plain_loop(benchmark::State& state) {
  std::vector<float> a(kN, 1.0f);
  for (auto _ : state) {
    double s = 0;
    for (int64_t i = 0; i < kN; ++i) s += a[i];
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * kN * 4);
}

}  // namespace

BENCHMARK(BM_add_stackgrad)->UseRealTime();
BENCHMARK(BM_add_plain_loop)->UseRealTime();
BENCHMARK(BM_add_64MB_stackgrad)->UseRealTime();
BENCHMARK(BM_add_broadcast_row_stackgrad)->UseRealTime();
BENCHMARK(BM_exp_stackgrad)->UseRealTime();
BENCHMARK(BM_exp_plain_loop)->UseRealTime();
BENCHMARK(BM_sum_rows_stackgrad)->UseRealTime();
BENCHMARK(BM_sum_columns_stackgrad)->UseRealTime();
BENCHMARK(BM_sum_plain_loop)->UseRealTime();
BENCHMARK_MAIN();
