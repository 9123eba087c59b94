// GPU versions of the LSTM forward over a sequence (f32, time first), each validated against
// the CPU kernel (kernels/cpu/rnn.cpp through lstm() on CPU tensors) on the same inputs, then
// timed with CUDA events (median of kReps runs after a warm-up):
//   v1_gemm_then_cell   kernels/cuda/rnn.cu through lstm() on cuda:0 tensors: one projection
//                       GEMM, then per step gpu::gemm (h w_hhᵀ into the gates) + the gate kernel
//   v2_fused_step       the projection by gpu::gemm, then per step ONE kernel: a tiled
//                       h_{t-1} w_hhᵀ for 16 rows x 16 units x 4 gates per block with the gate
//                       math in its epilogue (no gates round trip between GEMM and cell)
//   cublas_then_cell    cuBLAS for the projection and every recurrent product + the gate kernel
//                       (the vendor GEMM under v1's schedule)
// The backward has the same structure (per step gate kernel + GEMM, then three large GEMMs), so
// the forward is where the per-step choices differ. Without a GPU: "no CUDA device", exit 0.
//
//   ./build/lstm_cuda_lab [T B I H]     (default 100 64 256 512, plus a small odd-size check)
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/core/tensor.h"
#include "engine/ops/rnn.h"
#include "engine/runtime/cuda_context.h"
#include "kernels/cuda/gemm.h"

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

__device__ __forceinline__ float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

// The gate math of one (row, unit), as in kernels/cuda/rnn.cu.
__device__ __forceinline__ void cell(float ai, float af, float ag, float ao, float cp, float* g4,
                                     int64_t H, float* c_out, float* h_out) {
  const float i = sigmoidf(ai), f = sigmoidf(af), gg = tanhf(ag), o = sigmoidf(ao);
  const float c = f * cp + i * gg;
  g4[0] = i;
  g4[H] = f;
  g4[2 * H] = gg;
  g4[3 * H] = o;
  *c_out = c;
  *h_out = o * tanhf(c);
}

__global__ void cell_kernel(int64_t B, int64_t H, float* gates, const float* bias,
                            const float* c_prev, float* c_new, float* h_new) {
  const int64_t n = B * H, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t b = e / H, j = e - b * H;
    float* g = gates + b * 4 * H;
    cell(g[j] + bias[j], g[H + j] + bias[H + j], g[2 * H + j] + bias[2 * H + j],
         g[3 * H + j] + bias[3 * H + j], c_prev[e], g + j, H, c_new + e, h_new + e);
  }
}

// v2: block (16 units, 16 rows), K tiles of 32. Thread (tx, ty) owns row b0 + ty, unit
// u0 + tx, four accumulators (one per gate). Shared tiles padded to 33 columns: the w tile is
// read with tx varying across a warp, rows 33 floats apart hit distinct banks.
constexpr int kFU = 16, kFR = 16, kFK = 32;
__global__ void __launch_bounds__(kFU* kFR)
    fused_step_kernel(int64_t B, int64_t H, const float* __restrict__ h_prev,
                      const float* __restrict__ w_hh, const float* __restrict__ bias,
                      const float* __restrict__ c_prev, float* gates, float* c_new, float* h_new) {
  __shared__ float hs[kFR][kFK + 1];
  __shared__ float ws[4][kFU][kFK + 1];
  const int tx = threadIdx.x % kFU, ty = threadIdx.x / kFU, tid = threadIdx.x;
  const int64_t u0 = int64_t(blockIdx.x) * kFU, b0 = int64_t(blockIdx.y) * kFR;
  float acc[4] = {0, 0, 0, 0};
  for (int64_t k0 = 0; k0 < H; k0 += kFK) {
    for (int idx = tid; idx < kFR * kFK; idx += kFU * kFR) {
      const int r = idx / kFK, k = idx % kFK;
      hs[r][k] = (b0 + r < B && k0 + k < H) ? h_prev[(b0 + r) * H + k0 + k] : 0.0f;
    }
    for (int idx = tid; idx < 4 * kFU * kFK; idx += kFU * kFR) {
      const int q = idx / (kFU * kFK), rem = idx % (kFU * kFK), u = rem / kFK, k = rem % kFK;
      ws[q][u][k] = (u0 + u < H && k0 + k < H) ? w_hh[(q * H + u0 + u) * H + k0 + k] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < kFK; ++k) {
      const float hv = hs[ty][k];
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[q] += hv * ws[q][tx][k];
    }
    __syncthreads();  // every thread reaches both barriers: the loop bounds are block-uniform
  }
  const int64_t b = b0 + ty, u = u0 + tx;
  if (b < B && u < H) {
    float* g = gates + b * 4 * H;
    cell(g[u] + acc[0] + bias[u], g[H + u] + acc[1] + bias[H + u],
         g[2 * H + u] + acc[2] + bias[2 * H + u], g[3 * H + u] + acc[3] + bias[3 * H + u],
         c_prev[b * H + u], g + u, H, c_new + b * H + u, h_new + b * H + u);
  }
}

