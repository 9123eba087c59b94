// CUDA GEMM lab: every version of the f32 GEMM, each validated against the CPU GEMM
// (kernels/cpu/gemm.h) on the same inputs, then timed with CUDA events (median of the runs),
// beside cuBLAS. The first four versions live here, row-major only; the last ones are the
// kernels of kernels/cuda/gemm.cu called through gemm_with_kernel(), i.e. what the library runs.
//   v1 naive          one thread per C element, K loop from global memory
//   v2 smem tiled     32x32 tiles of A and B in shared memory, one element per thread
//   v3 1-D blocking   64x64 block tile, BK 8, each thread 8 rows of one column (a column of B
//                     held in a register, reused 8 times)
//   v4 2-D blocking   128x128 block tile, BK 8, 8x8 per thread, one shared-memory stage
//   tiled/reg64/reg128  the library's kernels (reg: float4 loads, two stages, grouped tiles)
//   tf32              the library's tensor-core kernel (mma.sync m16n8k8, TF32 inputs)
//   cublas, cublas_tf32  cublasSgemm and cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32
// Usage: gemm_cuda_lab [MxKxN ...] (default 1024x1024x1024 2048x2048x2048 4096x4096x4096
// 1000x999x1001). Without a GPU it says so and exits 0.
//
// Validation: inputs are unit normals, so each C element is a sum of K unit-variance products
// with standard deviation sqrt(K); errors are reported as max |c - ref| / sqrt(K). Exact f32
// versions must stay below 1e-4 (f32 rounding of a length-K sum is far below); TF32 versions
// below 1e-2 (inputs rounded to 11 significant bits: about 3e-4 relative error per product).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/runtime/cuda_context.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemm_plan.h"

#define LAB_CHECK(call)                                                                           \
  do {                                                                                            \
    cudaError_t e_ = (call);                                                                      \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

namespace {

using stackgrad::kernels::gpu::GemmKernel;
using stackgrad::kernels::gpu::GpuGemm;

// v1: one thread per C element.
__global__ void v1_naive(int M, int N, int K, const float* A, const float* B, float* C) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x, m = blockIdx.y * blockDim.y + threadIdx.y;
  if (m >= M || n >= N) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc += A[int64_t(m) * K + k] * B[int64_t(k) * N + n];
  C[int64_t(m) * N + n] = acc;
}

// v2: 32x32 shared-memory tiles.
constexpr int kT2 = 32;
__global__ void v2_tiled(int M, int N, int K, const float* A, const float* B, float* C) {
  __shared__ float As[kT2][kT2 + 1], Bs[kT2][kT2 + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int m = blockIdx.y * kT2 + ty, n = blockIdx.x * kT2 + tx;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += kT2) {
    As[ty][tx] = (m < M && k0 + tx < K) ? A[int64_t(m) * K + k0 + tx] : 0.f;
    Bs[ty][tx] = (k0 + ty < K && n < N) ? B[int64_t(k0 + ty) * N + n] : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kT2; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (m < M && n < N) C[int64_t(m) * N + n] = acc;
}

// v3: 64x64 block tile, 512 threads, each 8 consecutive rows of one column.
__global__ void __launch_bounds__(512)
    v3_blocking_1d(int M, int N, int K, const float* A, const float* B, float* C) {
  constexpr int BM = 64, BN = 64, BK = 8, TM = 8;
  __shared__ float As[BM][BK], Bs[BK][BN];
  const int t = threadIdx.x;
  const int col = t % BN, row0 = (t / BN) * TM;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  // Loads: A tile 64x8 (one element per thread), B tile 8x64.
  const int a_r = t / BK, a_c = t % BK, b_r = t / BN, b_c = t % BN;
  float acc[TM] = {};
  for (int k0 = 0; k0 < K; k0 += BK) {
    As[a_r][a_c] = (m0 + a_r < M && k0 + a_c < K) ? A[int64_t(m0 + a_r) * K + k0 + a_c] : 0.f;
    Bs[b_r][b_c] = (k0 + b_r < K && n0 + b_c < N) ? B[int64_t(k0 + b_r) * N + n0 + b_c] : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      const float b = Bs[k][col];
#pragma unroll
      for (int i = 0; i < TM; ++i) acc[i] += As[row0 + i][k] * b;
    }
    __syncthreads();
  }
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + row0 + i, n = n0 + col;
    if (m < M && n < N) C[int64_t(m) * N + n] = acc[i];
  }
}

