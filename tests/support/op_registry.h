// The op test registry: one OpSpec per op in the op list (engine/dispatch/op_list.h). The op
// test suite (tests/ops/test_ops_main.cpp) runs, for every spec and case:
//   - forward on the fast CPU kernels against forward on the reference kernels (f32 and f64),
//   - f64 gradcheck against central finite differences with a random cotangent.
// A spec file per family lives in tests/ops/<family>_specs.cpp and registers with SG_OP_SPEC.
#pragma once

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/stackgrad.h"

namespace stackgrad::testing {

struct OpCase {
  std::string label;
  // Inputs in f64 for floating operands (forward tests convert them to each tested dtype);
  // integer/bool operands are passed through unchanged.
  std::vector<Tensor> inputs;
};

struct OpSpec {
  std::string op;  // the name in the op list
  // Runs the op. Multi-output ops return the differentiable output (or a combination of them).
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  std::function<std::vector<OpCase>(std::mt19937_64&)> cases;
  std::vector<DType> dtypes = {DType::f32, DType::f64};
  bool differentiable = true;
  // Inputs to gradcheck (indices); empty means every floating input.
  std::vector<int> grad_inputs;
  double rtol_f32 = 1e-4, atol_f32 = 1e-5;
  double grad_rtol = 1e-5, grad_atol = 1e-6;
};

int register_op_spec(OpSpec spec);
const std::vector<OpSpec>& op_specs();

#define SG_SPEC_CONCAT2(a, b) a##b
#define SG_SPEC_CONCAT(a, b) SG_SPEC_CONCAT2(a, b)
#define SG_OP_SPEC(...) \
  [[maybe_unused]] static const int SG_SPEC_CONCAT(sg_op_spec_, __LINE__) = \
      ::stackgrad::testing::register_op_spec(__VA_ARGS__)

// --- input makers (deterministic from the case generator's engine) ---
// Standard normal values in f64.
Tensor randn_f64(std::mt19937_64& rng, const Shape& shape);
// Uniform values in [lo, hi) in f64.
Tensor uniform_f64(std::mt19937_64& rng, const Shape& shape, double lo, double hi);
// Random integers in [lo, hi) with the given dtype.
Tensor randint_t(std::mt19937_64& rng, const Shape& shape, int64_t lo, int64_t hi, DType dtype = DType::i64);
// The same values as `t`, laid out non-contiguously (a transposed or strided view).
Tensor noncontiguous(const Tensor& t);
// Values with distinct magnitudes (no ties), for max/min/sort-like ops.
Tensor distinct_f64(std::mt19937_64& rng, const Shape& shape);

// Casts floating inputs to `dtype`, keeping their strides (non-contiguous stays non-contiguous).
std::vector<Tensor> cast_inputs(const std::vector<Tensor>& inputs, DType dtype);

// Central-difference gradient check of sum(fn(inputs) * v) for a random cotangent v.
// Returns an empty string on success, else a description of the worst mismatch.
std::string gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                      const std::vector<Tensor>& inputs, const std::vector<int>& which,
                      uint64_t seed, double eps = 1e-6, double rtol = 1e-5, double atol = 1e-6);

}  // namespace stackgrad::testing
