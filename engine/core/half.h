// The 16-bit floating storage types behind DType::bf16 and DType::f16, usable in host and CUDA
// device code without CUDA headers. Each is its bit pattern in a struct; arithmetic goes through
// float (the implicit conversion), which is how the half dtypes are meant to be computed.
//
// Conversions are done on the bits, the same on the host and the device, so a CPU and a GPU cast
// give identical results:
//   - to float: exact (every bf16 and f16 value is a float);
//   - from float: round to nearest, ties to even; overflow gives inf; f16 keeps subnormals
//     (down to 2^-24) and rounds below them to signed zero;
//   - from double: rounded once, correctly (via float rounded to odd, see below), not twice;
//   - NaN stays NaN with its sign and top payload bits, so half -> float -> half is the identity
//     on all 65536 bit patterns (hardware conversions would quieten signalling NaNs instead).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#ifndef SG_HOST_DEVICE
#if defined(__CUDACC__)
#define SG_HOST_DEVICE __host__ __device__
#else
#define SG_HOST_DEVICE
#endif
#endif

namespace stackgrad {

namespace half_bits {

SG_HOST_DEVICE inline uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

SG_HOST_DEVICE inline float bits_to_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// d rounded to float "to odd": an inexact result gets the neighbour whose last bit is 1. Rounding
// that to a format with at least two fewer significand bits (bf16: 8, f16: 11, float: 24) to
// nearest-even gives the correctly rounded result of d, which double -> float -> half would not
// (the first rounding can create a false tie). Overflow keeps FLT_MAX, which still overflows.
SG_HOST_DEVICE inline float round_to_odd_float(double d) {
  const float f = static_cast<float>(d);
  if (d != d || static_cast<double>(f) == d) return f;  // NaN or exact
  uint32_t u = float_to_bits(f);
  if ((u & 1u) == 0) {
    // f is the even neighbour of d; the odd one is one step (in magnitude) towards d.
    const bool too_big = d > 0 ? static_cast<double>(f) > d : static_cast<double>(f) < d;
    u = too_big ? u - 1 : u + 1;
  }
  return bits_to_float(u);
}

SG_HOST_DEVICE inline uint16_t bf16_from_float(float f) {
  const uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    // NaN: keep sign and top payload; a payload only in the dropped bits would read as inf.
    const uint16_t h = static_cast<uint16_t>(u >> 16);
    return (h & 0x7fu) ? h : static_cast<uint16_t>(h | 0x40u);
  }
  // Adding 0x7fff plus the last kept bit rounds to nearest, ties to even; a carry out of the
  // significand bumps the exponent, up to inf.
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

SG_HOST_DEVICE inline float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t{h} << 16); }

SG_HOST_DEVICE inline uint16_t f16_from_float(float f) {
  const uint32_t u = float_to_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) {  // NaN, as for bf16
    const uint32_t m = (a >> 13) & 0x3ffu;
    return static_cast<uint16_t>(sign | 0x7c00u | (m ? m : 0x200u));
  }
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 (and inf)
  if (a >= 0x38800000u) {
    // Normal (>= 2^-14): rebias the exponent (127 -> 15), then round 23 -> 10 significand bits.
    const uint32_t r = a - 0x38000000u;
    return static_cast<uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
  }
  if (a <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25: the tie goes to 0
  // Subnormal: the value is m * 2^(e - 150) = (m >> (126 - e)) units of 2^-24, rounded to
  // nearest-even by hand; a carry into bit 10 is the smallest normal, encoded correctly.
  const uint32_t e = a >> 23;  // 102..112
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

SG_HOST_DEVICE inline float f16_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t e = (h >> 10) & 0x1fu;
  uint32_t m = h & 0x3ffu;
  if (e == 0x1f) return bits_to_float(sign | 0x7f800000u | (m << 13));  // inf, NaN
  if (e != 0) return bits_to_float(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return bits_to_float(sign);
  // Subnormal m * 2^-24: normalise so the leading one becomes the implicit bit.
  e = 113;
  while (!(m & 0x400u)) {
    m <<= 1;
    --e;
  }
  return bits_to_float(sign | (e << 23) | ((m & 0x3ffu) << 13));
}

}  // namespace half_bits

// bfloat16: 1 sign, 8 exponent, 7 significand bits (float's range, 3 significant digits).
struct BFloat16 {
  uint16_t bits;

  BFloat16() = default;
  SG_HOST_DEVICE explicit BFloat16(float f) : bits(half_bits::bf16_from_float(f)) {}
  SG_HOST_DEVICE explicit BFloat16(double d)
      : bits(half_bits::bf16_from_float(half_bits::round_to_odd_float(d))) {}
  template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  SG_HOST_DEVICE explicit BFloat16(I v) : BFloat16(static_cast<double>(v)) {}
  SG_HOST_DEVICE operator float() const { return half_bits::bf16_to_float(bits); }

  SG_HOST_DEVICE static BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
};

// IEEE binary16: 1 sign, 5 exponent, 10 significand bits (max 65504, subnormals from 2^-24).
struct Float16 {
  uint16_t bits;

  Float16() = default;
  SG_HOST_DEVICE explicit Float16(float f) : bits(half_bits::f16_from_float(f)) {}
  SG_HOST_DEVICE explicit Float16(double d)
      : bits(half_bits::f16_from_float(half_bits::round_to_odd_float(d))) {}
  template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  SG_HOST_DEVICE explicit Float16(I v) : Float16(static_cast<double>(v)) {}
  SG_HOST_DEVICE operator float() const { return half_bits::f16_to_float(bits); }

  SG_HOST_DEVICE static Float16 from_bits(uint16_t b) {
    Float16 h;
    h.bits = b;
    return h;
  }
};

static_assert(sizeof(BFloat16) == 2 && std::is_trivially_copyable_v<BFloat16>);
static_assert(sizeof(Float16) == 2 && std::is_trivially_copyable_v<Float16>);

}  // namespace stackgrad
