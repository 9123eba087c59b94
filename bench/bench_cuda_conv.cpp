// GPU conv2d forward + backward (input and weight gradients, no bias) at UNet layer shapes:
// stackgrad's kernels (kernels/cuda/conv.cu, through the op functions conv2d,
// conv2d_backward_input and conv2d_backward_weight) against cuDNN (cudnnConvolutionForward,
// BackwardData and BackwardFilter with the algorithms cudnnFind* picks), and, in
// bench/peers/peer_cuda_conv.py, PyTorch's conv2d forward + backward on CUDA.
//
//   ./build/bench_cuda_conv --benchmark_counters_tabular=true
//
// cuDNN runs with CUDNN_FMA_MATH (no TF32 tensor cores), the precision of our f32 kernels; the
// PyTorch peer turns TF32 off for the same reason. Ours is checked against cuDNN once per case
// before timing. FLOP/s counts 3 x 2 N O (C/groups) kh kw Ho Wo per iteration.
#include <algorithm>
#include <string>
#include <utility>

#include "bench/cuda_bench.h"
#include "engine/stackgrad.h"

#ifdef STACKGRAD_HAVE_CUDNN
#include <cudnn.h>
#endif

using namespace stackgrad;
using namespace stackgrad::bench;

namespace {

struct ConvCase {
  int64_t n, c, o, h, k, pad;
  int64_t ho() const { return h + 2 * pad - k + 1; }
  double flops() const { return 3.0 * 2.0 * double(n * o * c * k * k * ho() * ho()); }
};

// Inputs on cuda:0, made once per case.
struct Inputs {
  Tensor x, w, gy;
  explicit Inputs(const ConvCase& p) {
    Generator gen(0);
    const Device dev = Device::cuda(0);
    x = randn({p.n, p.c, p.h, p.h}, gen).to(dev);
    w = (randn({p.o, p.c, p.k, p.k}, gen) * 0.1).to(dev);
    gy = randn({p.n, p.o, p.ho(), p.ho()}, gen).to(dev);
  }
};

struct Outputs {
  Tensor y, dx, dw;
};

Outputs ours(const Inputs& in, const ConvCase& p) {
  const Size2 st{1, 1}, pd{p.pad, p.pad};
  return {conv2d(in.x, in.w, Tensor(), st, pd),
          conv2d_backward_input(in.gy, in.w, in.x.shape(), st, pd),
          conv2d_backward_weight(in.gy, in.x, in.w.shape(), st, pd)};
}

void set_counters(benchmark::State& state, const ConvCase& p) {
  state.counters["FLOP/s"] =
      benchmark::Counter(p.flops() * double(state.iterations()), benchmark::Counter::kIsRate);
}

void bench_ours(benchmark::State& state, ConvCase p) {
  if (!require_gpu(state)) return;
  Inputs in(p);
  time_on_gpu(state, [&] { ours(in, p); });
  set_counters(state, p);
}

#ifdef STACKGRAD_HAVE_CUDNN

#define SG_CUDNN(call)                                                   \
  do {                                                                   \
    cudnnStatus_t st_ = (call);                                          \
    if (st_ != CUDNN_STATUS_SUCCESS) {                                   \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, \
                   cudnnGetErrorString(st_));                            \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

// cuDNN's three passes for one case: descriptors, the fastest algorithms cudnnFind* reports
// (exact f32 math), one workspace big enough for all three.
struct Cudnn {
  cudnnHandle_t handle{};
  cudnnTensorDescriptor_t xd{}, yd{};
  cudnnFilterDescriptor_t wd{};
  cudnnConvolutionDescriptor_t cd{};
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  void* ws = nullptr;
  size_t ws_bytes = 0;
  Tensor y, dx, dw;

  Cudnn(const ConvCase& p, const Inputs& in) {
    SG_CUDNN(cudnnCreate(&handle));
    SG_CUDNN(cudnnSetStream(handle, bench_stream()));
    SG_CUDNN(cudnnCreateTensorDescriptor(&xd));
    SG_CUDNN(cudnnCreateTensorDescriptor(&yd));
    SG_CUDNN(cudnnCreateFilterDescriptor(&wd));
    SG_CUDNN(cudnnCreateConvolutionDescriptor(&cd));
    const int n = int(p.n), c = int(p.c), o = int(p.o), h = int(p.h), k = int(p.k),
              pad = int(p.pad), ho = int(p.ho());
    SG_CUDNN(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, h));
    SG_CUDNN(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, o, ho, ho));
    SG_CUDNN(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, o, c, k, k));
    SG_CUDNN(cudnnSetConvolution2dDescriptor(cd, pad, pad, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                             CUDNN_DATA_FLOAT));
    SG_CUDNN(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
    const Device dev = Device::cuda(0);
    y = empty({p.n, p.o, p.ho(), p.ho()}, Options(DType::f32, dev));
    dx = empty(in.x.shape(), Options(DType::f32, dev));
    dw = empty(in.w.shape(), Options(DType::f32, dev));
    int got = 0;
    cudnnConvolutionFwdAlgoPerf_t fp[8];
    SG_CUDNN(cudnnFindConvolutionForwardAlgorithm(handle, xd, wd, cd, yd, 8, &got, fp));
    fwd = first_ok(fp, got).algo;
    cudnnConvolutionBwdDataAlgoPerf_t dp[8];
    SG_CUDNN(cudnnFindConvolutionBackwardDataAlgorithm(handle, wd, yd, cd, xd, 8, &got, dp));
    bwd_data = first_ok(dp, got).algo;
    cudnnConvolutionBwdFilterAlgoPerf_t wp[8];
    SG_CUDNN(cudnnFindConvolutionBackwardFilterAlgorithm(handle, xd, yd, cd, wd, 8, &got, wp));
    bwd_filter = first_ok(wp, got).algo;
    size_t a = 0, b = 0, f = 0;
    SG_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(handle, xd, wd, cd, yd, fwd, &a));
    SG_CUDNN(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, wd, yd, cd, xd, bwd_data, &b));
    SG_CUDNN(
        cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, xd, yd, cd, wd, bwd_filter, &f));
    ws_bytes = std::max({a, b, f});
    if (ws_bytes) SG_BENCH_CUDA(cudaMalloc(&ws, ws_bytes));
  }
  template <typename Perf>
  static const Perf& first_ok(const Perf* perf, int n) {
    for (int i = 0; i < n; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) return perf[i];
    std::fprintf(stderr, "cudnnFind*: no algorithm ran\n");
    std::abort();
  }
  ~Cudnn() {
    if (ws) cudaFree(ws);
    cudnnDestroyConvolutionDescriptor(cd);
    cudnnDestroyFilterDescriptor(wd);
    cudnnDestroyTensorDescriptor(yd);
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroy(handle);
  }
  void run(const Inputs& in) {
    const float one = 1.f, zero = 0.f;
    SG_CUDNN(cudnnConvolutionForward(handle, &one, xd, in.x.raw_data(), wd, in.w.raw_data(), cd,
                                     fwd, ws, ws_bytes, &zero, yd, y.raw_data()));
    SG_CUDNN(cudnnConvolutionBackwardData(handle, &one, wd, in.w.raw_data(), yd, in.gy.raw_data(),
                                          cd, bwd_data, ws, ws_bytes, &zero, xd, dx.raw_data()));
    SG_CUDNN(cudnnConvolutionBackwardFilter(handle, &one, xd, in.x.raw_data(), yd, in.gy.raw_data(),
                                            cd, bwd_filter, ws, ws_bytes, &zero, wd,
                                            dw.raw_data()));
  }
};

