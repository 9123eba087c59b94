// A small, fast, seedable random generator for the environment (xoshiro256** seeded through
// splitmix64). The Python environments draw from numpy; bit-identical streams are not a goal,
// the same seed giving the same episode is.
//
//   Rng rng(42);
//   double u = rng.uniform();          // [0, 1)
//   int k = rng.randint(20, 51);       // [20, 51), like numpy's randint
#pragma once

#include <cstdint>

namespace stackgrad::envs {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { this->seed(seed); }

  void seed(uint64_t seed) {
    for (uint64_t& word : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      word = z ^ (z >> 31);
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [low, high) (high > low), without modulo bias.
  int64_t randint(int64_t low, int64_t high) {
    const uint64_t range = static_cast<uint64_t>(high - low);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t x;
    do {
      x = next();
    } while (x >= limit);
    return low + static_cast<int64_t>(x % range);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace stackgrad::envs
