// GPU GEMM throughput: stackgrad's CUDA GEMM (kernels/cuda/gemm.h, called on raw device buffers
// as bmm calls it) against cuBLAS on the same buffers and stream. Row-major f32 operands,
// A [M, K] · B [K, N]. Cases:
//   cuda_gemm/f32_<M>x<K>x<N>/{ours,cublas}     exact f32 (cublasSgemm)
//   cuda_gemm/f32_t<M>x<K>x<N>/{ours,cublas}    A = Xᵀ, the transposed view of a row-major X [K, M]
//   cuda_gemm/f32_b<B>x<M>x<K>x<N>/{ours,cublas}  a batch of B products (cublasSgemmStridedBatched)
//   cuda_gemm/tf32_<M>x<K>x<N>/{ours,cublas}    TF32 tensor cores: ours with set_allow_tf32(true),
//       cuBLAS through cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32
// Each cublas case first checks that both outputs agree (aborts otherwise).
//   ./build-bench/bench_cuda_gemm --benchmark_filter=cuda_gemm/f32_4096
#include <cublas_v2.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/cuda_bench.h"
#include "kernels/cuda/gemm.h"

namespace {

using stackgrad::bench::bench_stream;
using stackgrad::bench::require_gpu;
using stackgrad::bench::time_on_gpu;
using stackgrad::kernels::gpu::GpuGemm;

struct Case {
  std::string name;
  int64_t batch, M, K, N;
  bool trans, tf32;
};

// Device operands of one case, filled with unit normals (generated on the host once).
struct Operands {
  Case c;
  float *a = nullptr, *b = nullptr, *out = nullptr;
  explicit Operands(const Case& cs) : c(cs) {
    const size_t na = size_t(c.batch * c.M * c.K), nb = size_t(c.batch * c.K * c.N);
    std::vector<float> ha(na), hb(nb);
    std::mt19937 rng(0);
    std::normal_distribution<float> dist;
    for (auto& x : ha) x = dist(rng);
    for (auto& x : hb) x = dist(rng);
    SG_BENCH_CUDA(cudaMalloc(&a, na * 4));
    SG_BENCH_CUDA(cudaMalloc(&b, nb * 4));
    SG_BENCH_CUDA(cudaMalloc(&out, size_t(c.batch * c.M * c.N) * 4));
    SG_BENCH_CUDA(cudaMemcpyAsync(a, ha.data(), na * 4, cudaMemcpyHostToDevice, bench_stream()));
    SG_BENCH_CUDA(cudaMemcpyAsync(b, hb.data(), nb * 4, cudaMemcpyHostToDevice, bench_stream()));
    SG_BENCH_CUDA(cudaStreamSynchronize(bench_stream()));
  }
  ~Operands() {
    cudaFree(a);
    cudaFree(b);
    cudaFree(out);
  }
  Operands(const Operands&) = delete;
  Operands& operator=(const Operands&) = delete;
  size_t out_size() const { return size_t(c.batch * c.M * c.N); }

  void ours() {
    GpuGemm<float> p;
    p.batch = c.batch;
    p.M = c.M;
    p.N = c.N;
    p.K = c.K;
    p.a = a;
    p.a_bs = c.M * c.K;
    p.a_rs = c.trans ? 1 : c.K;  // trans: A[m, k] = X[k, m], X [K, M] row-major
    p.a_cs = c.trans ? c.M : 1;
    p.b = b;
    p.b_bs = c.K * c.N;
    p.b_rs = c.N;
    p.b_cs = 1;
    p.c = out;
    p.c_bs = c.M * c.N;
    p.c_rs = c.N;
    p.c_cs = 1;
    stackgrad::kernels::gpu::set_allow_tf32(c.tf32);
    stackgrad::kernels::gpu::gemm(0, p);
    stackgrad::kernels::gpu::set_allow_tf32(false);
  }

