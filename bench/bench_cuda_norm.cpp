// GPU benchmark of the norm kernels and the fused Adam step (suite `cuda_norm`): each case's
// ours against a device-to-device copy of the bytes the case must touch (impl `copy`: a copy of
// B/2 bytes reads and writes B), so ours / copy is the fraction of copy bandwidth reached.
// Before timing, ours is checked once against the CPU kernels on the same inputs. The PyTorch
// peer is bench/peers/peer_cuda_norm.py.
//   layer_norm fwd+bwd [8192, 1024]: reads x; writes y; reads x, g; writes dx  (5 R D floats)
//   batch_norm fwd+bwd [64, 128, 32, 32] training: the same 5 tensors of N C H W floats
//   group_norm fwd+bwd UNet shapes (G = 32): the same 5 tensors
//   adam_step 10 M parameters (f32): reads p, g, m, v; writes p, m, v  (7 x 10 M floats)
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>

#include "bench/cuda_bench.h"
#include "engine/ops/optim.h"
#include "engine/stackgrad.h"

namespace stackgrad::bench {
namespace {

Options gpu_f32() { return Options(DType::f32, Device::cuda(0)); }

// Checks a GPU result against the CPU's once; aborts on disagreement (f32 rounding).
void check(const char* what, const Tensor& gpu, const Tensor& cpu) {
  const std::vector<float> g = gpu.to(Device::cpu()).contiguous().to_vector<float>();
  const std::vector<float> c = cpu.contiguous().to_vector<float>();
  double worst = g.size() == c.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < g.size() && i < c.size(); ++i) {
    const double e = std::abs(double(g[i]) - c[i]) / (1e-4 + 1e-3 * std::abs(double(c[i])));
    if (!(e <= worst)) worst = e;  // NaN sticks
  }
  if (!(worst <= 1.0)) {
    std::fprintf(stderr, "cuda_norm: %s disagrees with the CPU (scaled error %g)\n", what, worst);
    std::abort();
  }
}

// A copy of `bytes` / 2 bytes between two device buffers, timed as the bandwidth comparator.
void bench_copy(benchmark::State& state, size_t bytes) {
  if (!require_gpu(state)) return;
  const int64_t n = static_cast<int64_t>(bytes / 2 / sizeof(float));
  Tensor a = zeros({n}, gpu_f32()), b = zeros({n}, gpu_f32());
  time_on_gpu(state, [&] {
    SG_BENCH_CUDA(cudaMemcpyAsync(b.data_ptr<float>(), a.data_ptr<float>(), n * sizeof(float),
                                  cudaMemcpyDeviceToDevice, bench_stream()));
  });
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

// A normalisation forward and backward through its kernels (the ops' _backward entry points).
using NormFn = std::function<void(const std::vector<Tensor>&)>;

void bench_norm(benchmark::State& state, const Shape& shape, const std::string& which) {
  if (!require_gpu(state)) return;
  Generator gen(1);
  Tensor x = randn(shape, gen, gpu_f32()), g = randn(shape, gen, gpu_f32());
  const int64_t C = shape[1];
  Tensor w = ones({which == "layer_norm" ? shape.back() : C}, gpu_f32()), b = zeros_like(w);
  Tensor rm = zeros({C}, gpu_f32()), rv = ones({C}, gpu_f32());
  // Forward and backward; `collect` concatenates the results for the check (not timed).
  auto run = [&](const Tensor& xx, const Tensor& gg, const Tensor& ww, const Tensor& bb, Tensor rmm,
                 Tensor rvv, bool collect) {
    NoGradGuard no_grad;
    if (which == "layer_norm") {
      Tensor y = layer_norm(xx, {shape.back()}, ww, bb);
      const int64_t R = xx.numel() / shape.back();
      Tensor mean = zeros({R}, Options(xx.dtype(), xx.device()));
      Tensor rstd = ones({R}, Options(xx.dtype(), xx.device()));
      NormGrads d = layer_norm_backward(xx, gg, mean, rstd, {shape.back()}, ww);
      return collect ? cat({y.flatten(), d.input.flatten(), d.weight, d.bias}) : Tensor();
    }
    if (which == "batch_norm") {
      Tensor y = batch_norm(xx, rmm, rvv, ww, bb, true);
      NormGrads d = batch_norm_backward(xx, gg, rmm, rvv, ww, true);
      return collect ? cat({y.flatten(), d.input.flatten(), d.weight, d.bias}) : Tensor();
    }
    Tensor y = group_norm(xx, 32, ww, bb);
    Tensor stats = ones({shape[0], 32}, Options(xx.dtype(), xx.device()));
    NormGrads d = group_norm_backward(xx, gg, stats * 0.1, stats, 32, ww);
    return collect ? cat({y.flatten(), d.input.flatten(), d.weight, d.bias}) : Tensor();
  };
  check(which.c_str(), run(x, g, w, b, rm.clone(), rv.clone(), true),
        run(x.to(Device::cpu()), g.to(Device::cpu()), w.to(Device::cpu()), b.to(Device::cpu()),
            rm.to(Device::cpu()), rv.to(Device::cpu()), true));
  time_on_gpu(state, [&] { run(x, g, w, b, rm, rv, false); });
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 5 * x.numel() * 4);
}

void bench_adam(benchmark::State& state) {
  if (!require_gpu(state)) return;
  // 10 M parameters as a few layers of unequal sizes.
  const std::vector<int64_t> sizes = {4'000'000, 3'000'000, 2'000'000, 999'000, 1'000};
  std::vector<Tensor> p, g, m, v, pc, gc, mc, vc;
  Generator gen(2);
  for (int64_t n : sizes) {
    p.push_back(randn({n}, gen, gpu_f32()));
    g.push_back(randn({n}, gen, gpu_f32()));
    m.push_back(zeros({n}, gpu_f32()));
    v.push_back(zeros({n}, gpu_f32()));
    pc.push_back(p.back().to(Device::cpu()));
    gc.push_back(g.back().to(Device::cpu()));
    mc.push_back(m.back().to(Device::cpu()));
    vc.push_back(v.back().to(Device::cpu()));
  }
  const AdamStepOptions o{.lr = 1e-3, .weight_decay = 0.01, .decoupled = true};
  const std::vector<int64_t> steps(sizes.size(), 1);
  adam_step(p, g, m, v, {}, steps, o);
  adam_step(pc, gc, mc, vc, {}, steps, o);
  for (size_t i = 0; i < p.size(); ++i) {  // the fused steps agree bit for bit
    if (!equal(p[i].to(Device::cpu()), pc[i]) || !equal(v[i].to(Device::cpu()), vc[i])) {
      std::fprintf(stderr, "cuda_norm: adam_step on the GPU differs from the CPU's\n");
      std::abort();
    }
  }
  time_on_gpu(state, [&] { adam_step(p, g, m, v, {}, steps, o); });
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 7 * 10'000'000 * 4);
}

