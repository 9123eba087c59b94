// Host-side random numbers for samplers with data-dependent draw counts (geometric skips in graph
// generators, negative items, session lengths): uniform doubles drawn from a Generator in blocks,
// so a run is reproducible per seed without one engine call per number.
//
//   data::Uniforms u(gen);
//   int64_t item = u.below(num_items);   // uniform in [0, num_items)
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/ops/random.h"
#include "engine/runtime/generator.h"

namespace stackgrad::data {

class Uniforms {
 public:
  explicit Uniforms(Generator& gen) : gen_(gen) {}
  // Uniform in (0, 1): rand is in [0, 1), and 0 is mapped away so that log(u) stays finite.
  double next() {
    if (pos_ == buf_.size()) {
      buf_ = rand({4096}, gen_, DType::f64).to_vector<double>();
      pos_ = 0;
    }
    return std::max(buf_[pos_++], 1e-300);
  }
  // Uniform integer in [0, n), n > 0.
  int64_t below(int64_t n) {
    return std::min<int64_t>(n - 1, static_cast<int64_t>(next() * double(n)));
  }
  // Uniform integer in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) { return lo + below(hi - lo + 1); }

 private:
  Generator& gen_;
  std::vector<double> buf_;
  size_t pos_ = 0;
};

}  // namespace stackgrad::data