// v4: 128x128 block tile, 256 threads, 8x8 per thread, scalar loads, one stage.
__global__ void __launch_bounds__(256)
    v4_blocking_2d(int M, int N, int K, const float* A, const float* B, float* C) {
  constexpr int BM = 128, BK = 8, TM = 8;
  __shared__ float As[BK][BM], Bs[BK][BM];  // both k-major
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BM;
  float acc[TM][TM] = {};
  for (int k0 = 0; k0 < K; k0 += BK) {
    for (int i = t; i < BM * BK; i += 256) {
      const int ar = i / BK, ak = i % BK;  // A: along k in memory
      As[ak][ar] = (m0 + ar < M && k0 + ak < K) ? A[int64_t(m0 + ar) * K + k0 + ak] : 0.f;
      const int bk = i / BM, bc = i % BM;  // B: along n in memory
      Bs[bk][bc] = (k0 + bk < K && n0 + bc < N) ? B[int64_t(k0 + bk) * N + n0 + bc] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[TM], b[TM];
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        a[i] = As[k][ty * TM + i];
        b[i] = Bs[k][tx * TM + i];
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TM; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TM; ++j) {
      const int m = m0 + ty * TM + i, n = n0 + tx * TM + j;
      if (m < M && n < N) C[int64_t(m) * N + n] = acc[i][j];
    }
}

int cdiv(int a, int b) { return (a + b - 1) / b; }

// Copies on the library's stream (non-blocking: plain cudaMemcpy does not order with it).
void copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  LAB_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream));
  LAB_CHECK(cudaStreamSynchronize(stream));
}

struct Shape {
  int M, K, N;
};

bool parse_shape(const char* s, Shape* out) {
  return std::sscanf(s, "%dx%dx%d", &out->M, &out->K, &out->N) == 3 && out->M > 0 && out->K > 0 &&
         out->N > 0;
}

