// Framework overhead: ops on one-element tensors, where the arithmetic is nothing and the time
// is all bookkeeping (checks, output allocation, dispatch, autograd recording). Compared with
// PyTorch's eager overhead on the same calls (bench/peers/peer_overhead.py); target: ours at
// most 0.2x PyTorch's time.
//   ./build-bench/bench_overhead
#include <benchmark/benchmark.h>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

// Forward only: c = a + b on [1] tensors that need no gradient.
void BM_add_1elem(benchmark::State& state) {
  Tensor a = full({1}, 1.0), b = full({1}, 2.0);
  for (auto _ : state) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetItemsProcessed(state.iterations());
}

// Forward and backward: c = a + b with both leaves requiring grad, then c.backward(), which
// accumulates into a.grad and b.grad (as PyTorch does without zero_grad).
void BM_add_1elem_fwdbwd(benchmark::State& state) {
  Tensor a = full({1}, 1.0).requires_grad_(), b = full({1}, 2.0).requires_grad_();
  for (auto _ : state) {
    Tensor c = add(a, b);
    c.backward();
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_add_1elem)->Name("overhead/add_1elem/ours")->UseRealTime();
BENCHMARK(BM_add_1elem_fwdbwd)->Name("overhead/add_1elem_fwdbwd/ours")->UseRealTime();
BENCHMARK_MAIN();