  // Row-major C = A·B as column-major Cᵀ = Bᵀ·Aᵀ.
  void cublas(cublasHandle_t h) {
    const float one = 1.f, zero = 0.f;
    const int M = int(c.M), N = int(c.N), K = int(c.K);
    const cublasOperation_t op_a = c.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int lda = c.trans ? M : K;
    cublasStatus_t st;
    if (c.tf32)
      st = cublasGemmEx(h, CUBLAS_OP_N, op_a, N, M, K, &one, b, CUDA_R_32F, N, a, CUDA_R_32F, lda,
                        &zero, out, CUDA_R_32F, N, CUBLAS_COMPUTE_32F_FAST_TF32,
                        CUBLAS_GEMM_DEFAULT);
    else if (c.batch > 1)
      st = cublasSgemmStridedBatched(h, CUBLAS_OP_N, op_a, N, M, K, &one, b, N, c.K * c.N, a, lda,
                                     c.M * c.K, &zero, out, N, c.M * c.N, int(c.batch));
    else
      st = cublasSgemm(h, CUBLAS_OP_N, op_a, N, M, K, &one, b, N, a, lda, &zero, out, N);
    if (st != CUBLAS_STATUS_SUCCESS) {
      std::fprintf(stderr, "cuBLAS call failed (%d) in %s\n", int(st), c.name.c_str());
      std::abort();
    }
  }
};

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t x;
    if (cublasCreate(&x) != CUBLAS_STATUS_SUCCESS) {
      std::fprintf(stderr, "cublasCreate failed\n");
      std::abort();
    }
    cublasSetStream(x, bench_stream());
    return x;
  }();
  return h;
}

void set_rate(benchmark::State& state, const Case& c) {
  state.counters["FLOP/s"] = benchmark::Counter(
      2.0 * c.batch * c.M * c.N * c.K * double(state.iterations()), benchmark::Counter::kIsRate);
}

void bm_ours(benchmark::State& state, Case c) {
  if (!require_gpu(state)) return;
  Operands op(c);
  time_on_gpu(state, [&] { op.ours(); });
  set_rate(state, c);
}

// Checks ours against cuBLAS once (errors scaled by sqrt(K), the spread of a sum of K unit
// products), then times cuBLAS.
void bm_cublas(benchmark::State& state, Case c) {
  if (!require_gpu(state)) return;
  Operands op(c);
  float* mine = nullptr;
  SG_BENCH_CUDA(cudaMalloc(&mine, op.out_size() * 4));
  op.ours();
  SG_BENCH_CUDA(
      cudaMemcpyAsync(mine, op.out, op.out_size() * 4, cudaMemcpyDeviceToDevice, bench_stream()));
  op.cublas(handle());
  const double scale = std::sqrt(double(c.K));
  const double tol = c.tf32 ? 1e-2 : 1e-4;
  const double err =
      stackgrad::bench::max_scaled_error_device(mine, op.out, op.out_size(), tol, tol * scale);
  SG_BENCH_CUDA(cudaFree(mine));
  if (!(err <= 1.0)) {
    std::fprintf(stderr, "%s: ours and cuBLAS disagree (scaled error %g)\n", c.name.c_str(), err);
    std::abort();
  }
  time_on_gpu(state, [&] { op.cublas(handle()); });
  set_rate(state, c);
}

const bool registered = [] {
  const std::vector<Case> cases = {
      {"f32_1024x1024x1024", 1, 1024, 1024, 1024, false, false},
      {"f32_2048x2048x2048", 1, 2048, 2048, 2048, false, false},
      {"f32_4096x4096x4096", 1, 4096, 4096, 4096, false, false},
      {"f32_t4096x4096x4096", 1, 4096, 4096, 4096, true, false},
      {"f32_b64x512x512x512", 64, 512, 512, 512, false, false},
      {"tf32_4096x4096x4096", 1, 4096, 4096, 4096, false, true},
      {"tf32_8192x8192x8192", 1, 8192, 8192, 8192, false, true},
  };
  for (const Case& c : cases) {
    benchmark::RegisterBenchmark(("cuda_gemm/" + c.name + "/ours").c_str(), bm_ours, c)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("cuda_gemm/" + c.name + "/cublas").c_str(), bm_cublas, c)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