struct NormCase {
  const char* name;
  const char* op;
  Shape shape;
};

const bool registered = [] {
  const std::vector<NormCase> cases = {
      {"layer_norm_8192x1024", "layer_norm", {8192, 1024}},
      {"batch_norm_64x128x32x32", "batch_norm", {64, 128, 32, 32}},
      {"group_norm_8x320x64x64", "group_norm", {8, 320, 64, 64}},
      {"group_norm_8x640x32x32", "group_norm", {8, 640, 32, 32}},
      {"group_norm_8x1280x16x16", "group_norm", {8, 1280, 16, 16}},
  };
  for (const NormCase& c : cases) {
    int64_t numel = 1;
    for (int64_t d : c.shape) numel *= d;
    const std::string base = std::string("cuda_norm/") + c.name;
    benchmark::RegisterBenchmark((base + "/ours").c_str(),
                                 [c](benchmark::State& s) { bench_norm(s, c.shape, c.op); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(
        (base + "/copy").c_str(),
        [numel](benchmark::State& s) { bench_copy(s, static_cast<size_t>(5 * numel * 4)); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("cuda_norm/adam_10M/ours", bench_adam)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("cuda_norm/adam_10M/copy",
                               [](benchmark::State& s) { bench_copy(s, 7ull * 10'000'000 * 4); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
}  // namespace stackgrad::bench

BENCHMARK_MAIN();
