// Reference reductions, scans and softmax: for each output element, a plain loop over the
// elements it depends on, in C order, with floating math in double. Integer sums and products
// wrap modulo 2^64 (then to the dtype's width) instead of overflowing a signed type.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Splits an input whose trailing `k` dims are reduced (or scanned) into an outer and an inner
// view: element i of inner, relative to element o of outer, is base[ref_offset(i, inner)].
struct SplitView {
  TensorArg outer, inner;
};

SplitView split_trailing(const TensorArg& in, int64_t k) {
  SplitView v;
  v.outer = in;
  v.inner = in;
  v.outer.ndim = in.ndim - static_cast<int>(k);
  v.inner.ndim = static_cast<int>(k);
  v.outer.numel = 1;
  v.inner.numel = 1;
  for (int d = 0; d < v.outer.ndim; ++d) v.outer.numel *= in.shape[d];
  for (int d = 0; d < k; ++d) {
    v.inner.shape[d] = in.shape[v.outer.ndim + d];
    v.inner.strides[d] = in.strides[v.outer.ndim + d];
    v.inner.numel *= v.inner.shape[d];
  }
  return v;
}

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

// Gathers the reduced elements of each output, in C order, and writes f(values) to it.
template <typename T, typename Out, typename F>
void reduce_each(const KernelCall& c, F f) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SplitView v = split_trailing(in, c.attrs.k);
  std::vector<ref_compute_t<T>> vals(v.inner.numel);
  for (int64_t o = 0; o < v.outer.numel; ++o) {
    const T* base = in.ptr<T>() + ref_offset(o, v.outer);
    for (int64_t i = 0; i < v.inner.numel; ++i)
      vals[i] = static_cast<ref_compute_t<T>>(base[ref_offset(i, v.inner)]);
    out.ptr<Out>()[o] = static_cast<Out>(f(vals));
  }
}

template <typename T>
using wrap_t = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

void ref_sum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "sum", [&] {
    reduce_each<scalar_t, scalar_t>(c, [](const auto& v) {
      wrap_t<scalar_t> acc = 0;
      for (auto x : v) acc += static_cast<wrap_t<scalar_t>>(x);
      return acc;
    });
  });
}

void ref_prod(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "prod", [&] {
    reduce_each<scalar_t, scalar_t>(c, [](const auto& v) {
      wrap_t<scalar_t> acc = 1;
      for (auto x : v) acc *= static_cast<wrap_t<scalar_t>>(x);
      return acc;
    });
  });
}

// max/min: NaN wins (propagates). The op layer rejects empty reductions.
template <bool kMax>
void ref_extremum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, kMax ? "max" : "min", [&] {
    reduce_each<scalar_t, scalar_t>(c, [](const auto& v) {
      auto best = v[0];
      for (auto x : v) {
        if (is_nan(best)) break;
        if (is_nan(x) || (kMax ? x > best : x < best)) best = x;
      }
      return best;
    });
  });
}

// argmax/argmin: the first index of the extreme value; a NaN counts as the extreme.
template <bool kMax>
void ref_arg_extremum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, kMax ? "argmax" : "argmin", [&] {
    reduce_each<scalar_t, int64_t>(c, [](const auto& v) {
      int64_t best = 0;
      for (int64_t i = 1; i < static_cast<int64_t>(v.size()); ++i) {
        if (is_nan(v[best])) break;
        if (is_nan(v[i]) || (kMax ? v[i] > v[best] : v[i] < v[best])) best = i;
      }
      return best;
    });
  });
}

void ref_var(const KernelCall& c) {
  const double correction = c.attrs.alpha;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "var", [&] {
    reduce_each<scalar_t, scalar_t>(c, [correction](const auto& v) {
      const double n = static_cast<double>(v.size());
      double mean = 0, m2 = 0;
      for (double x : v) mean += x;
      mean /= n;
      for (double x : v) m2 += (x - mean) * (x - mean);
      return m2 / std::max(0.0, n - correction);
    });
  });
}

