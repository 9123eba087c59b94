// AVX2 + FMA microkernel template (gemm_avx2.cpp instantiates the library's; the lab,
// kernels/lab/gemm/gemm_lab.cpp, instantiates other blockings of it). See gemm_avx2.cpp for the
// register allocation and the blocking rationale.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace stackgrad::kernels::gemm_detail {

struct F32x8 {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
};

struct F64x4 {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
};

// MR x (2 vectors) tile. The accumulator array is fully unrolled, so it lives in registers.
template <typename O, int MR_, int64_t KC_, int64_t MC_, int64_t NC_>
struct Avx2Kernel {
  using T = typename O::T;
  using V = typename O::V;
  static constexpr int MR = MR_, NR = 2 * O::W, W = O::W;
  static constexpr int64_t KC = KC_, MC = MC_, NC = NC_;

  // Reads B in place too (row k at b + k * b_rs, NR contiguous columns): the driver's direct B.
  static constexpr bool kDirectB = true;

  static void run(int64_t kc, const T* a, int64_t a_rs, int64_t a_cs, const T* b, T* c,
                  int64_t c_rs, bool add) {
    run_b(kc, a, a_rs, a_cs, b, NR, c, c_rs, add);
  }

  [[gnu::always_inline]] static inline void run_b(int64_t kc, const T* a, int64_t a_rs,
                                                  int64_t a_cs, const T* b, int64_t b_rs, T* c,
                                                  int64_t c_rs, bool add) {
    V acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      acc[i][0] = acc[i][1] = O::zero();
      // Both cache lines of the C row (it is rarely 64-byte aligned): written at the end.
      _mm_prefetch(reinterpret_cast<const char*>(c + i * c_rs), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * c_rs + NR - 1), _MM_HINT_T0);
    }
    if (a_rs == 1 && a_cs == MR) {  // packed strip: fixed offsets
#pragma GCC unroll 4
      for (int64_t k = 0; k < kc; ++k) {
        const V b0 = O::load(b + k * b_rs), b1 = O::load(b + k * b_rs + W);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          const V ai = O::bcast(a + k * MR + i);
          acc[i][0] = O::fma(ai, b0, acc[i][0]);
          acc[i][1] = O::fma(ai, b1, acc[i][1]);
        }
      }
    } else {  // A read in place through its strides
      const T* row[MR];
      for (int i = 0; i < MR; ++i) row[i] = a + i * a_rs;
#pragma GCC unroll 2
      for (int64_t k = 0; k < kc; ++k) {
        const V b0 = O::load(b + k * b_rs), b1 = O::load(b + k * b_rs + W);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          const V ai = O::bcast(row[i] + k * a_cs);
          acc[i][0] = O::fma(ai, b0, acc[i][0]);
          acc[i][1] = O::fma(ai, b1, acc[i][1]);
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * c_rs;
      if (add) {
        acc[i][0] = O::add(acc[i][0], O::load(ci));
        acc[i][1] = O::add(acc[i][1], O::load(ci + W));
      }
      O::store(ci, acc[i][0]);
      O::store(ci + W, acc[i][1]);
    }
  }
};

}  // namespace stackgrad::kernels::gemm_detail
