// GPU attention lab: the versions tried for kernels/cuda/attention.cu, each validated against
// the CPU kernels (kernels/cpu/attention.cpp through the op's kernel entry points) on a small
// ragged problem, then timed with CUDA events at batch 8, 16 heads, head dim 64, f32, not causal.
//
//   v0_materialised  unfused: S = scale Q Kᵀ and O = P V by cuBLAS (strided batched SGEMM, full
//                    f32), a warp-per-row softmax kernel in between; backward dV = Pᵀ dO,
//                    dP = dO Vᵀ, dS = P o (dP - rowsum(P o dP)), dQ = scale dS K,
//                    dK = scale dSᵀ Q the same way. Two [B, H, L, L] buffers: L² memory. It is
//                    also the vendor-library row (cuBLAS does the products).
//   v1_flash_fwd     FlashAttention-1 loop order: one block per (batch, head), key tiles outer,
//                    query tiles inner; O, m and l of every query tile read and written back in
//                    global memory once per key tile. Forward only (its backward has the same
//                    one-block-per-head parallelism, the reason v2 replaced it).
//   v2_flash         the shipped kernels (kernels/cuda/attention.cu): FlashAttention-2 order,
//                    one block per (batch, head, query tile) forward, key-tile blocks for dK/dV
//                    and query-tile blocks for dQ backward.
//
//   ./build/attention_cuda_lab [L ...]      (default 1024 2048)
// Without a GPU it prints "no CUDA device" and exits 0.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/ops/attention.h"
#include "engine/ops/random.h"
#include "engine/runtime/cuda_context.h"

using namespace stackgrad;

