// Elementwise and reduction bandwidth on the GPU (cuda:0), 256M floats (1 GiB per operand).
// Every case reports bytes_per_second over the bytes it must move at least (inputs read once,
// outputs written once), next to a device-to-device copy (cudaMemcpyAsync) of the same number
// of bytes in the same run, impl `copy`: `ours / copy` is how close the kernel runs to what the
// memory system gives a copy (bench/targets.txt: cuda_elementwise/*/copy >= 0.85). Before timing,
// each of ours is checked once against the CPU kernels on the first 1M elements (or rows).
//   ./build-bench/bench_cuda_elementwise --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>

#include "bench/cuda_bench.h"
#include "engine/stackgrad.h"

using namespace stackgrad;
using stackgrad::bench::bench_stream;
using stackgrad::bench::require_gpu;
using stackgrad::bench::time_on_gpu;

namespace {

constexpr int64_t kN = int64_t{1} << 28;       // 256M floats
constexpr int64_t kSide = int64_t{1} << 14;    // [16384, 16384] for the dim sums
constexpr int64_t kSoftmaxCols = 1024;         // [262144, 1024] for softmax rows
constexpr int64_t kCheckN = int64_t{1} << 20;  // elements (or rows) checked on the CPU

Options gpu_f32() { return Options(DType::f32, Device::cuda(0)); }

Tensor gpu_input(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, g, gpu_f32());
}

// ours on the first rows of the inputs against the CPU kernels on the same values.
bool check(benchmark::State& state, const std::function<Tensor(const std::vector<Tensor>&)>& f,
           const std::vector<Tensor>& inputs) {
  std::vector<Tensor> gpu_part, cpu_part;
  for (const Tensor& t : inputs) {
    const int64_t row = t.numel() / t.size(0);
    const int64_t rows = std::min<int64_t>(t.size(0), std::max<int64_t>(1, kCheckN / row));
    Tensor part = t.slice(0, 0, rows).contiguous();
    gpu_part.push_back(part);
    cpu_part.push_back(part.to(Device::cpu()));
  }
  Tensor ours = f(gpu_part).to(Device::cpu()), want = f(cpu_part);
  if (!allclose(ours, want, 1e-4, 1e-5)) {
    state.SkipWithError("ours disagrees with the CPU kernels");
    return false;
  }
  return true;
}

void run_ours(benchmark::State& state, int64_t bytes,
              const std::function<Tensor(const std::vector<Tensor>&)>& f,
              const std::vector<Shape>& shapes) {
  if (!require_gpu(state)) return;
  std::vector<Tensor> in;
  for (size_t i = 0; i < shapes.size(); ++i) in.push_back(gpu_input(shapes[i], 1 + i));
  if (!check(state, f, in)) return;
  time_on_gpu(state, [&] {
    Tensor y = f(in);
    benchmark::DoNotOptimize(y.raw_data());
  });
  state.SetBytesProcessed(state.iterations() * bytes);
}

// A device-to-device copy moving `bytes` in all (bytes / 2 read, bytes / 2 written).
void run_copy(benchmark::State& state, int64_t bytes) {
  if (!require_gpu(state)) return;
  const int64_t half = bytes / 2;
  Tensor src = empty({half}, Options(DType::u8, Device::cuda(0)));
  Tensor dst = empty({half}, Options(DType::u8, Device::cuda(0)));
  cudaStream_t s = bench_stream();
  time_on_gpu(state, [&] {
    SG_BENCH_CUDA(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), static_cast<size_t>(half),
                                  cudaMemcpyDeviceToDevice, s));
  });
  state.SetBytesProcessed(state.iterations() * 2 * half);
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Case {
  const char* name;
  int64_t bytes;
  Fn f;
  std::vector<Shape> shapes;
};

const Case kCases[] = {
    {"add_256M",
     kN * 12,
     [](const std::vector<Tensor>& x) { return add(x[0], x[1]); },
     {{kN}, {kN}}},
    {"mul_256M",
     kN * 12,
     [](const std::vector<Tensor>& x) { return mul(x[0], x[1]); },
     {{kN}, {kN}}},
    {"exp_256M", kN * 8, [](const std::vector<Tensor>& x) { return exp(x[0]); }, {{kN}}},
    {"relu_256M", kN * 8, [](const std::vector<Tensor>& x) { return relu(x[0]); }, {{kN}}},
    // The full sum reads 4 bytes per element and writes one value.
    {"sum_256M", kN * 4, [](const std::vector<Tensor>& x) { return sum(x[0]); }, {{kN}}},
    {"sum_rows_16384x16384",
     kN * 4,
     [](const std::vector<Tensor>& x) { return sum(x[0], {1}); },
     {{kSide, kSide}}},
    {"sum_cols_16384x16384",
     kN * 4,
     [](const std::vector<Tensor>& x) { return sum(x[0], {0}); },
     {{kSide, kSide}}},
    {"softmax_rows_262144x1024",
     kN * 8,
     [](const std::vector<Tensor>& x) { return softmax(x[0], 1); },
     {{kN / kSoftmaxCols, kSoftmaxCols}}},
};

const bool registered = [] {
  for (const Case& c : kCases) {
    const std::string base = std::string("cuda_elementwise/") + c.name;
    benchmark::RegisterBenchmark((base + "/ours").c_str(),
                                 [c](benchmark::State& s) { run_ours(s, c.bytes, c.f, c.shapes); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((base + "/copy").c_str(),
                                 [c](benchmark::State& s) { run_copy(s, c.bytes); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
