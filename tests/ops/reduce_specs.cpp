// OpSpecs of the reduce family.
//
// A case carries, next to its input, an i64 "config" tensor that the op's function reads (the
// harness passes integer inputs through unchanged and differentiates only floating ones):
//   reductions:      [keepdim, extra, dims...]  (extra: correction for var/std, else unused)
//   argmax/argmin:   [keepdim, has_dim, dim]
//   line ops:        [dim]
// Each op gets a spec over small shapes (forward and gradcheck), a broadcast spec whose function
// expands the input first (the gradient of the copies is summed back; for max/min the copies tie,
// which checks the even split of the gradient among ties), and a forward-only spec
// over shapes large enough to take the kernels' chunked and column paths.
#include <limits>

#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Maker = std::function<Tensor(std::mt19937_64&, const Shape&)>;
using ReduceFn =
    std::function<Tensor(const Tensor& x, const Dims& dims, bool keepdim, int64_t extra)>;
using LineFn = std::function<Tensor(const Tensor& x, int64_t dim)>;

const double kInf = std::numeric_limits<double>::infinity();

Tensor config(const std::vector<int64_t>& v) { return from_vector(v); }

Tensor reduce_config(bool keepdim, int64_t extra, const Dims& dims) {
  std::vector<int64_t> v = {keepdim, extra};
  v.insert(v.end(), dims.begin(), dims.end());
  return config(v);
}

Tensor call_reduce(const ReduceFn& f, const Tensor& x, const Tensor& cfg) {
  auto v = cfg.to_vector<int64_t>();
  return f(x, Dims(v.begin() + 2, v.end()), v[0] != 0, v[1]);
}

// --- value makers ---
Tensor normal(std::mt19937_64& r, const Shape& s) { return randn_f64(r, s); }
Tensor distinct(std::mt19937_64& r, const Shape& s) { return distinct_f64(r, s); }
Tensor nonzero(std::mt19937_64& r, const Shape& s) {
  Tensor m = uniform_f64(r, s, 0.4, 2.0);
  return m * (randint_t(r, s, 0, 2, DType::f64) * 2.0 - 1.0);
}
// Distinct magnitudes with random signs: no ties in |x| (the infinity norm's kink).
Tensor distinct_magnitudes(std::mt19937_64& r, const Shape& s) {
  Tensor m = distinct_f64(r, s) + 2.0;
  return m * (randint_t(r, s, 0, 2, DType::f64) * 2.0 - 1.0);
}
// Near 1, so that long products neither overflow nor underflow.
Tensor near_one(std::mt19937_64& r, const Shape& s) { return uniform_f64(r, s, 0.99, 1.01); }
// Magnitudes in [0.2, 1) with random signs.
Tensor signed_values(std::mt19937_64& r, const Shape& s) { return nonzero(r, s) * 0.5; }
// Few distinct values, so that ties happen.
Tensor few_values(std::mt19937_64& r, const Shape& s) { return randint_t(r, s, -2, 3, DType::f64); }
Maker integers(DType dtype) {
  return [dtype](std::mt19937_64& r, const Shape& s) { return randint_t(r, s, -5, 6, dtype); };
}

// x with the elements at the given C-order positions set to 0.
Tensor with_zeros(const Tensor& x, const std::vector<int64_t>& at) {
  auto v = x.contiguous().to_vector<double>();
  for (int64_t i : at) v[i] = 0.0;
  return from_vector(v, x.shape(), DType::f64);
}

// --- reductions ---

