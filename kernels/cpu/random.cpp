// CPU random kernels. Element i uses Philox counter (offset + i), exactly as the reference
// kernels (kernels/reference/random_kernels.h), so the numbers are bit-identical to them and
// independent of how parallel_for splits the range. Philox runs 8 consecutive counters at once
// with AVX2 (philox_vec.h); each lane's four words then go through the reference's own
// per-element conversion (normal_value, below), except uniform, contiguous dropout and
// bernoulli with a scalar p (f32/f64), which convert 8 lanes at once in AVX2 with every step
// exact or rounded as the scalar code rounds it (see uniform8, philox_vec.h). Ragged chunk tails
// use the scalar generator. Inputs with strides (dropout, bernoulli with a probability tensor) are
// read through ref_at; outputs are always contiguous.
#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/philox_vec.h"
#include "kernels/reference/random_kernels.h"

namespace stackgrad {
namespace kernels {
namespace {

constexpr int64_t kGrain = 16384;

// For [0, n) in parallel chunks: block(i, b) with b the Philox words of counters offset + i ..
// offset + i + 7, and elem(i, philox4x32(seed, offset + i)) for each chunk's ragged tail.
template <typename Block, typename Elem>
void for_each_block(uint64_t seed, uint64_t offset, int64_t n, Block&& block, Elem&& elem) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    Philox8 b;
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8) {
      philox4x32_x8(seed, offset + static_cast<uint64_t>(i), b);
      block(i, b);
    }
    for (; i < hi; ++i) elem(i, philox4x32(seed, offset + static_cast<uint64_t>(i)));
  });
}

// Calls f(i, philox4x32(seed, offset + i)) for every i in [0, n).
template <typename F>
void for_each_draw(uint64_t seed, uint64_t offset, int64_t n, F&& f) {
  for_each_block(
      seed, offset, n,
      [&](int64_t i, const Philox8& b) {
        for (int j = 0; j < 8; ++j) f(i + j, b.lane(j));
      },
      f);
}

// 8 elements of contiguous dropout: keep ? T(x * scale) : 0, the product in double as in
// dropout_value, and the double -> float rounding of cvtpd_ps equal to static_cast's.
inline void dropout8(const float* x, float* y, __m256i keep, __m256d scale) {
  const __m256 xv = _mm256_loadu_ps(x);
  const __m256d a = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xv)), scale);
  const __m256d b = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)), scale);
  const __m256 v = _mm256_set_m128(_mm256_cvtpd_ps(b), _mm256_cvtpd_ps(a));
  _mm256_storeu_ps(y, _mm256_and_ps(v, _mm256_castsi256_ps(keep)));
}
inline void dropout8(const double* x, double* y, __m256i keep, __m256d scale) {
  const __m256i k0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(keep));
  const __m256i k1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(keep, 1));
  _mm256_storeu_pd(
      y, _mm256_and_pd(_mm256_mul_pd(_mm256_loadu_pd(x), scale), _mm256_castsi256_pd(k0)));
  _mm256_storeu_pd(
      y + 4, _mm256_and_pd(_mm256_mul_pd(_mm256_loadu_pd(x + 4), scale), _mm256_castsi256_pd(k1)));
}

