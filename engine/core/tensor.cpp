#include "engine/core/tensor.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <optional>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/runtime/cuda_context.h"

namespace stackgrad {

namespace {

Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

// Strides for viewing `t` with `shape` without copying, or empty when impossible.
// Walks groups of old dims that merge into groups of new dims (the NumPy rule).
std::optional<Strides> view_strides(const Tensor& t, const Shape& shape) {
  const Shape& old = t.shape();
  const Strides& os = t.strides();
  Strides ns(shape.size());
  if (t.numel() == 0) return contiguous_strides(shape);
  // Drop size-1 dims of the old tensor; they carry no stride information.
  std::vector<int64_t> od, ost;
  for (size_t i = 0; i < old.size(); ++i)
    if (old[i] != 1) {
      od.push_back(old[i]);
      ost.push_back(os[i]);
    }
  size_t oi = 0, ni = 0;
  while (ni < shape.size()) {
    if (shape[ni] == 1) {
      ns[ni] = oi < od.size() ? ost[oi] * od[oi] : 1;
      ++ni;
      continue;
    }
    if (oi >= od.size()) return std::nullopt;
    // Collect a run of old dims that is contiguous in memory, and new dims of equal product.
    int64_t old_prod = od[oi], new_prod = shape[ni];
    size_t oj = oi, nj = ni;
    while (old_prod != new_prod) {
      if (old_prod < new_prod) {
        if (oj + 1 >= od.size() || ost[oj] != ost[oj + 1] * od[oj + 1]) return std::nullopt;
        ++oj;
        old_prod *= od[oj];
      } else {
        ++nj;
        if (nj >= shape.size()) return std::nullopt;
        new_prod *= shape[nj];
      }
    }
    // New dims ni..nj split old dims oi..oj, whose innermost stride is ost[oj].
    int64_t stride = ost[oj];
    for (size_t k = nj + 1; k-- > ni;) {
      ns[k] = stride;
      stride *= shape[k];
    }
    oi = oj + 1;
    ni = nj + 1;
  }
  if (oi != od.size()) return std::nullopt;
  return ns;
}

Shape infer_shape(const char* op, const Shape& requested, int64_t numel) {
  Shape s = requested;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      SG_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape_str(requested));
      infer = static_cast<int64_t>(i);
    } else {
      SG_CHECK(s[i] >= 0, op, ": invalid size in shape ", shape_str(requested));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    SG_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(requested),
             " is invalid for ", numel, " elements");
    s[infer] = numel / known;
  }
  SG_CHECK(numel_of(s) == numel, op, ": shape ", shape_str(requested), " is invalid for ", numel,
           " elements");
  check_shape(op, s);
  return s;
}

// Backward of a view that selects a region: scatters the gradient into zeros of the base shape.
Tensor embed_grad(const Tensor& g, const Shape& base_shape, const std::function<Tensor(const Tensor&)>& region) {
  Tensor full = zeros(base_shape, Options(g.dtype(), g.device()));
  region(full).copy_(g);
  return full;
}

}  // namespace

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim("size", d, dim())]; }
int64_t Tensor::stride(int64_t d) const { return strides()[normalize_dim("stride", d, dim())]; }

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape()) n *= s;
  return n;
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to lay out
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (shape()[d] != 1 && strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  check_strided("raw_data", *this, "self");
  auto* base = static_cast<char*>(storage()->data());
  return base ? base + offset() * static_cast<int64_t>(element_size()) : nullptr;
}

