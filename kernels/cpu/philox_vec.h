// Philox4x32-10 for 8 consecutive counters at once with AVX2 (x86-64-v3 baseline). Lane j
// computes exactly kernels::philox4x32(seed, counter + j): the 64-bit counter is split into a low
// and a high word per lane, with the carry into the high word when the low word wraps. AVX2 has
// no 32x32->64 multiply on all lanes: _mm256_mul_epu32 multiplies the low words of 64-bit
// lanes, so the even and odd lanes run as two 4-lane halves (kernels/lab/philox has the blended
// 8-lane version, ~7 % slower).
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/reference/philox.h"

namespace stackgrad::kernels {

// Four words per lane: v[w][j] is word w of counter (counter + j).
struct Philox8 {
  alignas(32) uint32_t v[4][8];
  Philox4 lane(int j) const { return {{v[0][j], v[1][j], v[2][j], v[3][j]}}; }
};

inline void philox4x32_x8(uint64_t seed, uint64_t counter, Philox8& out) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i base = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(counter)));
  const __m256i c0 = _mm256_add_epi32(base, lane);
  // Unsigned c0 < base means the low word wrapped: the lane's high word gets the carry (-1 mask).
  const __m256i wrapped =
      _mm256_cmpgt_epi32(_mm256_xor_si256(base, sign), _mm256_xor_si256(c0, sign));
  const __m256i c1 = _mm256_sub_epi32(
      _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(counter >> 32))), wrapped);
  // Even lanes (e*) and odd lanes (o*) apart, each word in the low half of a 64-bit lane: the
  // products land as (hi:lo) in place, so a round needs no blends. The high halves carry
  // garbage, which mul_epu32 ignores and the final merge drops.
  __m256i e0 = c0, e1 = c1, e2 = _mm256_setzero_si256(), e3 = e2;
  __m256i o0 = _mm256_srli_epi64(c0, 32), o1 = _mm256_srli_epi64(c1, 32), o2 = e2, o3 = e2;
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53), m1 = _mm256_set1_epi64x(0xCD9E8D57);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    const __m256i kk0 = _mm256_set1_epi32(static_cast<int>(k0));
    const __m256i kk1 = _mm256_set1_epi32(static_cast<int>(k1));
    const __m256i pe0 = _mm256_mul_epu32(e0, m0), pe1 = _mm256_mul_epu32(e2, m1);
    const __m256i po0 = _mm256_mul_epu32(o0, m0), po1 = _mm256_mul_epu32(o2, m1);
    e0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pe1, 32), e1), kk0);
    e2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(pe0, 32), e3), kk1);
    o0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(po1, 32), o1), kk0);
    o2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(po0, 32), o3), kk1);
    e1 = pe1;
    e3 = pe0;
    o1 = po1;
    o3 = po0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  const auto merge = [](__m256i e, __m256i o) {
    return _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA);
  };
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[0]), merge(e0, o0));
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[1]), merge(e1, o1));
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[2]), merge(e2, o2));
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.v[3]), merge(e3, o3));
}

// uniform_f64(r) >= p for the 8 lanes, without leaving integers: uniform_f64 is bits * 2^-53 with
// bits = v0 * 2^21 + (v1 >> 11) < 2^53, so u >= p exactly when bits >= T = ceil(p * 2^53) (the
// scaling by 2^53 is exact). T splits into a high word (compared with v0) and a low 21 bits
// (compared with v1 >> 11). Valid for 0 <= p < 1, where T < 2^53.
struct UniformThreshold {
  __m256i hi, lo;  // T >> 21 and T & (2^21 - 1), each biased by 2^31 for signed compares
  explicit UniformThreshold(double p) {
    const uint64_t t = static_cast<uint64_t>(std::ceil(p * 9007199254740992.0));
    hi = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(t >> 21) ^ 0x80000000u));
    lo = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(t & 0x1FFFFF)));
  }
  static bool valid(double p) { return p >= 0.0 && p < 1.0; }
};

// All-ones lanes where uniform_f64(lane) >= p.
inline __m256i uniform_at_least(const Philox8& b, const UniformThreshold& t) {
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i w0 =
      _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(b.v[0])), sign);
  // v1 >> 11 < 2^21: a signed compare is already unsigned.
  const __m256i w1 =
      _mm256_srli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(b.v[1])), 11);
  const __m256i above = _mm256_cmpgt_epi32(w0, t.hi);
  const __m256i tie = _mm256_cmpeq_epi32(w0, t.hi);
  const __m256i low_ok = _mm256_cmpgt_epi32(t.lo, w1);  // w1 < lo: not ok
  return _mm256_or_si256(above, _mm256_andnot_si256(low_ok, tie));
}

}  // namespace stackgrad::kernels
