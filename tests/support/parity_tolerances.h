// Tolerances of the CPU-vs-CUDA parity tests, per dtype, in one place. Both backends compute f32
// in f32 (the CPU with its own vector math, the GPU with CUDA's libdevice, whose expf, tanhf,
// erff, ... are within 1-2 ulp but not the same ulp), and reductions add in different orders, so
// f32 gets a relative tolerance of a few hundred ulp; f64 only differs by ordering. Integer and
// bool results must match exactly. Gradients go through several ops each and get 10x more.
// A spec's own f32 tolerance (OpSpec::rtol_f32/atol_f32) wins when it is looser.
#pragma once

#include <algorithm>

#include "engine/core/dtype.h"

namespace stackgrad::testing {

struct Tolerance {
  double rtol = 0, atol = 0;
};

inline Tolerance parity_tolerance(DType t) {
  switch (t) {
    case DType::f32:
      return {1e-4, 1e-5};
    case DType::f64:
      return {1e-10, 1e-12};
    default:
      return {0, 0};
  }
}

inline Tolerance parity_grad_tolerance(DType t) {
  Tolerance tol = parity_tolerance(t);
  return {tol.rtol * 10, tol.atol * 10};
}

inline Tolerance looser(Tolerance a, Tolerance b) {
  return {std::max(a.rtol, b.rtol), std::max(a.atol, b.atol)};
}

}  // namespace stackgrad::testing
