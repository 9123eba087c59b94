// The random kernels, written once over a loop driver: the reference backend runs them with a
// plain loop, the CPU backend with parallel_for. Element i always uses Philox counter
// (offset + i), so both give identical numbers.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/dispatch/kernel.h"
#include "kernels/reference/loops.h"
#include "kernels/reference/philox.h"

namespace stackgrad::kernels {

struct SerialLoop {
  template <typename F>
  void operator()(int64_t n, F&& f) const {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
};

// One element of each distribution from its Philox block. Shared with the vectorised CPU
// kernels (kernels/cpu/random.cpp), so both convert the same words in the same way.
template <typename scalar_t>
inline scalar_t uniform_value(const Philox4& r, double lo, double hi) {
  double u = std::is_same_v<scalar_t, float> ? uniform_f32(r) : uniform_f64(r);
  scalar_t v = static_cast<scalar_t>(lo + (hi - lo) * u);
  return v < static_cast<scalar_t>(hi) || lo == hi ? v
                                                   : static_cast<scalar_t>(lo);  // keep [lo, hi)
}

template <typename scalar_t>
inline scalar_t normal_value(const Philox4& r, double mean, double std) {
  return static_cast<scalar_t>(mean + std * normal_f64(r));
}

template <typename scalar_t>
inline scalar_t bernoulli_value(const Philox4& r, double p) {
  return static_cast<scalar_t>(uniform_f64(r) < p);
}

// Keep x when the element's uniform is >= p, scaled by 1 / (1 - p) in double.
template <typename scalar_t>
inline scalar_t dropout_value(const Philox4& r, scalar_t x, double p, double scale) {
  return uniform_f64(r) >= p ? static_cast<scalar_t>(x * scale) : scalar_t(0);
}

template <typename Loop>
void uniform_kernel(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const double lo = c.attrs.alpha, hi = c.attrs.beta;
  SG_DISPATCH_FLOAT(out.dtype, "uniform", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    Loop{}(out.numel, [&](int64_t i) {
      y[i] = uniform_value<scalar_t>(philox4x32(c.attrs.seed, c.attrs.offset + i), lo, hi);
    });
  });
}

template <typename Loop>
void normal_kernel(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  SG_DISPATCH_FLOAT(out.dtype, "normal", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    Loop{}(out.numel, [&](int64_t i) {
      y[i] = normal_value<scalar_t>(philox4x32(c.attrs.seed, c.attrs.offset + i), c.attrs.alpha,
                                    c.attrs.beta);
    });
  });
}

template <typename Loop>
void randint_kernel(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const uint64_t range = static_cast<uint64_t>(c.attrs.ints.at(0));
  SG_DISPATCH_NUMERIC(out.dtype, "randint", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    Loop{}(out.numel, [&](int64_t i) {
      uint64_t k = below(philox4x32(c.attrs.seed, c.attrs.offset + i), range);
      y[i] = static_cast<scalar_t>(c.attrs.k + static_cast<int64_t>(k));
    });
  });
}

template <typename Loop>
void bernoulli_kernel(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const bool per_element = !c.in.empty();
  SG_DISPATCH_ALL(out.dtype, "bernoulli", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    Loop{}(out.numel, [&](int64_t i) {
      double p = c.attrs.alpha;
      if (per_element)
        p = c.in[0].dtype == DType::f32 ? static_cast<double>(ref_at<float>(c.in[0], i))
                                        : ref_at<double>(c.in[0], i);
      y[i] = bernoulli_value<scalar_t>(philox4x32(c.attrs.seed, c.attrs.offset + i), p);
    });
  });
}

// Sorting random 64-bit keys (ties broken by index) gives a uniform permutation.
inline void randperm_kernel(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const int64_t n = out.numel;
  std::vector<uint64_t> keys(n);
  for (int64_t i = 0; i < n; ++i) keys[i] = bits64(philox4x32(c.attrs.seed, c.attrs.offset + i));
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(),
            [&](int64_t a, int64_t b) { return keys[a] != keys[b] ? keys[a] < keys[b] : a < b; });
  SG_DISPATCH_NUMERIC(out.dtype, "randperm", [&] {
    for (int64_t i = 0; i < n; ++i) out.ptr<scalar_t>()[i] = static_cast<scalar_t>(idx[i]);
  });
}

template <typename Loop>
void dropout_kernel(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const double p = c.attrs.alpha, scale = 1.0 / (1.0 - p);
  SG_DISPATCH_FLOAT(in.dtype, "dropout", [&] {
    scalar_t* y = out.ptr<scalar_t>();
    Loop{}(out.numel, [&](int64_t i) {
      y[i] = dropout_value(philox4x32(c.attrs.seed, c.attrs.offset + i), ref_at<scalar_t>(in, i), p,
                           scale);
    });
  });
}

}  // namespace stackgrad::kernels
