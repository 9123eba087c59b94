// Vectorisable transcendental functions for the fast CPU kernels, written once.
//
// glibc's exp/expf/tanh are scalar calls that GCC never vectorises, so every kernel that spends
// its time in exp (softmax, logsumexp, cross_entropy, the elementwise exp family) uses these
// instead. Two flavours:
//   - scalar functions with no calls and no branches (vexp), which GCC vectorises inside the
//     caller's loop;
//   - functions on explicit 256-bit vectors (F8: 8 floats, D4: 4 doubles) through the GCC/Clang
//     vector extension (AVX2 + FMA under the project's -march=x86-64-v3). A scalar on the same
//     math is the function on a broadcast vector, so loop tails see the same bits as the body.
//
// All exps share one algorithm: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2 (ln2
// split into a high part with few mantissa bits, so n * hi is exact, and a low part), e^r by a
// polynomial, and 2^n built directly in the exponent bits. The f32 polynomial is Cephes'
// degree-7 minimax fit, the f64 one the degree-13 Taylor polynomial (truncation below 1e-17).
// Accuracy (checked in tests/unit/test_vec_math.cpp): exp8 within 1 ulp of expf on every float
// in [-87, 88], exp4 within 1 ulp of std::exp; sigmoid and tanh within a few ulp.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#if defined(__FMA__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace stackgrad::kernels::vec {

using F8 [[gnu::vector_size(32)]] = float;
using I8 [[gnu::vector_size(32)]] = int32_t;
using D4 [[gnu::vector_size(32)]] = double;
using L4 [[gnu::vector_size(32)]] = int64_t;

// The vector of T (float -> F8, double -> D4) and its lane count.
template <typename T>
using Vec = std::conditional_t<std::is_same_v<T, float>, F8, D4>;
template <typename T>
constexpr int kLanes = static_cast<int>(sizeof(Vec<T>) / sizeof(T));

// c ? a : b without a branch. With trapping math (the default), GCC will not move
// floating-point work out of a branch, so a ternary whose arms compute keeps a loop scalar.
inline double select(bool c, double a, double b) {
  const uint64_t m = uint64_t{0} - static_cast<uint64_t>(c);
  return std::bit_cast<double>((std::bit_cast<uint64_t>(a) & m) |
                               (std::bit_cast<uint64_t>(b) & ~m));
}

// a * b + c rounded once. The f64 exp spells its fmas out (rather than relying on the compiler
// contracting a * b + c) so the scalar vexp and the D4 exp4 give the same bits.
inline double fmadd(double a, double b, double c) { return std::fma(a, b, c); }
inline D4 fmadd(D4 a, D4 b, D4 c) {
#if defined(__FMA__)
  return _mm256_fmadd_pd(a, b, c);
#else
  D4 r;
  for (int l = 0; l < 4; ++l) r[l] = std::fma(a[l], b[l], c[l]);
  return r;
#endif
}

// ---- f64 ----------------------------------------------------------------------------------

namespace f64 {
constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // few mantissa bits: n * kLn2Hi is exact
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kShift = 6755399441055744.0;  // 1.5 * 2^52: x + kShift rounds x to an integer

// P(r) with e^r = 1 + r P(r): Horner on the Taylor coefficients 1/13! .. 1/1!.
template <typename V>
inline V poly(V r) {
  V p = V{} + 1.0 / 6227020800.0;
  p = fmadd(p, r, V{} + 1.0 / 479001600.0);
  p = fmadd(p, r, V{} + 1.0 / 39916800.0);
  p = fmadd(p, r, V{} + 1.0 / 3628800.0);
  p = fmadd(p, r, V{} + 1.0 / 362880.0);
  p = fmadd(p, r, V{} + 1.0 / 40320.0);
  p = fmadd(p, r, V{} + 1.0 / 5040.0);
  p = fmadd(p, r, V{} + 1.0 / 720.0);
  p = fmadd(p, r, V{} + 1.0 / 120.0);
  p = fmadd(p, r, V{} + 1.0 / 24.0);
  p = fmadd(p, r, V{} + 1.0 / 6.0);
  p = fmadd(p, r, V{} + 0.5);
  return fmadd(p, r, V{} + 1.0);
}
}  // namespace f64

