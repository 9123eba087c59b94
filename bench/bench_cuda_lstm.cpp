// LSTM on the GPU: one layer over a sequence (input 256, hidden 512, 100 steps, batch 64, f32,
// time first), forward + backward, ours against cuDNN's LSTM on the same stream.
//   cuda_lstm/i256_h512_t100_b64/ours    lstm() on cuda:0 tensors, then backward of
//                                        sum(output) through autograd (what a training step runs)
//   cuda_lstm/i256_h512_t100_b64/cudnn   cudnnRNNForward (training) + cudnnRNNBackwardData_v8 +
//                                        cudnnRNNBackwardWeights_v8, dy = ones (the same gradient)
//   cuda_lstm/i256_h512_t100_b64_fwd/... forward alone (ours under NoGradGuard, cuDNN inference)
// bench/peers/peer_cuda_lstm.py times torch.nn.LSTM (cuDNN underneath) under the same names.
// Both sides compute in exact f32 (no TF32): our GEMM's default, CUDNN_FMA_MATH for cuDNN.
// Before timing, our output and weight gradients are checked against cuDNN's on the same weights.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench/cuda_bench.h"
#include "engine/stackgrad.h"

#ifdef STACKGRAD_HAVE_CUDNN
#include <cudnn.h>
#endif

using namespace stackgrad;
using stackgrad::bench::bench_stream;
using stackgrad::bench::require_gpu;
using stackgrad::bench::time_on_gpu;

namespace {

constexpr int64_t kI = 256, kH = 512, kT = 100, kB = 64;

struct Params {
  Tensor x, h0, c0, w_ih, w_hh, b_ih, b_hh;
  Params() {
    Generator g(0);
    const double k = 1.0 / std::sqrt(static_cast<double>(kH));  // PyTorch's init range
    const Device dev = Device::cuda(0);
    auto param = [&](const Shape& s) {
      return ((rand(s, g) * 2.0 - 1.0) * k).to(dev).requires_grad_();
    };
    x = randn({kT, kB, kI}, g).to(dev).requires_grad_();
    h0 = randn({kB, kH}, g).to(dev).requires_grad_();
    c0 = randn({kB, kH}, g).to(dev).requires_grad_();
    w_ih = param({4 * kH, kI});
    w_hh = param({4 * kH, kH});
    b_ih = param({4 * kH});
    b_hh = param({4 * kH});
  }
  void clear_grads() {
    for (Tensor* t : {&x, &h0, &c0, &w_ih, &w_hh, &b_ih, &b_hh}) t->set_grad(Tensor());
  }
  LstmResult forward() const { return lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh); }
  void forward_backward() {
    clear_grads();
    sum(forward().output).backward();
  }
};

double forward_flops() { return 2.0 * kT * kB * 4 * kH * (kI + kH); }

