// exp on 16M contiguous floats: versions side by side, each validated against std::exp (in
// double) and timed against a STREAM triad moving the same bytes.
//   ./build-bench/exp_lab [threads]
// v1 scalar std::expf; v2 one F8 exp8 per step (kernels/cpu/loops.h map_unary_vec before);
// v3 two vectors per step; v4 v3 with non-temporal stores (no read-for-ownership of the output).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/runtime/cpu_allocator.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/vec_math.h"

using namespace stackgrad;
using kernels::vec::F8;

namespace {

constexpr int64_t kN = int64_t{1} << 24;
constexpr int64_t kGrain = 32768;

void v1_scalar(const float* x, float* y, int64_t n) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] = std::exp(x[i]);
  });
}

void v2_vec(const float* x, float* y, int64_t n) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8) {
      F8 v;
      std::memcpy(&v, x + i, 32);
      v = kernels::vec::exp8(v);
      std::memcpy(y + i, &v, 32);
    }
    for (; i < hi; ++i) y[i] = std::exp(x[i]);
  });
}

void v3_unroll(const float* x, float* y, int64_t n) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    int64_t i = lo;
    for (; i + 16 <= hi; i += 16) {
      F8 a, b;
      std::memcpy(&a, x + i, 32);
      std::memcpy(&b, x + i + 8, 32);
      a = kernels::vec::exp8(a);
      b = kernels::vec::exp8(b);
      std::memcpy(y + i, &a, 32);
      std::memcpy(y + i + 8, &b, 32);
    }
    for (; i < hi; ++i) y[i] = std::exp(x[i]);
  });
}

void v4_stream(const float* x, float* y, int64_t n) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    int64_t i = lo;
    for (; i < hi && (reinterpret_cast<uintptr_t>(y + i) & 31); ++i) y[i] = std::exp(x[i]);
    for (; i + 16 <= hi; i += 16) {
      F8 a, b;
      std::memcpy(&a, x + i, 32);
      std::memcpy(&b, x + i + 8, 32);
      a = kernels::vec::exp8(a);
      b = kernels::vec::exp8(b);
      _mm256_stream_ps(y + i, (__m256)a);
      _mm256_stream_ps(y + i + 8, (__m256)b);
    }
    for (; i < hi; ++i) y[i] = std::exp(x[i]);
  });
  _mm_sfence();
}

void triad(const float* b, const float* c, float* a, int64_t n) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + 3.0f * c[i];
  });
}

template <typename F>
double best_seconds(F f, int reps = 7) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t = std::chrono::steady_clock::now();
    f();
    best =
        std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) set_num_threads(std::atoi(argv[1]));
  auto* x = static_cast<float*>(cpu_alloc(kN * 4));
  auto* y = static_cast<float*>(cpu_alloc(kN * 4));
  for (int64_t i = 0; i < kN; ++i) x[i] = static_cast<float>((i * 7919 % 20000) / 1000.0 - 10.0);
  struct Version {
    const char* name;
    void (*fn)(const float*, float*, int64_t);
  };
  const Version versions[] = {{"v1_scalar", v1_scalar},
                              {"v2_vec", v2_vec},
                              {"v3_unroll", v3_unroll},
                              {"v4_stream", v4_stream}};
  // Triad over arrays with the same 8 bytes per element of traffic (3 arrays of 2N/3).
  const int64_t tn = kN * 2 / 3;
  std::vector<float> tb(tn, 1.0f), tc(tn, 2.0f), ta(tn);
  const double t_triad = best_seconds([&] { triad(tb.data(), tc.data(), ta.data(), tn); });
  std::printf("threads %d, exp on %lld floats; triad %.2f ms (%.1f GB/s)\n", num_threads(),
              static_cast<long long>(kN), t_triad * 1e3, kN * 8 / t_triad / 1e9);
  for (const auto& v : versions) {
    v.fn(x, y, kN);
    double worst = 0;
    for (int64_t i = 0; i < kN; i += 97) {
      const double ref = std::exp(static_cast<double>(x[i]));
      worst = std::max(worst, std::fabs(y[i] - ref) / ref);
    }
    if (worst > 1e-6) {
      std::printf("%s: WRONG (relative error %.3g)\n", v.name, worst);
      return 1;
    }
    const double t = best_seconds([&] { v.fn(x, y, kN); });
    std::printf("%-10s %7.2f ms %6.1f GB/s  %.2f of triad  (max rel err %.2g)\n", v.name, t * 1e3,
                kN * 8 / t / 1e9, t_triad / t, worst);
  }
  cpu_free(x, kN * 4);
  cpu_free(y, kN * 4);
}
