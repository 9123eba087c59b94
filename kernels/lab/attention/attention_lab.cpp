// Attention kernel versions side by side, forward + backward, f32:
//   v1_materialised: per (batch, head) the whole [L, L] probability matrix, every product a
//                    packed GEMM (kernels/cpu/gemm.h), softmax rows in between: the unfused
//                    algorithm without the framework overhead.
//   v2_flash:        the shipped kernel (kernels/cpu/attention.cpp): 128 x 128 tiles, online
//                    softmax forward, tile-recomputing backward; O(tile²) scratch per thread.
//   v2_flash_dropout: the same with dropout p = 0.1 (the Philox mask regenerated per tile).
// Each version is validated against the reference kernels on a small problem (with tile
// tails), then timed on batch 8, 4 heads, head dim 64.
//   STACKGRAD_NUM_THREADS=2 ./build-bench/attention_lab [seq ...]   (LAB_ONLY=v2_flash: one)
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "engine/dispatch/dispatch.h"
#include "engine/runtime/parallel.h"
#include "engine/stackgrad.h"
#include "kernels/cpu/gemm.h"

using namespace stackgrad;
using kernels::gemm;

namespace {

struct Problem {
  Tensor q, k, v, dout;  // contiguous f32 [B, H, L, D]
};

using Version = std::function<std::vector<Tensor>(const Problem&)>;  // {O, dq, dk, dv}

std::vector<Tensor> v1_materialised(const Problem& p) {
  const int64_t B = p.q.shape()[0], H = p.q.shape()[1], Lq = p.q.shape()[2], Lk = p.k.shape()[2],
                D = p.q.shape()[3], Dv = p.v.shape()[3];
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  Tensor o = zeros({B, H, Lq, Dv}), dq = zeros({B, H, Lq, D}), dk = zeros({B, H, Lk, D}),
         dv = zeros({B, H, Lk, Dv});
  const float *q = p.q.data_ptr<float>(), *k = p.k.data_ptr<float>(), *v = p.v.data_ptr<float>(),
              *g = p.dout.data_ptr<float>();
  float *O = o.data_ptr<float>(), *dQ = dq.data_ptr<float>(), *dK = dk.data_ptr<float>(),
        *dV = dv.data_ptr<float>();
  parallel_for(0, B * H, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> P(Lq * Lk), dS(Lq * Lk);
    for (int64_t bh = lo; bh < hi; ++bh) {
      const float *qh = q + bh * Lq * D, *kh = k + bh * Lk * D, *vh = v + bh * Lk * Dv,
                  *gh = g + bh * Lq * Dv;
      float* oh = O + bh * Lq * Dv;
      gemm<float>({Lq, Lk, D, qh, D, 1, kh, 1, D, P.data(), Lk, 1});
      for (int64_t i = 0; i < Lq; ++i) {
        float* s = &P[i * Lk];
        float m = -std::numeric_limits<float>::infinity(), sum = 0;
        for (int64_t j = 0; j < Lk; ++j) m = std::max(m, s[j] * scale);
        for (int64_t j = 0; j < Lk; ++j) sum += s[j] = std::exp(s[j] * scale - m);
        for (int64_t j = 0; j < Lk; ++j) s[j] /= sum;
      }
      gemm<float>({Lq, Dv, Lk, P.data(), Lk, 1, vh, Dv, 1, oh, Dv, 1});
      gemm<float>({Lk, Dv, Lq, P.data(), 1, Lk, gh, Dv, 1, dV + bh * Lk * Dv, Dv, 1});
      gemm<float>({Lq, Lk, Dv, gh, Dv, 1, vh, 1, Dv, dS.data(), Lk, 1});
      for (int64_t i = 0; i < Lq; ++i) {
        float d = 0;
        for (int64_t e = 0; e < Dv; ++e) d += oh[i * Dv + e] * gh[i * Dv + e];
        for (int64_t j = 0; j < Lk; ++j)
          dS[i * Lk + j] = scale * P[i * Lk + j] * (dS[i * Lk + j] - d);
      }
      gemm<float>({Lq, D, Lk, dS.data(), Lk, 1, kh, D, 1, dQ + bh * Lq * D, D, 1});
      gemm<float>({Lk, D, Lq, dS.data(), 1, Lk, qh, D, 1, dK + bh * Lk * D, D, 1});
    }
  });
  return {o, dq, dk, dv};
}