// 8 elements of uniform_value: u exactly as uniform_f32 / uniform_f64 (every step below is exact:
// 24- and 53-bit integers scaled by powers of two), then lo + (hi - lo) u in double with a
// separate multiply and add (the build does not contract to FMA), rounded once to T, and values
// that rounded up to hi mapped back to lo.
inline void uniform8(const Philox8& b, float* y, double lo, double hi) {
  const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b.v[0]));
  const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w0, 8)),
                                 _mm256_set1_ps(1.0f / 16777216.0f));
  const __m256d l = _mm256_set1_pd(lo), d = _mm256_set1_pd(hi - lo);
  const __m256d a = _mm256_add_pd(l, _mm256_mul_pd(d, _mm256_cvtps_pd(_mm256_castps256_ps128(u))));
  const __m256d c =
      _mm256_add_pd(l, _mm256_mul_pd(d, _mm256_cvtps_pd(_mm256_extractf128_ps(u, 1))));
  const __m256 v = _mm256_set_m128(_mm256_cvtpd_ps(c), _mm256_cvtpd_ps(a));
  if (lo == hi) return _mm256_storeu_ps(y, v);
  const __m256 below = _mm256_cmp_ps(v, _mm256_set1_ps(static_cast<float>(hi)), _CMP_LT_OQ);
  _mm256_storeu_ps(y, _mm256_blendv_ps(_mm256_set1_ps(static_cast<float>(lo)), v, below));
}
inline void uniform8(const Philox8& b, double* y, double lo, double hi) {
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i w0 =
      _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(b.v[0])), sign);
  const __m256i w1 =
      _mm256_srli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(b.v[1])), 11);
  const __m256d l = _mm256_set1_pd(lo), d = _mm256_set1_pd(hi - lo), h = _mm256_set1_pd(hi);
  for (int half = 0; half < 2; ++half) {
    const __m128i a0 = half ? _mm256_extracti128_si256(w0, 1) : _mm256_castsi256_si128(w0);
    const __m128i a1 = half ? _mm256_extracti128_si256(w1, 1) : _mm256_castsi256_si128(w1);
    // v0 (unbiased by + 2^31) * 2^21 + (v1 >> 11): the 53-bit integer of uniform_f64, exactly.
    const __m256d hi_word = _mm256_add_pd(_mm256_cvtepi32_pd(a0), _mm256_set1_pd(2147483648.0));
    const __m256d bits =
        _mm256_add_pd(_mm256_mul_pd(hi_word, _mm256_set1_pd(2097152.0)), _mm256_cvtepi32_pd(a1));
    const __m256d u = _mm256_mul_pd(bits, _mm256_set1_pd(1.0 / 9007199254740992.0));
    const __m256d v = _mm256_add_pd(l, _mm256_mul_pd(d, u));
    _mm256_storeu_pd(y + 4 * half,
                     lo == hi ? v : _mm256_blendv_pd(l, v, _mm256_cmp_pd(v, h, _CMP_LT_OQ)));
  }
}

// 8 elements of bernoulli: 1 where the uniform is < p, else 0.
inline void bernoulli8(float* y, __m256i keep) {
  _mm256_storeu_ps(y, _mm256_andnot_ps(_mm256_castsi256_ps(keep), _mm256_set1_ps(1.0f)));
}
inline void bernoulli8(double* y, __m256i keep) {
  const __m256i k0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(keep));
  const __m256i k1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(keep, 1));
  _mm256_storeu_pd(y, _mm256_andnot_pd(_mm256_castsi256_pd(k0), _mm256_set1_pd(1.0)));
  _mm256_storeu_pd(y + 4, _mm256_andnot_pd(_mm256_castsi256_pd(k1), _mm256_set1_pd(1.0)));
}

void cpu_uniform(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const double lo = c.attrs.alpha, hi = c.attrs.beta;
  SG_DISPATCH_FLOAT(out.dtype, "uniform", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    for_each_block(
        c.attrs.seed, c.attrs.offset, out.numel,
        [&](int64_t i, const Philox8& b) { uniform8(b, y + i, lo, hi); },
        [&](int64_t i, const Philox4& r) { y[i] = uniform_value<scalar_t>(r, lo, hi); });
  });
}

void cpu_normal(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const double mean = c.attrs.alpha, std = c.attrs.beta;
  SG_DISPATCH_FLOAT(out.dtype, "normal", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    for_each_draw(c.attrs.seed, c.attrs.offset, out.numel, [&](int64_t i, const Philox4& r) {
      y[i] = normal_value<scalar_t>(r, mean, std);
    });
  });
}

