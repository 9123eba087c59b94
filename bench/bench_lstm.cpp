// LSTM throughput on the CPU: a single layer over a sequence, forward + backward of
// output.sum() (the PyTorch peer, bench/peers/peer_lstm.py, times torch.nn.LSTM on the same
// sizes under the same case names). Report ratios measured in one run:
//   STACKGRAD_NUM_THREADS=2 ./build-bench/bench_lstm --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

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

// Child-sum Tree-LSTM on a batch of 64 random trees of 32 nodes (I 64, H 128), forward +
// backward of h.sum(). Each node's parent is a random earlier node, so the trees are bushy and
// about 8 levels deep; all trees' nodes of a level share one GEMM.
void run_tree_child_sum(benchmark::State& state) {
  const int64_t trees = 64, per_tree = 32, I = 64, H = 128, N = trees * per_tree;
  std::vector<int64_t> parent(N, -1);
  uint64_t seed = 12345;
  for (int64_t t = 0; t < trees; ++t)
    for (int64_t k = 1; k < per_tree; ++k) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      parent[t * per_tree + k] = t * per_tree + static_cast<int64_t>((seed >> 33) % k);
    }
  const Forest forest = forest_from_parents(parent);
  Generator g(0);
  Tensor x = randn({N, I}, g).requires_grad_();
  Tensor w = (randn({4 * H, I}, g) * 0.08).requires_grad_();
  Tensor u = (randn({4 * H, H}, g) * 0.08).requires_grad_();
  Tensor b = (randn({4 * H}, g) * 0.08).requires_grad_();
  for (auto _ : state) {
    LstmState s = tree_lstm_child_sum(x, forest, w, u, b);
    sum(s.h).backward();
    benchmark::DoNotOptimize(u.grad().raw_data());
    for (Tensor* t : {&x, &w, &u, &b}) t->set_grad(Tensor());
  }
  // GEMM flops: x W over all nodes, h̃ U and h_k U_f over the edges, times 3 for the backward.
  const double flops = 3.0 * 2.0 * (N * 4.0 * H * I + N * 4.0 * H * H + (N - trees) * H * H);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["levels"] = static_cast<double>(forest.level_offsets.size() - 1);
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

BENCHMARK(run_tree_child_sum)
    ->Name("tree_lstm/child_sum_trees64_n32_i64_h128/ours")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
