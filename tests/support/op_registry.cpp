#include "tests/support/op_registry.h"

#include <cmath>
#include <sstream>

namespace stackgrad::testing {

namespace {
std::vector<OpSpec>& registry() {
  static std::vector<OpSpec> specs;
  return specs;
}

// Same values, different strides: materialise the reversed-dims layout and permute back, or for
// 1-D take every other element of a doubled buffer.
Tensor relayout(const Tensor& t) {
  NoGradGuard no_grad;
  if (t.dim() == 0) return t;
  if (t.dim() == 1) {
    Tensor wide = zeros({t.size(0) * 2}, t.dtype());
    Tensor view = wide.slice(0, 0, t.size(0) * 2, 2);
    view.copy_(t);
    return view;
  }
  std::vector<int64_t> rev(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) rev[i] = t.dim() - 1 - i;
  return t.permute(rev).contiguous().permute(rev);
}
}  // namespace

int register_op_spec(OpSpec spec) {
  registry().push_back(std::move(spec));
  return static_cast<int>(registry().size());
}

const std::vector<OpSpec>& op_specs() { return registry(); }

Tensor randn_f64(std::mt19937_64& rng, const Shape& shape) {
  std::normal_distribution<double> dist;
  std::vector<double> v(numel_of(shape));
  for (auto& x : v) x = dist(rng);
  return from_vector(v, shape, DType::f64);
}

Tensor uniform_f64(std::mt19937_64& rng, const Shape& shape, double lo, double hi) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(numel_of(shape));
  for (auto& x : v) x = dist(rng);
  return from_vector(v, shape, DType::f64);
}

Tensor randint_t(std::mt19937_64& rng, const Shape& shape, int64_t lo, int64_t hi, DType dtype) {
  std::uniform_int_distribution<int64_t> dist(lo, hi - 1);
  std::vector<int64_t> v(numel_of(shape));
  for (auto& x : v) x = dist(rng);
  return from_vector(v, shape, DType::i64).to(dtype);
}

Tensor distinct_f64(std::mt19937_64& rng, const Shape& shape) {
  int64_t n = numel_of(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = -1.0 + 2.0 * (static_cast<double>(i) + 0.5) / static_cast<double>(n);
  std::shuffle(v.begin(), v.end(), rng);
  return from_vector(v, shape, DType::f64);
}

Tensor noncontiguous(const Tensor& t) { return relayout(t); }

std::vector<Tensor> cast_inputs(const std::vector<Tensor>& inputs, DType dtype) {
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  for (const auto& t : inputs) {
    if (!t.defined() || t.is_sparse() || !is_floating(t.dtype()) || t.dtype() == dtype) {
      out.push_back(t);
      continue;
    }
    Tensor c = t.to(dtype);
    out.push_back(t.is_contiguous() ? c : relayout(c));
  }
  return out;
}

std::string gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                      const std::vector<Tensor>& inputs, const std::vector<int>& which_in,
                      uint64_t seed, double eps, double rtol, double atol) {
  std::vector<int> which = which_in;
  if (which.empty())
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].defined() && !inputs[i].is_sparse() && is_floating(inputs[i].dtype()))
        which.push_back(static_cast<int>(i));

  // Leaves that keep the inputs' strides.
  std::vector<Tensor> leaves;
  for (size_t i = 0; i < inputs.size(); ++i) {
    bool grad = std::find(which.begin(), which.end(), static_cast<int>(i)) != which.end();
    Tensor leaf = inputs[i].defined() ? inputs[i].detach() : inputs[i];
    if (grad) {
      if (leaf.dtype() != DType::f64) return "gradcheck: input " + std::to_string(i) + " is not f64";
      leaf.requires_grad_(true);
    }
    leaves.push_back(leaf);
  }

  Tensor out = fn(leaves);
  if (!out.requires_grad()) return "gradcheck: the output does not require grad";
  std::mt19937_64 rng(seed);
  Tensor v = randn_f64(rng, out.shape());
  sum(out * v).backward();

  auto loss_at = [&]() {
    NoGradGuard no_grad;
    Tensor o = fn(leaves);
    return sum(o * v).item();
  };

  std::ostringstream worst;
  double worst_err = 0;
  for (int i : which) {
    Tensor leaf = leaves[i];
    Tensor analytic = leaf.grad();
    if (!analytic.defined()) analytic = zeros_like(leaf);
    auto an = analytic.contiguous().to_vector<double>();
    // Walk the leaf's elements through its strides and poke them directly.
    double* base = static_cast<double*>(leaf.raw_data());
    const Shape& sh = leaf.shape();
    const Strides& st = leaf.strides();
    for (int64_t j = 0; j < leaf.numel(); ++j) {
      int64_t off = 0, rem = j;
      for (int64_t d = leaf.dim() - 1; d >= 0; --d) {
        off += (rem % sh[d]) * st[d];
        rem /= sh[d];
      }
      double saved = base[off];
      base[off] = saved + eps;
      double lp = loss_at();
      base[off] = saved - eps;
      double lm = loss_at();
      base[off] = saved;
      double numeric = (lp - lm) / (2 * eps);
      double err = std::fabs(numeric - an[j]);
      double tol = atol + rtol * std::fabs(numeric);
      if (err > tol && err - tol > worst_err) {
        worst_err = err - tol;
        worst.str("");
        worst << "input " << i << " element " << j << ": analytic " << an[j] << " vs numeric "
              << numeric << " (|diff| " << err << ")";
      }
    }
  }
  return worst.str();
}

}  // namespace stackgrad::testing