std::vector<OpCase> reduce_cases(std::mt19937_64& r, const Maker& make, int64_t extra,
                                 bool empty_ok) {
  auto c = [&](const std::string& label, const Tensor& x, bool keep, const Dims& dims) {
    return OpCase{label, {x, reduce_config(keep, extra, dims)}};
  };
  std::vector<OpCase> v = {
      c("last dim [3, 4] {1}", make(r, {3, 4}), false, {1}),
      c("leading dim [5, 4] {0}", make(r, {5, 4}), false, {0}),
      c("middle dim keepdim [2, 3, 4] {1}", make(r, {2, 3, 4}), true, {1}),
      c("two dims [2, 3, 4] {0, 2}", make(r, {2, 3, 4}), false, {0, 2}),
      c("negative dims keepdim [2, 3, 4] {-1, -3}", make(r, {2, 3, 4}), true, {-1, -3}),
      c("all dims [2, 3, 4]", make(r, {2, 3, 4}), false, {}),
      c("all dims keepdim [3, 4]", make(r, {3, 4}), true, {}),
      c("non-contiguous [4, 5] {1}", noncontiguous(make(r, {4, 5})), false, {1}),
      c("non-contiguous [4, 5] {0}", noncontiguous(make(r, {4, 5})), false, {0}),
      c("non-contiguous keepdim [3, 4, 5] {0, 2}", noncontiguous(make(r, {3, 4, 5})), true, {0, 2}),
      c("strided slice [4, 10:2] {1}", make(r, {4, 10}).slice(1, 0, 10, 2), false, {1}),
      c("size-1 dims [1, 4, 1] {0, 2}", make(r, {1, 4, 1}), false, {0, 2}),
      c("0-dim", make(r, {}), false, {}),
      c("0-dim dim 0 keepdim", make(r, {}), true, {0}),
      c("zero-size output [0, 3] {1}", make(r, {0, 3}), false, {1}),
  };
  if (empty_ok) v.push_back(c("empty reduction [0, 3] {0}", make(r, {0, 3}), false, {0}));
  return v;
}

OpSpec reduce_spec(const std::string& op, ReduceFn f, bool differentiable = true) {
  OpSpec s;
  s.op = op;
  s.fn = [f](const Inputs& in) { return call_reduce(f, in[0], in[1]); };
  s.differentiable = differentiable;
  return s;
}

// Registers the small, broadcast and large specs of a reduction. `extras` adds cases.
void reduction(const std::string& op, ReduceFn f, Maker make, bool empty_ok, int64_t extra = 0,
               std::function<std::vector<OpCase>(std::mt19937_64&)> extras = nullptr) {
  OpSpec small = reduce_spec(op, f);
  small.cases = [=](std::mt19937_64& r) {
    auto v = reduce_cases(r, make, extra, empty_ok);
    if (extras)
      for (auto& c : extras(r)) v.push_back(c);
    return v;
  };
  register_op_spec(std::move(small));

  OpSpec broadcast = reduce_spec(op, [f](const Tensor& x, const Dims& d, bool k, int64_t e) {
    return f(x.expand({3, 4, 5}), d, k, e);
  });
  broadcast.cases = [=](std::mt19937_64& r) {
    return std::vector<OpCase>{
        {"broadcast [4, 1] -> [3, 4, 5] {1, 2}",
         {make(r, {4, 1}), reduce_config(false, extra, {1, 2})}},
        {"broadcast [4, 1] -> [3, 4, 5] {1}", {make(r, {4, 1}), reduce_config(true, extra, {1})}},
        {"broadcast [1, 5] -> [3, 4, 5] {0, 2}",
         {make(r, {1, 5}), reduce_config(false, extra, {0, 2})}},
        {"broadcast [5] -> [3, 4, 5] all", {make(r, {5}), reduce_config(false, extra, {})}},
    };
  };
  register_op_spec(std::move(broadcast));

  OpSpec large = reduce_spec(op, f, false);
  large.cases = [=](std::mt19937_64& r) {
    auto c = [&](const std::string& label, const Tensor& x, bool keep, const Dims& dims) {
      return OpCase{label, {x, reduce_config(keep, extra, dims)}};
    };
    return std::vector<OpCase>{
        c("chunked all [40000]", make(r, {40000}), false, {}),
        c("chunked rows [3, 40000] {1}", make(r, {3, 40000}), false, {1}),
        c("chunked runs [4, 3, 10000] {0, 2}", make(r, {4, 3, 10000}), true, {0, 2}),
        c("column chunked [40000, 3] {0}", make(r, {40000, 3}), false, {0}),
        c("column chunked [300, 600] {0}", make(r, {300, 600}), false, {0}),
        c("column blocks [8, 5000] {0}", make(r, {8, 5000}), false, {0}),
        c("column blocks chunked [40, 4100] {0}", make(r, {40, 4100}), true, {0}),
        c("column outer dims [6, 2000, 40] {1}", make(r, {6, 2000, 40}), false, {1}),
        c("column blocks [20, 50, 300] {0, 1}", make(r, {20, 50, 300}), false, {0, 1}),
        c("column non-contiguous [600, 300] {1}", noncontiguous(make(r, {600, 300})), false, {1}),
        c("rows [64, 300] {1}", make(r, {64, 300}), false, {1}),
        c("strided [200, 400:2] {0}", make(r, {200, 400}).slice(1, 0, 400, 2), false, {0}),
        c("strided [200, 400:2] {1}", make(r, {200, 400}).slice(1, 0, 400, 2), false, {1}),
    };
  };
  register_op_spec(std::move(large));
}

