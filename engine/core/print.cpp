// Printing like NumPy's repr: nested brackets, aligned columns, and '...' past 1000 elements
// (three items at each edge of every dim).
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "engine/core/tensor.h"

namespace stackgrad {

namespace {

constexpr int64_t kSummariseOver = 1000;
constexpr int64_t kEdgeItems = 3;

std::string format_value(double v, DType t, bool all_integral) {
  char buf[64];
  if (t == DType::boolean) return v != 0 ? "true" : "false";
  if (!is_floating(t)) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (all_integral && std::fabs(v) < 1e16) {
    std::snprintf(buf, sizeof buf, "%.0f.", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

struct Printer {
  const std::vector<double>& values;
  const Shape& shape;
  DType dtype;
  bool summarise;
  bool all_integral;
  size_t width;

  void print(std::ostream& os, int64_t dim, int64_t base, int indent) const {
    if (dim == static_cast<int64_t>(shape.size())) {
      std::string s = format_value(values[base], dtype, all_integral);
      os << std::string(width > s.size() ? width - s.size() : 0, ' ') << s;
      return;
    }
    int64_t n = shape[dim], stride = 1;
    for (size_t d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
    os << '[';
    for (int64_t i = 0; i < n; ++i) {
      if (summarise && n > 2 * kEdgeItems && i == kEdgeItems) {
        os << "...";
        i = n - kEdgeItems - 1;
        os << (dim + 1 == static_cast<int64_t>(shape.size()) ? ", " : ",\n" + std::string(indent + 1, ' '));
        continue;
      }
      print(os, dim + 1, base + i * stride, indent + 1);
      if (i + 1 < n) {
        if (dim + 1 == static_cast<int64_t>(shape.size())) os << ", ";
        else os << ',' << std::string(shape.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
      }
    }
    os << ']';
  }
};

}  // namespace

std::string Tensor::repr() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  if (is_sparse()) {
    os << "tensor(sparse_csr, shape=" << shape_str(shape()) << ", nnz=" << impl()->col->shape[0]
       << ", dtype=" << dtype_name(dtype()) << ")";
    return os.str();
  }
  Tensor values = to(DType::f64).contiguous();
  std::vector<double> v = values.to_vector<double>();
  bool integral = true;
  for (double x : v)
    if (std::isfinite(x) && x != std::floor(x)) integral = false;
  bool summarise = numel() > kSummariseOver;
  size_t width = 0;
  for (double x : v) width = std::max(width, format_value(x, dtype(), integral).size());
  os << "tensor(";
  Printer{v, shape(), dtype(), summarise, integral, width}.print(os, 0, 0, 7);
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad=true";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.repr(); }

}  // namespace stackgrad
