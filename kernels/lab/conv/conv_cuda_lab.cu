// CUDA conv2d versions side by side on the UNet shapes of bench/bench_cuda_conv.cpp, each pass
// (forward, input gradient, weight gradient) validated against the CPU kernels on the same
// inputs, then timed with CUDA events:
//   direct   one thread per output (forward, input gradient) or one block per weight element
//            (weight gradient), sums in double (conv_kernels.cuh)
//   simple   implicit GEMM, 16 x 16 shared-memory tiles gathered through the same index maps
//            (conv_gather.h), one output per thread, no register blocking, no K split (here only)
//   tiled    implicit GEMM, 128 x 64 x 8 tiles, 8 x 4 per thread, double-buffered, K split as
//            plan_conv() decides (conv_kernels.cuh: what kernels/cuda/conv.cu runs in f32)
// cuDNN is the comparator of bench/bench_cuda_conv.cpp (the labs link cuBLAS only).
//
//   ./build/conv_cuda_lab [reps]
// Without a GPU it prints "no CUDA device" and exits 0.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/random.h"
#include "engine/runtime/cuda_context.h"
#include "kernels/cuda/conv_launch.cuh"

using namespace stackgrad;
using namespace stackgrad::kernels;
using namespace stackgrad::kernels::gpu;