// Ours against cuDNN on all three results; aborts on disagreement.
void check_against_cudnn(const ConvCase& p, const Inputs& in, Cudnn& dnn) {
  dnn.run(in);
  const Outputs o = ours(in, p);
  const std::pair<const Tensor*, const Tensor*> pairs[] = {
      {&o.y, &dnn.y}, {&o.dx, &dnn.dx}, {&o.dw, &dnn.dw}};
  const char* names[] = {"y", "dx", "dw"};
  for (int i = 0; i < 3; ++i) {
    const double e = max_scaled_error_device(pairs[i].first->data_ptr<float>(),
                                             pairs[i].second->data_ptr<float>(),
                                             size_t(pairs[i].second->numel()), 1e-3, 1e-3);
    if (!(e <= 1)) {
      std::fprintf(
          stderr,
          "cuda_conv n%lld c%lld o%lld h%lld: ours and cuDNN disagree on %s (scaled error %g)\n",
          (long long)p.n, (long long)p.c, (long long)p.o, (long long)p.h, names[i], e);
      std::abort();
    }
  }
}

void bench_cudnn(benchmark::State& state, ConvCase p) {
  if (!require_gpu(state)) return;
  Inputs in(p);
  Cudnn dnn(p, in);
  check_against_cudnn(p, in, dnn);
  time_on_gpu(state, [&] { dnn.run(in); });
  set_counters(state, p);
}

#endif  // STACKGRAD_HAVE_CUDNN

void register_case(const char* name, ConvCase p) {
  const std::string base = std::string("cuda_conv/") + name;
  benchmark::RegisterBenchmark((base + "/ours").c_str(), bench_ours, p)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
#ifdef STACKGRAD_HAVE_CUDNN
  benchmark::RegisterBenchmark((base + "/cudnn").c_str(), bench_cudnn, p)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  register_case("b16_c64_h32", {16, 64, 64, 32, 3, 1});
  register_case("b16_c128_h16", {16, 128, 128, 16, 3, 1});
  register_case("b64_c1_h28", {64, 1, 32, 28, 3, 1});
  register_case("b32_c256_h32", {32, 256, 256, 32, 3, 1});
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