struct Problem {
  int64_t T, B, I, H;
  std::vector<float> x, h0, c0, w_ih, w_hh, bias;  // bias = b_ih + b_hh
};

Problem make_problem(int64_t T, int64_t B, int64_t I, int64_t H) {
  Problem p{T, B, I, H, {}, {}, {}, {}, {}, {}};
  uint64_t s = 42;
  auto rnd = [&](size_t n, float scale) {
    std::vector<float> v(n);
    for (auto& e : v) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      e = scale * (static_cast<float>((s >> 40) & 0xFFFFFF) / 16777216.0f * 2.0f - 1.0f);
    }
    return v;
  };
  const float k = 1.0f / std::sqrt(static_cast<float>(H));
  p.x = rnd(T * B * I, 1.0f);
  p.h0 = rnd(B * H, 1.0f);
  p.c0 = rnd(B * H, 1.0f);
  p.w_ih = rnd(4 * H * I, k);
  p.w_hh = rnd(4 * H * H, k);
  p.bias = rnd(4 * H, 2 * k);
  return p;
}

// Device copies and outputs of one problem; every version writes out/cs/gates.
struct DeviceState {
  float *x, *h0, *c0, *w_ih, *w_hh, *bias, *out, *cs, *gates;
  explicit DeviceState(const Problem& p) {
    auto up = [](const std::vector<float>& v) {
      float* d = nullptr;
      LAB_CUDA(cudaMalloc(&d, std::max<size_t>(v.size(), 1) * sizeof(float)));
      LAB_CUDA(cudaMemcpy(d, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
      return d;
    };
    auto alloc = [](int64_t n) {
      float* d = nullptr;
      LAB_CUDA(cudaMalloc(&d, static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float)));
      return d;
    };
    x = up(p.x);
    h0 = up(p.h0);
    c0 = up(p.c0);
    w_ih = up(p.w_ih);
    w_hh = up(p.w_hh);
    bias = up(p.bias);
    out = alloc(p.T * p.B * p.H);
    cs = alloc(p.T * p.B * p.H);
    gates = alloc(p.T * p.B * 4 * p.H);
  }
  ~DeviceState() {
    for (float* d : {x, h0, c0, w_ih, w_hh, bias, out, cs, gates}) cudaFree(d);
  }
};

cudaStream_t stream0() { return static_cast<cudaStream_t>(cuda_stream(0)); }

void projection_gemm(const Problem& p, DeviceState& d) {
  kernels::gpu::GpuGemm<float> g;
  g.M = p.T * p.B;
  g.N = 4 * p.H;
  g.K = p.I;
  g.a = d.x;
  g.a_rs = p.I;
  g.a_cs = 1;
  g.b = d.w_ih;
  g.b_rs = 1;
  g.b_cs = p.I;
  g.c = d.gates;
  g.c_rs = 4 * p.H;
  g.c_cs = 1;
  kernels::gpu::gemm<float>(0, g);
}

void v2_fused(const Problem& p, DeviceState& d) {
  projection_gemm(p, d);
  const int64_t BH = p.B * p.H;
  const dim3 grid(static_cast<unsigned>((p.H + kFU - 1) / kFU),
                  static_cast<unsigned>((p.B + kFR - 1) / kFR));
  for (int64_t t = 0; t < p.T; ++t) {
    fused_step_kernel<<<grid, kFU * kFR, 0, stream0()>>>(
        p.B, p.H, t == 0 ? d.h0 : d.out + (t - 1) * BH, d.w_hh, d.bias,
        t == 0 ? d.c0 : d.cs + (t - 1) * BH, d.gates + t * p.B * 4 * p.H, d.cs + t * BH,
        d.out + t * BH);
  }
  LAB_CUDA(cudaGetLastError());
}

// Row-major C [M, N] = A [M, K] · W [N, K]ᵀ (+ beta C) with column-major cuBLAS: Cᵀ = W Aᵀ.
void cublas_abt(cublasHandle_t h, int64_t M, int64_t N, int64_t K, const float* a, const float* w,
                float* c, float beta) {
  const float alpha = 1.0f;
  if (cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                  static_cast<int>(K), &alpha, w, static_cast<int>(K), a, static_cast<int>(K),
                  &beta, c, static_cast<int>(N)) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cublasSgemm failed\n");
    std::exit(1);
  }
}

void cublas_then_cell(cublasHandle_t h, const Problem& p, DeviceState& d) {
  const int64_t BH = p.B * p.H, G = 4 * p.H;
  cublas_abt(h, p.T * p.B, G, p.I, d.x, d.w_ih, d.gates, 0.0f);
  const int blocks = static_cast<int>(std::min<int64_t>((BH + 255) / 256, 65536));
  for (int64_t t = 0; t < p.T; ++t) {
    float* g = d.gates + t * p.B * G;
    cublas_abt(h, p.B, G, p.H, t == 0 ? d.h0 : d.out + (t - 1) * BH, d.w_hh, g, 1.0f);
    cell_kernel<<<blocks, 256, 0, stream0()>>>(
        p.B, p.H, g, d.bias, t == 0 ? d.c0 : d.cs + (t - 1) * BH, d.cs + t * BH, d.out + t * BH);
  }
  LAB_CUDA(cudaGetLastError());
}