namespace {

constexpr int kS = 16;

template <class Prob>
__global__ void igemm_simple(Prob prob, int64_t M, int64_t N, int64_t K, int64_t g) {
  __shared__ float As[kS][kS + 1], Bs[kS][kS + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t m0 = int64_t(blockIdx.x) * kS, n0 = int64_t(blockIdx.y) * kS;
  const typename Prob::Row row = prob.a_row(g, m0 + tx, M);
  const typename Prob::Col col = prob.b_col(g, n0 + ty, N);
  float acc = 0.f;
  for (int64_t k0 = 0; k0 < K; k0 += kS) {
    As[ty][tx] = prob.a_load(row, prob.a_k(g, k0 + ty, K));
    Bs[tx][ty] = prob.b_load(col, prob.b_k(g, k0 + tx, K));
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kS; ++kk) acc = fmaf(As[kk][tx], Bs[kk][ty], acc);
    __syncthreads();
  }
  if (m0 + tx < M && n0 + ty < N) {
    const int64_t m = m0 + tx, n = n0 + ty;
    prob.out[prob.out_index(g, m, n)] = prob.finish(g, n, acc);
  }
}

template <class Prob>
void run_simple(const Prob& prob, const ConvGemm& gm, int64_t groups) {
  const dim3 grid(static_cast<unsigned>(ceil_div(gm.M, kS)),
                  static_cast<unsigned>(ceil_div(gm.N, kS)));
  for (int64_t g = 0; g < groups; ++g)
    igemm_simple<Prob><<<grid, dim3(kS, kS), 0, current_stream()>>>(prob, gm.M, gm.N, gm.K, g);
  SG_CUDA_CHECK_LAUNCH("igemm_simple");
}

struct Shape4 {
  const char* name;
  int64_t n, c, o, h, pad;
};

// Mean milliseconds per call over `reps` calls after two warm-up calls (the direct versions get
// 3: they take up to seconds on the big shapes).
template <typename F>
double time_ms(F&& f, int reps) {
  cudaStream_t s = current_stream();
  f();
  f();
  cudaEvent_t a, b;
  SG_CUDA_CHECK(cudaEventCreate(&a));
  SG_CUDA_CHECK(cudaEventCreate(&b));
  SG_CUDA_CHECK(cudaEventRecord(a, s));
  for (int i = 0; i < reps; ++i) f();
  SG_CUDA_CHECK(cudaEventRecord(b, s));
  SG_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  SG_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  SG_CUDA_CHECK(cudaEventDestroy(a));
  SG_CUDA_CHECK(cudaEventDestroy(b));
  return ms / reps;
}

// Largest |got - want| / (1e-3 + 1e-3 |want|): <= 1 agrees.
double scaled_error(const Tensor& got_device, const Tensor& want) {
  cuda_synchronize();
  Tensor got = got_device.to(Device::cpu());
  const float *g = got.data_ptr<float>(), *w = want.data_ptr<float>();
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double e = std::abs(double(g[i]) - w[i]) / (1e-3 + 1e-3 * std::abs(double(w[i])));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda_available()) {
    std::printf("no CUDA device\n");
    return 0;
  }
  const int reps = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::vector<Shape4> shapes = {{"b16_c64_h32", 16, 64, 64, 32, 1},
                                      {"b16_c128_h16", 16, 128, 128, 16, 1},
                                      {"b64_c1_h28", 64, 1, 32, 28, 1},
                                      {"b32_c256_h32", 32, 256, 256, 32, 1}};
  const int sms = conv_sm_count();
  std::printf("%-14s %-12s %-8s %-10s %10s %10s  %s\n", "shape", "pass", "version", "check", "ms",
              "GFLOP/s", "plan");
  for (const Shape4& sh : shapes) {
    Generator gen(0);
    Tensor x = randn({sh.n, sh.c, sh.h, sh.h}, gen);
    Tensor w = randn({sh.o, sh.c, 3, 3}, gen) * 0.1;
    const int64_t ho = sh.h + 2 * sh.pad - 2;
    Tensor gy = randn({sh.n, sh.o, ho, ho}, gen);
    const Size2 st{1, 1}, pd{sh.pad, sh.pad};
    // The CPU kernels' results (f32), the oracle of every version.
    Tensor y_ref = conv2d(x, w, Tensor(), st, pd);
    Tensor dx_ref = conv2d_backward_input(gy, w, x.shape(), st, pd);
    Tensor dw_ref = conv2d_backward_weight(gy, x, w.shape(), st, pd);
    const Device dev = Device::cuda(0);
    Tensor xd = x.to(dev), wd = w.to(dev), gyd = gy.to(dev);
    Tensor yd = empty(y_ref.shape(), Options(DType::f32, dev));
    Tensor dxd = empty(x.shape(), Options(DType::f32, dev));
    Tensor dwd = empty(w.shape(), Options(DType::f32, dev));
    const std::vector<int64_t> attrs{1, 1, sh.pad, sh.pad, 1, 1, 1};
    const ConvShape s(x.shape().data(), w.shape().data(), y_ref.shape().data(), attrs);
    const ConvDev d = conv_dev(s);
    const double flops = 2.0 * double(s.N * s.O * s.K * s.P);
    const float *px = xd.data_ptr<float>(), *pw = wd.data_ptr<float>(),
                *pgy = gyd.data_ptr<float>();
    float *py = yd.data_ptr<float>(), *pdx = dxd.data_ptr<float>(), *pdw = dwd.data_ptr<float>();
    struct Pass {
      const char* name;
      ConvPass pass;
      Tensor out, ref;
    };
    for (const Pass& p : {Pass{"forward", ConvPass::forward, yd, y_ref},
                          Pass{"input_grad", ConvPass::input_grad, dxd, dx_ref},
                          Pass{"weight_grad", ConvPass::weight_grad, dwd, dw_ref}}) {
      ConvPlan direct;
      direct.gemm = conv_gemm(p.pass, s);
      const ConvPlan tiled = plan_tiled(p.pass, s, sms);
      auto run = [&](int version) {
        const ConvPlan& plan = version == 2 ? tiled : direct;
        if (version == 1) {
          if (p.pass == ConvPass::forward)
            run_simple(FwdProblem{d, px, pw, nullptr, py}, direct.gemm, s.G);
          else if (p.pass == ConvPass::input_grad)
            run_simple(InputGradProblem{d, pgy, pw, nullptr, pdx}, direct.gemm, s.G);
          else
            run_simple(WeightGradProblem{d, pgy, px, nullptr, pdw}, direct.gemm, s.G);
          return;
        }
        if (p.pass == ConvPass::forward)
          conv_forward_gpu<float>(s, plan, px, pw, nullptr, py);
        else if (p.pass == ConvPass::input_grad)
          conv_input_grad_gpu<float>(s, plan, pgy, pw, pdx);
        else
          conv_weight_grad_gpu<float>(s, plan, pgy, px, pdw);
      };
      const char* names[3] = {"direct", "simple", "tiled"};
      for (int version = 0; version < 3; ++version) {
        SG_CUDA_CHECK(cudaMemsetAsync(p.out.raw_data(), 0xff, p.out.numel() * sizeof(float),
                                      current_stream()));  // NaN: unwritten outputs fail
        run(version);
        const double err = scaled_error(p.out, p.ref);
        const double ms = time_ms([&] { run(version); }, version == 0 ? 3 : reps);
        char plan[96] = "";
        if (version == 2)
          std::snprintf(
              plan, sizeof plan, "%lldx%lld tiles, %lld split(s), planned: %s",
              (long long)tiled.m_tiles, (long long)tiled.n_tiles, (long long)tiled.splits,
              plan_conv(p.pass, s, true, sms).kernel == ConvKernel::tiled ? "tiled" : "direct");
        std::printf("%-14s %-12s %-8s %-10s %10.3f %10.1f  %s\n", sh.name, p.name, names[version],
                    err <= 1 ? "ok" : ("ERR " + std::to_string(err)).c_str(), ms,
                    flops / (ms * 1e6), plan);
      }
    }
  }
  return 0;
}
