// Elementwise ops: shape and dtype rules, kernel calls, and backward formulas side by side.
#include "engine/ops/elementwise.h"

#include <cmath>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/reduce.h"

namespace stackgrad {

namespace {

using Grads = std::vector<Tensor>;

// Checked before recording: building record()'s arguments (input vectors, the backward lambda
// with its captured shapes) costs more than a small op's kernel, so skip it when no history
// is wanted.
template <typename... Ts>
bool wants_grad(const Ts&... inputs) {
  return grad_enabled() && (inputs.requires_grad() || ...);
}

Tensor unary_kernel(OpId op, const Tensor& x, bool allow_integers, double a = 0, double b = 0) {
  const char* name = op_name(op).data();
  check_strided(name, x, "x");
  SG_CHECK(x.dtype() != DType::boolean && (allow_integers || is_floating(x.dtype())), name,
           ": expected a ", allow_integers ? "numeric" : "floating", " tensor, got ", describe(x));
  Tensor out = empty(x.shape(), Options(x.dtype(), x.device()));
  OpAttrs attrs;
  attrs.alpha = a;
  attrs.beta = b;
  run_kernel(op, {x}, {out}, attrs);
  return out;
}

// Broadcasts a and b to one shape (as stride-0 views) and runs a binary kernel.
Tensor binary_kernel(OpId op, const Tensor& a, const Tensor& b, DType out_dtype) {
  const char* name = op_name(op).data();
  check_strided(name, a, "a");
  check_strided(name, b, "b");
  check_same_device(name, a, b);
  check_same_dtype(name, a, b);
  if (a.shape() == b.shape()) {  // the common case needs no broadcast views
    Tensor out = empty(a.shape(), Options(out_dtype, a.device()));
    run_kernel(op, {a, b}, {out});
    return out;
  }
  Shape shape = broadcast_shapes(name, a.shape(), b.shape());
  Tensor out = empty(shape, Options(out_dtype, a.device()));
  NoGradGuard no_grad;  // the expands are internal
  run_kernel(op, {a.expand(shape), b.expand(shape)}, {out});
  return out;
}

Tensor arithmetic(OpId op, const Tensor& a, const Tensor& b, bool floating_only) {
  const char* name = op_name(op).data();
  check_defined(name, a, "a");
  check_defined(name, b, "b");
  SG_CHECK(a.dtype() != DType::boolean, name, ": arithmetic on bool tensors is not supported, got ",
           describe(a), " (convert with .to(dtype))");
  SG_CHECK(!floating_only || is_floating(a.dtype()), name, ": expected floating tensors, got ",
           describe(a), " and ", describe(b));
  return binary_kernel(op, a, b, a.dtype());
}

Tensor compare(OpId op, const Tensor& a, const Tensor& b) {
  return binary_kernel(op, a, b, DType::boolean);
}

Tensor mask_of(const Tensor& cond, const Tensor& like) { return cond.to(like.dtype()); }

}  // namespace

Tensor scalar_like(double value, const Tensor& like) {
  return scalar_tensor(value, Options(like.dtype(), like.device()));
}

// --- unary ---------------------------------------------------------------------------------

Tensor neg(const Tensor& x) {
  Tensor y = unary_kernel(OpId::neg, x, true);
  if (wants_grad(x)) record("neg", {x}, {y}, [](const Grads& g) { return Grads{neg(g[0])}; });
  return y;
}

Tensor abs(const Tensor& x) {
  Tensor y = unary_kernel(OpId::abs, x, true);
  if (wants_grad(x))
    record("abs", {x}, {y}, [sx = SavedTensor(x, "abs")](const Grads& g) {
      return Grads{mul(g[0], sign(sx.get()))};
    });
  return y;
}

Tensor sign(const Tensor& x) {
  Tensor y = unary_kernel(OpId::sign, x, true);
  if (wants_grad(x))
    record("sign", {x}, {y}, [](const Grads& g) { return Grads{zeros_like(g[0])}; });
  return y;
}

Tensor exp(const Tensor& x) {
  Tensor y = unary_kernel(OpId::exp, x, false);
  if (wants_grad(x))
    record("exp", {x}, {y},
           [sy = SavedTensor(y, "exp")](const Grads& g) { return Grads{mul(g[0], sy.get())}; });
  return y;
}

Tensor log(const Tensor& x) {
  Tensor y = unary_kernel(OpId::log, x, false);
  if (wants_grad(x))
    record("log", {x}, {y},
           [sx = SavedTensor(x, "log")](const Grads& g) { return Grads{div(g[0], sx.get())}; });
  return y;
}

Tensor log1p(const Tensor& x) {
  Tensor y = unary_kernel(OpId::log1p, x, false);
  if (wants_grad(x))
    record("log1p", {x}, {y}, [sx = SavedTensor(x, "log1p")](const Grads& g) {
      return Grads{g[0] / (sx.get() + 1.0)};
    });
  return y;
}

Tensor sqrt(const Tensor& x) {
  Tensor y = unary_kernel(OpId::sqrt, x, false);
  if (wants_grad(x))
    record("sqrt", {x}, {y}, [sy = SavedTensor(y, "sqrt")](const Grads& g) {
      return Grads{g[0] / (sy.get() * 2.0)};
    });
  return y;
}

Tensor rsqrt(const Tensor& x) {
  Tensor y = unary_kernel(OpId::rsqrt, x, false);
  if (wants_grad(x))
    record("rsqrt", {x}, {y}, [sy = SavedTensor(y, "rsqrt")](const Grads& g) {
      Tensor yv = sy.get();
      return Grads{g[0] * (yv * yv * yv) * -0.5};
    });
  return y;
}

Tensor sin(const Tensor& x) {
  Tensor y = unary_kernel(OpId::sin, x, false);
  if (wants_grad(x))
    record("sin", {x}, {y}, [sx = SavedTensor(x, "sin")](const Grads& g) {
      return Grads{mul(g[0], cos(sx.get()))};
    });
  return y;
}

Tensor cos(const Tensor& x) {
  Tensor y = unary_kernel(OpId::cos, x, false);
  if (wants_grad(x))
    record("cos", {x}, {y}, [sx = SavedTensor(x, "cos")](const Grads& g) {
      return Grads{neg(mul(g[0], sin(sx.get())))};
    });
  return y;
}

Tensor tanh(const Tensor& x) {
  Tensor y = unary_kernel(OpId::tanh, x, false);
  if (wants_grad(x))
    record("tanh", {x}, {y}, [sy = SavedTensor(y, "tanh")](const Grads& g) {
      Tensor yv = sy.get();
      return Grads{g[0] * (1.0 - yv * yv)};
    });
  return y;
}

Tensor erf(const Tensor& x) {
  Tensor y = unary_kernel(OpId::erf, x, false);
  if (wants_grad(x))
    record("erf", {x}, {y}, [sx = SavedTensor(x, "erf")](const Grads& g) {
      Tensor xv = sx.get();
      return Grads{g[0] * exp(neg(xv * xv)) * (2.0 / std::sqrt(M_PI))};
    });
  return y;
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = unary_kernel(OpId::sigmoid, x, false);
  if (wants_grad(x))
    record("sigmoid", {x}, {y}, [sy = SavedTensor(y, "sigmoid")](const Grads& g) {
      Tensor yv = sy.get();
      return Grads{g[0] * yv * (1.0 - yv)};
    });
  return y;
}

Tensor relu(const Tensor& x) {
  Tensor y = unary_kernel(OpId::relu, x, true);
  if (wants_grad(x))
    record("relu", {x}, {y}, [sx = SavedTensor(x, "relu")](const Grads& g) {
      return Grads{mul(g[0], mask_of(sx.get() > 0.0, g[0]))};
    });
  return y;
}

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor y = unary_kernel(OpId::leaky_relu, x, false, slope);
  if (wants_grad(x))
    record("leaky_relu", {x}, {y}, [sx = SavedTensor(x, "leaky_relu"), slope](const Grads& g) {
      Tensor pos = sx.get() > 0.0;
      return Grads{mul(g[0], where(pos, scalar_like(1.0, g[0]), scalar_like(slope, g[0])))};
    });
  return y;
}

