// Philox dropout versions, single thread, contiguous f32 [2708 x 1433] (the Cora features):
//   v1_scalar      one scalar philox4x32 per element (the reference kernel's loop)
//   v2_avx2_epu32  8 counters per call, _mm256_mul_epu32 on even/odd lanes (kernels/cpu)
//   v3_vecext_u64  8 counters per call, GCC vector extensions with 64-bit lanes (two halves)
//   v4_avx2_mask   v2's Philox, then the keep test (integer threshold) and the scaling in AVX2
//   philox_only    v2's Philox words alone, summed (no dropout): the generator's share
//   v5_split_mask  v4 with even/odd lanes as two 4-lane halves, no blends per round
//                  (kernels/cpu/philox_vec.h, shipped)
// The v1 and v4 kernels then run again under parallel_for (the CPU backend's split).
// Each version's output is checked bit for bit against v1 before it is timed.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/dispatch/dispatch.h"
#include "engine/runtime/parallel.h"
#include "engine/stackgrad.h"
#include "kernels/cpu/philox_vec.h"
#include "kernels/reference/random_kernels.h"

using namespace stackgrad::kernels;

namespace {

constexpr uint64_t kSeed = 0x5EEDu, kOffset = 0xFFFFF000u;  // the low word wraps mid-run
constexpr double kP = 0.5, kScale = 1.0 / (1.0 - kP);

void v1_scalar(const float* x, float* y, int64_t n, uint64_t off) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = dropout_value<float>(philox4x32(kSeed, off + i), x[i], kP, kScale);
}

// The first 8-lane Philox (v2, v4): all 8 lanes in one register; each round multiplies the even
// lanes and the odd lanes (shifted down) and blends the high and low halves back into place.
void mulhilo8(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

void philox_x8_blend(uint64_t seed, uint64_t counter, Philox8& out) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i base = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(counter)));
  __m256i c0 = _mm256_add_epi32(base, lane);
  const __m256i wrapped =
      _mm256_cmpgt_epi32(_mm256_xor_si256(base, sign), _mm256_xor_si256(c0, sign));
  __m256i c1 = _mm256_sub_epi32(
      _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(counter >> 32))), wrapped);
  __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53), m1 = _mm256_set1_epi64x(0xCD9E8D57);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    __m256i hi0, lo0, hi1, lo1;
    mulhilo8(c0, m0, hi0, lo0);
    mulhilo8(c2, m1, hi1, lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[0]), c0);
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[1]), c1);
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[2]), c2);
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[3]), c3);
}

void v2_avx2(const float* x, float* y, int64_t n, uint64_t off) {
  Philox8 b;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    philox_x8_blend(kSeed, off + i, b);
    for (int j = 0; j < 8; ++j) y[i + j] = dropout_value<float>(b.lane(j), x[i + j], kP, kScale);
  }
  for (; i < n; ++i) y[i] = dropout_value<float>(philox4x32(kSeed, off + i), x[i], kP, kScale);
}

typedef uint64_t u64x4 __attribute__((vector_size(32)));

// Four counters in 64-bit lanes holding 32-bit words; products are full 64-bit multiplies of
// zero-extended words, which GCC may or may not map to vpmuludq.
void philox_vecext4(uint64_t seed, uint64_t counter, uint32_t (&out)[4][4]) {
  u64x4 c0, c1, c2 = {0, 0, 0, 0}, c3 = {0, 0, 0, 0};
  for (int j = 0; j < 4; ++j) {
    c0[j] = static_cast<uint32_t>(counter + j);
    c1[j] = static_cast<uint32_t>((counter + j) >> 32);
  }
  const u64x4 mask = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
  uint64_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    const u64x4 p0 = (c0 & mask) * 0xD2511F53ull, p1 = (c2 & mask) * 0xCD9E8D57ull;
    const u64x4 n0 = (p1 >> 32) ^ c1 ^ k0, n2 = (p0 >> 32) ^ c3 ^ k1;
    c1 = p1 & mask;
    c3 = p0 & mask;
    c0 = n0;
    c2 = n2;
    k0 = static_cast<uint32_t>(k0 + 0x9E3779B9u);
    k1 = static_cast<uint32_t>(k1 + 0xBB67AE85u);
  }
  for (int j = 0; j < 4; ++j) {
    out[0][j] = static_cast<uint32_t>(c0[j]);
    out[1][j] = static_cast<uint32_t>(c1[j]);
    out[2][j] = static_cast<uint32_t>(c2[j]);
    out[3][j] = static_cast<uint32_t>(c3[j]);
  }
}

void v3_vecext(const float* x, float* y, int64_t n, uint64_t off) {
  uint32_t a[4][4], b[4][4];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    philox_vecext4(kSeed, off + i, a);
    philox_vecext4(kSeed, off + i + 4, b);
    for (int j = 0; j < 4; ++j) {
      y[i + j] = dropout_value<float>({{a[0][j], a[1][j], a[2][j], a[3][j]}}, x[i + j], kP, kScale);
      y[i + 4 + j] =
          dropout_value<float>({{b[0][j], b[1][j], b[2][j], b[3][j]}}, x[i + 4 + j], kP, kScale);
    }
  }
  for (; i < n; ++i) y[i] = dropout_value<float>(philox4x32(kSeed, off + i), x[i], kP, kScale);
}