// Integer dtypes: forward only.
void integer_reduction(const std::string& op, ReduceFn f, DType dtype, bool empty_ok) {
  OpSpec s = reduce_spec(op, f, false);
  s.dtypes = {dtype};
  s.cases = [=](std::mt19937_64& r) { return reduce_cases(r, integers(dtype), 0, empty_ok); };
  register_op_spec(std::move(s));
}

// --- argmax / argmin ---

Tensor arg_config(bool keepdim, std::optional<int64_t> dim) {
  return config({keepdim, dim.has_value(), dim.value_or(0)});
}

void arg_extremum(const std::string& op, bool is_max) {
  auto f = [is_max](const Inputs& in) {
    auto v = in[1].to_vector<int64_t>();
    std::optional<int64_t> dim;
    if (v[1]) dim = v[2];
    return is_max ? argmax(in[0], dim, v[0] != 0) : argmin(in[0], dim, v[0] != 0);
  };
  auto cases = [](std::mt19937_64& r, const Maker& make) {
    return std::vector<OpCase>{
        {"last dim [3, 4]", {make(r, {3, 4}), arg_config(false, 1)}},
        {"leading dim [5, 4]", {make(r, {5, 4}), arg_config(false, 0)}},
        {"middle dim keepdim [2, 3, 4]", {make(r, {2, 3, 4}), arg_config(true, 1)}},
        {"flattened [3, 4]", {make(r, {3, 4}), arg_config(false, std::nullopt)}},
        {"flattened keepdim [2, 3, 4]", {make(r, {2, 3, 4}), arg_config(true, std::nullopt)}},
        {"non-contiguous [4, 5] dim -1", {noncontiguous(make(r, {4, 5})), arg_config(false, -1)}},
        {"non-contiguous [4, 5] dim 0", {noncontiguous(make(r, {4, 5})), arg_config(false, 0)}},
        {"non-contiguous flattened [3, 4, 5]",
         {noncontiguous(make(r, {3, 4, 5})), arg_config(false, std::nullopt)}},
        {"0-dim", {make(r, {}), arg_config(false, std::nullopt)}},
        {"0-dim dim 0 keepdim", {make(r, {}), arg_config(true, 0)}},
        {"zero-size output [0, 3]", {make(r, {0, 3}), arg_config(false, 1)}},
        {"chunked flattened [40000]", {make(r, {40000}), arg_config(false, std::nullopt)}},
        {"chunked rows [3, 40000]", {make(r, {3, 40000}), arg_config(false, 1)}},
        {"column chunked [40000, 3]", {make(r, {40000, 3}), arg_config(false, 0)}},
        {"column chunked [300, 600]", {make(r, {300, 600}), arg_config(true, 0)}},
        {"column blocks chunked [40, 4100]", {make(r, {40, 4100}), arg_config(false, 0)}},
        {"column outer dims [6, 2000, 40]", {make(r, {6, 2000, 40}), arg_config(false, 1)}},
    };
  };
  for (auto [label, make, dtype] : std::vector<std::tuple<std::string, Maker, DType>>{
           {"distinct", distinct, DType::f32},
           {"ties", few_values, DType::f32},
           {"i64 ties", integers(DType::i64), DType::i64},
           {"i32 ties", integers(DType::i32), DType::i32}}) {
    OpSpec s;
    s.op = op;
    s.fn = f;
    s.differentiable = false;
    s.dtypes = dtype == DType::f32 ? std::vector<DType>{DType::f32, DType::f64}
                                   : std::vector<DType>{dtype};
    s.cases = [cases, make](std::mt19937_64& r) { return cases(r, make); };
    register_op_spec(std::move(s));
  }
}

// --- line ops (cumsum, softmax, log_softmax) ---