Tensor elu(const Tensor& x, double alpha) {
  Tensor y = unary_kernel(OpId::elu, x, false, alpha);
  if (wants_grad(x))
    record("elu", {x}, {y},
           [sx = SavedTensor(x, "elu"), sy = SavedTensor(y, "elu"), alpha](const Grads& g) {
             // d/dx alpha (e^x - 1) = y + alpha for x <= 0.
             return Grads{where(sx.get() > 0.0, g[0], g[0] * (sy.get() + alpha))};
           });
  return y;
}

Tensor gelu(const Tensor& x, GeluApprox approx) {
  if (approx == GeluApprox::none) {
    Tensor y = unary_kernel(OpId::gelu_erf, x, false);
    if (wants_grad(x))
      record("gelu", {x}, {y}, [sx = SavedTensor(x, "gelu")](const Grads& g) {
        // d/dx x Φ(x) = Φ(x) + x φ(x)
        Tensor xv = sx.get();
        Tensor cdf = (erf(xv * M_SQRT1_2) + 1.0) * 0.5;
        Tensor pdf = exp(xv * xv * -0.5) * (1.0 / std::sqrt(2.0 * M_PI));
        return Grads{g[0] * (cdf + xv * pdf)};
      });
    return y;
  }
  Tensor y = unary_kernel(OpId::gelu, x, false);
  if (wants_grad(x))
    record("gelu_tanh", {x}, {y}, [sx = SavedTensor(x, "gelu_tanh")](const Grads& g) {
      // y = x/2 (1 + tanh u), u = c (x + k x^3): dy/dx = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3k x^2)
      constexpr double c = 0.7978845608028654, k = 0.044715;
      Tensor xv = sx.get();
      Tensor x2 = xv * xv;
      Tensor t = tanh((xv + x2 * xv * k) * c);
      Tensor d = (t + 1.0) * 0.5 + xv * 0.5 * (1.0 - t * t) * ((x2 * (3.0 * k) + 1.0) * c);
      return Grads{g[0] * d};
    });
  return y;
}

