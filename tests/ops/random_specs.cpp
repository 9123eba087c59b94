// OpSpecs of the random family: the fast kernels must draw exactly the reference's numbers.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;

// The random ops take shapes, not inputs: each case carries a tensor whose shape and dtype are
// the request, and every call re-seeds so both backends draw from the same counters.
std::vector<OpCase> shape_cases(std::mt19937_64& r) {
  return {{"[3, 4]", {randn_f64(r, {3, 4})}},
          {"[2, 3, 5]", {randn_f64(r, {2, 3, 5})}},
          {"large [40000]", {randn_f64(r, {40000})}},
          {"zero-size [0, 3]", {randn_f64(r, {0, 3})}}};
}

void draw_spec(const std::string& op, std::function<Tensor(const Tensor&, Generator&)> draw) {
  OpSpec s;
  s.op = op;
  s.differentiable = false;
  s.fn = [draw](const Inputs& x) {
    Generator gen(20261126);
    gen.advance(5);  // a non-zero offset, as after earlier draws
    return draw(x[0], gen);
  };
  s.cases = shape_cases;
  register_op_spec(std::move(s));
}

const bool registered = [] {
  draw_spec("uniform", [](const Tensor& x, Generator& g) { return rand(x.shape(), g, x.dtype(), -2.0, 3.0); });
  draw_spec("normal", [](const Tensor& x, Generator& g) { return randn(x.shape(), g, x.dtype(), 1.0, 2.0); });
  draw_spec("randint", [](const Tensor& x, Generator& g) { return randint(-3, 1000, x.shape(), g); });
  draw_spec("bernoulli", [](const Tensor& x, Generator& g) { return bernoulli(x.shape(), 0.3, g, x.dtype()); });
  draw_spec("bernoulli", [](const Tensor& x, Generator& g) { return bernoulli(sigmoid(x), g); });
  draw_spec("randperm", [](const Tensor& x, Generator& g) { return randperm(x.numel(), g); });
  {
    OpSpec s;
    s.op = "dropout";
    s.fn = [](const Inputs& x) {
      Generator gen(99);
      return dropout(x[0], 0.4, true, gen);
    };
    s.cases = [](std::mt19937_64& r) {
      return std::vector<OpCase>{{"[4, 6]", {randn_f64(r, {4, 6})}},
                                 {"non-contiguous", {noncontiguous(randn_f64(r, {5, 3}))}},
                                 {"zero-size", {randn_f64(r, {0})}}};
    };
    register_op_spec(std::move(s));
  }
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
