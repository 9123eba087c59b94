// Shared pieces of the GPU benchmarks (bench/bench_cuda_*.cpp): every case is timed with CUDA
// events on stackgrad's stream of cuda:0, around whole iterations, and reported to Google
// Benchmark as manual time, so the numbers are device time, not host launch time. Vendor calls
// (cuBLAS, cuSPARSE, cuDNN) are bound to the same stream, so ours and theirs queue alike.
//
// Case names follow bench/peers/ratio_table.py: `<suite>/<case>/<impl>`, impl `ours` for
// stackgrad and the comparator's name otherwise (`cublas`, `cusparse`, `cudnn`, `copy`); the
// PyTorch peers (bench/peers/peer_<suite>.py) report `<suite>/<case>/torch`.
//
// Without a GPU every case skips with a message (State::SkipWithError), so a binary built on a
// machine without one runs and says why it measured nothing.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/runtime/cuda_context.h"

namespace stackgrad::bench {

#define SG_BENCH_CUDA(call)                                                                   \
  do {                                                                                        \
    cudaError_t err_ = (call);                                                                \
    if (err_ != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(err_)); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

// The stream stackgrad's kernels run on (cuda:0).
inline cudaStream_t bench_stream() { return static_cast<cudaStream_t>(stackgrad::cuda_stream(0)); }

// False (and the state skipped with the reason) where no GPU can run the case.
inline bool require_gpu(benchmark::State& state) {
  if (stackgrad::cuda_available()) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

// Times fn() (which only queues work on bench_stream()) per iteration with CUDA events, after
// `warmup` untimed calls; register the case with ->UseManualTime().
template <typename Fn>
void time_on_gpu(benchmark::State& state, Fn&& fn, int warmup = 2) {
  cudaStream_t s = bench_stream();
  for (int i = 0; i < warmup; ++i) fn();
  SG_BENCH_CUDA(cudaStreamSynchronize(s));
  cudaEvent_t start, stop;
  SG_BENCH_CUDA(cudaEventCreate(&start));
  SG_BENCH_CUDA(cudaEventCreate(&stop));
  for (auto _ : state) {
    SG_BENCH_CUDA(cudaEventRecord(start, s));
    fn();
    SG_BENCH_CUDA(cudaEventRecord(stop, s));
    SG_BENCH_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    SG_BENCH_CUDA(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(static_cast<double>(ms) * 1e-3);
  }
  SG_BENCH_CUDA(cudaEventDestroy(start));
  SG_BENCH_CUDA(cudaEventDestroy(stop));
}

// Largest |a - b| / (atol + rtol |b|) over n device floats (copied to the host): <= 1 agrees.
// Benchmarks check ours against the comparator once before timing and abort on disagreement.
inline double max_scaled_error_device(const float* a, const float* b, size_t n, double rtol,
                                      double atol) {
  std::vector<float> ha(n), hb(n);
  SG_BENCH_CUDA(cudaStreamSynchronize(bench_stream()));
  SG_BENCH_CUDA(cudaMemcpy(ha.data(), a, n * sizeof(float), cudaMemcpyDeviceToHost));
  SG_BENCH_CUDA(cudaMemcpy(hb.data(), b, n * sizeof(float), cudaMemcpyDeviceToHost));
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = std::abs(double(ha[i]) - hb[i]) / (atol + rtol * std::abs(double(hb[i])));
    if (!(e <= worst)) worst = e;  // NaN sticks
  }
  return worst;
}

}  // namespace stackgrad::bench