Tensor Tensor::view(const Shape& shape) const {
  check_strided("view", *this, "self");
  Shape s = infer_shape("view", shape, numel());
  auto st = view_strides(*this, s);
  SG_CHECK(st.has_value(), "view: cannot view ", describe(*this), " with strides ",
           shape_str(strides()), " as ", shape_str(s),
           " without a copy; use reshape() or contiguous() first");
  Tensor out = make_view(*this, s, *st, offset());
  Shape in_shape = this->shape();
  record("view", {*this}, {out}, [in_shape](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0].reshape(in_shape)};
  });
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  check_strided("reshape", *this, "self");
  Shape s = infer_shape("reshape", shape, numel());
  if (view_strides(*this, s)) return view(s);
  return contiguous().view(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  check_strided("permute", *this, "self");
  SG_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(),
           " dims for a tensor with ", dim(), " dims");
  Shape s(dim());
  Strides st(dim());
  std::vector<int64_t> inverse(dim(), -1);
  for (int64_t i = 0; i < dim(); ++i) {
    int64_t d = normalize_dim("permute", dims[i], dim());
    SG_CHECK(inverse[d] < 0, "permute: dim ", d, " appears twice in ", shape_str(dims));
    inverse[d] = i;
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  Tensor out = make_view(*this, s, st, offset());
  record("permute", {*this}, {out}, [inverse](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0].permute(inverse)};
  });
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> dims(dim());
  std::iota(dims.begin(), dims.end(), 0);
  const int64_t a = normalize_dim("transpose", d0, dim()), b = normalize_dim("transpose", d1, dim());
  if (dim() == 0) return permute(dims);  // a 0-dim tensor accepts dims 0 and -1 only
  std::swap(dims[a], dims[b]);
  return permute(dims);
}

Tensor Tensor::t() const {
  SG_CHECK(dim() <= 2, "t: expected a tensor with at most 2 dims, got ", describe(*this));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::expand(const Shape& requested) const {
  check_strided("expand", *this, "self");
  if (requested == shape()) return *this;  // before building any vector: ops expand often
  SG_CHECK(requested.size() >= static_cast<size_t>(dim()), "expand: cannot expand ",
           describe(*this), " to fewer dims ", shape_str(requested));
  const size_t lead = requested.size() - dim();
  Shape shape = requested;
  for (size_t i = lead; i < shape.size(); ++i)
    if (shape[i] == -1) shape[i] = this->shape()[i - lead];  // -1 keeps the size, as in PyTorch
  check_shape("expand", shape);
  Strides st(shape.size(), 0);
  for (size_t i = lead; i < shape.size(); ++i) {
    int64_t have = this->shape()[i - lead];
    SG_CHECK(have == shape[i] || have == 1, "expand: cannot expand ", describe(*this), " to ",
             shape_str(requested), " (dim ", i, ": ", have, " vs ", shape[i], ")");
    st[i] = have == shape[i] ? strides()[i - lead] : 0;
  }
  if (shape == this->shape()) return *this;
  Tensor out = make_view(*this, shape, st, offset());
  Shape in_shape = this->shape();
  record("expand", {*this}, {out}, [in_shape](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{sum_to(g[0], in_shape)};
  });
  return out;
}

Tensor Tensor::squeeze() const {
  Shape s;
  for (int64_t d : shape())
    if (d != 1) s.push_back(d);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = normalize_dim("squeeze", d, dim());
  if (dim() == 0 || shape()[d] != 1) return *this;
  Shape s = shape();
  s.erase(s.begin() + d);
  return view(s);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = normalize_dim("unsqueeze", d, dim() + 1);
  Shape s = shape();
  s.insert(s.begin() + d, 1);
  return view(s);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = normalize_dim("flatten", start_dim, dim());
  end_dim = normalize_dim("flatten", end_dim, dim());
  SG_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape s(shape().begin(), shape().begin() + start_dim);
  int64_t n = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) n *= shape()[i];
  s.push_back(n);
  s.insert(s.end(), shape().begin() + end_dim + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  check_strided("slice", *this, "self");
  SG_CHECK(dim() > 0, "slice: cannot slice a 0-dim tensor");
  d = normalize_dim("slice", d, dim());
  SG_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape();
  Strides st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[d]);
  Shape in_shape = shape();
  record("slice", {*this}, {out}, [in_shape, d, start, end, step](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{embed_grad(g[0], in_shape, [&](const Tensor& full) {
      return full.slice(d, start, end, step);
    })};
  });
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  SG_CHECK(dim() > 0, "narrow: cannot narrow a 0-dim tensor");
  int64_t dd = normalize_dim("narrow", d, dim());
  int64_t n = shape()[dd];
  if (start < 0) start += n;
  SG_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: range [", start, ", ",
           start + length, ") is out of bounds for dim ", dd, " of size ", n, " in ",
           describe(*this));
  return slice(dd, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  check_strided("select", *this, "self");
  SG_CHECK(dim() > 0, "select: cannot select from a 0-dim tensor");
  d = normalize_dim("select", d, dim());
  int64_t n = shape()[d];
  SG_CHECK(index >= -n && index < n, "select: index ", index, " is out of bounds for dim ", d,
           " of size ", n);
  if (index < 0) index += n;
  Shape s = shape();
  Strides st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, s, st, offset() + index * strides()[d]);
  Shape in_shape = shape();
  record("select", {*this}, {out}, [in_shape, d, index](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{embed_grad(g[0], in_shape, [&](const Tensor& full) {
      return full.select(d, index);
    })};
  });
  return out;
}

