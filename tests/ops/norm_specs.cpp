// OpSpecs of the norm family. Shapes cover the CPU kernels' paths: [N, C] with 8-channel blocks
// plus a tail (batch_norm), inner rows of 8 elements plus a tail, strided (non-contiguous)
// rows, and zero-size inputs.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Cases = std::vector<OpCase>;

void spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
          std::function<Cases(std::mt19937_64&)> cases, bool differentiable = true,
          std::vector<int> grad_inputs = {}) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  s.grad_inputs = std::move(grad_inputs);
  register_op_spec(std::move(s));
}

// Several outputs as one flat tensor, for forward comparisons.
Tensor flat(const std::vector<Tensor>& parts) {
  std::vector<Tensor> f;
  for (const auto& p : parts) f.push_back(p.reshape({p.numel()}));
  return cat(f);
}

// x, weight, bias, running_mean, running_var for an input of `shape` (C = shape[1]).
OpCase bn_case(std::mt19937_64& r, const std::string& label, const Shape& shape,
               bool strided = false) {
  const int64_t C = shape[1];
  Tensor x = randn_f64(r, shape) * 2.0 + 0.5;
  return {label,
          {strided ? noncontiguous(x) : x, uniform_f64(r, {C}, 0.5, 1.5), randn_f64(r, {C}),
           randn_f64(r, {C}), uniform_f64(r, {C}, 0.5, 2.0)}};
}

Cases bn_cases(std::mt19937_64& r) {
  return {
      bn_case(r, "[4, 3]", {4, 3}),
      bn_case(r, "[5, 19] (channel blocks + tail)", {5, 19}),
      bn_case(r, "non-contiguous [5, 9]", {5, 9}, true),
      bn_case(r, "[3, 4, 5]", {3, 4, 5}),
      bn_case(r, "[2, 3, 4, 5] (rows of 20)", {2, 3, 4, 5}),
      bn_case(r, "non-contiguous [3, 2, 11]", {3, 2, 11}, true),
      bn_case(r, "zero-size [0, 3]", {0, 3}),
  };
}

// x, weight, bias for layer_norm over the trailing `norm_dims` dims of `shape`.
OpCase ln_case(std::mt19937_64& r, const std::string& label, const Shape& shape, size_t norm_dims,
               bool strided = false) {
  const Shape ns(shape.end() - static_cast<int64_t>(norm_dims), shape.end());
  Tensor x = randn_f64(r, shape) * 1.5 - 0.3;
  return {label, {strided ? noncontiguous(x) : x, uniform_f64(r, ns, 0.5, 1.5), randn_f64(r, ns)}};
}

Cases ln_cases(std::mt19937_64& r) {
  return {
      ln_case(r, "[4, 6]", {4, 6}, 1),
      ln_case(r, "[3, 21] (rows of 16 + tail)", {3, 21}, 1),
      ln_case(r, "[2, 3, 4] over [3, 4]", {2, 3, 4}, 2),
      ln_case(r, "non-contiguous [5, 7]", {5, 7}, 1, true),
      ln_case(r, "non-contiguous [2, 3, 4] over [4]", {2, 3, 4}, 1, true),
      ln_case(r, "[5] (no leading dims)", {5}, 1),
      ln_case(r, "[3, 40] (two column blocks)", {3, 40}, 1),
      ln_case(r, "zero-size [0, 4]", {0, 4}, 1),
  };
}

OpCase gn_case(std::mt19937_64& r, const std::string& label, const Shape& shape,
               bool strided = false) {
  const int64_t C = shape[1];
  Tensor x = randn_f64(r, shape) + 0.7;
  return {label,
          {strided ? noncontiguous(x) : x, uniform_f64(r, {C}, 0.5, 1.5), randn_f64(r, {C})}};
}

Cases gn_cases(std::mt19937_64& r) {
  return {
      gn_case(r, "[2, 6, 5]", {2, 6, 5}),
      gn_case(r, "[3, 6] (no spatial dims)", {3, 6}),
      gn_case(r, "[2, 6, 3, 4] (rows of 12)", {2, 6, 3, 4}),
      gn_case(r, "non-contiguous [2, 6, 4]", {2, 6, 4}, true),
      gn_case(r, "zero-size [0, 6, 2]", {0, 6, 2}),
  };
}

