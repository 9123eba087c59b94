// OpSpecs of the view family: the Tensor view methods, alone and in chains over non-contiguous
// inputs (forward against the reference kernels, which only matter where a copy happens, and
// f64 gradcheck of every view's backward). Storage sharing and errors: tests/unit/test_views.cpp.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;
using Cases = std::function<std::vector<OpCase>(std::mt19937_64&)>;

void spec(const std::string& op, Fn fn, Cases cases, bool differentiable = true) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  register_op_spec(std::move(s));
}

// One input per case: contiguous, non-contiguous (transposed layout), and a zero-size one.
Cases one_input(Shape shape, Shape zero_size) {
  return [shape, zero_size](std::mt19937_64& r) {
    return std::vector<OpCase>{
        {"contiguous " + shape_str(shape), {randn_f64(r, shape)}},
        {"non-contiguous " + shape_str(shape), {noncontiguous(randn_f64(r, shape))}},
        {"zero-size " + shape_str(zero_size), {randn_f64(r, zero_size)}}};
  };
}

// Contiguous and non-contiguous only, for chains whose sizes cannot be zero.
Cases nonempty(Shape shape) {
  return [shape](std::mt19937_64& r) {
    return std::vector<OpCase>{
        {"contiguous " + shape_str(shape), {randn_f64(r, shape)}},
        {"non-contiguous " + shape_str(shape), {noncontiguous(randn_f64(r, shape))}}};
  };
}

Cases with_0dim(Cases base) {
  return [base](std::mt19937_64& r) {
    auto c = base(r);
    c.push_back({"0-dim", {randn_f64(r, {})}});
    return c;
  };
}

const bool registered = [] {
  // view: of a contiguous tensor any shape works; of the transposed layout only splits and
  // merges that keep strides compatible (here: splitting the stride-1 dim 0 of a [4, 6]).
  spec(
      "view",
      [](const Inputs& x) {
        return x[0].view({2, 2, -1});
      },
      one_input({4, 6}, {4, 0}));
  spec(
      "view", [](const Inputs& x) { return x[0].view({1}); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{{"0-dim to [1]", {randn_f64(r, {})}}};
      });
  spec(
      "reshape",
      [](const Inputs& x) {
        return x[0].reshape({-1, 3});
      },
      one_input({4, 6}, {0, 6}));
  spec(
      "reshape", [](const Inputs& x) { return x[0].reshape({}); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{{"[1, 1] to 0-dim", {randn_f64(r, {1, 1})}},
                                   {"0-dim", {randn_f64(r, {})}}};
      });
  spec(
      "permute",
      [](const Inputs& x) {
        return x[0].permute({2, 0, 1});
      },
      one_input({2, 3, 4}, {2, 0, 4}));
  spec(
      "permute",
      [](const Inputs& x) {
        return x[0].permute({-1, 0});
      },
      one_input({3, 5}, {0, 5}));
  spec(
      "transpose", [](const Inputs& x) { return x[0].transpose(-1, 0); },
      one_input({2, 3, 4}, {0, 3, 1}));
  spec(
      "t", [](const Inputs& x) { return x[0].t(); }, with_0dim(one_input({3, 5}, {0, 5})));
  spec(
      "t", [](const Inputs& x) { return x[0].t(); }, one_input({5}, {0}));
  spec(
      "expand",
      [](const Inputs& x) {
        return x[0].expand({2, 3, 4});
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{{"[3, 1]", {randn_f64(r, {3, 1})}},
                                   {"[4] (new leading dims)", {randn_f64(r, {4})}},
                                   {"non-contiguous [3, 4]", {noncontiguous(randn_f64(r, {3, 4}))}},
                                   {"0-dim", {randn_f64(r, {})}}};
      });
  // expand of an already expanded (stride-0) tensor, then a size-1 dim expanded to zero.
  spec(
      "expand",
      [](const Inputs& x) {
        return x[0].expand({3, 4}).unsqueeze(0).expand({2, 3, 4});
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{{"stride-0 twice", {randn_f64(r, {3, 1})}}};
      });
  spec(
      "expand",
      [](const Inputs& x) {
        return x[0].expand({0, 4});
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{{"to zero-size", {randn_f64(r, {1, 4})}}};
      });
  spec(
      "squeeze", [](const Inputs& x) { return x[0].squeeze(); },
      with_0dim(one_input({3, 1, 4, 1}, {1, 0})));
  spec(
      "squeeze", [](const Inputs& x) { return x[0].squeeze(-2); }, one_input({3, 1, 4}, {0, 1, 2}));
  spec(
      "squeeze", [](const Inputs& x) { return x[0].squeeze(0); },
      with_0dim(one_input({3, 4}, {0, 4})));
  spec(
      "unsqueeze", [](const Inputs& x) { return x[0].unsqueeze(-1); },
      with_0dim(one_input({3, 4}, {0, 4})));
  spec(
      "unsqueeze", [](const Inputs& x) { return x[0].unsqueeze(1); }, one_input({3, 4}, {3, 0}));
  spec(
      "flatten", [](const Inputs& x) { return x[0].flatten(); },
      with_0dim(one_input({2, 3, 4}, {2, 0, 4})));
  spec(
      "flatten", [](const Inputs& x) { return x[0].flatten(1, -1); },
      one_input({2, 3, 4}, {0, 3, 4}));
  spec(
      "narrow", [](const Inputs& x) { return x[0].narrow(-1, 1, 3); }, one_input({3, 5}, {0, 5}));
  spec(
      "narrow", [](const Inputs& x) { return x[0].narrow(0, -2, 2); }, one_input({4, 3}, {4, 0}));
  spec(
      "slice", [](const Inputs& x) { return x[0].slice(1, 1, -1, 2); }, one_input({3, 7}, {0, 7}));
  spec(
      "slice", [](const Inputs& x) { return x[0].slice(0, -3, 100, 3); },
      one_input({8, 2}, {8, 0}));
  spec(
      "slice", [](const Inputs& x) { return x[0].slice(0, 3, 1); },
      one_input({4, 2}, {0, 2}));  // empty
  spec(
      "select", [](const Inputs& x) { return x[0].select(1, -1); }, one_input({3, 4}, {0, 4}));
  spec(
      "select", [](const Inputs& x) { return x[0].select(0, 0); }, one_input({5}, {1, 0}));
  spec(
      "contiguous", [](const Inputs& x) { return x[0].contiguous(); },
      with_0dim(one_input({3, 4}, {0, 4})));
  spec(
      "detach", [](const Inputs& x) { return x[0].detach(); }, with_0dim(one_input({3, 4}, {0, 4})),
      false);

  // Chains of views over non-contiguous inputs.
  spec(
      "view",
      [](const Inputs& x) {
        return x[0].transpose(0, 1).slice(0, 1, 4, 2).unsqueeze(1).expand({2, 3, 5}).select(2, 1);
      },
      nonempty({5, 4}));
  spec(
      "reshape",
      [](const Inputs& x) {
        return x[0].permute({1, 2, 0}).narrow(2, 1, 2).reshape({-1}).view({4, -1});
      },
      one_input({3, 2, 4}, {3, 0, 4}));
  spec(
      "flatten",
      [](const Inputs& x) { return x[0].slice(0, 0, 6, 2).flatten().unsqueeze(0).squeeze().t(); },
      one_input({6, 4}, {0, 4}));
  spec(
      "contiguous",
      [](const Inputs& x) { return x[0].t().contiguous().view({-1}).narrow(0, 2, 5); },
      nonempty({3, 4}));
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
