// OpSpecs of the elementwise family.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;

// Values of a unary op's domain, as a function of the generator and a shape.
using Maker = std::function<Tensor(std::mt19937_64&, const Shape&)>;

Tensor normal(std::mt19937_64& r, const Shape& s) { return randn_f64(r, s); }
Tensor positive(std::mt19937_64& r, const Shape& s) { return uniform_f64(r, s, 0.3, 2.5); }
Tensor above_minus_half(std::mt19937_64& r, const Shape& s) { return uniform_f64(r, s, -0.45, 2.0); }
Tensor nonzero(std::mt19937_64& r, const Shape& s) {
  Tensor m = uniform_f64(r, s, 0.4, 2.0);
  Tensor signs = randint_t(r, s, 0, 2, DType::f64) * 2.0 - 1.0;
  return m * signs;
}

std::vector<OpCase> unary_cases(std::mt19937_64& r, const Maker& make) {
  return {
      {"contiguous [3, 4]", {make(r, {3, 4})}},
      {"non-contiguous [4, 5]", {noncontiguous(make(r, {4, 5}))}},
      {"0-dim", {make(r, {})}},
      {"zero-size [0, 3]", {make(r, {0, 3})}},
      {"3-D [2, 3, 4]", {make(r, {2, 3, 4})}},
  };
}

void unary(const std::string& op, Fn fn, Maker make = normal, bool differentiable = true) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = [make](std::mt19937_64& r) { return unary_cases(r, make); };
  s.differentiable = differentiable;
  register_op_spec(std::move(s));
}

std::vector<OpCase> binary_cases(std::mt19937_64& r, const Maker& ma, const Maker& mb) {
  return {
      {"same shape [3, 4]", {ma(r, {3, 4}), mb(r, {3, 4})}},
      {"broadcast [3, 1] x [1, 4]", {ma(r, {3, 1}), mb(r, {1, 4})}},
      {"broadcast [2, 3, 4] x [4]", {ma(r, {2, 3, 4}), mb(r, {4})}},
      {"tensor x 0-dim", {ma(r, {2, 3}), mb(r, {})}},
      {"0-dim x tensor", {ma(r, {}), mb(r, {5})}},
      {"non-contiguous", {noncontiguous(ma(r, {4, 3})), noncontiguous(mb(r, {4, 3}))}},
      {"zero-size [0, 4] x [4]", {ma(r, {0, 4}), mb(r, {4})}},
  };
}

void binary(const std::string& op, Fn fn, Maker ma = normal, Maker mb = normal, bool differentiable = true) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = [ma, mb](std::mt19937_64& r) { return binary_cases(r, ma, mb); };
  s.differentiable = differentiable;
  register_op_spec(std::move(s));
}

// Integer and bool coverage for ops that accept them: forward only.
void integer_forward(const std::string& op, Fn fn, int arity, DType dtype) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.differentiable = false;
  s.dtypes = {dtype};
  s.cases = [arity, dtype](std::mt19937_64& r) {
    Inputs in;
    for (int i = 0; i < arity; ++i) in.push_back(randint_t(r, {3, 4}, -5, 6, dtype == DType::boolean ? DType::i64 : dtype));
    if (dtype == DType::boolean)
      for (auto& t : in) t = t > 0.0;
    Inputs nc;
    for (auto& t : in) nc.push_back(noncontiguous(t));
    return std::vector<OpCase>{{"integers [3, 4]", in}, {"integers non-contiguous", nc}};
  };
  register_op_spec(std::move(s));
}

