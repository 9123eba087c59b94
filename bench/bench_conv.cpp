// conv2d forward + backward (input, weight and bias gradients) through autograd, at the shapes of
// bench/peers/peer_conv.py (PyTorch, oneDNN underneath). Report ratios measured in one run:
//   STACKGRAD_NUM_THREADS=2 ./build-bench/bench_conv --benchmark_counters_tabular=true
// FLOP/s counts 3 x 2 N O (C/groups) kh kw Ho Wo per iteration (forward and the two GEMM-shaped
// gradients; the bias sum is not counted).
#include <benchmark/benchmark.h>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

struct ConvCase {
  int64_t n, c, o, h, k, pad;
};

void run_case(benchmark::State& state, ConvCase p) {
  Generator gen(0);
  Tensor x = randn({p.n, p.c, p.h, p.h}, gen).requires_grad_();
  Tensor w = (randn({p.o, p.c, p.k, p.k}, gen) * 0.1).detach().requires_grad_();
  Tensor b = randn({p.o}, gen).requires_grad_();
  const int64_t ho = p.h + 2 * p.pad - p.k + 1;
  Tensor gy = randn({p.n, p.o, ho, ho}, gen);
  for (auto _ : state) {
    x.set_grad(Tensor());
    w.set_grad(Tensor());
    b.set_grad(Tensor());
    Tensor y = conv2d(x, w, b, {1, 1}, {p.pad, p.pad});
    y.backward(gy);
    benchmark::DoNotOptimize(x.grad().raw_data());
  }
  const double flops = 3.0 * 2.0 * static_cast<double>(p.n * p.o * p.c * p.k * p.k * ho * ho);
  state.counters["FLOP/s"] = benchmark::Counter(flops * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(run_case, b16_c64_h32, ConvCase{16, 64, 64, 32, 3, 1})
    ->Name("conv/b16_c64_h32/ours")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_case, b16_c128_h16, ConvCase{16, 128, 128, 16, 3, 1})
    ->Name("conv/b16_c128_h16/ours")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run_case, b64_c1_h28, ConvCase{64, 1, 32, 28, 3, 1})
    ->Name("conv/b64_c1_h28/ours")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