namespace {

#define LAB_CUDA(call)                                                                            \
  do {                                                                                            \
    cudaError_t e_ = (call);                                                                      \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)
#define LAB_CUBLAS(call)                                                                         \
  do {                                                                                           \
    cublasStatus_t s_ = (call);                                                                  \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                           \
      std::fprintf(stderr, "%s:%d: %s: cublas status %d\n", __FILE__, __LINE__, #call, int(s_)); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

cudaStream_t stream() { return static_cast<cudaStream_t>(cuda_stream(0)); }

struct Problem {
  int64_t B, H, L, D;
  int64_t bh() const { return B * H; }
};

// ---- v0: materialised, cuBLAS ----------------------------------------------------------------

// Row-major C[M, N] = alpha op(A) op(B) + beta C, batched: column-major C' = op(B)' op(A)'.
void rm_gemm(cublasHandle_t h, bool ta, bool tb, int m, int n, int k, float alpha, const float* A,
             int lda, long long sa, const float* B, int ldb, long long sb, float beta, float* C,
             int ldc, long long sc, int batch) {
  LAB_CUBLAS(cublasSgemmStridedBatched(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, B, ldb, sb,
                                       A, lda, sa, &beta, C, ldc, sc, batch));
}

// In place: each row of s [rows, n] becomes its softmax; lse[row] = its log-sum-exp.
__global__ void softmax_rows(float* s, float* lse, int64_t rows, int64_t n) {
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps leave together
  float* x = s + row * n;
  float m = -INFINITY;
  for (int64_t j = lane; j < n; j += 32) m = fmaxf(m, x[j]);
  for (int o = 16; o > 0; o /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  float sum = 0;
  for (int64_t j = lane; j < n; j += 32) sum += expf(x[j] - m);
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float inv = 1.0f / sum;
  for (int64_t j = lane; j < n; j += 32) x[j] = expf(x[j] - m) * inv;
  if (lane == 0) lse[row] = m + logf(sum);
}

// In place: dp becomes dS = P o (dP - rowsum(P o dP)).
__global__ void softmax_grad_rows(const float* p, float* dp, int64_t rows, int64_t n) {
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* pr = p + row * n;
  float* g = dp + row * n;
  float d = 0;
  for (int64_t j = lane; j < n; j += 32) d += pr[j] * g[j];
  for (int o = 16; o > 0; o /= 2) d += __shfl_xor_sync(0xffffffffu, d, o);
  for (int64_t j = lane; j < n; j += 32) g[j] = pr[j] * (g[j] - d);
}

struct Materialised {
  cublasHandle_t h = nullptr;
  float *S = nullptr, *dP = nullptr;
  explicit Materialised(const Problem& p) {
    LAB_CUBLAS(cublasCreate(&h));
    LAB_CUBLAS(cublasSetStream(h, stream()));
    LAB_CUDA(cudaMalloc(&S, sizeof(float) * p.bh() * p.L * p.L));
    LAB_CUDA(cudaMalloc(&dP, sizeof(float) * p.bh() * p.L * p.L));
  }
  ~Materialised() {
    cudaFree(S);
    cudaFree(dP);
    cublasDestroy(h);
  }
  void forward(const Problem& p, const float* q, const float* k, const float* v, float* o,
               float* lse) {
    const int L = int(p.L), D = int(p.D), n = int(p.bh());
    const float scale = 1.0f / std::sqrt(float(p.D));
    rm_gemm(h, false, true, L, L, D, scale, q, D, L * D, k, D, L * D, 0.f, S, L, (long long)L * L,
            n);
    const int64_t rows = p.bh() * p.L;
    softmax_rows<<<unsigned((rows + 7) / 8), 256, 0, stream()>>>(S, lse, rows, p.L);
    LAB_CUDA(cudaGetLastError());
    rm_gemm(h, false, false, L, D, L, 1.f, S, L, (long long)L * L, v, D, L * D, 0.f, o, D, L * D,
            n);
  }
  // After forward (S holds P).
  void backward(const Problem& p, const float* q, const float* k, const float* v, const float* dout,
                float* dq, float* dk, float* dv) {
    const int L = int(p.L), D = int(p.D), n = int(p.bh());
    const float scale = 1.0f / std::sqrt(float(p.D));
    const long long LL = (long long)L * L, LD = (long long)L * D;
    rm_gemm(h, true, false, L, D, L, 1.f, S, L, LL, dout, D, LD, 0.f, dv, D, LD, n);
    rm_gemm(h, false, true, L, L, D, 1.f, dout, D, LD, v, D, LD, 0.f, dP, L, LL, n);
    const int64_t rows = p.bh() * p.L;
    softmax_grad_rows<<<unsigned((rows + 7) / 8), 256, 0, stream()>>>(S, dP, rows, p.L);
    LAB_CUDA(cudaGetLastError());
    rm_gemm(h, false, false, L, D, L, scale, dP, L, LL, k, D, LD, 0.f, dq, D, LD, n);
    rm_gemm(h, true, false, L, D, L, scale, dP, L, LL, q, D, LD, 0.f, dk, D, LD, n);
  }
};

// ---- v1: FlashAttention-1 loop order, head dim 64 --------------------------------------------

constexpr int kHd = 64, kT = 64, kS = kHd + 1;

// One block (128 threads) per (batch, head). Thread (ty = t / 8, tx = t % 8) owns rows
// ty * 4 + r and columns tx + 8 c of every tile. m, l: [BH, L] global state.
__global__ void __launch_bounds__(128)
    v1_forward(const float* q, const float* k, const float* v, float* o, float* m_g, float* l_g,
               int64_t L, float scale) {
  extern __shared__ float sm[];
  float* Ks = sm;
  float* Vs = Ks + kT * kS;
  float* Qs = Vs + kT * kS;
  float* Ps = Qs + kT * kS;
  const int t = threadIdx.x, tx = t % 8, ty = t / 8;
  const int64_t base = int64_t(blockIdx.x) * L;
  for (int64_t j0 = 0; j0 < L; j0 += kT) {
    __syncthreads();
    for (int x = t; x < kT * kHd; x += 128) {
      const int r = x / kHd, d = x % kHd;
      const bool in = j0 + r < L;
      Ks[r * kS + d] = in ? k[(base + j0 + r) * kHd + d] : 0.f;
      Vs[r * kS + d] = in ? v[(base + j0 + r) * kHd + d] : 0.f;
    }
    for (int64_t i0 = 0; i0 < L; i0 += kT) {
      __syncthreads();
      for (int x = t; x < kT * kHd; x += 128) {
        const int r = x / kHd, d = x % kHd;
        Qs[r * kS + d] = i0 + r < L ? q[(base + i0 + r) * kHd + d] : 0.f;
      }
      __syncthreads();
      float s[4][8] = {};
      for (int d = 0; d < kHd; ++d)
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
          for (int c = 0; c < 8; ++c)
            s[r][c] += Qs[(ty * 4 + r) * kS + d] * Ks[(tx + 8 * c) * kS + d];
      float mt[4], lt[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        mt[r] = -INFINITY;
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          s[r][c] = j0 + tx + 8 * c < L ? s[r][c] * scale : -INFINITY;
          mt[r] = fmaxf(mt[r], s[r][c]);
        }
        for (int x = 1; x < 8; x *= 2) mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], x));
        lt[r] = 0;
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          s[r][c] = expf(s[r][c] - mt[r]);
          lt[r] += s[r][c];
          Ps[(ty * 4 + r) * kS + tx + 8 * c] = s[r][c];
        }
        for (int x = 1; x < 8; x *= 2) lt[r] += __shfl_xor_sync(0xffffffffu, lt[r], x);
      }
      __syncthreads();
      float pv[4][8] = {};
      for (int j = 0; j < kT; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
          for (int c = 0; c < 8; ++c)
            pv[r][c] += Ps[(ty * 4 + r) * kS + j] * Vs[j * kS + tx + 8 * c];
            // O_i = (l e^(m - m') O_i + e^(m~ - m') P~ V_j) / l', O_i, m, l round-tripping through
            // global memory (each thread reads back what it wrote).
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int64_t i = i0 + ty * 4 + r;
        if (i >= L) continue;
        const float m_old = j0 == 0 ? -INFINITY : m_g[base + i];
        const float l_old = j0 == 0 ? 0.f : l_g[base + i];
        const float m_new = fmaxf(m_old, mt[r]);
        const float a = expf(m_old - m_new) * l_old, b = expf(mt[r] - m_new);
        const float l_new = a + b * lt[r];
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          float* oi = o + (base + i) * kHd + tx + 8 * c;
          const float prev = j0 == 0 ? 0.f : *oi;
          *oi = (a * prev + b * pv[r][c]) / l_new;
        }
        // The row's 8 lanes (which all take this path) have read m, l before lane 0 writes.
        __syncwarp(0xffu << (threadIdx.x % 32 / 8 * 8));
        if (tx == 0) {
          m_g[base + i] = m_new;
          l_g[base + i] = l_new;
        }
      }
    }
  }
}