void ref_logsumexp(const KernelCall& c) {
  SG_DISPATCH_FLOAT(c.in[0].dtype, "logsumexp", [&] {
    reduce_each<scalar_t, scalar_t>(c, [](const auto& v) {
      double m = -std::numeric_limits<double>::infinity();
      for (double x : v) m = (std::isnan(x) || x > m) && !std::isnan(m) ? x : m;
      if (std::isnan(m) || std::isinf(m)) return m;  // all -inf (or empty): -inf; any +inf: +inf
      double s = 0;
      for (double x : v) s += std::exp(x - m);
      return m + std::log(s);
    });
  });
}

void ref_norm(const KernelCall& c) {
  const double p = c.attrs.alpha;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "norm", [&] {
    reduce_each<scalar_t, scalar_t>(c, [p](const auto& v) {
      double acc = 0;
      for (double x : v) {
        if (p == 1.0)
          acc += std::fabs(x);
        else if (p == 2.0)
          acc += x * x;
        else if (std::isnan(x) || std::isnan(acc))
          acc = std::numeric_limits<double>::quiet_NaN();
        else
          acc = std::max(acc, std::fabs(x));
      }
      return p == 2.0 ? std::sqrt(acc) : acc;
    });
  });
}

// Kernels along the last dim of input and output (both strided): f(values, results) per line.
template <typename T, typename F>
void per_line(const KernelCall& c, F f) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  SplitView vi = split_trailing(in, 1), vo = split_trailing(out, 1);
  const int64_t n = vi.inner.numel;
  std::vector<ref_compute_t<T>> x(n), y(n);
  for (int64_t r = 0; r < vi.outer.numel; ++r) {
    const T* src = in.ptr<T>() + ref_offset(r, vi.outer);
    T* dst = out.ptr<T>() + ref_offset(r, vo.outer);
    for (int64_t i = 0; i < n; ++i)
      x[i] = static_cast<ref_compute_t<T>>(src[ref_offset(i, vi.inner)]);
    f(x, y);
    for (int64_t i = 0; i < n; ++i) dst[ref_offset(i, vo.inner)] = static_cast<T>(y[i]);
  }
}

void ref_cumsum(const KernelCall& c) {
  const bool reverse = c.attrs.flag;
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "cumsum", [&] {
    per_line<scalar_t>(c, [reverse](const auto& x, auto& y) {
      const int64_t n = static_cast<int64_t>(x.size());
      wrap_t<scalar_t> acc = 0;
      for (int64_t j = 0; j < n; ++j) {
        int64_t i = reverse ? n - 1 - j : j;
        acc += static_cast<wrap_t<scalar_t>>(x[i]);
        y[i] = static_cast<ref_compute_t<scalar_t>>(static_cast<scalar_t>(acc));
      }
    });
  });
}

template <bool kLog>
void ref_softmax(const KernelCall& c) {
  SG_DISPATCH_FLOAT(c.in[0].dtype, kLog ? "log_softmax" : "softmax", [&] {
    per_line<scalar_t>(c, [](const auto& x, auto& y) {
      double m = -std::numeric_limits<double>::infinity();
      for (double v : x) m = (std::isnan(v) || v > m) && !std::isnan(m) ? v : m;
      double s = 0;
      for (double v : x) s += std::exp(v - m);
      for (size_t i = 0; i < x.size(); ++i)
        y[i] = kLog ? x[i] - m - std::log(s) : std::exp(x[i] - m) / s;
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_reduce() {
  using namespace kernels;
  register_kernel(OpId::sum, Backend::reference, ref_sum);
  register_kernel(OpId::prod, Backend::reference, ref_prod);
  register_kernel(OpId::max, Backend::reference, ref_extremum<true>);
  register_kernel(OpId::min, Backend::reference, ref_extremum<false>);
  register_kernel(OpId::argmax, Backend::reference, ref_arg_extremum<true>);
  register_kernel(OpId::argmin, Backend::reference, ref_arg_extremum<false>);
  register_kernel(OpId::var, Backend::reference, ref_var);
  register_kernel(OpId::logsumexp, Backend::reference, ref_logsumexp);
  register_kernel(OpId::norm, Backend::reference, ref_norm);
  register_kernel(OpId::cumsum, Backend::reference, ref_cumsum);
  register_kernel(OpId::softmax, Backend::reference, ref_softmax<false>);
  register_kernel(OpId::log_softmax, Backend::reference, ref_softmax<true>);
}
}  // namespace stackgrad