Tensor Tensor::as_strided(const Shape& shape, const Strides& strides, int64_t offset) const {
  check_strided("as_strided", *this, "self");
  check_shape("as_strided", shape);
  SG_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape_str(shape), " and strides ",
           shape_str(strides), " differ in length");
  SG_CHECK(!any_requires_grad({*this}), "as_strided: not differentiable (internal use only)");
  // Bounds: every reachable element must lie inside the storage.
  int64_t lo = offset, hi = offset;
  bool empty_view = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) empty_view = true;
    if (shape[i] > 0) (strides[i] >= 0 ? hi : lo) += strides[i] * (shape[i] - 1);
  }
  int64_t capacity = static_cast<int64_t>(storage()->nbytes() / element_size());
  SG_CHECK(empty_view || (lo >= 0 && hi < capacity), "as_strided: view ", shape_str(shape),
           " strides ", shape_str(strides), " offset ", offset,
           " reaches outside a storage of ", capacity, " elements");
  return make_view(*this, shape, strides, offset);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  check_strided("clone", *this, "self");
  Tensor out = empty(shape(), Options(dtype(), device()));
  run_kernel(OpId::copy, {*this}, {out});
  record("clone", {*this}, {out}, [](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{g[0]};
  });
  return out;
}

Tensor Tensor::to(DType t) const {
  check_strided("to", *this, "self");
  if (t == dtype()) return *this;
  Tensor out = empty(shape(), Options(t, device()));
  run_kernel(OpId::copy, {*this}, {out});
  if (is_floating(t) && is_floating(dtype())) {
    DType from = dtype();
    record("to", {*this}, {out}, [from](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{g[0].to(from)};
    });
  }
  return out;
}

// A CSR tensor moves as its three components (row pointers, columns, values), so the copy
// shares nothing with the source. The values' move is differentiable when the tensor requires
// grad (see "Autograd" in engine/ops/sparse.h); a tensor that does not moves detached values.
namespace {
Tensor sparse_to(const Tensor& t, Device d) {
  const TensorImpl& src = *t.impl();
  Tensor values(src.values);
  if (!t.requires_grad() && values.requires_grad()) values = values.detach();
  auto impl = std::make_shared<TensorImpl>();
  impl->layout = Layout::sparse_csr;
  impl->shape = src.shape;
  impl->strides = src.strides;
  impl->dtype = src.dtype;
  impl->crow = Tensor(src.crow).to(d).impl();
  impl->col = Tensor(src.col).to(d).impl();
  Tensor moved = values.to(d);
  impl->storage = moved.storage();
  impl->values = moved.impl();
  impl->requires_grad = moved.requires_grad();
  return Tensor(impl);
}
}  // namespace