// exp(x) for x <= 709 (softmax-style callers, whose arguments are <= 0): no calls and no
// branches, so a loop over it vectorises. Within 1 ulp of std::exp; 0 below -708 (skipping
// subnormal results, and for -inf); NaN stays NaN. Above 709 the result is garbage.
inline double vexp(double x) {
  using namespace f64;
  const double t = std::fma(x, kLog2e, kShift);  // n sits in the low mantissa bits of t
  const double n = t - kShift;
  const double r = std::fma(n, -kLn2Lo, std::fma(n, -kLn2Hi, x));
  const double p = std::fma(poly(r), r, 1.0);
  // 2^n: shifting t's bits left by 52 leaves n (two's complement) in the exponent field. Below
  // -708 the exponent is garbage, and the result is replaced by 0 (a NaN x is kept).
  const double scale =
      std::bit_cast<double>((std::bit_cast<uint64_t>(t) << 52) + (uint64_t{1023} << 52));
  return select(x < -708.0, 0.0, p * scale);
}

// exp on 4 doubles over the whole range: the vexp algorithm, plus gradual underflow to the
// subnormals and 0 below about -745.1, and +inf above about 709.78 (std::exp's thresholds).
// x is clamped to [-746, 710] first, which keeps n in range and maps -inf to 0 and +inf to
// +inf; NaN stays NaN. Where 2^n is not a normal double (n < -1022 or n > 1023) it is applied
// as 2^(n + b) * 2^-b with b = +-600, so the one rounding happens in the last multiply.
inline D4 exp4(D4 x) {
  using namespace f64;
  x = x < -746.0 ? D4{} - 746.0 : x;
  x = x > 710.0 ? D4{} + 710.0 : x;
  const D4 t = fmadd(x, D4{} + kLog2e, D4{} + kShift);
  const D4 n = t - kShift;
  const D4 r = fmadd(n, D4{} - kLn2Lo, fmadd(n, D4{} - kLn2Hi, x));
  const D4 p = fmadd(poly(r), r, D4{} + 1.0);
  const L4 low = x < -708.0, high = x > 709.0;  // all-ones lanes where 2^n may leave the range
  const L4 bias = (low & 600) | (high & -600);
  const L4 ni = std::bit_cast<L4>(t) - std::bit_cast<int64_t>(kShift);  // n as an integer
  const D4 s1 = std::bit_cast<D4>((ni + bias + 1023) << 52);
  const D4 s2 = std::bit_cast<D4>((-bias + 1023) << 52);
  return p * s1 * s2;
}

// expm1(x) on 4 doubles for x in [-50, 0] (clamped to it; e^-50 is below half an ulp of 1):
// 2^n (e^r - 1) + (2^n - 1), relative error of a few ulp, exact for tiny x.
inline D4 expm1_nonpos4(D4 x) {
  using namespace f64;
  x = x < -50.0 ? D4{} - 50.0 : x;
  const D4 t = fmadd(x, D4{} + kLog2e, D4{} + kShift);
  const D4 n = t - kShift;
  const D4 r = fmadd(n, D4{} - kLn2Lo, fmadd(n, D4{} - kLn2Hi, x));
  const D4 q = poly(r) * r;  // e^r - 1
  const L4 ni = std::bit_cast<L4>(t) - std::bit_cast<int64_t>(kShift);
  const D4 s = std::bit_cast<D4>((ni + 1023) << 52);
  return fmadd(s, q, s - 1.0);
}

// ---- f32 ----------------------------------------------------------------------------------

