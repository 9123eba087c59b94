// Tensor: a view (shape, strides in elements, offset, dtype) onto a shared Storage, plus the
// autograd fields. Copying a Tensor copies a handle; views share storage.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/shape.h"
#include "engine/core/storage.h"

namespace stackgrad {

class Node;
class Tensor;

enum class Layout : uint8_t { strided, sparse_csr };

// Options for factories. Implicit from a DType or a Device so `zeros({2, 3}, DType::f64)` reads.
struct Options {
  DType dtype = DType::f32;
  Device device = Device::cpu();
  bool requires_grad = false;
  Options() = default;
  Options(DType t) : dtype(t) {}        // NOLINT(google-explicit-constructor)
  Options(Device d) : device(d) {}      // NOLINT(google-explicit-constructor)
  Options(DType t, Device d, bool rg = false) : dtype(t), device(d), requires_grad(rg) {}
  Options with_dtype(DType t) const { Options o = *this; o.dtype = t; return o; }
  Options with_device(Device d) const { Options o = *this; o.device = d; return o; }
  Options with_requires_grad(bool r = true) const { Options o = *this; o.requires_grad = r; return o; }
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  Layout layout = Layout::strided;
  // Sparse CSR components (layout == sparse_csr): row pointers (i64, rows+1), column indices
  // (i64, nnz) and values (nnz); `shape` is the dense shape [rows, cols].
  std::shared_ptr<TensorImpl> crow, col, values;
  // Autograd.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
  int output_nr = 0;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  // --- metadata ---
  const Shape& shape() const { return checked().shape; }
  const Strides& strides() const { return checked().strides; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t offset() const { return checked().offset; }
  int64_t numel() const;
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage ? impl_->storage->device() : Device::cpu(); }
  Layout layout() const { return checked().layout; }
  bool is_sparse() const { return layout() == Layout::sparse_csr; }
  bool is_contiguous() const;
  size_t element_size() const { return dtype_size(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return checked().storage; }
  // Pointer to the first element (storage base + offset).
  void* raw_data() const;
  template <typename T>
  T* data_ptr() const {
    SG_CHECK(dtype() == dtype_v<T>, "data_ptr: tensor has dtype ", dtype_name(dtype()),
             ", requested ", dtype_name(dtype_v<T>));
    return static_cast<T*>(raw_data());
  }

  // --- views: share storage, differentiable ---
  Tensor view(const Shape& shape) const;     // requires compatible strides
  Tensor reshape(const Shape& shape) const;  // a view when strides allow, else a copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor as_strided(const Shape& shape, const Strides& strides, int64_t offset) const;

  // --- copies ---
  Tensor contiguous() const;  // no-op when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor detach() const;  // shares storage, no history
  double item() const;    // the value of a one-element tensor, as double
  template <typename T>
  T item() const {
    return static_cast<T>(item());
  }
  template <typename T>
  std::vector<T> to_vector() const;  // copies out in C order; dtype must match T

  // --- autograd ---
  bool requires_grad() const { return defined() && impl_->requires_grad; }
  Tensor& requires_grad_(bool value = true);
  bool is_leaf() const { return !checked().grad_fn; }
  const std::shared_ptr<Node>& grad_fn() const { return checked().grad_fn; }
  Tensor grad() const { return Tensor(checked().grad); }
  void set_grad(const Tensor& g) { checked().grad = g.impl_; }
  void zero_grad() { checked().grad.reset(); }
  // Backpropagates from this tensor. `gradient` defaults to 1 for a one-element tensor.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  // --- in-place (bump the version counter; not recorded by autograd) ---
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // broadcasts src; casts dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);

  std::string repr() const;

 private:
  TensorImpl& checked() const {
    SG_CHECK(impl_ != nullptr, "Tensor: operation on an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// --- factories ---
Tensor empty(const Shape& shape, Options opts = {});
Tensor zeros(const Shape& shape, Options opts = {});
Tensor ones(const Shape& shape, Options opts = {});
Tensor full(const Shape& shape, double value, Options opts = {});
Tensor scalar_tensor(double value, Options opts = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// [start, end) in steps of `step`, like numpy.arange.
Tensor arange(double start, double end, double step = 1.0, Options opts = DType::i64);
Tensor arange(int64_t end, Options opts = DType::i64);
Tensor linspace(double start, double end, int64_t steps, Options opts = {});
Tensor eye(int64_t n, int64_t m = -1, Options opts = {});
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Options opts = dtype_v<T>);
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())}, dtype_v<T>);
}
// Wraps caller-owned CPU memory (C order) without copying; `keep_alive` is held by the tensor.
Tensor from_blob(void* data, const Shape& shape, DType dtype,
                 std::shared_ptr<void> keep_alive = nullptr);

// True when two tensors have equal shapes, dtypes and values within rtol/atol (NaNs equal).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
bool equal(const Tensor& a, const Tensor& b);

// Shared checks, each naming the op.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_defined(const char* op, const Tensor& t, const char* arg);
void check_strided(const char* op, const Tensor& t, const char* arg);
std::string describe(const Tensor& t);  // "f32[2, 3] on cpu"

}  // namespace stackgrad