// Median milliseconds of `fn` over enough runs for about 0.3 s (at least 3), after a warm-up.
double time_ms(const std::function<void()>& fn, cudaStream_t stream) {
  cudaEvent_t a, b;
  LAB_CHECK(cudaEventCreate(&a));
  LAB_CHECK(cudaEventCreate(&b));
  fn();
  LAB_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> runs;
  float total = 0.f;
  while (runs.size() < 3 || (total < 300.f && runs.size() < 200)) {
    LAB_CHECK(cudaEventRecord(a, stream));
    fn();
    LAB_CHECK(cudaEventRecord(b, stream));
    LAB_CHECK(cudaEventSynchronize(b));
    float ms = 0.f;
    LAB_CHECK(cudaEventElapsedTime(&ms, a, b));
    runs.push_back(ms);
    total += ms;
  }
  LAB_CHECK(cudaGetLastError());
  LAB_CHECK(cudaEventDestroy(a));
  LAB_CHECK(cudaEventDestroy(b));
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

bool run_shape(const Shape& s, cublasHandle_t handle, cudaStream_t stream) {
  const int M = s.M, K = s.K, N = s.N;
  std::printf("\n%dx%dx%d (A [M, K] x B [K, N], row-major f32)\n", M, K, N);
  std::vector<float> ha(size_t(M) * K), hb(size_t(K) * N), ref(size_t(M) * N), got(ref.size());
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  for (auto& x : ha) x = dist(rng);
  for (auto& x : hb) x = dist(rng);
  stackgrad::kernels::gemm(stackgrad::kernels::GemmProblem<float>{
      M, N, K, ha.data(), K, 1, hb.data(), N, 1, ref.data(), N, 1});
  float *A, *B, *C;
  LAB_CHECK(cudaMalloc(&A, ha.size() * 4));
  LAB_CHECK(cudaMalloc(&B, hb.size() * 4));
  LAB_CHECK(cudaMalloc(&C, ref.size() * 4));
  copy(A, ha.data(), ha.size() * 4, cudaMemcpyHostToDevice, stream);
  copy(B, hb.data(), hb.size() * 4, cudaMemcpyHostToDevice, stream);

  GpuGemm<float> p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.a = A;
  p.a_rs = K;
  p.a_cs = 1;
  p.b = B;
  p.b_rs = N;
  p.b_cs = 1;
  p.c = C;
  p.c_rs = N;
  p.c_cs = 1;
  const float one = 1.f, zero = 0.f;
  const double flops = 2.0 * M * N * K;
  double cublas_ms = 0;
  bool all_ok = true;

  struct Version {
    const char* name;
    bool tf32;
    std::function<void()> fn;
  };
  const std::vector<Version> versions = {
      {"v1 naive", false,
       [&] {
         v1_naive<<<dim3(cdiv(N, 16), cdiv(M, 16)), dim3(16, 16), 0, stream>>>(M, N, K, A, B, C);
       }},
      {"v2 smem tiled 32", false,
       [&] {
         v2_tiled<<<dim3(cdiv(N, kT2), cdiv(M, kT2)), dim3(kT2, kT2), 0, stream>>>(M, N, K, A, B,
                                                                                   C);
       }},
      {"v3 1-D blocking 64x64x8", false,
       [&] {
         v3_blocking_1d<<<dim3(cdiv(N, 64), cdiv(M, 64)), 512, 0, stream>>>(M, N, K, A, B, C);
       }},
      {"v4 2-D blocking 128x128x8", false,
       [&] {
         v4_blocking_2d<<<dim3(cdiv(N, 128), cdiv(M, 128)), 256, 0, stream>>>(M, N, K, A, B, C);
       }},
      {"lib tiled 16", false,
       [&] { stackgrad::kernels::gpu::gemm_with_kernel(0, p, GemmKernel::tiled); }},
      {"lib reg64 (float4, 2 stages)", false,
       [&] { stackgrad::kernels::gpu::gemm_with_kernel(0, p, GemmKernel::reg64); }},
      {"lib reg128 (float4, 2 stages)", false,
       [&] { stackgrad::kernels::gpu::gemm_with_kernel(0, p, GemmKernel::reg128); }},
      {"lib gemm() as planned", false, [&] { stackgrad::kernels::gpu::gemm(0, p); }},
      {"lib tf32 (mma.sync m16n8k8)", true,
       [&] { stackgrad::kernels::gpu::gemm_with_kernel(0, p, GemmKernel::tf32); }},
      {"cublas sgemm", false,
       [&] {
         // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ.
         cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, B, N, A, K, &zero, C, N);
       }},
      {"cublas tf32", true,
       [&] {
         cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, B, CUDA_R_32F, N, A,
                      CUDA_R_32F, K, &zero, C, CUDA_R_32F, N, CUBLAS_COMPUTE_32F_FAST_TF32,
                      CUBLAS_GEMM_DEFAULT);
       }},
  };
  std::printf("%-32s %10s %10s %10s %8s\n", "version", "ms", "TFLOP/s", "err/sqrtK", "check");
  for (const auto& v : versions) {
    LAB_CHECK(cudaMemsetAsync(C, 0xff, ref.size() * 4, stream));  // NaN: unwritten C shows
    v.fn();
    LAB_CHECK(cudaGetLastError());
    copy(got.data(), C, got.size() * 4, cudaMemcpyDeviceToHost, stream);
    double err = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double e = std::abs(double(got[i]) - double(ref[i]));
      if (!(e <= err)) err = e;  // NaN sticks
    }
    err /= std::sqrt(double(K));
    const bool ok = err <= (v.tf32 ? 1e-2 : 1e-4);
    all_ok = all_ok && ok;
    const double ms = time_ms(v.fn, stream);
    if (std::string(v.name) == "cublas sgemm") cublas_ms = ms;
    std::printf("%-32s %10.3f %10.2f %10.2e %8s\n", v.name, ms, flops / (ms * 1e-3) / 1e12, err,
                ok ? "ok" : "MISMATCH");
  }
  std::printf("(f32 versions vs cublas sgemm: ratio = cublas ms / version ms; cublas %.3f ms)\n",
              cublas_ms);
  LAB_CHECK(cudaFree(A));
  LAB_CHECK(cudaFree(B));
  LAB_CHECK(cudaFree(C));
  return all_ok;
}