void cpu_randint(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const uint64_t range = static_cast<uint64_t>(c.attrs.ints.at(0));
  SG_DISPATCH_NUMERIC(out.dtype, "randint", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    for_each_draw(c.attrs.seed, c.attrs.offset, out.numel, [&](int64_t i, const Philox4& r) {
      y[i] = static_cast<scalar_t>(c.attrs.k + static_cast<int64_t>(below(r, range)));
    });
  });
}

// Bernoulli with a scalar p into f32/f64 by whole blocks; false when it does not apply.
template <typename T>
bool bernoulli_fast(const KernelCall& c, T* y) {
  const double p = c.attrs.alpha;
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (!UniformThreshold::valid(p)) return false;
    const UniformThreshold t(p);
    for_each_block(
        c.attrs.seed, c.attrs.offset, c.out[0].numel,
        [&](int64_t i, const Philox8& b) { bernoulli8(y + i, uniform_at_least(b, t)); },
        [&](int64_t i, const Philox4& r) { y[i] = bernoulli_value<T>(r, p); });
    return true;
  }
  return false;
}

void cpu_bernoulli(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  SG_DISPATCH_ALL(out.dtype, "bernoulli", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    if (c.in.empty()) {
      const double p = c.attrs.alpha;
      if (bernoulli_fast(c, y)) return;
      for_each_draw(c.attrs.seed, c.attrs.offset, out.numel,
                    [&](int64_t i, const Philox4& r) { y[i] = bernoulli_value<scalar_t>(r, p); });
      return;
    }
    const TensorArg& prob = c.in[0];
    for_each_draw(c.attrs.seed, c.attrs.offset, out.numel, [&](int64_t i, const Philox4& r) {
      const double p = prob.dtype == DType::f32 ? static_cast<double>(ref_at<float>(prob, i))
                                                : ref_at<double>(prob, i);
      y[i] = bernoulli_value<scalar_t>(r, p);
    });
  });
}

void cpu_dropout(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const double p = c.attrs.alpha, scale = 1.0 / (1.0 - p);
  SG_DISPATCH_FLOAT(in.dtype, "dropout", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    if (in.is_contiguous() && UniformThreshold::valid(p)) {
      const scalar_t* x = in.ptr<scalar_t>();
      const UniformThreshold t(p);
      const __m256d s = _mm256_set1_pd(scale);
      for_each_block(
          c.attrs.seed, c.attrs.offset, out.numel,
          [&](int64_t i, const Philox8& b) { dropout8(x + i, y + i, uniform_at_least(b, t), s); },
          [&](int64_t i, const Philox4& r) { y[i] = dropout_value<scalar_t>(r, x[i], p, scale); });
    } else if (in.is_contiguous()) {
      const scalar_t* x = in.ptr<scalar_t>();
      for_each_draw(c.attrs.seed, c.attrs.offset, out.numel, [&](int64_t i, const Philox4& r) {
        y[i] = dropout_value<scalar_t>(r, x[i], p, scale);
      });
    } else {
      for_each_draw(c.attrs.seed, c.attrs.offset, out.numel, [&](int64_t i, const Philox4& r) {
        y[i] = dropout_value<scalar_t>(r, ref_at<scalar_t>(in, i), p, scale);
      });
    }
  });
}

}  // namespace
}  // namespace kernels

void register_cpu_random() {
  using namespace kernels;
  register_kernel(OpId::uniform, Backend::cpu, cpu_uniform);
  register_kernel(OpId::normal, Backend::cpu, cpu_normal);
  register_kernel(OpId::randint, Backend::cpu, cpu_randint);
  register_kernel(OpId::bernoulli, Backend::cpu, cpu_bernoulli);
  // A sort of random keys: the reference kernel is already the CPU kernel.
  register_kernel(OpId::randperm, Backend::cpu, randperm_kernel);
  register_kernel(OpId::dropout, Backend::cpu, cpu_dropout);
}
}  // namespace stackgrad