// v1: the library's lstm() on cuda:0 tensors (NoGradGuard: forward kernel only).
struct LibraryRun {
  Tensor x, h0, c0, w_ih, w_hh, bias;
  LstmResult r;
  LibraryRun(const Problem& p) {
    const Device dev = Device::cuda(0);
    auto t = [&](const std::vector<float>& v, const Shape& s) { return from_vector(v, s).to(dev); };
    x = t(p.x, {p.T, p.B, p.I});
    h0 = t(p.h0, {p.B, p.H});
    c0 = t(p.c0, {p.B, p.H});
    w_ih = t(p.w_ih, {4 * p.H, p.I});
    w_hh = t(p.w_hh, {4 * p.H, p.H});
    bias = t(p.bias, {4 * p.H});
  }
  void run() {
    NoGradGuard no_grad;
    r = lstm(x, h0, c0, w_ih, w_hh, bias);
  }
};

std::vector<float> cpu_output(const Problem& p) {
  NoGradGuard no_grad;
  LstmResult r = lstm(from_vector(p.x, {p.T, p.B, p.I}), from_vector(p.h0, {p.B, p.H}),
                      from_vector(p.c0, {p.B, p.H}), from_vector(p.w_ih, {4 * p.H, p.I}),
                      from_vector(p.w_hh, {4 * p.H, p.H}), from_vector(p.bias, {4 * p.H}));
  const float* o = r.output.contiguous().data_ptr<float>();
  return std::vector<float>(o, o + p.T * p.B * p.H);
}

double max_error(const std::vector<float>& want, const float* dev) {
  std::vector<float> got(want.size());
  LAB_CUDA(cudaStreamSynchronize(stream0()));
  LAB_CUDA(cudaMemcpy(got.data(), dev, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::abs(double(got[i]) - want[i]);
    if (!(e <= worst)) worst = e;  // NaN sticks
  }
  return worst;
}

double median_ms(const std::function<void()>& fn, int reps) {
  cudaEvent_t a, b;
  LAB_CUDA(cudaEventCreate(&a));
  LAB_CUDA(cudaEventCreate(&b));
  fn();  // warm-up
  LAB_CUDA(cudaStreamSynchronize(stream0()));
  std::vector<float> ms(reps);
  for (int r = 0; r < reps; ++r) {
    LAB_CUDA(cudaEventRecord(a, stream0()));
    fn();
    LAB_CUDA(cudaEventRecord(b, stream0()));
    LAB_CUDA(cudaEventSynchronize(b));
    LAB_CUDA(cudaEventElapsedTime(&ms[r], a, b));
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[reps / 2];
}

bool run_problem(const Problem& p, cublasHandle_t h, bool time_it) {
  std::printf("T %lld, B %lld, I %lld, H %lld\n", static_cast<long long>(p.T),
              static_cast<long long>(p.B), static_cast<long long>(p.I),
              static_cast<long long>(p.H));
  const std::vector<float> want = cpu_output(p);
  DeviceState d(p);
  LibraryRun lib(p);
  const double flops = 2.0 * p.T * p.B * 4 * p.H * (p.I + p.H);
  struct Version {
    const char* name;
    std::function<void()> fn;
    std::function<const float*()> out;
  };
  const Version versions[] = {
      {"v1_gemm_then_cell", [&] { lib.run(); }, [&] { return lib.r.output.data_ptr<float>(); }},
      {"v2_fused_step", [&] { v2_fused(p, d); }, [&] { return d.out; }},
      {"cublas_then_cell", [&] { cublas_then_cell(h, p, d); }, [&] { return d.out; }},
  };
  bool ok = true;
  for (const Version& v : versions) {
    v.fn();
    const double err = max_error(want, v.out());
    const bool good = err <= 5e-4;
    ok = ok && good;
    std::printf("  %-20s max |gpu - cpu| %.2e %s", v.name, err, good ? "ok" : "MISMATCH");
    if (time_it) {
      const double ms = median_ms(v.fn, 15);
      std::printf("  %8.3f ms  %7.1f GFLOP/s", ms, flops / (ms * 1e6));
    }
    std::printf("\n");
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda_available()) {
    std::printf("no CUDA device\n");
    return 0;
  }
  int64_t T = 100, B = 64, I = 256, H = 512;
  if (argc == 5) {
    T = std::atoll(argv[1]);
    B = std::atoll(argv[2]);
    I = std::atoll(argv[3]);
    H = std::atoll(argv[4]);
  }
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cublasCreate failed\n");
    return 1;
  }
  cublasSetStream(h, stream0());
  bool ok = run_problem(make_problem(5, 3, 7, 37), h, false);  // remainder tiles everywhere
  ok = run_problem(make_problem(T, B, I, H), h, true) && ok;
  cublasDestroy(h);
  return ok ? 0 : 1;
}