void v4_avx2_mask(const float* x, float* y, int64_t n, uint64_t off) {
  const UniformThreshold t(kP);
  const __m256d s = _mm256_set1_pd(kScale);
  Philox8 b;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    philox_x8_blend(kSeed, off + i, b);
    const __m256i keep = uniform_at_least(b, t);
    const __m256 xv = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xv)), s);
    const __m256d hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)), s);
    const __m256 v = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
    _mm256_storeu_ps(y + i, _mm256_and_ps(v, _mm256_castsi256_ps(keep)));
  }
  for (; i < n; ++i) y[i] = dropout_value<float>(philox4x32(kSeed, off + i), x[i], kP, kScale);
}

void v5_split_mask(const float* x, float* y, int64_t n, uint64_t off) {
  const UniformThreshold t(kP);
  const __m256d s = _mm256_set1_pd(kScale);
  Philox8 b;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    philox4x32_x8(kSeed, off + i, b);
    const __m256i keep = uniform_at_least(b, t);
    const __m256 xv = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xv)), s);
    const __m256d hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)), s);
    const __m256 v = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
    _mm256_storeu_ps(y + i, _mm256_and_ps(v, _mm256_castsi256_ps(keep)));
  }
  for (; i < n; ++i) y[i] = dropout_value<float>(philox4x32(kSeed, off + i), x[i], kP, kScale);
}

volatile uint32_t g_sink;
void philox_only(const float*, float*, int64_t n, uint64_t off) {
  Philox8 b;
  __m256i acc = _mm256_setzero_si256();
  for (int64_t i = 0; i + 8 <= n; i += 8) {
    philox_x8_blend(kSeed, off + i, b);
    acc = _mm256_xor_si256(acc, _mm256_load_si256(reinterpret_cast<const __m256i*>(b.v[0])));
  }
  g_sink = static_cast<uint32_t>(_mm256_extract_epi32(acc, 0));
}

template <typename F>
void run(const char* name, F f, const std::vector<float>& x, const std::vector<float>& want,
         bool check = true) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(n);
  f(x.data(), y.data(), n, kOffset);
  const bool ok = !check || std::memcmp(y.data(), want.data(), n * sizeof(float)) == 0;
  double best = 1e30;
  for (int rep = 0; rep < 7; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    f(x.data(), y.data(), n, kOffset);
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("philox/dropout_f32_2708x1433/%-14s %s  %6.2f ms  %5.2f ns/element\n", name,
              !check ? "(no out)"
              : ok   ? "ok      "
                     : "MISMATCH",
              best * 1e3, best * 1e9 / n);
}

}  // namespace

// The ops through the Tensor API: the CPU backend against the serial reference kernels (one
// scalar Philox per element, one thread), same numbers checked.
template <typename F>
void run_op(const char* name, F draw) {
  auto time = [&](stackgrad::Tensor& out) {
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      stackgrad::Generator g(7);
      auto t0 = std::chrono::steady_clock::now();
      out = draw(g);
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  stackgrad::Tensor fast, ref;
  const double t_fast = time(fast);
  double t_ref;
  {
    stackgrad::ReferenceKernels guard;
    t_ref = time(ref);
  }
  const double n = static_cast<double>(fast.numel());
  std::printf("philox/op_%-22s %s  reference %6.2f ns/el  cpu %5.2f ns/el  x%.1f\n", name,
              stackgrad::equal(fast, ref) ? "ok      " : "MISMATCH", t_ref * 1e9 / n,
              t_fast * 1e9 / n, t_ref / t_fast);
}

int main() {
  const int64_t n = 2708 * 1433;
  std::vector<float> x(n), want(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>((i % 1000) * 0.001 - 0.5);
  v1_scalar(x.data(), want.data(), n, kOffset);
  run("v1_scalar", v1_scalar, x, want);
  run("v2_avx2_epu32", v2_avx2, x, want);
  run("v3_vecext_u64", v3_vecext, x, want);
  run("v4_avx2_mask", v4_avx2_mask, x, want);
  run("philox_only", philox_only, x, want, false);
  run("v5_split_mask", v5_split_mask, x, want);
  run("v4_avx2_mask", v4_avx2_mask, x, want);
  run("v5_split_mask", v5_split_mask, x, want);
  // The same kernels split over parallel_for as kernels/cpu/random.cpp does
  // (STACKGRAD_NUM_THREADS).
  auto parallel = [](auto f) {
    return [f](const float* x, float* y, int64_t n, uint64_t off) {
      stackgrad::parallel_for(0, n, 16384, [&](int64_t lo, int64_t hi) {
        f(x + lo, y + lo, hi - lo, off + static_cast<uint64_t>(lo));
      });
    };
  };
  std::printf("threads %d\n", stackgrad::num_threads());
  run("v1_scalar_par", parallel(v1_scalar), x, want);
  run("v4_avx2_mask_par", parallel(v4_avx2_mask), x, want);
  using namespace stackgrad;
  Generator data(1);
  const Tensor xf = randn({2708, 1433}, data), xd = xf.to(DType::f64);
  run_op("dropout_f32", [&](Generator& g) { return dropout(xf, 0.5, true, g); });
  run_op("dropout_f64", [&](Generator& g) { return dropout(xd, 0.5, true, g); });
  run_op("bernoulli_f32", [&](Generator& g) { return bernoulli({2708, 1433}, 0.3, g); });
  run_op("uniform_f32", [&](Generator& g) { return rand({2708, 1433}, g); });
  run_op("uniform_f64", [&](Generator& g) { return rand({2708, 1433}, g, DType::f64); });
  run_op("normal_f32", [&](Generator& g) { return randn({2708, 1433}, g); });
}
