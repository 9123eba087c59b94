// Ops of the optim family: fused optimiser steps. One call updates every parameter of a list in
// place (and its state buffers), with exactly the arithmetic of nn::Adam's and nn::SGD's unfused
// tensor ops: each operation rounds to the dtype, in the same order, so a fused step gives the
// same bits as the unfused one (kernels/reference/optim_math.h holds the per-element update that
// every backend shares). On CUDA one launch covers all the parameters (kernels/cuda/optim.cu).
//
// Every tensor of a call: defined, contiguous, of one floating dtype (f32, f64), on one device;
// grads may be strided (they are read through a contiguous copy). Not differentiable.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad {

struct AdamStepOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool amsgrad = false;
  bool decoupled = false;  // AdamW: p *= 1 - lr * weight_decay instead of the L2 gradient term
};

// One Adam step of params[i] with grads[i], exp_avg[i], exp_avg_sq[i] and (amsgrad only)
// max_exp_avg_sq[i]; steps[i] is parameter i's step count t including this step (>= 1).
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,
               const std::vector<Tensor>& max_exp_avg_sq, const std::vector<int64_t>& steps,
               const AdamStepOptions& options);

struct SgdStepOptions {
  double lr = 1e-3, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

// One SGD step of params[i] with grads[i] and, when momentum != 0, momentum_buffers[i]; a
// buffer whose first_step[i] is true takes the (decayed) gradient, as PyTorch's does at its
// first step. momentum_buffers is ignored (may be empty) when momentum == 0.
void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const std::vector<bool>& first_step,
              const SgdStepOptions& options);

// Whether the fused steps take these tensors (all defined, contiguous, one floating dtype, one
// device); the optimisers use the unfused ops otherwise.
bool fused_step_supported(const std::vector<Tensor>& tensors);

}  // namespace stackgrad
