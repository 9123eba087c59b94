// GPU fused attention, forward + backward (kernels/cuda/attention.cu through the kernel entry
// points of engine/ops/attention.h, no autograd bookkeeping), timed with CUDA events on
// stackgrad's stream. Suite `cuda_attention`: batch 8, 16 heads, head dim 64, sequence 1024,
// 2048, 4096 and 8192, f32 and bf16, not causal. The comparator is PyTorch's
// F.scaled_dot_product_attention (bench/peers/peer_cuda_attention.py, same case names, impl
// `torch`; its bf16 cases pin the flash backend); there is no in-process vendor library for
// fused attention, so before timing the kernels are checked once against the CPU kernels on a
// smaller problem, in f32 and bf16.
//
//   ./build-bench/bench_cuda_attention --benchmark_counters_tabular=true
//
// FLOP/s counts the 4 B H L² D of the forward's two products and the 10 B H L² D of the
// backward's five (S and dP recomputed once per pass: the dQ pass recomputes both again, not
// counted), 14 B H L² D in all.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/cuda_bench.h"
#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

// Largest |a - b| / (atol + rtol |b|) over two tensors copied to the host as f32.
double max_scaled_error(const Tensor& a, const Tensor& b, double rtol, double atol) {
  const std::vector<float> x = a.to(Device::cpu()).to(DType::f32).contiguous().to_vector<float>();
  const std::vector<float> y = b.to(Device::cpu()).to(DType::f32).contiguous().to_vector<float>();
  if (x.size() != y.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = std::abs(double(x[i]) - y[i]) / (atol + rtol * std::abs(double(y[i])));
    if (!(e <= worst)) worst = e;  // NaN sticks
  }
  return worst;
}

// Forward and backward on cuda:0 against the CPU kernels, once per process and dtype: 300 x 300
// (ragged tiles), head dim 64, causal and not. Both compute in f32; bf16 results may differ by
// the rounding of one output, so the bf16 tolerance is about two bf16 ulps. Aborts on
// disagreement.
void check_once(DType dtype) {
  static bool done[2] = {false, false};
  if (done[dtype == DType::bf16]) return;
  done[dtype == DType::bf16] = true;
  Generator g(7);
  const Shape s{1, 2, 300, 64};
  const Tensor q = randn(s, g).to(dtype), k = randn(s, g).to(dtype), v = randn(s, g).to(dtype),
               dout = randn(s, g).to(dtype);
  const Device gpu = Device::cuda(0);
  const double loose = dtype == DType::bf16 ? 10.0 : 1.0;
  for (bool causal : {false, true}) {
    AttentionParams params;
    params.causal = causal;
    const auto cpu = scaled_dot_product_attention_forward(q, k, v, Tensor(), params);
    const auto cpu_g =
        scaled_dot_product_attention_backward(q, k, v, Tensor(), cpu[0], cpu[1], dout, params);
    const auto dev =
        scaled_dot_product_attention_forward(q.to(gpu), k.to(gpu), v.to(gpu), Tensor(), params);
    const auto dev_g = scaled_dot_product_attention_backward(
        q.to(gpu), k.to(gpu), v.to(gpu), Tensor(), dev[0], dev[1], dout.to(gpu), params);
    double worst = std::max(max_scaled_error(dev[0], cpu[0], 1e-3 * loose, 1e-4 * loose),
                            max_scaled_error(dev[1], cpu[1], 1e-3, 1e-4));
    for (int i = 0; i < 3; ++i)
      worst = std::max(worst, max_scaled_error(dev_g[i], cpu_g[i], 1e-2, 1e-3 * loose));
    if (!(worst <= 1.0)) {
      std::fprintf(stderr,
                   "bench_cuda_attention: cuda:0 disagrees with the CPU (%s, causal %d): %g\n",
                   std::string(dtype_name(dtype)).c_str(), int(causal), worst);
      std::abort();
    }
  }
}

void run_case(benchmark::State& state, int64_t L, DType dtype) {
  if (!bench::require_gpu(state)) return;
  check_once(dtype);
  const int64_t B = 8, H = 16, D = 64;
  Generator g(0);
  const Device gpu = Device::cuda(0);
  // Drawn on the device (Philox, the CPU generator's numbers) so the setup stays short.
  const Options opts(DType::f32, gpu);
  const Tensor q = randn({B, H, L, D}, g, opts).to(dtype), k = randn({B, H, L, D}, g, opts).to(dtype),
               v = randn({B, H, L, D}, g, opts).to(dtype),
               dout = randn({B, H, L, D}, g, opts).to(dtype);
  const AttentionParams params;
  bench::time_on_gpu(state, [&] {
    const auto ol = scaled_dot_product_attention_forward(q, k, v, Tensor(), params);
    const auto grads =
        scaled_dot_product_attention_backward(q, k, v, Tensor(), ol[0], ol[1], dout, params);
    benchmark::DoNotOptimize(grads.data());
  });
  const double flops = 14.0 * double(B * H) * double(L) * double(L) * double(D);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (DType dtype : {DType::f32, DType::bf16})
    for (int64_t L : {1024, 2048, 4096, 8192}) {
      const std::string name = "cuda_attention/b8_h16_d64_s" + std::to_string(L) + "_" +
                               std::string(dtype_name(dtype)) + "/ours";
      benchmark::RegisterBenchmark(name.c_str(),
                                   [L, dtype](benchmark::State& s) { run_case(s, L, dtype); })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
