// Fused optimiser steps: argument checks and the packing of many parameters into one kernel
// call (engine/dispatch/ops/optim.def documents the layout).
#include "engine/ops/optim.h"

#include <bit>
#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/dispatch/dispatch.h"

namespace stackgrad {
namespace {

int64_t bits(double v) { return std::bit_cast<int64_t>(v); }

void check_operand(const char* op, const Tensor& t, const Tensor& param, const char* name, size_t i,
                   bool contiguous) {
  check_defined(op, t, name);
  check_strided(op, t, name);
  check_same_dtype(op, param, t);
  check_same_device(op, param, t);
  SG_CHECK(t.shape() == param.shape(), op, ": ", name, " ", i, " has shape ", shape_str(t.shape()),
           ", its parameter ", shape_str(param.shape()));
  SG_CHECK(!contiguous || t.is_contiguous(), op, ": ", name, " ", i,
           " is updated in place and must be contiguous, got ", describe(t));
}

void check_param(const char* op, const Tensor& p, const Tensor& first, size_t i) {
  check_defined(op, p, "param");
  SG_CHECK(is_floating(p.dtype()), op, ": expected floating parameters (f32, f64), got ",
           describe(p));
  check_strided(op, p, "param");
  check_same_dtype(op, first, p);
  check_same_device(op, first, p);
  SG_CHECK(p.is_contiguous(), op, ": param ", i,
           " is updated in place and must be contiguous, got ", describe(p));
}

void bump(const Tensor& t) { t.storage()->bump_version(); }

}  // namespace

bool fused_step_supported(const std::vector<Tensor>& tensors) {
  if (tensors.empty()) return false;
  const Tensor& f = tensors.front();
  for (const Tensor& t : tensors) {
    if (!t.defined() || !t.is_contiguous() || t.dtype() != f.dtype() || t.device() != f.device() ||
        !is_floating(t.dtype()))
      return false;
  }
  return true;
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,
               const std::vector<Tensor>& max_exp_avg_sq, const std::vector<int64_t>& steps,
               const AdamStepOptions& o) {
  const char* op = "adam_step";
  const size_t n = params.size();
  SG_CHECK(grads.size() == n && exp_avg.size() == n && exp_avg_sq.size() == n &&
               steps.size() == n && (!o.amsgrad || max_exp_avg_sq.size() == n),
           op, ": expected one grad, exp_avg, exp_avg_sq", o.amsgrad ? ", max_exp_avg_sq" : "",
           " and step per parameter (", n, " parameters)");
  if (n == 0) return;
  NoGradGuard no_grad;
  std::vector<Tensor> in;
  in.reserve(5 * n);
  OpAttrs attrs;
  attrs.alpha = o.lr;
  attrs.beta = o.weight_decay;
  attrs.flag = o.amsgrad;
  attrs.flag2 = o.decoupled;
  attrs.ints = {bits(o.beta1), bits(o.beta2), bits(o.eps)};
  const Tensor none = empty({0}, Options(params[0].dtype(), params[0].device()));
  for (size_t i = 0; i < n; ++i) {
    check_param(op, params[i], params[0], i);
    check_operand(op, grads[i], params[i], "grad", i, false);
    check_operand(op, exp_avg[i], params[i], "exp_avg", i, true);
    check_operand(op, exp_avg_sq[i], params[i], "exp_avg_sq", i, true);
    if (o.amsgrad) check_operand(op, max_exp_avg_sq[i], params[i], "max_exp_avg_sq", i, true);
    SG_CHECK(steps[i] >= 1, op, ": step ", steps[i], " of parameter ", i, " must be >= 1");
    const double t = static_cast<double>(steps[i]);
    // nn::Adam's bias corrections, once per parameter on the host.
    const double step_size = o.lr / (1.0 - std::pow(o.beta1, t));
    const double bc2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, t));
    attrs.ints.push_back(bits(step_size));
    attrs.ints.push_back(bits(bc2_sqrt));
    in.insert(in.end(), {params[i], grads[i].contiguous(), exp_avg[i], exp_avg_sq[i],
                         o.amsgrad ? max_exp_avg_sq[i] : none});
  }
  run_kernel(OpId::adam_step, in, {}, attrs);
  for (size_t i = 0; i < n; ++i) {
    bump(params[i]), bump(exp_avg[i]), bump(exp_avg_sq[i]);
    if (o.amsgrad) bump(max_exp_avg_sq[i]);
  }
}

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const std::vector<bool>& first_step,
              const SgdStepOptions& o) {
  const char* op = "sgd_step";
  const size_t n = params.size();
  const bool momentum = o.momentum != 0;
  SG_CHECK(
      grads.size() == n && (!momentum || (momentum_buffers.size() == n && first_step.size() == n)),
      op, ": expected one grad", momentum ? ", momentum buffer and first-step flag" : "",
      " per parameter (", n, " parameters)");
  if (n == 0) return;
  NoGradGuard no_grad;
  std::vector<Tensor> in;
  in.reserve(3 * n);
  OpAttrs attrs;
  attrs.alpha = o.lr;
  attrs.beta = o.weight_decay;
  attrs.flag = o.nesterov;
  attrs.ints = {bits(o.momentum), bits(o.dampening)};
  const Tensor none = empty({0}, Options(params[0].dtype(), params[0].device()));
  for (size_t i = 0; i < n; ++i) {
    check_param(op, params[i], params[0], i);
    check_operand(op, grads[i], params[i], "grad", i, false);
    if (momentum) check_operand(op, momentum_buffers[i], params[i], "momentum_buffer", i, true);
    attrs.ints.push_back(momentum && first_step[i] ? 1 : 0);
    in.insert(in.end(), {params[i], grads[i].contiguous(), momentum ? momentum_buffers[i] : none});
  }
  run_kernel(OpId::sgd_step, in, {}, attrs);
  for (size_t i = 0; i < n; ++i) {
    bump(params[i]);
    if (momentum) bump(momentum_buffers[i]);
  }
}

}  // namespace stackgrad
