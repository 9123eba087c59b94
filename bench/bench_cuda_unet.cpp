// A whole training step of the small denoising UNet (nn/unet.h: base 64, levels 64/128/128 at
// 32x32/16x16/8x8, attention at 8x8 and in the middle) on a GPU at batch 64: forward, the MSE
// against the noise, backward, Adam, zero_grad — every op on stackgrad's own CUDA kernels. The
// same model in PyTorch eager (bench/peers/unet_torch.py, the same parameter names and shapes)
// is the peer: bench/peers/peer_cuda_unet.py reports `cuda_unet/train_step_b64/torch`.
//   ./build-bench/bench_cuda_unet --benchmark_min_time=2
#include "bench/cuda_bench.h"
#include "nn/nn.h"

namespace {

using namespace stackgrad;

void train_step(benchmark::State& state, int64_t batch) {
  if (!bench::require_gpu(state)) return;
  const Device gpu = Device::cuda(0);
  Generator gen(0);
  auto model = std::make_shared<nn::UNet>(nn::UNetOptions{}, gen);
  model->to(gpu);
  nn::Adam opt(model->parameters(), nn::AdamOptions{.lr = 2e-4});
  Tensor x0 = randn({batch, 1, 32, 32}, gen).to(gpu);
  Tensor noise = randn({batch, 1, 32, 32}, gen).to(gpu);
  Tensor t = randint(0, 1000, {batch}, gen).to(DType::f32).to(gpu);
  // x_t of a linear schedule at a fixed mid-range alpha: the step's cost does not depend on it.
  Tensor xt = x0 * 0.8 + noise * 0.6;
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = mse_loss(model->forward(xt, t), noise);
    loss.backward();
    opt.step();
  };
  bench::time_on_gpu(state, step, /*warmup=*/3);
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(train_step, b64, 64)->Name("cuda_unet/train_step_b64/ours")->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