Tensor silu(const Tensor& x) {
  Tensor y = unary_kernel(OpId::silu, x, false);
  if (wants_grad(x))
    record("silu", {x}, {y}, [sx = SavedTensor(x, "silu")](const Grads& g) {
      Tensor xv = sx.get();
      Tensor s = sigmoid(xv);
      return Grads{g[0] * s * (xv * (1.0 - s) + 1.0)};
    });
  return y;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  SG_CHECK(beta > 0, "softplus: beta must be positive, got ", beta);
  Tensor y = unary_kernel(OpId::softplus, x, false, beta, threshold);
  if (wants_grad(x))
    record("softplus", {x}, {y},
           [sx = SavedTensor(x, "softplus"), beta, threshold](const Grads& g) {
             Tensor bx = sx.get() * beta;
             return Grads{where(bx > threshold, g[0], g[0] * sigmoid(bx))};
           });
  return y;
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  SG_CHECK(lo <= hi, "clamp: min ", lo, " is greater than max ", hi);
  Tensor y = unary_kernel(OpId::clamp, x, true, lo, hi);
  if (wants_grad(x))
    record("clamp", {x}, {y}, [sx = SavedTensor(x, "clamp"), lo, hi](const Grads& g) {
      Tensor xv = sx.get();
      return Grads{mul(g[0], mask_of((xv >= lo) & (xv <= hi), g[0]))};
    });
  return y;
}

Tensor pow(const Tensor& x, double p) {
  Tensor y = unary_kernel(OpId::pow_scalar, x, false, p);
  if (wants_grad(x))
    record("pow_scalar", {x}, {y}, [sx = SavedTensor(x, "pow_scalar"), p](const Grads& g) {
      if (p == 0.0) return Grads{zeros_like(g[0])};
      return Grads{g[0] * pow(sx.get(), p - 1.0) * p};
    });
  return y;
}

Tensor square(const Tensor& x) { return mul(x, x); }

// --- binary --------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = arithmetic(OpId::add, a, b, false);
  if (wants_grad(a, b))
    record("add", {a, b}, {y}, [sa = a.shape(), sb = b.shape()](const Grads& g) {
      return Grads{sum_to(g[0], sa), sum_to(g[0], sb)};
    });
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = arithmetic(OpId::sub, a, b, false);
  if (wants_grad(a, b))
    record("sub", {a, b}, {y}, [sa = a.shape(), sb = b.shape()](const Grads& g) {
      return Grads{sum_to(g[0], sa), sum_to(neg(g[0]), sb)};
    });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = arithmetic(OpId::mul, a, b, false);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  if (wants_grad(a, b))
    record("mul", {a, b}, {y},
           [ga, gb, sa = SavedTensor(gb ? a : Tensor(), "mul"),
            sb = SavedTensor(ga ? b : Tensor(), "mul"), sha = a.shape(),
            shb = b.shape()](const Grads& g) {
             return Grads{ga ? sum_to(mul(g[0], sb.get()), sha) : Tensor(),
                          gb ? sum_to(mul(g[0], sa.get()), shb) : Tensor()};
           });
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = arithmetic(OpId::div, a, b, true);
  if (wants_grad(a, b))
    record("div", {a, b}, {y},
           [sa = SavedTensor(a, "div"), sb = SavedTensor(b, "div"), ga = a.requires_grad(),
            gb = b.requires_grad()](const Grads& g) {
             Tensor av = sa.get(), bv = sb.get();
             Tensor da = ga ? sum_to(div(g[0], bv), av.shape()) : Tensor();
             Tensor db = gb ? sum_to(neg(div(mul(g[0], av), mul(bv, bv))), bv.shape()) : Tensor();
             return Grads{da, db};
           });
  return y;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor y = arithmetic(OpId::pow, a, b, true);
  if (wants_grad(a, b))
    record("pow", {a, b}, {y},
           [sa = SavedTensor(a, "pow"), sb = SavedTensor(b, "pow"), sy = SavedTensor(y, "pow"),
            gb = b.requires_grad()](const Grads& g) {
             Tensor av = sa.get(), bv = sb.get();
             Tensor da = sum_to(g[0] * bv * pow(av, bv - 1.0), av.shape());
             // d/db a^b = a^b log a; defined as 0 where a == 0 (the limit for b > 0).
             Tensor db;
             if (gb) {
               Tensor safe_log = log(where(av == 0.0, scalar_like(1.0, av), av));
               db = sum_to(g[0] * sy.get() * safe_log, bv.shape());
             }
             return Grads{da, db};
           });
  return y;
}