std::vector<Tensor> flash(const Problem& p, const AttentionParams& params) {
  auto ol = scaled_dot_product_attention_forward(p.q, p.k, p.v, Tensor(), params);
  auto g =
      scaled_dot_product_attention_backward(p.q, p.k, p.v, Tensor(), ol[0], ol[1], p.dout, params);
  return {ol[0], g[0], g[1], g[2]};
}

std::vector<Tensor> v2_flash(const Problem& p) { return flash(p, {}); }

// The same kernel with dropout p = 0.1: the cost of regenerating the Philox mask (forward
// once, backward twice per element).
const AttentionParams kDropout{false, {}, 0.1, 7, 0};
std::vector<Tensor> v2_flash_dropout(const Problem& p) { return flash(p, kDropout); }

std::vector<Tensor> reference(const Problem& p, const AttentionParams& params) {
  ReferenceKernels guard;
  return flash(p, params);
}

Problem make(int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t D) {
  Generator g(1);
  return {randn({B, H, Lq, D}, g), randn({B, H, Lk, D}, g), randn({B, H, Lk, D}, g),
          randn({B, H, Lq, D}, g)};
}

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Best wall-clock and best process CPU time (all threads) of `reps` calls after a warm-up. On
// a shared machine the CPU time is the steadier measure of the work (one thread: exactly it).
std::pair<double, double> seconds(const std::function<void()>& f, int reps) {
  f();
  double wall = 1e30, cpu = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    f();
    cpu = std::min(cpu, cpu_seconds() - c0);
    wall = std::min(wall,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return {wall, cpu};
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::pair<const char*, Version>> versions = {
      {"v1_materialised", v1_materialised},
      {"v2_flash", v2_flash},
      {"v2_flash_dropout", v2_flash_dropout}};
  const Problem small = make(2, 2, 70, 131, 64);
  for (const auto& [name, fn] : versions) {
    const std::vector<Tensor> want =
        reference(small, std::strcmp(name, "v2_flash_dropout") == 0 ? kDropout : AttentionParams{});
    const std::vector<Tensor> got = fn(small);
    for (size_t i = 0; i < got.size(); ++i)
      if (!allclose(got[i], want[i], 1e-3, 1e-4)) {
        std::printf("%s: output %zu differs from the reference\n", name, i);
        return 1;
      }
    std::printf("%s: matches the reference (O, dq, dk, dv)\n", name);
  }
  const char* only = std::getenv("LAB_ONLY");  // time one version (for a profiler)
  std::vector<int64_t> seqs;
  for (int i = 1; i < argc; ++i) seqs.push_back(std::atoll(argv[i]));
  if (seqs.empty()) seqs = {256, 1024};
  for (int64_t L : seqs) {
    const Problem p = make(8, 4, L, L, 64);
    const double flops = 12.0 * 8 * 4 * L * L * 64;  // nominal unfused fwd + bwd
    for (const auto& [name, fn] : versions) {
      if (only && std::strcmp(only, name) != 0) continue;
      const auto [wall, cpu] = seconds([&] { fn(p); }, 3);
      std::printf("b8_h4_d64_s%-5lld %-16s wall %9.2f ms (%5.1f GFLOP/s)  cpu %9.2f ms\n",
                  static_cast<long long>(L), name, wall * 1e3, flops / wall * 1e-9, cpu * 1e3);
    }
  }
  return 0;
}
