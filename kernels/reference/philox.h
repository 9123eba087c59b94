// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Element i of a draw uses counter (offset + i) under the key derived
// from the seed, so any thread, on any device, computes the same numbers for the same seed,
// shape and offset. Usable from host and CUDA device code.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SG_HOST_DEVICE __host__ __device__
#else
#define SG_HOST_DEVICE
#endif

namespace stackgrad::kernels {

struct Philox4 {
  uint32_t v[4];
};

SG_HOST_DEVICE inline void philox_round(uint32_t (&c)[4], uint32_t k0, uint32_t k1) {
  const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c[0];
  const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c[2];
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  c[0] = hi1 ^ c[1] ^ k0;
  c[1] = lo1;
  c[2] = hi0 ^ c[3] ^ k1;
  c[3] = lo0;
}

// Four 32-bit random words for one 64-bit counter under a 64-bit seed.
SG_HOST_DEVICE inline Philox4 philox4x32(uint64_t seed, uint64_t counter) {
  uint32_t c[4] = {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u};
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    philox_round(c, k0, k1);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c[0], c[1], c[2], c[3]}};
}

// Uniform in [0, 1) with 24 (float) or 53 (double) random bits.
SG_HOST_DEVICE inline float uniform_f32(const Philox4& r) { return (r.v[0] >> 8) * (1.0f / 16777216.0f); }
SG_HOST_DEVICE inline double uniform_f64(const Philox4& r) {
  const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// A standard normal by Box-Muller from the block's four words (one normal per element).
SG_HOST_DEVICE inline double normal_f64(const Philox4& r) {
  const uint64_t a = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  const uint64_t b = (static_cast<uint64_t>(r.v[2]) << 21) ^ (r.v[3] >> 11);
  // u1 in (0, 1] so the log is finite.
  const double u1 = (static_cast<double>(a & ((1ull << 53) - 1)) + 1.0) * (1.0 / 9007199254740992.0);
  const double u2 = static_cast<double>(b & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// 64 random bits.
SG_HOST_DEVICE inline uint64_t bits64(const Philox4& r) {
  return (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
}

// Uniform integer in [0, range) by the multiply-high method (bias below 2^-32 for ranges < 2^32).
SG_HOST_DEVICE inline uint64_t below(const Philox4& r, uint64_t range) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(bits64(r)) * range) >> 64);
}

}  // namespace stackgrad::kernels
