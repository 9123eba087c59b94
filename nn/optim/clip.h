// Gradient clipping, PyTorch's semantics: parameters without a .grad are ignored, gradients are
// scaled in place.
//
//   loss.backward();
//   double norm = nn::clip_grad_norm_(net->parameters(), 1.0);  // the norm before clipping
//   opt.step();
#pragma once

#include <limits>
#include <vector>

#include "engine/stackgrad.h"

namespace stackgrad::nn {

// Scales every gradient by min(1, max_norm / (total + 1e-6)), where total is the norm_type-norm
// of all gradients together (as if concatenated); norm_type may be any p > 0 or infinity.
// Returns total (0 when no parameter has a gradient). Like PyTorch, the scale is applied even
// when it is 1.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace stackgrad::nn