// Copies the bytes of a contiguous version of the tensor; the runtime stages large host<->device
// copies through pinned memory. Differentiable: the gradient moves back to the source device.
Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  if (is_sparse()) return sparse_to(*this, d);
  check_strided("to", *this, "self");
  if (d.is_cuda()) cuda_require(d);
  Tensor src = contiguous();
  Tensor out = empty(shape(), Options(dtype(), d));
  const size_t n = static_cast<size_t>(numel()) * element_size();
  const Device from = device();
  if (from.is_cpu())
    cuda_copy_host_to_device(d.index, out.raw_data(), src.raw_data(), n);
  else if (d.is_cpu())
    cuda_copy_device_to_host(from.index, out.raw_data(), src.raw_data(), n);
  else
    cuda_copy_device_to_device(d.index, out.raw_data(), from.index, src.raw_data(), n);
  if (is_floating(dtype())) {
    record("to", {*this}, {out}, [from](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{g[0].to(from)};
    });
  }
  return out;
}

Tensor Tensor::detach() const {
  if (is_sparse()) {
    auto impl = std::make_shared<TensorImpl>(*this->impl());
    impl->requires_grad = false;
    impl->grad_fn.reset();
    impl->grad.reset();
    return Tensor(impl);
  }
  return make_view(*this, shape(), strides(), offset());
}

double Tensor::item() const {
  SG_CHECK(numel() == 1, "item: expected a one-element tensor, got ", describe(*this));
  NoGradGuard no_grad;
  if (device().is_cuda()) return to(Device::cpu()).item();
  return *static_cast<const double*>(to(DType::f64).contiguous().raw_data());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  SG_CHECK(dtype() == dtype_v<T>, "to_vector: tensor has dtype ", dtype_name(dtype()),
           ", requested ", dtype_name(dtype_v<T>));
  if (device().is_cuda()) {
    NoGradGuard no_grad;
    return to(Device::cpu()).to_vector<T>();
  }
  Tensor c = contiguous();
  const T* p = static_cast<const T*>(c.raw_data());
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;
template std::vector<BFloat16> Tensor::to_vector<BFloat16>() const;
template std::vector<Float16> Tensor::to_vector<Float16>() const;

Tensor& Tensor::requires_grad_(bool value) {
  SG_CHECK(!value || is_floating(dtype()), "requires_grad_: only floating tensors can require "
           "grad, got ", describe(*this));
  SG_CHECK(is_leaf(), "requires_grad_: can only be set on a leaf tensor (this one has history "
           "from ", grad_fn()->name(), "); use detach() first");
  impl_->requires_grad = value;
  return *this;
}

// --- in-place ------------------------------------------------------------------------------

namespace {
void check_inplace(const char* op, const Tensor& self) {
  check_strided(op, self, "self");
  SG_CHECK(!(grad_enabled() && self.requires_grad()), op, ": in-place write to ",
           describe(self), " that requires grad; do it under NoGradGuard or on a detach()ed tensor");
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace("fill_", *this);
  OpAttrs attrs;
  attrs.alpha = value;
  run_kernel(OpId::fill, {}, {*this}, attrs);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace("copy_", *this);
  check_same_device("copy_", *this, src);
  Tensor s = src.expand(shape());
  run_kernel(OpId::copy, {s}, {*this});
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace("add_", *this);
  check_same_dtype("add_", *this, other);
  Tensor o = alpha == 1.0 ? other : mul(other, scalar_tensor(alpha, dtype()));
  Tensor sum = add(*this, o.expand(shape()));
  return copy_(sum);
}

Tensor& Tensor::mul_(const Tensor& other) {
  check_inplace("mul_", *this);
  check_same_dtype("mul_", *this, other);
  return copy_(mul(*this, other.expand(shape())));
}

Tensor& Tensor::mul_(double value) { return mul_(scalar_tensor(value, dtype())); }

// --- factories -----------------------------------------------------------------------------

Tensor empty(const Shape& shape, Options opts) {
  check_shape("empty", shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(opts.dtype), opts.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opts.dtype;
  Tensor t(impl);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, Options opts) {
  bool rg = opts.requires_grad;
  Tensor t = empty(shape, opts.with_requires_grad(false));
  t.fill_(value);
  if (rg) t.requires_grad_(true);
  return t;
}

Tensor zeros(const Shape& shape, Options opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, Options opts) { return full(shape, 1.0, opts); }
Tensor scalar_tensor(double value, Options opts) { return full({}, value, opts); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), Options(t.dtype(), t.device())); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), Options(t.dtype(), t.device())); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), Options(t.dtype(), t.device())); }
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, Options(t.dtype(), t.device()));
}