// The library entry's strided, batched and alpha/beta paths on a small problem, against the
// CPU: transposed A, broadcast (stride-0) B over the batch, C = 0.5 A·B + 2 C.
bool check_interface(cudaStream_t stream) {
  const int batch = 3, M = 70, N = 45, K = 33;
  std::vector<float> x(size_t(batch) * K * M), b(size_t(K) * N), c(size_t(batch) * M * N);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (auto& v : x) v = dist(rng);
  for (auto& v : b) v = dist(rng);
  for (auto& v : c) v = dist(rng);
  std::vector<float> ref = c;
  for (int z = 0; z < batch; ++z)
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double acc = 0;
        for (int k = 0; k < K; ++k)  // A[z] = X[z]ᵀ with X[z] [K, M] row-major
          acc += double(x[size_t(z) * K * M + size_t(k) * M + m]) * b[size_t(k) * N + n];
        float& r = ref[size_t(z) * M * N + size_t(m) * N + n];
        r = float(0.5 * acc + 2.0 * r);
      }
  float *dx, *db, *dc;
  LAB_CHECK(cudaMalloc(&dx, x.size() * 4));
  LAB_CHECK(cudaMalloc(&db, b.size() * 4));
  LAB_CHECK(cudaMalloc(&dc, c.size() * 4));
  copy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice, stream);
  copy(db, b.data(), b.size() * 4, cudaMemcpyHostToDevice, stream);
  bool all_ok = true;
  for (GemmKernel k : {GemmKernel::tiled, GemmKernel::reg64, GemmKernel::reg128}) {
    copy(dc, c.data(), c.size() * 4, cudaMemcpyHostToDevice, stream);
    GpuGemm<float> p;
    p.batch = batch;
    p.M = M;
    p.N = N;
    p.K = K;
    p.a = dx;
    p.a_bs = int64_t(K) * M;
    p.a_rs = 1;
    p.a_cs = M;
    p.b = db;
    p.b_bs = 0;
    p.b_rs = N;
    p.b_cs = 1;
    p.c = dc;
    p.c_bs = int64_t(M) * N;
    p.c_rs = N;
    p.c_cs = 1;
    p.alpha = 0.5f;
    p.beta = 2.f;
    stackgrad::kernels::gpu::gemm_with_kernel(0, p, k);
    std::vector<float> got(c.size());
    copy(got.data(), dc, got.size() * 4, cudaMemcpyDeviceToHost, stream);
    double err = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double e = std::abs(double(got[i]) - ref[i]);
      if (!(e <= err)) err = e;
    }
    const bool ok = err < 1e-4;
    all_ok = all_ok && ok;
    std::printf("interface (batch 3, Aᵀ, stride-0 B, alpha 0.5, beta 2) %-7s max err %.2e %s\n",
                stackgrad::kernels::gpu::gemm_kernel_name(k), err, ok ? "ok" : "MISMATCH");
  }
  LAB_CHECK(cudaFree(dx));
  LAB_CHECK(cudaFree(db));
  LAB_CHECK(cudaFree(dc));
  return all_ok;
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; ++i) {
    Shape s;
    if (!parse_shape(argv[i], &s)) {
      std::fprintf(stderr, "usage: %s [MxKxN ...]\n", argv[0]);
      return 2;
    }
    shapes.push_back(s);
  }
  if (shapes.empty())
    shapes = {{1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096}, {1000, 999, 1001}};
  cudaDeviceProp prop;
  LAB_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (%d SMs)\n", prop.name, prop.multiProcessorCount);
  auto stream = static_cast<cudaStream_t>(stackgrad::cuda_stream(0));
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cublasCreate failed\n");
    return 1;
  }
  cublasSetStream(handle, stream);
  bool ok = check_interface(stream);
  for (const auto& s : shapes) ok = run_shape(s, handle, stream) && ok;
  cublasDestroy(handle);
  return ok ? 0 : 1;
}