void line_op(const std::string& op, LineFn f, std::vector<DType> integer_dtypes = {}) {
  auto fn = [f](const Inputs& in) { return f(in[0], in[1].to_vector<int64_t>()[0]); };
  auto small = [](std::mt19937_64& r, const Maker& make) {
    return std::vector<OpCase>{
        {"last dim [3, 4]", {make(r, {3, 4}), config({1})}},
        {"leading dim [3, 4]", {make(r, {3, 4}), config({0})}},
        {"middle dim [2, 3, 4]", {make(r, {2, 3, 4}), config({1})}},
        {"negative dim [2, 3, 4]", {make(r, {2, 3, 4}), config({-1})}},
        {"non-contiguous [4, 5] dim 1", {noncontiguous(make(r, {4, 5})), config({1})}},
        {"non-contiguous [3, 4, 5] dim 0", {noncontiguous(make(r, {3, 4, 5})), config({0})}},
        {"strided slice [4, 10:2] dim 1", {make(r, {4, 10}).slice(1, 0, 10, 2), config({1})}},
        {"0-dim", {make(r, {}), config({0})}},
        {"zero-size [0, 3] dim 1", {make(r, {0, 3}), config({1})}},
        {"empty lines [3, 0] dim 1", {make(r, {3, 0}), config({1})}},
    };
  };
  OpSpec s;
  s.op = op;
  s.fn = fn;
  s.cases = [small](std::mt19937_64& r) { return small(r, normal); };
  register_op_spec(s);

  OpSpec broadcast;
  broadcast.op = op;
  broadcast.fn = [f](const Inputs& in) {
    return f(in[0].expand({3, 4, 5}), in[1].to_vector<int64_t>()[0]);
  };
  broadcast.cases = [](std::mt19937_64& r) {
    return std::vector<OpCase>{
        {"broadcast [4, 1] -> [3, 4, 5] dim 2", {randn_f64(r, {4, 1}), config({2})}},
        {"broadcast [4, 1] -> [3, 4, 5] dim 0", {randn_f64(r, {4, 1}), config({0})}}};
  };
  register_op_spec(std::move(broadcast));

  OpSpec large;
  large.op = op;
  large.fn = fn;
  large.differentiable = false;
  large.cases = [](std::mt19937_64& r) {
    return std::vector<OpCase>{
        {"rows [500, 300] dim 1", {randn_f64(r, {500, 300}), config({1})}},
        {"column blocks [300, 500] dim 0", {randn_f64(r, {300, 500}), config({0})}},
        {"column blocks [4, 50, 300] dim 1", {randn_f64(r, {4, 50, 300}), config({1})}},
        {"non-contiguous [200, 300] dim 1", {noncontiguous(randn_f64(r, {200, 300})), config({1})}},
        // Lines of several 2048-element tiles (the CUDA scan's block version and its carry),
        // contiguous and strided.
        {"long rows [3, 5000] dim 1", {randn_f64(r, {3, 5000}), config({1})}},
        {"long strided lines [5000, 3] dim 0", {randn_f64(r, {5000, 3}), config({0})}},
        {"long line [40000]", {randn_f64(r, {40000}) * 3.0, config({0})}},
    };
  };
  register_op_spec(std::move(large));

  for (DType dt : integer_dtypes) {
    OpSpec si;
    si.op = op;
    si.fn = fn;
    si.differentiable = false;
    si.dtypes = {dt};
    si.cases = [small, dt](std::mt19937_64& r) {
      std::vector<OpCase> cases = small(r, integers(dt));
      // Several tiles of the CUDA scan's block version (integer sums are exact in any order).
      cases.push_back({"long line [9000]", {integers(dt)(r, {9000}), config({0})}});
      cases.push_back(
          {"long strided lines [5000, 3] dim 0", {integers(dt)(r, {5000, 3}), config({0})}});
      return cases;
    };
    register_op_spec(std::move(si));
  }
}