const bool registered = [] {
  // Memory.
  unary("copy", [](const Inputs& x) { return x[0].clone(); });
  integer_forward("copy", [](const Inputs& x) { return x[0].to(DType::f64); }, 1, DType::i32);
  integer_forward("copy", [](const Inputs& x) { return x[0].to(DType::i64); }, 1, DType::boolean);
  unary("fill", [](const Inputs& x) { return full_like(x[0], 2.5); }, normal, false);

  // Unary math.
  unary("neg", [](const Inputs& x) { return neg(x[0]); });
  unary("abs", [](const Inputs& x) { return abs(x[0]); }, nonzero);
  unary("sign", [](const Inputs& x) { return sign(x[0]); }, nonzero);
  unary("relu", [](const Inputs& x) { return relu(x[0]); }, nonzero);
  unary("clamp", [](const Inputs& x) { return clamp(x[0], -0.5, 0.7); });
  unary("exp", [](const Inputs& x) { return exp(x[0]); });
  unary("log", [](const Inputs& x) { return log(x[0]); }, positive);
  unary("log1p", [](const Inputs& x) { return log1p(x[0]); }, above_minus_half);
  unary("sqrt", [](const Inputs& x) { return sqrt(x[0]); }, positive);
  unary("rsqrt", [](const Inputs& x) { return rsqrt(x[0]); }, positive);
  unary("sin", [](const Inputs& x) { return sin(x[0]); });
  unary("cos", [](const Inputs& x) { return cos(x[0]); });
  unary("tanh", [](const Inputs& x) { return tanh(x[0]); });
  unary("erf", [](const Inputs& x) { return erf(x[0]); });
  unary("sigmoid", [](const Inputs& x) { return sigmoid(x[0]); });
  unary("leaky_relu", [](const Inputs& x) { return leaky_relu(x[0], 0.1); }, nonzero);
  unary("elu", [](const Inputs& x) { return elu(x[0], 1.3); }, nonzero);
  unary("gelu", [](const Inputs& x) { return gelu(x[0], GeluApprox::tanh); });
  unary("gelu_erf", [](const Inputs& x) { return gelu(x[0], GeluApprox::none); });
  unary("silu", [](const Inputs& x) { return silu(x[0]); });
  unary("softplus", [](const Inputs& x) { return softplus(x[0], 2.0, 3.0); }, nonzero);
  unary("pow_scalar", [](const Inputs& x) { return pow(x[0], 2.7); }, positive);
  integer_forward("neg", [](const Inputs& x) { return neg(x[0]); }, 1, DType::i64);
  integer_forward("abs", [](const Inputs& x) { return abs(x[0]); }, 1, DType::i32);
  integer_forward("sign", [](const Inputs& x) { return sign(x[0]); }, 1, DType::i64);
  integer_forward("relu", [](const Inputs& x) { return relu(x[0]); }, 1, DType::i32);
  integer_forward("clamp", [](const Inputs& x) { return clamp(x[0], -2, 3); }, 1, DType::i64);

  // Binary.
  binary("add", [](const Inputs& x) { return x[0] + x[1]; });
  binary("sub", [](const Inputs& x) { return x[0] - x[1]; });
  binary("mul", [](const Inputs& x) { return x[0] * x[1]; });
  binary("div", [](const Inputs& x) { return x[0] / x[1]; }, normal, nonzero);
  binary("pow", [](const Inputs& x) { return pow(x[0], x[1]); }, positive, normal);
  binary("maximum", [](const Inputs& x) { return maximum(x[0], x[1]); });
  binary("minimum", [](const Inputs& x) { return minimum(x[0], x[1]); });
  integer_forward("add", [](const Inputs& x) { return x[0] + x[1]; }, 2, DType::i32);
  integer_forward("sub", [](const Inputs& x) { return x[0] - x[1]; }, 2, DType::i64);
  integer_forward("mul", [](const Inputs& x) { return x[0] * x[1]; }, 2, DType::i64);
  integer_forward("maximum", [](const Inputs& x) { return maximum(x[0], x[1]); }, 2, DType::i32);
  integer_forward("minimum", [](const Inputs& x) { return minimum(x[0], x[1]); }, 2, DType::i64);

  // Comparisons.
  for (auto [name, fn] : std::vector<std::pair<std::string, Fn>>{
           {"eq", [](const Inputs& x) { return x[0] == x[1]; }},
           {"ne", [](const Inputs& x) { return x[0] != x[1]; }},
           {"lt", [](const Inputs& x) { return x[0] < x[1]; }},
           {"le", [](const Inputs& x) { return x[0] <= x[1]; }},
           {"gt", [](const Inputs& x) { return x[0] > x[1]; }},
           {"ge", [](const Inputs& x) { return x[0] >= x[1]; }}}) {
    // Few distinct values so that equality actually happens.
    binary(name, fn, [](std::mt19937_64& r, const Shape& s) { return randint_t(r, s, -2, 3, DType::f64); },
           [](std::mt19937_64& r, const Shape& s) { return randint_t(r, s, -2, 3, DType::f64); }, false);
    integer_forward(name, fn, 2, DType::i64);
  }

  // Logical and where.
  integer_forward("logical_not", [](const Inputs& x) { return !x[0]; }, 1, DType::boolean);
  integer_forward("logical_not", [](const Inputs& x) { return logical_not(x[0]); }, 1, DType::i32);
  integer_forward("logical_and", [](const Inputs& x) { return x[0] & x[1]; }, 2, DType::boolean);
  integer_forward("logical_or", [](const Inputs& x) { return x[0] | x[1]; }, 2, DType::boolean);
  {
    OpSpec s;
    s.op = "where";
    s.fn = [](const Inputs& x) { return where(x[0], x[1], x[2]); };
    s.grad_inputs = {1, 2};
    s.cases = [](std::mt19937_64& r) {
      return std::vector<OpCase>{
          {"same shape", {randn_f64(r, {3, 4}) > 0.0, randn_f64(r, {3, 4}), randn_f64(r, {3, 4})}},
          {"broadcast", {randn_f64(r, {3, 1}) > 0.0, randn_f64(r, {1, 4}), randn_f64(r, {})}},
          {"non-contiguous", {noncontiguous(randn_f64(r, {4, 3}) > 0.0), noncontiguous(randn_f64(r, {4, 3})),
                              randn_f64(r, {3})}},
          {"zero-size", {randn_f64(r, {0, 2}) > 0.0, randn_f64(r, {0, 2}), randn_f64(r, {0, 2})}},
      };
    };
    register_op_spec(std::move(s));
  }
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
