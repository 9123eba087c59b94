#include "nn/optim/clip.h"

#include <cmath>

namespace stackgrad::nn {

namespace {

std::vector<Tensor> grads_of(const std::vector<Tensor>& params) {
  std::vector<Tensor> out;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) out.push_back(p.grad());
  return out;
}

// The p-norm of one tensor: the engine's norm for 1, 2 and infinity, sum(|x|^p)^(1/p) otherwise.
Tensor norm_of(const Tensor& x, double p) {
  if (p == 1.0 || p == 2.0 || std::isinf(p)) return norm(x, p);
  return pow(sum(pow(abs(x), p)), 1.0 / p);
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  SG_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be > 0 or infinity, got ", norm_type);
  SG_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> grads = grads_of(params);
  if (grads.empty()) return 0.0;
  // The norm of the per-tensor norms is the norm of everything concatenated; computed in f64
  // so that f32 gradients of many tensors lose nothing in the sum.
  std::vector<Tensor> norms;
  for (const Tensor& g : grads)
    norms.push_back(norm_of(g, norm_type).to(DType::f64).to(Device::cpu()));
  const double total =
      std::isinf(norm_type) ? max(stack(norms)).item() : norm_of(stack(norms), norm_type).item();
  const double coef = std::min(1.0, max_norm / (total + 1e-6));
  for (Tensor& g : grads) g.mul_(coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  SG_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (Tensor& g : grads_of(params)) g.copy_(clamp(g, -clip_value, clip_value));
}

}  // namespace stackgrad::nn
