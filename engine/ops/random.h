// Random tensors from the counter-based Philox generator. Same seed and shape: same numbers,
// whatever the thread count (and, with the CUDA backend, on the GPU too).
#pragma once

#include "engine/core/tensor.h"
#include "engine/runtime/generator.h"

namespace stackgrad {

// Uniform in [low, high).
Tensor rand(const Shape& shape, Generator& gen = default_generator(), Options opts = {},
            double low = 0.0, double high = 1.0);
// Normal with the given mean and standard deviation.
Tensor randn(const Shape& shape, Generator& gen = default_generator(), Options opts = {},
             double mean = 0.0, double std = 1.0);
// Integers uniform in [low, high).
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen = default_generator(),
               Options opts = DType::i64);
// 1 with probability p, else 0 (in opts.dtype).
Tensor bernoulli(const Shape& shape, double p, Generator& gen = default_generator(), Options opts = {});
// 1 with the per-element probability of `probs` (floating, values in [0, 1]), else 0.
Tensor bernoulli(const Tensor& probs, Generator& gen = default_generator());
// A random permutation of 0..n-1.
Tensor randperm(int64_t n, Generator& gen = default_generator(), Options opts = DType::i64);
// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
// The mask is a function of (generator seed, offset, element index), so the same seed gives the
// same mask; backward applies the same mask. Identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training = true, Generator& gen = default_generator());

}  // namespace stackgrad