void set_flops(benchmark::State& state, double flops) {
  state.counters["FLOP/s"] = benchmark::Counter(flops * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

void BM_ours(benchmark::State& state) {
  if (!require_gpu(state)) return;
  Params p;
  time_on_gpu(state, [&] { p.forward_backward(); });
  set_flops(state, 3 * forward_flops());
}

void BM_ours_fwd(benchmark::State& state) {
  if (!require_gpu(state)) return;
  Params p;
  NoGradGuard no_grad;
  time_on_gpu(state, [&] { benchmark::DoNotOptimize(p.forward().output.raw_data()); });
  set_flops(state, forward_flops());
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

// cuDNN's LSTM over the same weights as `p` (copied into its weight space: matrices i, f, g, o of
// w_ih are linear layers 0-3, of w_hh 4-7, row-major like ours; b_ih and b_hh its two biases).
class CudnnLstm {
 public:
  explicit CudnnLstm(const Params& p) {
    SG_CUDNN(cudnnCreate(&handle_));
    SG_CUDNN(cudnnSetStream(handle_, bench_stream()));
    // No dropout (one layer): a descriptor with p = 0 and no RNG state.
    SG_CUDNN(cudnnCreateDropoutDescriptor(&dropout_));
    SG_CUDNN(cudnnSetDropoutDescriptor(dropout_, handle_, 0.0f, nullptr, 0, 0));
    SG_CUDNN(cudnnCreateRNNDescriptor(&rnn_));
    SG_CUDNN(cudnnSetRNNDescriptor_v8(rnn_, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM,
                                      CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
                                      CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                      CUDNN_FMA_MATH, kI, kH, kH, 1, dropout_, 0));
    std::vector<int32_t> lens(kB, static_cast<int32_t>(kT));
    SG_BENCH_CUDA(cudaMalloc(reinterpret_cast<void**>(&dev_lens_), sizeof(int32_t) * kB));
    SG_BENCH_CUDA(cudaMemcpy(dev_lens_, lens.data(), sizeof(int32_t) * kB, cudaMemcpyHostToDevice));
    float pad = 0;
    for (auto [desc, n] : {std::pair{&x_desc_, kI}, std::pair{&y_desc_, kH}}) {
      SG_CUDNN(cudnnCreateRNNDataDescriptor(desc));
      SG_CUDNN(cudnnSetRNNDataDescriptor(*desc, CUDNN_DATA_FLOAT,
                                         CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, kT, kB, n,
                                         lens.data(), &pad));
    }
    const int dims[3] = {1, kB, kH}, strides[3] = {kB * kH, kH, 1};
    SG_CUDNN(cudnnCreateTensorDescriptor(&h_desc_));
    SG_CUDNN(cudnnSetTensorNdDescriptor(h_desc_, CUDNN_DATA_FLOAT, 3, dims, strides));
    SG_CUDNN(cudnnGetRNNWeightSpaceSize(handle_, rnn_, &weight_bytes_));
    SG_CUDNN(cudnnGetRNNTempSpaceSizes(handle_, rnn_, CUDNN_FWD_MODE_TRAINING, x_desc_,
                                       &work_bytes_, &reserve_bytes_));
    size_t infer_work = 0, infer_reserve = 0;
    SG_CUDNN(cudnnGetRNNTempSpaceSizes(handle_, rnn_, CUDNN_FWD_MODE_INFERENCE, x_desc_,
                                       &infer_work, &infer_reserve));
    work_bytes_ = std::max(work_bytes_, infer_work);
    for (auto [ptr, n] : {std::pair{&w_, weight_bytes_}, std::pair{&dw_, weight_bytes_},
                          std::pair{&work_, work_bytes_}, std::pair{&reserve_, reserve_bytes_}})
      SG_BENCH_CUDA(cudaMalloc(ptr, std::max<size_t>(n, 16)));
    for (auto [ptr, n] :
         {std::pair{&y_, kT * kB * kH}, std::pair{&dy_, kT * kB * kH},
          std::pair{&dx_, kT * kB * kI}, std::pair{&hy_, kB * kH}, std::pair{&cy_, kB * kH},
          std::pair{&dhx_, kB * kH}, std::pair{&dcx_, kB * kH}})
      SG_BENCH_CUDA(cudaMalloc(ptr, sizeof(float) * static_cast<size_t>(n)));
    std::vector<float> ones(static_cast<size_t>(kT * kB * kH), 1.0f);
    SG_BENCH_CUDA(
        cudaMemcpy(dy_, ones.data(), ones.size() * sizeof(float), cudaMemcpyHostToDevice));
    x_ = p.x.data_ptr<float>();
    hx_ = p.h0.data_ptr<float>();
    cx_ = p.c0.data_ptr<float>();
    copy_weights(p);
  }

  ~CudnnLstm() {
    cudaFree(dev_lens_);
    for (void* q : {w_, dw_, work_, reserve_}) cudaFree(q);
    for (float* q : {y_, dy_, dx_, hy_, cy_, dhx_, dcx_}) cudaFree(q);
    cudnnDestroyRNNDataDescriptor(x_desc_);
    cudnnDestroyRNNDataDescriptor(y_desc_);
    cudnnDestroyTensorDescriptor(h_desc_);
    cudnnDestroyRNNDescriptor(rnn_);
    cudnnDestroyDropoutDescriptor(dropout_);
    cudnnDestroy(handle_);
  }

  void forward(bool training) {
    SG_CUDNN(cudnnRNNForward(handle_, rnn_,
                             training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                             dev_lens_, x_desc_, x_, y_desc_, y_, h_desc_, hx_, hy_, h_desc_, cx_,
                             cy_, weight_bytes_, w_, work_bytes_, work_, reserve_bytes_, reserve_));
  }
  void forward_backward() {
    forward(true);
    SG_CUDNN(cudnnRNNBackwardData_v8(handle_, rnn_, dev_lens_, y_desc_, y_, dy_, x_desc_, dx_,
                                     h_desc_, hx_, nullptr, dhx_, h_desc_, cx_, nullptr, dcx_,
                                     weight_bytes_, w_, work_bytes_, work_, reserve_bytes_,
                                     reserve_));
    SG_BENCH_CUDA(cudaMemsetAsync(dw_, 0, weight_bytes_, bench_stream()));
    SG_CUDNN(cudnnRNNBackwardWeights_v8(handle_, rnn_, CUDNN_WGRAD_MODE_ADD, dev_lens_, x_desc_, x_,
                                        h_desc_, hx_, y_desc_, y_, weight_bytes_, dw_, work_bytes_,
                                        work_, reserve_bytes_, reserve_));
  }

  const float* y() const { return y_; }
  // Linear layer `id`'s matrix [H, n] and bias [H] inside a weight space (w_ or dw_).
  std::pair<float*, float*> layer(void* space, int id) const {
    void *m = nullptr, *b = nullptr;
    cudnnTensorDescriptor_t md, bd;
    SG_CUDNN(cudnnCreateTensorDescriptor(&md));
    SG_CUDNN(cudnnCreateTensorDescriptor(&bd));
    SG_CUDNN(cudnnGetRNNWeightParams(handle_, rnn_, 0, weight_bytes_, space, id, md, &m, bd, &b));
    cudnnDestroyTensorDescriptor(md);
    cudnnDestroyTensorDescriptor(bd);
    return {static_cast<float*>(m), static_cast<float*>(b)};
  }
  void* weights() const { return w_; }
  void* weight_grads() const { return dw_; }

 private:
  void copy_weights(const Params& p) {
    const float *wi = p.w_ih.data_ptr<float>(), *wh = p.w_hh.data_ptr<float>();
    const float *bi = p.b_ih.data_ptr<float>(), *bh = p.b_hh.data_ptr<float>();
    for (int q = 0; q < 4; ++q) {
      auto [mi, bi_dst] = layer(w_, q);
      auto [mh, bh_dst] = layer(w_, 4 + q);
      const size_t row = sizeof(float) * kH;
      SG_BENCH_CUDA(cudaMemcpy(mi, wi + q * kH * kI, row * kI, cudaMemcpyDeviceToDevice));
      SG_BENCH_CUDA(cudaMemcpy(mh, wh + q * kH * kH, row * kH, cudaMemcpyDeviceToDevice));
      SG_BENCH_CUDA(cudaMemcpy(bi_dst, bi + q * kH, row, cudaMemcpyDeviceToDevice));
      SG_BENCH_CUDA(cudaMemcpy(bh_dst, bh + q * kH, row, cudaMemcpyDeviceToDevice));
    }
  }

  cudnnHandle_t handle_;
  cudnnRNNDescriptor_t rnn_;
  cudnnDropoutDescriptor_t dropout_;
  cudnnRNNDataDescriptor_t x_desc_, y_desc_;
  cudnnTensorDescriptor_t h_desc_;
  size_t weight_bytes_ = 0, work_bytes_ = 0, reserve_bytes_ = 0;
  int32_t* dev_lens_ = nullptr;
  void *w_ = nullptr, *dw_ = nullptr, *work_ = nullptr, *reserve_ = nullptr;
  const float *x_ = nullptr, *hx_ = nullptr, *cx_ = nullptr;
  float *y_ = nullptr, *dy_ = nullptr, *dx_ = nullptr, *hy_ = nullptr, *cy_ = nullptr;
  float *dhx_ = nullptr, *dcx_ = nullptr;
};

// Ours against cuDNN once: the output and the gradients of w_hh's forget-gate rows and of b_hh.
void check_against_cudnn(Params& p, CudnnLstm& ref) {
  p.forward_backward();
  ref.forward_backward();
  const size_t n_y = static_cast<size_t>(kT * kB * kH);
  LstmResult r;
  {
    NoGradGuard no_grad;
    r = p.forward();
  }
  const double ey = stackgrad::bench::max_scaled_error_device(r.output.data_ptr<float>(), ref.y(),
                                                              n_y, 1e-3, 1e-4);
  auto [dwh_f, dbh_f] = ref.layer(ref.weight_grads(), 5);  // w_hh rows of f
  const double ew = stackgrad::bench::max_scaled_error_device(
      p.w_hh.grad().data_ptr<float>() + kH * kH, dwh_f, static_cast<size_t>(kH * kH), 1e-2, 1e-2);
  const double eb = stackgrad::bench::max_scaled_error_device(
      p.b_hh.grad().data_ptr<float>() + kH, dbh_f, static_cast<size_t>(kH), 1e-2, 1e-2);
  if (!(ey <= 1 && ew <= 1 && eb <= 1)) {
    std::fprintf(stderr,
                 "cuda_lstm: ours disagrees with cuDNN (scaled errors y %g, dw_hh %g, db %g)\n", ey,
                 ew, eb);
    std::abort();
  }
}

void BM_cudnn(benchmark::State& state) {
  if (!require_gpu(state)) return;
  Params p;
  CudnnLstm ref(p);
  check_against_cudnn(p, ref);
  time_on_gpu(state, [&] { ref.forward_backward(); });
  set_flops(state, 3 * forward_flops());
}

void BM_cudnn_fwd(benchmark::State& state) {
  if (!require_gpu(state)) return;
  Params p;
  CudnnLstm ref(p);
  time_on_gpu(state, [&] { ref.forward(false); });
  set_flops(state, forward_flops());
}

#endif  // STACKGRAD_HAVE_CUDNN

}  // namespace

BENCHMARK(BM_ours)
    ->Name("cuda_lstm/i256_h512_t100_b64/ours")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ours_fwd)
    ->Name("cuda_lstm/i256_h512_t100_b64_fwd/ours")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
#ifdef STACKGRAD_HAVE_CUDNN
BENCHMARK(BM_cudnn)
    ->Name("cuda_lstm/i256_h512_t100_b64/cudnn")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cudnn_fwd)
    ->Name("cuda_lstm/i256_h512_t100_b64_fwd/cudnn")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
#endif

BENCHMARK_MAIN();