namespace f32 {
// e^r - 1 for |r| <= ln2 / 2 from the Cephes degree-7 polynomial, and n, for x in a range where
// n fits the exponent field after the caller's bias. The expressions rely on the compiler's
// default fp contraction (a * b + c -> fma), as the kernels always have.
struct Parts {
  F8 n, q;
};
inline Parts parts(F8 x) {
  const F8 n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const F8 r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  F8 p = F8{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return {n, p * r * r + r};
}
}  // namespace f32

// exp on 8 floats over the whole range: within 1 ulp of expf on [-87, 88]; subnormal results
// down to about -103.97 and 0 below, +inf above about 88.72; NaN stays NaN. x is clamped to
// [-104, 89]; where 2^n is not a normal float it is applied as 2^(n + b) * 2^-b with b = +-64.
// On [-87, 88] the bits equal those of the single-scale kernel the losses used before.
inline F8 exp8(F8 x) {
  // Fast path: when every lane is in [-87, 88] (false for NaN), the clamps change nothing and
  // the bias is 0 (s2 == 1), so (q + 1) * 2^n gives the same bits with a third fewer
  // instructions; exp on large tensors is compute-bound without it.
  const I8 in_range = (x >= -87.0f) & (x <= 88.0f);
#if defined(__AVX__)
  const bool all_in = _mm256_movemask_ps(std::bit_cast<__m256>(in_range)) == 0xFF;
#else
  bool all_in = true;
  for (int l = 0; l < 8; ++l) all_in &= in_range[l] != 0;
#endif
  if (all_in) {
    const f32::Parts e = f32::parts(x);
    const F8 s = std::bit_cast<F8>((__builtin_convertvector(e.n, I8) + 127) << 23);
    return (e.q + 1.0f) * s;
  }
  x = x < -104.0f ? F8{} - 104.0f : x;
  x = x > 89.0f ? F8{} + 89.0f : x;
  const f32::Parts e = f32::parts(x);
  const I8 low = x < -87.0f, high = x > 88.0f;
  const I8 bias = (low & 64) | (high & -64);
  const I8 ni = __builtin_convertvector(e.n, I8);
  const F8 s1 = std::bit_cast<F8>((ni + bias + 127) << 23);
  const F8 s2 = std::bit_cast<F8>((-bias + 127) << 23);
  return (e.q + 1.0f) * s1 * s2;
}

// expm1(x) on 8 floats for x in [-20, 0] (clamped to it; e^-20 is below half an ulp of 1).
inline F8 expm1_nonpos8(F8 x) {
  x = x < -20.0f ? F8{} - 20.0f : x;
  const f32::Parts e = f32::parts(x);
  const F8 s = std::bit_cast<F8>((__builtin_convertvector(e.n, I8) + 127) << 23);
  return s * e.q + (s - 1.0f);
}

// ---- type-generic vector functions ----------------------------------------------------------

inline F8 exp(F8 x) { return exp8(x); }
inline D4 exp(D4 x) { return exp4(x); }
inline F8 expm1_nonpos(F8 x) { return expm1_nonpos8(x); }
inline D4 expm1_nonpos(D4 x) { return expm1_nonpos4(x); }

template <typename V>
using Elem = std::remove_cvref_t<decltype(std::declval<V>()[0])>;
template <typename V>
using Bits = std::conditional_t<std::is_same_v<V, F8>, I8, L4>;

// |x| and copysign(m, s) by the sign bit, so that zeros keep their sign.
template <typename V>
inline V abs(V x) {
  using B = Bits<V>;
  constexpr Elem<B> kSign = Elem<B>{1} << (8 * sizeof(Elem<B>) - 1);
  return std::bit_cast<V>(std::bit_cast<B>(x) & ~kSign);
}
template <typename V>
inline V copysign(V m, V s) {
  using B = Bits<V>;
  constexpr Elem<B> kSign = Elem<B>{1} << (8 * sizeof(Elem<B>) - 1);
  return std::bit_cast<V>((std::bit_cast<B>(m) & ~kSign) | (std::bit_cast<B>(s) & kSign));
}

// 1 / (1 + e^-x), only ever exponentiating -|x|: with e = e^-|x|, 1 / (1 + e) for x >= 0 and
// e / (1 + e) for x < 0. NaN stays NaN.
template <typename V>
inline V sigmoid(V x) {
  using T = Elem<V>;
  const V e = exp(-abs(x));
  const V s = T(1) / (T(1) + e);
  return x >= T(0) ? s : e * s;
}

// tanh(x) = sign(x) tanh|x| with tanh|x| = -m / (2 + m), m = expm1(-2|x|). expm1 keeps the
// relative accuracy for small |x|, where (1 - e) / (1 + e) would cancel. NaN stays NaN.
template <typename V>
inline V tanh(V x) {
  using T = Elem<V>;
  const V m = expm1_nonpos(T(-2) * abs(x));
  return copysign(-m / (T(2) + m), x);
}

// x sigmoid(x).
template <typename V>
inline V silu(V x) {
  return x * sigmoid(x);
}

// Loads and stores of n <= lanes elements (loop tails); unused lanes read as 0.
template <typename V, typename T>
inline V load_partial(const T* p, int64_t n) {
  V v = {};
  std::memcpy(&v, p, static_cast<size_t>(n) * sizeof(T));
  return v;
}
template <typename V, typename T>
inline void store_partial(T* p, V v, int64_t n) {
  std::memcpy(p, &v, static_cast<size_t>(n) * sizeof(T));
}

// f applied to one value through lane 0 of a broadcast vector: the same bits as the vector body.
template <typename T, typename F>
inline T scalar_via(F f, T x) {
  return f(Vec<T>{} + x)[0];
}

}  // namespace stackgrad::kernels::vec
