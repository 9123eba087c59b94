// CUDA lab of the normalisations: versions of layer_norm and batch_norm (training forward),
// each validated against the CPU kernels on the same inputs, then timed with CUDA events.
//   layer_norm [8192, 1024]:
//     two_pass_block  a 256-thread block per row: sum, then squared deviations, then y (the CPU
//                     kernels' scheme on the GPU; three reads of the row)
//     library         kernels/cuda/norm.cu through the op: a warp per row, one-pass Welford
//                     merged by Chan's formula, fused affine
//   batch_norm [64, 128, 32, 32]:
//     block_per_channel  one 256-thread block per channel walks all N H W elements (128 blocks)
//     library            norm.cu: rows cut into chunks (partials, in-order merge, apply)
// No vendor row: cuBLAS has no normalisation. Without a GPU: "no CUDA device", exit 0.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "engine/runtime/cuda_context.h"
#include "engine/stackgrad.h"

namespace {

using namespace stackgrad;

#define LAB_CHECK(call)                                                                          \
  do {                                                                                           \
    cudaError_t e_ = (call);                                                                     \
    if (e_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

cudaStream_t stream() { return static_cast<cudaStream_t>(cuda_stream(0)); }

// Sum of v over a 256-thread block, the same value returned to every thread.
__device__ double block_sum(double v, double* shared) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
  __syncthreads();
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0;
  for (int w = 0; w < 8; ++w) s += shared[w];
  return s;
}

__global__ void ln_two_pass(int64_t R, int64_t D, const float* x, const float* w, const float* b,
                            float* y, double eps) {
  __shared__ double shared[8];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float* xr = x + r * D;
    double s = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) s += xr[d];
    const double mean = block_sum(s, shared) / D;
    double q = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) q += (xr[d] - mean) * (xr[d] - mean);
    const double rstd = 1.0 / sqrt(block_sum(q, shared) / D + eps);
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      y[r * D + d] = static_cast<float>((xr[d] - mean) * rstd * w[d] + b[d]);
  }
}

__global__ void bn_block_per_channel(int64_t N, int64_t C, int64_t S, const float* x,
                                     const float* w, const float* b, float* y, double eps) {
  __shared__ double shared[8];
  const int64_t c = blockIdx.x, n = N * S;
  double s = 0;
  for (int64_t e = threadIdx.x; e < n; e += blockDim.x) s += x[((e / S) * C + c) * S + e % S];
  const double mean = block_sum(s, shared) / n;
  double q = 0;
  for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
    const double d = x[((e / S) * C + c) * S + e % S] - mean;
    q += d * d;
  }
  const double rstd = 1.0 / sqrt(block_sum(q, shared) / n + eps);
  for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
    const int64_t i = ((e / S) * C + c) * S + e % S;
    y[i] = static_cast<float>((x[i] - mean) * rstd * w[c] + b[c]);
  }
}

// Median of 20 timed calls after 3 warm-ups, in microseconds.
double time_us(const std::function<void()>& fn) {
  for (int i = 0; i < 3; ++i) fn();
  cudaEvent_t a, b;
  LAB_CHECK(cudaEventCreate(&a));
  LAB_CHECK(cudaEventCreate(&b));
  std::vector<float> ms;
  for (int i = 0; i < 20; ++i) {
    LAB_CHECK(cudaEventRecord(a, stream()));
    fn();
    LAB_CHECK(cudaEventRecord(b, stream()));
    LAB_CHECK(cudaEventSynchronize(b));
    float t = 0;
    LAB_CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  LAB_CHECK(cudaEventDestroy(a));
  LAB_CHECK(cudaEventDestroy(b));
  return ms[ms.size() / 2] * 1e3;
}

// Largest |got - want| / (1e-5 + 1e-4 |want|): <= 1 is "ok".
double scaled_error(const Tensor& got, const Tensor& want) {
  const std::vector<float> g = got.to(Device::cpu()).contiguous().to_vector<float>();
  const std::vector<float> w = want.contiguous().to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double e = std::abs(double(g[i]) - w[i]) / (1e-5 + 1e-4 * std::abs(double(w[i])));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

void row(const char* op, const char* version, const Tensor& got, const Tensor& want, double us,
         double bytes) {
  const double err = scaled_error(got, want);
  std::printf("%-10s %-20s %-8s %10.1f us %8.0f GB/s\n", op, version,
              err <= 1.0 ? "ok" : "MISMATCH", us, bytes / (us * 1e3));
}

}  // namespace

int main() {
  if (!cuda_available()) {
    std::printf("no CUDA device\n");
    return 0;
  }
  const Options gpu(DType::f32, Device::cuda(0));
  Generator gen(3);
  NoGradGuard no_grad;
  {
    const int64_t R = 8192, D = 1024;
    Tensor x = randn({R, D}, gen, gpu), w = randn({D}, gen, gpu), b = randn({D}, gen, gpu);
    Tensor want = layer_norm(x.to(Device::cpu()), {D}, w.to(Device::cpu()), b.to(Device::cpu()));
    Tensor y = empty({R, D}, gpu);
    const double bytes = 2.0 * R * D * 4;
    const double t1 = time_us([&] {
      ln_two_pass<<<static_cast<int>(std::min<int64_t>(R, 65536)), 256, 0, stream()>>>(
          R, D, x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(), y.data_ptr<float>(),
          1e-5);
      LAB_CHECK(cudaGetLastError());
    });
    row("layer_norm", "two_pass_block", y, want, t1, bytes);
    Tensor lib;
    const double t2 = time_us([&] { lib = layer_norm(x, {D}, w, b); });
    row("layer_norm", "library", lib, want, t2, bytes);
  }
  {
    const int64_t N = 64, C = 128, S = 32 * 32;
    Tensor x = randn({N, C, 32, 32}, gen, gpu), w = randn({C}, gen, gpu), b = randn({C}, gen, gpu);
    Tensor want = batch_norm(x.to(Device::cpu()), Tensor(), Tensor(), w.to(Device::cpu()),
                             b.to(Device::cpu()), true);
    Tensor y = empty({N, C, 32, 32}, gpu);
    const double bytes = 2.0 * N * C * S * 4;
    const double t1 = time_us([&] {
      bn_block_per_channel<<<static_cast<int>(C), 256, 0, stream()>>>(
          N, C, S, x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
          y.data_ptr<float>(), 1e-5);
      LAB_CHECK(cudaGetLastError());
    });
    row("batch_norm", "block_per_channel", y, want, t1, bytes);
    Tensor lib;
    const double t2 = time_us([&] { lib = batch_norm(x, Tensor(), Tensor(), w, b, true); });
    row("batch_norm", "library", lib, want, t2, bytes);
  }
  return 0;
}