// Embedding weight [V, D] and indices with repeats.
OpCase emb_case(std::mt19937_64& r, const std::string& label, int64_t V, int64_t D,
                const Shape& idx_shape, bool strided = false) {
  Tensor w = randn_f64(r, {V, D});
  return {label, {strided ? noncontiguous(w) : w, randint_t(r, idx_shape, 0, V)}};
}

Cases emb_cases(std::mt19937_64& r) {
  return {
      emb_case(r, "[7] from [5, 3] (repeats)", 5, 3, {7}),
      emb_case(r, "[2, 4] from [6, 10]", 6, 10, {2, 4}),
      emb_case(r, "non-contiguous weight", 4, 5, {3, 3}, true),
      emb_case(r, "0-dim index", 4, 3, {}),
      emb_case(r, "no indices [0]", 4, 3, {0}),
      emb_case(r, "[40] from [3, 9] (many repeats)", 3, 9, {40}),
  };
}

const bool registered = [] {
  // batch_norm in training (running statistics cloned so each run starts from the same ones).
  spec("batch_norm",
       [](const Inputs& x) {
         return batch_norm(x[0], x[3].clone(), x[4].clone(), x[1], x[2], true, 0.1, 1e-5);
       },
       bn_cases, true, {0, 1, 2});
  // Training: the updated running statistics, next to y (forward only: they are buffers).
  spec(
      "batch_norm",
      [](const Inputs& x) {
        Tensor rm = x[3].clone(), rv = x[4].clone();
        Tensor y = batch_norm(x[0], rm, rv, x[1], x[2], true, 0.3, 1e-3);
        return flat({y, rm, rv});
      },
      bn_cases, false);
  // Eval: the running statistics normalise; no weight or bias on one spec.
  spec("batch_norm",
       [](const Inputs& x) { return batch_norm(x[0], x[3], x[4], x[1], x[2], false, 0.1, 1e-5); },
       bn_cases, true, {0, 1, 2});
  spec("batch_norm",
       [](const Inputs& x) { return batch_norm(x[0], Tensor(), Tensor(), {}, {}, true, 0.1, 0.0); },
       bn_cases, true, {0});
  // The backward kernel on its own: x, grad, mean, rstd, weight (any values).
  for (bool training : {true, false}) {
    spec(
        "batch_norm_backward",
        [training](const Inputs& x) {
          NormGrads d = batch_norm_backward(x[0], x[1], x[2], x[3], x[4], training);
          return flat({d.input, d.weight, d.bias});
        },
        [](std::mt19937_64& r) {
          Cases c;
          bool strided_grad = false;  // alternate, so both [N, C] paths see a contiguous grad
          for (const auto& b : bn_cases(r)) {
            const Tensor& x = b.inputs[0];
            const int64_t C = x.shape()[1];
            Tensor g = randn_f64(r, x.shape());
            strided_grad = !strided_grad;
            c.push_back({b.label,
                         {x, strided_grad ? noncontiguous(g) : g, randn_f64(r, {C}),
                          uniform_f64(r, {C}, 0.5, 2.0), b.inputs[1]}});
          }
          return c;
        },
        false);
  }

  spec(
      "layer_norm",
      [](const Inputs& x) {
        const Shape ns = x[1].shape();
        return layer_norm(x[0], ns, x[1], x[2], 1e-5);
      },
      ln_cases);
  // Without weight and bias, and with a weight only.
  spec("layer_norm", [](const Inputs& x) { return layer_norm(x[0], x[1].shape(), {}, {}, 1e-3); },
       ln_cases, true, {0});
  spec("layer_norm", [](const Inputs& x) { return layer_norm(x[0], x[1].shape(), x[1], {}, 1e-5); },
       ln_cases, true, {0, 1});
  spec(
      "layer_norm_backward",
      [](const Inputs& x) {
        NormGrads d = layer_norm_backward(x[0], x[1], x[2], x[3], x[4].shape(), x[4]);
        return flat({d.input, d.weight, d.bias});
      },
      [](std::mt19937_64& r) {
        Cases c;
        for (const auto& l : ln_cases(r)) {
          const Tensor &x = l.inputs[0], &w = l.inputs[1];
          const Shape lead(x.shape().begin(), x.shape().end() - w.dim());
          c.push_back({l.label,
                       {x, randn_f64(r, x.shape()), randn_f64(r, lead),
                        uniform_f64(r, lead, 0.5, 2.0), w}});
        }
        return c;
      },
      false);

  for (int64_t groups : {1, 2, 3, 6}) {
    spec(
        "group_norm",
        [groups](const Inputs& x) { return group_norm(x[0], groups, x[1], x[2], 1e-5); }, gn_cases);
  }
  spec("group_norm", [](const Inputs& x) { return group_norm(x[0], 2, {}, {}, 1e-5); }, gn_cases,
       true, {0});
  // The fused silu: forward against the reference and gradcheck in x, weight and bias (the
  // backward recomputes the activation's input from x and the statistics), with and without the
  // affine parameters.
  for (int64_t groups : {1, 3}) {
    spec(
        "group_norm",
        [groups](const Inputs& x) {
          return group_norm(x[0], groups, x[1], x[2], 1e-5, NormActivation::silu);
        },
        gn_cases);
  }
  spec(
      "group_norm",
      [](const Inputs& x) { return group_norm(x[0], 2, {}, {}, 1e-5, NormActivation::silu); },
      gn_cases, true, {0});
  spec(
      "group_norm_backward",
      [](const Inputs& x) {
        NormGrads d = group_norm_backward(x[0], x[1], x[2], x[3], 3, x[4]);
        return flat({d.input, d.weight, d.bias});
      },
      [](std::mt19937_64& r) {
        Cases c;
        for (const auto& g : gn_cases(r)) {
          const Tensor& x = g.inputs[0];
          const int64_t N = x.shape()[0];
          c.push_back({g.label,
                       {x, noncontiguous(randn_f64(r, x.shape())), randn_f64(r, {N, 3}),
                        uniform_f64(r, {N, 3}, 0.5, 2.0), g.inputs[1]}});
        }
        return c;
      },
      false);
  spec(
      "group_norm_backward",
      [](const Inputs& x) {
        NormGrads d = group_norm_backward(x[0], x[1], x[2], x[3], 3, x[4], x[5],
                                          NormActivation::silu);
        return flat({d.input, d.weight, d.bias});
      },
      [](std::mt19937_64& r) {
        Cases c;
        for (const auto& g : gn_cases(r)) {
          const Tensor& x = g.inputs[0];
          const int64_t N = x.shape()[0];
          c.push_back({g.label,
                       {x, noncontiguous(randn_f64(r, x.shape())), randn_f64(r, {N, 3}),
                        uniform_f64(r, {N, 3}, 0.5, 2.0), g.inputs[1], g.inputs[2]}});
        }
        return c;
      },
      false);

  // Large sets, forward and backward kernels only (no gradcheck): they reach the CUDA kernels'
  // chunked passes (few sets of more than 16 K elements: partials merged in chunk order), block
  // tasks (long rows), the [N, C] layout with a thread per row, and layer_norm's column-sum
  // chunks (more than 64 rows), at odd sizes.
  spec(
      "batch_norm",
      [](const Inputs& x) {
        Tensor rm = x[3].clone(), rv = x[4].clone();
        Tensor y = batch_norm(x[0], rm, rv, x[1], x[2], true, 0.1, 1e-5);
        Tensor e = batch_norm(x[0], x[3], x[4], x[1], x[2], false, 0.1, 1e-5);
        return flat({y, rm, rv, e});
      },
      [](std::mt19937_64& r) {
        return Cases{bn_case(r, "[40, 3, 501] (chunked channels)", {40, 3, 501}),
                     bn_case(r, "[20001, 2] (rows of one)", {20001, 2}),
                     bn_case(r, "non-contiguous [37, 2, 463]", {37, 2, 463}, true)};
      },
      false);
  spec(
      "batch_norm_backward",
      [](const Inputs& x) {
        NormGrads d = batch_norm_backward(x[0], x[1], x[2], x[3], x[4], true);
        return flat({d.input, d.weight, d.bias});
      },
      [](std::mt19937_64& r) {
        const Shape shape = {40, 3, 501};
        return Cases{{"[40, 3, 501] (chunked channels)",
                      {randn_f64(r, shape), noncontiguous(randn_f64(r, shape)), randn_f64(r, {3}),
                       uniform_f64(r, {3}, 0.5, 2.0), uniform_f64(r, {3}, 0.5, 1.5)}}};
      },
      false);
  spec(
      "layer_norm",
      [](const Inputs& x) { return layer_norm(x[0], x[1].shape(), x[1], x[2], 1e-5); },
      [](std::mt19937_64& r) {
        return Cases{ln_case(r, "[3, 3001] (block rows)", {3, 3001}, 1),
                     ln_case(r, "[130, 33] (many rows)", {130, 33}, 1)};
      },
      false);
  spec(
      "layer_norm_backward",
      [](const Inputs& x) {
        NormGrads d = layer_norm_backward(x[0], x[1], x[2], x[3], x[4].shape(), x[4]);
        return flat({d.input, d.weight, d.bias});
      },
      [](std::mt19937_64& r) {
        Cases c;
        for (const Shape& shape : {Shape{3, 3001}, Shape{201, 37}}) {
          const int64_t R = shape[0], D = shape[1];
          c.push_back({shape_str(shape),
                       {randn_f64(r, shape), randn_f64(r, shape), randn_f64(r, {R}),
                        uniform_f64(r, {R}, 0.5, 2.0), uniform_f64(r, {D}, 0.5, 1.5)}});
        }
        return c;
      },
      false);
  spec(
      "group_norm", [](const Inputs& x) { return group_norm(x[0], 2, x[1], x[2], 1e-5); },
      [](std::mt19937_64& r) {
        return Cases{gn_case(r, "[1, 4, 9001] (chunked groups)", {1, 4, 9001}),
                     gn_case(r, "[2, 64, 3] (many channels)", {2, 64, 3})};
      },
      false);
  spec(
      "group_norm",
      [](const Inputs& x) { return group_norm(x[0], 2, x[1], x[2], 1e-5, NormActivation::silu); },
      [](std::mt19937_64& r) {
        return Cases{gn_case(r, "[1, 4, 9001] (chunked groups), silu", {1, 4, 9001})};
      },
      false);
  spec(
      "group_norm_backward",
      [](const Inputs& x) {
        NormGrads d = group_norm_backward(x[0], x[1], x[2], x[3], 2, x[4]);
        return flat({d.input, d.weight, d.bias});
      },
      [](std::mt19937_64& r) {
        Cases c;
        for (const Shape& shape : {Shape{1, 4, 9001}, Shape{3, 64, 5}}) {
          const int64_t N = shape[0], C = shape[1];
          c.push_back({shape_str(shape),
                       {randn_f64(r, shape), randn_f64(r, shape), randn_f64(r, {N, 2}),
                        uniform_f64(r, {N, 2}, 0.5, 2.0), uniform_f64(r, {C}, 0.5, 1.5)}});
        }
        return c;
      },
      false);
  spec(
      "group_norm_backward",
      [](const Inputs& x) {
        NormGrads d = group_norm_backward(x[0], x[1], x[2], x[3], 2, x[4], x[5],
                                          NormActivation::silu);
        return flat({d.input, d.weight, d.bias});
      },
      [](std::mt19937_64& r) {
        Cases c;
        for (const Shape& shape : {Shape{1, 4, 9001}, Shape{3, 64, 5}}) {
          const int64_t N = shape[0], C = shape[1];
          c.push_back({shape_str(shape) + ", silu",
                       {randn_f64(r, shape), randn_f64(r, shape), randn_f64(r, {N, 2}),
                        uniform_f64(r, {N, 2}, 0.5, 2.0), uniform_f64(r, {C}, 0.5, 1.5),
                        randn_f64(r, {C})}});
        }
        return c;
      },
      false);

  spec("embedding", [](const Inputs& x) { return embedding(x[0], x[1]); }, emb_cases, true, {0});
  // padding_idx: forward only, since by definition its row gets no gradient although the output
  // depends on it (gradcheck would see the true derivative); tests/unit checks the zero row.
  spec(
      "embedding", [](const Inputs& x) { return embedding(x[0], x[1], 1); }, emb_cases, false);
  spec(
      "embedding_backward", [](const Inputs& x) { return embedding_backward(x[0], x[1], 7, 2); },
      [](std::mt19937_64& r) {
        return Cases{
            {"[9, 4]", {randn_f64(r, {9, 4}), randint_t(r, {9}, 0, 7)}},
            {"[3, 5, 2] non-contiguous grad",
             {noncontiguous(randn_f64(r, {3, 5, 2})), randint_t(r, {3, 5}, 0, 7)}},
            {"[50, 17] (many repeats)", {randn_f64(r, {50, 17}), randint_t(r, {50}, 0, 7)}},
            // More than 2048 indices: the CUDA kernel's sort by destination runs global steps.
            {"[3000, 3] (index past one sort tile)",
             {randn_f64(r, {3000, 3}), randint_t(r, {3000}, 0, 7)}},
            {"no indices", {randn_f64(r, {0, 3}), randint_t(r, {0}, 0, 7)}},
        };
      },
      false);
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
