// OpSpecs of the optim family: the fused optimiser steps. Each case is two parameters (an odd
// size and a longer one, so the CUDA kernel's chunks and the CPU kernel's parallel split both
// have a tail) with their gradients and state; the spec clones the state, runs one step and
// returns every updated tensor. tests/nn/test_optim_fused.cpp checks that the fused steps give
// the optimisers' unfused results bit for bit.
#include "engine/ops/optim.h"
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Cases = std::vector<OpCase>;

Tensor flat(const std::vector<Tensor>& parts) {
  std::vector<Tensor> f;
  for (const auto& p : parts) f.push_back(p.reshape({p.numel()}));
  return cat(f);
}

std::vector<Tensor> clones(const Inputs& x, std::initializer_list<size_t> which) {
  std::vector<Tensor> out;
  for (size_t i : which) out.push_back(x[i].clone());
  return out;
}

// Per parameter: param, grad (strided in one case), exp_avg, exp_avg_sq, max_exp_avg_sq.
Cases adam_cases(std::mt19937_64& r) {
  Cases c;
  for (bool strided : {false, true}) {
    Inputs in;
    for (const Shape& s : {Shape{7, 3}, Shape{9000}}) {
      Tensor g = randn_f64(r, s);
      in.insert(in.end(),
                {randn_f64(r, s), strided && s.size() == 2 ? noncontiguous(g) : g,
                 randn_f64(r, s) * 0.1, uniform_f64(r, s, 0.0, 0.5), uniform_f64(r, s, 0.0, 0.6)});
    }
    c.push_back({strided ? "[7, 3] strided grad + [9000]" : "[7, 3] + [9000]", in});
  }
  return c;
}

void adam_spec(AdamStepOptions o) {
  OpSpec s;
  s.op = "adam_step";
  s.fn = [o](const Inputs& x) {
    std::vector<Tensor> p = clones(x, {0, 5}), m = clones(x, {2, 7}), v = clones(x, {3, 8}),
                        vmax = clones(x, {4, 9});
    adam_step(p, {x[1], x[6]}, m, v, vmax, {3, 1}, o);
    return flat({p[0], p[1], m[0], m[1], v[0], v[1], vmax[0], vmax[1]});
  };
  s.cases = adam_cases;
  s.differentiable = false;
  register_op_spec(std::move(s));
}

// Per parameter: param, grad, momentum_buffer.
Cases sgd_cases(std::mt19937_64& r) {
  Inputs in;
  for (const Shape& s : {Shape{5, 5}, Shape{8197}})
    in.insert(in.end(), {randn_f64(r, s), randn_f64(r, s), randn_f64(r, s)});
  return {{"[5, 5] + [8197]", in}};
}

void sgd_spec(SgdStepOptions o) {
  OpSpec s;
  s.op = "sgd_step";
  s.fn = [o](const Inputs& x) {
    std::vector<Tensor> p = clones(x, {0, 3}), b = clones(x, {2, 5});
    // The first parameter's buffer is new (takes the gradient), the second's is updated.
    sgd_step(p, {x[1], x[4]}, b, {true, false}, o);
    return flat({p[0], p[1], b[0], b[1]});
  };
  s.cases = sgd_cases;
  s.differentiable = false;
  register_op_spec(std::move(s));
}

const bool registered = [] {
  adam_spec({.lr = 1e-2});
  adam_spec({.lr = 1e-2, .weight_decay = 0.1});                      // L2 in the gradient
  adam_spec({.lr = 3e-3, .weight_decay = 0.05, .decoupled = true});  // AdamW
  adam_spec({.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .amsgrad = true});
  sgd_spec({.lr = 0.1});
  sgd_spec({.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-2});
  sgd_spec({.lr = 0.05, .momentum = 0.9, .nesterov = true});
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
