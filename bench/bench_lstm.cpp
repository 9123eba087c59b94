// LSTM throughput on the CPU: a single layer over a sequence, forward + backward of
// output.sum() (the PyTorch peer, bench/peers/peer_lstm.py, times torch.nn.LSTM on the same
// sizes under the same case names). Report ratios measured in one run:
//   STACKGRAD_NUM_THREADS=2 ./build-bench/bench_lstm --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

struct LstmCase {
  int64_t I, H, T, B;
  // GEMM flops: forward 2 T B 4H (I + H); backward twice that (dgates W and the weight grads).
  double forward_flops() const { return 2.0 * T * B * 4 * H * (I + H); }
};

struct LstmParams {
  Tensor x, h0, c0, w_ih, w_hh, b_ih, b_hh;
  explicit LstmParams(const LstmCase& c) {
    Generator g(0);
    const double k = 1.0 / std::sqrt(static_cast<double>(c.H));  // PyTorch's init range
    auto param = [&](const Shape& s) { return ((rand(s, g) * 2.0 - 1.0) * k).requires_grad_(); };
    x = randn({c.T, c.B, c.I}, g).requires_grad_();
    h0 = randn({c.B, c.H}, g).requires_grad_();
    c0 = randn({c.B, c.H}, g).requires_grad_();
    w_ih = param({4 * c.H, c.I});
    w_hh = param({4 * c.H, c.H});
    b_ih = param({4 * c.H});
    b_hh = param({4 * c.H});
  }
  void clear_grads() {
    for (Tensor* t : {&x, &h0, &c0, &w_ih, &w_hh, &b_ih, &b_hh}) t->set_grad(Tensor());
  }
};

void run_fwdbwd(benchmark::State& state, const LstmCase& c) {
  LstmParams p(c);
  for (auto _ : state) {
    LstmResult r = lstm(p.x, p.h0, p.c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh);
    sum(r.output).backward();
    benchmark::DoNotOptimize(p.w_hh.grad().raw_data());
    p.clear_grads();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(3.0 * c.forward_flops() * state.iterations(), benchmark::Counter::kIsRate);
}

void run_forward(benchmark::State& state, const LstmCase& c) {
  LstmParams p(c);
  NoGradGuard no_grad;
  for (auto _ : state) {
    LstmResult r = lstm(p.x, p.h0, p.c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh);
    benchmark::DoNotOptimize(r.output.raw_data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(c.forward_flops() * state.iterations(), benchmark::Counter::kIsRate);
}

const LstmCase kBase{64, 128, 50, 64};
const LstmCase kWide{256, 512, 20, 32};

}  // namespace

BENCHMARK_CAPTURE(run_fwdbwd, base, kBase)
    ->Name("lstm/i64_h128_t50_b64/ours")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(run_forward, base, kBase)
    ->Name("lstm/i64_h128_t50_b64_fwd/ours")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(run_fwdbwd, wide, kWide)
    ->Name("lstm/i256_h512_t20_b32/ours")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