const bool registered = [] {
  reduction(
      "sum", [](const Tensor& x, const Dims& d, bool k, int64_t) { return sum(x, d, k); }, normal,
      true);
  integer_reduction(
      "sum", [](const Tensor& x, const Dims& d, bool k, int64_t) { return sum(x, d, k); },
      DType::i32, true);
  integer_reduction(
      "sum", [](const Tensor& x, const Dims& d, bool k, int64_t) { return sum(x, d, k); },
      DType::i64, true);
  integer_reduction(
      "sum", [](const Tensor& x, const Dims& d, bool k, int64_t) { return sum(x, d, k); },
      DType::u8, true);

  reduction(
      "mean", [](const Tensor& x, const Dims& d, bool k, int64_t) { return mean(x, d, k); }, normal,
      true);

  auto prod_fn = [](const Tensor& x, const Dims& d, bool k, int64_t) { return prod(x, d, k); };
  reduction("prod", prod_fn, near_one, true, 0, [](std::mt19937_64& r) {
    // Zeros: row 0 has one, row 2 has two; every column has at most one.
    Tensor z = with_zeros(signed_values(r, {3, 4}), {1, 8, 11});
    return std::vector<OpCase>{
        {"values of both signs [3, 4] {1}",
         {signed_values(r, {3, 4}), reduce_config(false, 0, {1})}},
        {"zeros [3, 4] {1}", {z, reduce_config(false, 0, {1})}},
        {"zeros [3, 4] {0}", {z, reduce_config(true, 0, {0})}},
        {"zeros [3, 4] all", {z, reduce_config(false, 0, {})}},
        {"one zero [2, 3] all",
         {with_zeros(signed_values(r, {2, 3}), {4}), reduce_config(false, 0, {})}},
        {"zeros non-contiguous [3, 4] {0}", {noncontiguous(z), reduce_config(false, 0, {0})}},
    };
  });
  integer_reduction("prod", prod_fn, DType::i64, true);

  auto max_fn = [](const Tensor& x, const Dims& d, bool k, int64_t) { return max(x, d, k); };
  auto min_fn = [](const Tensor& x, const Dims& d, bool k, int64_t) { return min(x, d, k); };
  reduction("max", max_fn, distinct, false);
  reduction("min", min_fn, distinct, false);
  for (DType dt : {DType::i32, DType::i64}) {
    integer_reduction("max", max_fn, dt, false);
    integer_reduction("min", min_fn, dt, false);
  }
  // Ties: forward only (the gradient split over ties is checked through the broadcast specs).
  for (auto [name, fn] :
       std::vector<std::pair<std::string, ReduceFn>>{{"max", max_fn}, {"min", min_fn}}) {
    OpSpec s = reduce_spec(name, fn, false);
    s.cases = [](std::mt19937_64& r) { return reduce_cases(r, few_values, 0, false); };
    register_op_spec(std::move(s));
  }

  arg_extremum("argmax", true);
  arg_extremum("argmin", false);

  auto var_fn = [](const Tensor& x, const Dims& d, bool k, int64_t c) { return var(x, d, c, k); };
  auto std_fn = [](const Tensor& x, const Dims& d, bool k, int64_t c) { return std(x, d, c, k); };
  for (auto [name, fn] :
       std::vector<std::pair<std::string, ReduceFn>>{{"var", var_fn}, {"std", std_fn}}) {
    reduction(name, fn, normal, true, 1, [](std::mt19937_64& r) {
      return std::vector<OpCase>{
          {"correction 0 [3, 4] {1}", {randn_f64(r, {3, 4}), reduce_config(false, 0, {1})}},
          {"correction 2 [5, 4] {0}", {randn_f64(r, {5, 4}), reduce_config(true, 2, {0})}},
          {"offset values [3, 6] {1}",
           {randn_f64(r, {3, 6}) * 0.01 + 1000.0, reduce_config(false, 1, {1})}},
      };
    });
  }

  reduction(
      "logsumexp",
      [](const Tensor& x, const Dims& d, bool k, int64_t) { return logsumexp(x, d, k); }, normal,
      true, 0,
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"large values [3, 4] {1}",
             {randn_f64(r, {3, 4}) * 5.0 + 80.0, reduce_config(false, 0, {1})}},
            {"very negative values [3, 4] {0}",
             {randn_f64(r, {3, 4}) * 5.0 - 80.0, reduce_config(false, 0, {0})}},
        };
      });

  for (auto [p, make] : std::vector<std::pair<double, Maker>>{
           {1.0, nonzero}, {2.0, normal}, {kInf, distinct_magnitudes}}) {
    reduction(
        "norm", [p](const Tensor& x, const Dims& d, bool k, int64_t) { return norm(x, p, d, k); },
        make, true);
  }

  line_op("cumsum", [](const Tensor& x, int64_t d) { return cumsum(x, d); },
          {DType::i32, DType::i64});
  line_op("softmax", [](const Tensor& x, int64_t d) { return softmax(x, d); });
  line_op("log_softmax", [](const Tensor& x, int64_t d) { return log_softmax(x, d); });
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