Tensor arange(double start, double end, double step, Options opts) {
  SG_CHECK(step != 0, "arange: step must be non-zero");
  SG_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
           "arange: start, end and step must be finite");
  int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  Tensor f = empty({n}, DType::f64);
  double* p = f.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = start + static_cast<double>(i) * step;
  Tensor out = f.to(opts.dtype).to(opts.device);
  if (opts.requires_grad) out.requires_grad_(true);
  return out;
}

Tensor arange(int64_t end, Options opts) { return arange(0.0, static_cast<double>(end), 1.0, opts); }

Tensor linspace(double start, double end, int64_t steps, Options opts) {
  SG_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  Tensor f = empty({steps}, DType::f64);
  double* p = f.data_ptr<double>();
  double h = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // Fill symmetrically from both ends so the last value is exactly `end`.
  for (int64_t i = 0; i < steps; ++i)
    p[i] = i < steps / 2 ? start + h * static_cast<double>(i)
                         : end - h * static_cast<double>(steps - 1 - i);
  Tensor out = f.to(opts.dtype);
  if (opts.requires_grad) out.requires_grad_(true);
  return out;
}

Tensor eye(int64_t n, int64_t m, Options opts) {
  if (m < 0) m = n;
  Tensor out = zeros({n, m}, opts.with_requires_grad(false));
  Tensor diag = out.as_strided({std::min(n, m)}, {m + 1}, 0);
  diag.fill_(1.0);
  if (opts.requires_grad) out.requires_grad_(true);
  return out;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Options opts) {
  check_shape("from_vector", shape);
  SG_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape_str(shape));
  Tensor src = empty(shape, dtype_v<T>);
  T* p = src.data_ptr<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  Tensor out = src.to(opts.dtype);
  if (opts.requires_grad) out.requires_grad_(true);
  return out;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Options);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Options);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Options);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Options);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Options);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, Options);
template Tensor from_vector<BFloat16>(const std::vector<BFloat16>&, const Shape&, Options);
template Tensor from_vector<Float16>(const std::vector<Float16>&, const Shape&, Options);

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keep_alive) {
  check_shape("from_blob", shape);
  SG_CHECK(data != nullptr || numel_of(shape) == 0, "from_blob: null data for shape ",
           shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, numel_of(shape) * dtype_size(dtype),
                                            Device::cpu(), std::move(keep_alive));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

// --- comparisons and checks ----------------------------------------------------------------

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  NoGradGuard no_grad;
  auto x = a.to(DType::f64).to_vector<double>();  // to() is a no-op for f64
  auto y = b.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    if (x[i] == y[i]) continue;  // equal infinities
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) return false;
  }
  return true;
}

bool equal(const Tensor& a, const Tensor& b) { return allclose(a, b, 0.0, 0.0); }

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  SG_CHECK(a.device() == b.device(), op, ": expected tensors on the same device, got ",
           describe(a), " and ", describe(b));
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  SG_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, got ", describe(a), " and ",
           describe(b), " (no implicit promotion: convert with .to(dtype))");
}

void check_defined(const char* op, const Tensor& t, const char* arg) {
  SG_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void check_strided(const char* op, const Tensor& t, const char* arg) {
  check_defined(op, t, arg);
  SG_CHECK(t.layout() == Layout::strided, op, ": argument '", arg,
           "' is a sparse CSR tensor; this op needs a dense one (use to_dense())");
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = std::string(dtype_name(t.dtype())) + shape_str(t.shape());
  if (t.is_sparse()) s += " sparse_csr";
  return s + " on " + t.device().str();
}

}  // namespace stackgrad