// ---- harness ----------------------------------------------------------------------------------

double max_scaled_error(const Tensor& a, const Tensor& b, double rtol, double atol) {
  const std::vector<float> x = a.to(Device::cpu()).contiguous().to_vector<float>();
  const std::vector<float> y = b.to(Device::cpu()).contiguous().to_vector<float>();
  if (x.size() != y.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = std::abs(double(x[i]) - y[i]) / (atol + rtol * std::abs(double(y[i])));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

float* f(const Tensor& t) { return t.data_ptr<float>(); }

struct Data {
  Problem p;
  Tensor q, k, v, dout;  // on cuda:0
  Data(const Problem& pr, uint64_t seed) : p(pr) {
    Generator g(seed);
    const Options opts(DType::f32, Device::cuda(0));
    const Shape s{p.B, p.H, p.L, p.D};
    q = randn(s, g, opts);
    k = randn(s, g, opts);
    v = randn(s, g, opts);
    dout = randn(s, g, opts);
  }
  Tensor like() const { return empty(q.shape(), Options(DType::f32, Device::cuda(0))); }
  Tensor rows() const { return empty({p.B, p.H, p.L}, Options(DType::f32, Device::cuda(0))); }
};

void v1_run(const Data& d, const Tensor& o, const Tensor& m, const Tensor& l) {
  const size_t smem = sizeof(float) * 4 * kT * kS;
  LAB_CUDA(
      cudaFuncSetAttribute(v1_forward, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  v1_forward<<<unsigned(d.p.bh()), 128, smem, stream()>>>(f(d.q), f(d.k), f(d.v), f(o), f(m), f(l),
                                                          d.p.L, 1.0f / std::sqrt(float(d.p.D)));
  LAB_CUDA(cudaGetLastError());
}

// Milliseconds per call of fn (CUDA events on stackgrad's stream, best of 5 after a warm-up).
double time_ms(const std::function<void()>& fn) {
  fn();
  LAB_CUDA(cudaStreamSynchronize(stream()));
  cudaEvent_t a, b;
  LAB_CUDA(cudaEventCreate(&a));
  LAB_CUDA(cudaEventCreate(&b));
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    LAB_CUDA(cudaEventRecord(a, stream()));
    fn();
    LAB_CUDA(cudaEventRecord(b, stream()));
    LAB_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    LAB_CUDA(cudaEventElapsedTime(&ms, a, b));
    best = std::min(best, double(ms));
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return best;
}

// Every version against the CPU kernels on 1 x 2 x 300 x 64 (ragged tiles). Returns false on a
// disagreement.
bool validate() {
  const Data d({1, 2, 300, 64}, 3);
  const Tensor qc = d.q.to(Device::cpu()), kc = d.k.to(Device::cpu()), vc = d.v.to(Device::cpu()),
               gc = d.dout.to(Device::cpu());
  const AttentionParams params;
  const auto ref = scaled_dot_product_attention_forward(qc, kc, vc, Tensor(), params);
  const auto ref_g =
      scaled_dot_product_attention_backward(qc, kc, vc, Tensor(), ref[0], ref[1], gc, params);
  bool ok = true;
  auto report = [&](const char* name, double fwd, double bwd) {
    const bool good = fwd <= 1 && bwd <= 1;
    ok = ok && good;
    std::printf("validate %-16s forward %.3g  backward %.3g  (<= 1 agrees)  %s\n", name, fwd, bwd,
                good ? "ok" : "FAIL");
  };
  {
    Materialised mat(d.p);
    const Tensor o = d.like(), lse = d.rows(), dq = d.like(), dk = d.like(), dv = d.like();
    mat.forward(d.p, f(d.q), f(d.k), f(d.v), f(o), f(lse));
    mat.backward(d.p, f(d.q), f(d.k), f(d.v), f(d.dout), f(dq), f(dk), f(dv));
    const double fe = std::max(max_scaled_error(o, ref[0], 1e-3, 1e-4),
                               max_scaled_error(lse, ref[1], 1e-3, 1e-4));
    const double be = std::max({max_scaled_error(dq, ref_g[0], 1e-2, 1e-3),
                                max_scaled_error(dk, ref_g[1], 1e-2, 1e-3),
                                max_scaled_error(dv, ref_g[2], 1e-2, 1e-3)});
    report("v0_materialised", fe, be);
  }
  {
    const Tensor o = d.like(), m = d.rows(), l = d.rows();
    v1_run(d, o, m, l);
    report("v1_flash_fwd", max_scaled_error(o, ref[0], 1e-3, 1e-4), 0);
  }
  {
    const auto ol = scaled_dot_product_attention_forward(d.q, d.k, d.v, Tensor(), params);
    const auto g = scaled_dot_product_attention_backward(d.q, d.k, d.v, Tensor(), ol[0], ol[1],
                                                         d.dout, params);
    const double fe = std::max(max_scaled_error(ol[0], ref[0], 1e-3, 1e-4),
                               max_scaled_error(ol[1], ref[1], 1e-3, 1e-4));
    const double be = std::max({max_scaled_error(g[0], ref_g[0], 1e-2, 1e-3),
                                max_scaled_error(g[1], ref_g[1], 1e-2, 1e-3),
                                max_scaled_error(g[2], ref_g[2], 1e-2, 1e-3)});
    report("v2_flash", fe, be);
  }
  return ok;
}

void time_all(int64_t L) {
  const Data d({8, 16, L, 64}, 1);
  const AttentionParams params;
  const double flops_fwd = 4.0 * double(d.p.bh()) * double(L) * double(L) * 64;
  auto line = [&](const char* name, const char* what, double ms, double flops) {
    std::printf("L %-5lld %-16s %-8s %9.3f ms  %7.2f TFLOP/s\n", (long long)L, name, what, ms,
                flops / (ms * 1e-3) / 1e12);
  };
  {
    Materialised mat(d.p);
    const Tensor o = d.like(), lse = d.rows(), dq = d.like(), dk = d.like(), dv = d.like();
    line("v0_materialised", "fwd",
         time_ms([&] { mat.forward(d.p, f(d.q), f(d.k), f(d.v), f(o), f(lse)); }), flops_fwd);
    line("v0_materialised", "fwd+bwd", time_ms([&] {
           mat.forward(d.p, f(d.q), f(d.k), f(d.v), f(o), f(lse));
           mat.backward(d.p, f(d.q), f(d.k), f(d.v), f(d.dout), f(dq), f(dk), f(dv));
         }),
         3.5 * flops_fwd);
  }
  {
    const Tensor o = d.like(), m = d.rows(), l = d.rows();
    line("v1_flash_fwd", "fwd", time_ms([&] { v1_run(d, o, m, l); }), flops_fwd);
  }
  line("v2_flash", "fwd",
       time_ms([&] { scaled_dot_product_attention_forward(d.q, d.k, d.v, Tensor(), params); }),
       flops_fwd);
  line("v2_flash", "fwd+bwd", time_ms([&] {
         const auto ol = scaled_dot_product_attention_forward(d.q, d.k, d.v, Tensor(), params);
         scaled_dot_product_attention_backward(d.q, d.k, d.v, Tensor(), ol[0], ol[1], d.dout,
                                               params);
       }),
       3.5 * flops_fwd);
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda_available()) {
    std::printf("no CUDA device\n");
    return 0;
  }
  std::vector<int64_t> lengths;
  for (int i = 1; i < argc; ++i) lengths.push_back(std::atoll(argv[i]));
  if (lengths.empty()) lengths = {1024, 2048};
  if (!validate()) return 1;
  for (int64_t L : lengths) time_all(L);
  return 0;
}