namespace {
// Gradient of maximum/minimum: to the selected operand, split evenly on ties.
Grads select_grads(const Tensor& g, const Tensor& a, const Tensor& b, bool is_max) {
  Tensor wins = is_max ? (a > b) : (a < b);
  Tensor ties = a == b;
  Tensor wa = mask_of(wins, g) + mask_of(ties, g) * 0.5;
  Tensor wb = 1.0 - wa;
  return {sum_to(g * wa, a.shape()), sum_to(g * wb, b.shape())};
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor y = arithmetic(OpId::maximum, a, b, false);
  if (wants_grad(a, b))
    record("maximum", {a, b}, {y},
           [sa = SavedTensor(a, "maximum"), sb = SavedTensor(b, "maximum")](const Grads& g) {
             return select_grads(g[0], sa.get(), sb.get(), true);
           });
  return y;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor y = arithmetic(OpId::minimum, a, b, false);
  if (wants_grad(a, b))
    record("minimum", {a, b}, {y},
           [sa = SavedTensor(a, "minimum"), sb = SavedTensor(b, "minimum")](const Grads& g) {
             return select_grads(g[0], sa.get(), sb.get(), false);
           });
  return y;
}

// --- comparisons and logical -----------------------------------------------------------------

Tensor eq(const Tensor& a, const Tensor& b) { return compare(OpId::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(OpId::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(OpId::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(OpId::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(OpId::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(OpId::ge, a, b); }

Tensor logical_not(const Tensor& x) {
  check_strided("logical_not", x, "x");
  Tensor out = empty(x.shape(), Options(DType::boolean, x.device()));
  run_kernel(OpId::logical_not, {x}, {out});
  return out;
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary_kernel(OpId::logical_and, a, b, DType::boolean);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary_kernel(OpId::logical_or, a, b, DType::boolean);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_strided("where", cond, "cond");
  check_strided("where", a, "a");
  check_strided("where", b, "b");
  SG_CHECK(cond.dtype() == DType::boolean, "where: cond must be bool, got ", describe(cond));
  check_same_dtype("where", a, b);
  check_same_device("where", a, b);
  check_same_device("where", cond, a);
  Shape shape =
      broadcast_shapes("where", broadcast_shapes("where", cond.shape(), a.shape()), b.shape());
  Tensor out = empty(shape, Options(a.dtype(), a.device()));
  {
    NoGradGuard no_grad;
    run_kernel(OpId::where, {cond.expand(shape), a.expand(shape), b.expand(shape)}, {out});
  }
  if (wants_grad(a, b))
    record("where", {a, b}, {out},
           [sc = SavedTensor(cond, "where"), sa = a.shape(), sb = b.shape()](const Grads& g) {
             Tensor zero = scalar_like(0.0, g[0]);
             Tensor c = sc.get();
             return Grads{sum_to(where(c, g[0], zero), sa), sum_to(where(c, zero, g[0]), sb)};
           });
  return out;
}

// --- operators -------------------------------------------------------------------------------

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_like(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, scalar_like(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_like(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar_like(b, a)); }
Tensor operator==(const Tensor& a, double b) { return eq(a, scalar_like(b, a)); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, scalar_like(b, a)); }
Tensor operator!(const Tensor& x) { return logical_not(x); }
Tensor operator&(const Tensor& a, const Tensor& b) { return logical_and(a, b); }
Tensor operator|(const Tensor& a, const Tensor& b) { return logical_or(a, b); }

}  // namespace stackgrad
