// AVX-512F microkernels, compiled for AVX-512 through target attributes (the rest of the build
// stays at AVX2) and only called after __builtin_cpu_supports("avx512f") said yes.
//
// f32: a 12 x 32 tile = 24 zmm accumulators; per k, 2 zmm loads of the B row, 12 broadcasts of
// the A column (vbroadcastss from memory) and 24 FMAs; 27 of the 32 zmm registers in use.
// f64: the same shape, 12 x 16 (24 zmm of 8 doubles).
// Blocking: KC = 192 keeps the KC x NR strip of B at 24 KiB (under a 32 KiB L1d).
// Limits: never run on the development machine (no AVX-512 there); the driver and the tile
// logic are the ones the AVX2 and portable paths test, with different MR/NR.
#include <immintrin.h>

#include "kernels/cpu/gemm_driver.h"

#define SG_AVX512 __attribute__((target("avx512f")))

namespace stackgrad::kernels::gemm_detail {
namespace {

struct F32x16 {
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  SG_AVX512 static V zero() { return _mm512_setzero_ps(); }
  SG_AVX512 static V load(const T* p) { return _mm512_loadu_ps(p); }
  SG_AVX512 static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  SG_AVX512 static V bcast(const T* p) { return _mm512_set1_ps(*p); }
  SG_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  SG_AVX512 static V add(V a, V b) { return _mm512_add_ps(a, b); }
};

struct F64x8 {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  SG_AVX512 static V zero() { return _mm512_setzero_pd(); }
  SG_AVX512 static V load(const T* p) { return _mm512_loadu_pd(p); }
  SG_AVX512 static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  SG_AVX512 static V bcast(const T* p) { return _mm512_set1_pd(*p); }
  SG_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  SG_AVX512 static V add(V a, V b) { return _mm512_add_pd(a, b); }
};

// MR x (2 vectors) tile; the same structure as the AVX2 kernel (gemm_avx2.cpp).
template <typename O, int MR_, int64_t KC_, int64_t MC_, int64_t NC_>
struct Avx512Kernel {
  using T = typename O::T;
  using V = typename O::V;
  static constexpr int MR = MR_, NR = 2 * O::W, W = O::W;
  static constexpr int64_t KC = KC_, MC = MC_, NC = NC_;

  SG_AVX512 static void run(int64_t kc, const T* a, int64_t a_rs, int64_t a_cs, const T* b, T* c,
                            int64_t c_rs, bool add) {
    V acc[MR][2];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      acc[i][0] = acc[i][1] = O::zero();
      // Both cache lines of the C row (it is rarely 64-byte aligned): written at the end.
      _mm_prefetch(reinterpret_cast<const char*>(c + i * c_rs), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * c_rs + NR - 1), _MM_HINT_T0);
    }
    if (a_rs == 1 && a_cs == MR) {
#pragma GCC unroll 2
      for (int64_t k = 0; k < kc; ++k) {
        const V b0 = O::load(b + k * NR), b1 = O::load(b + k * NR + W);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const V ai = O::bcast(a + k * MR + i);
          acc[i][0] = O::fma(ai, b0, acc[i][0]);
          acc[i][1] = O::fma(ai, b1, acc[i][1]);
        }
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const V b0 = O::load(b + k * NR), b1 = O::load(b + k * NR + W);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const V ai = O::bcast(a + i * a_rs + k * a_cs);
          acc[i][0] = O::fma(ai, b0, acc[i][0]);
          acc[i][1] = O::fma(ai, b1, acc[i][1]);
        }
      }
    }
#pragma GCC unroll 16
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

template <typename T>
struct Avx512;
template <>
struct Avx512<float> : Avx512Kernel<F32x16, 12, 192, 144, 3072> {};
template <>
struct Avx512<double> : Avx512Kernel<F64x8, 12, 192, 72, 1536> {};

}  // namespace

template <typename T>
void run_avx512(const GemmProblem<T>* problems, int64_t count, bool accumulate) {
  gemm_run<T, Avx512<T>>(problems, count, accumulate);
}

template void run_avx512<float>(const GemmProblem<float>*, int64_t, bool);
template void run_avx512<double>(const GemmProblem<double>*, int64_t, bool);

}  // namespace stackgrad::kernels::gemm_detail
