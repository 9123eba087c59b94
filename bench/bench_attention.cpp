// Fused attention, forward + backward (autograd), against the unfused composition in stackgrad
// itself (softmax(q kᵀ scale) v with matmul and softmax ops) measured in the same run.
// PyTorch's unfused attention is bench/peers/peer_attention.py (same case names).
//   STACKGRAD_NUM_THREADS=2 ./build-bench/bench_attention --benchmark_counters_tabular=true
//
// FLOP/s counts the nominal 12 B H L² D of an unfused forward + backward (two matmuls forward,
// four backward) for both implementations; the fused backward really does two more (it
// recomputes Q Kᵀ), not counted.
//
// Memory mode: `bench_attention --memory L` runs one forward + backward at batch 1, 4 heads,
// head dim 64, sequence L, and prints the process's peak RSS (getrusage ru_maxrss) for the fused
// op, or with `--unfused` for the unfused composition. Run one process per L: the peak is the
// process's.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

struct Inputs {
  Tensor q, k, v, dout;
};

Inputs make_inputs(int64_t B, int64_t H, int64_t L, int64_t D) {
  Generator g(0);
  Inputs in{randn({B, H, L, D}, g), randn({B, H, L, D}, g), randn({B, H, L, D}, g),
            randn({B, H, L, D}, g)};
  in.q.requires_grad_();
  in.k.requires_grad_();
  in.v.requires_grad_();
  return in;
}

void fused_step(Inputs& in) {
  in.q.zero_grad();
  in.k.zero_grad();
  in.v.zero_grad();
  scaled_dot_product_attention(in.q, in.k, in.v).backward(in.dout);
}

void unfused_step(Inputs& in) {
  in.q.zero_grad();
  in.k.zero_grad();
  in.v.zero_grad();
  const double scale = 1.0 / std::sqrt(static_cast<double>(in.q.shape()[3]));
  Tensor p = softmax(matmul(in.q, in.k.transpose(2, 3)) * scale, -1);
  matmul(p, in.v).backward(in.dout);
}

void run_case(benchmark::State& state, int64_t L, bool fused) {
  const int64_t B = 8, H = 4, D = 64;
  Inputs in = make_inputs(B, H, L, D);
  for (auto _ : state) {
    if (fused)
      fused_step(in);
    else
      unfused_step(in);
    benchmark::DoNotOptimize(in.q.grad().raw_data());
  }
  const double flops = 12.0 * B * H * static_cast<double>(L) * L * D;
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
}

void register_all() {
  for (int64_t L : {256, 1024}) {
    const std::string c = "attention/b8_h4_d64_s" + std::to_string(L);
    benchmark::RegisterBenchmark((c + "/ours").c_str(),
                                 [L](benchmark::State& s) { run_case(s, L, true); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((c + "/stackgrad_unfused").c_str(),
                                 [L](benchmark::State& s) { run_case(s, L, false); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int memory_mode(int64_t L, bool fused) {
  const double before = peak_rss_mib();
  Inputs in = make_inputs(1, 4, L, 64);
  const double with_inputs = peak_rss_mib();
  if (fused)
    fused_step(in);
  else
    unfused_step(in);
  std::printf(
      "{\"name\": \"attention/b1_h4_d64_s%lld_memory/%s\", \"seq\": %lld, \"peak_rss_mib\": %.1f, "
      "\"rss_before_mib\": %.1f, \"rss_with_inputs_mib\": %.1f}\n",
      static_cast<long long>(L), fused ? "ours" : "stackgrad_unfused", static_cast<long long>(L),
      peak_rss_mib(), before, with_inputs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--memory") == 0) {
      bool fused = true;
      for (int j = 1; j < argc; ++j)
        if (std::strcmp(argv[j], "--unfused") == 0) fused = false;
      return memory_mode(std::stoll(argv[i + 1]), fused);
    }
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
