// Pooling and upsampling over NCHW images: shape rules, kernel calls and backward side by side.
// Every backward is a kernel of its own (a deterministic scatter, one image plane per task).
#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/conv.h"

namespace stackgrad {
namespace {

using Grads = std::vector<Tensor>;

std::string pair_str(Size2 p) { return str_cat("{", p[0], ", ", p[1], "}"); }

void check_input(const char* op, const Tensor& x, const char* arg = "input") {
  check_defined(op, x, arg);
  check_strided(op, x, arg);
  SG_CHECK(is_floating(x.dtype()), op, ": expected a floating ", arg, ", got ", describe(x));
  SG_CHECK(x.dim() == 4, op, ": expected ", arg, " (N,C,H,W), got ", shape_str(x.shape()));
}

void check_input_shape(const char* op, const Shape& s) {
  SG_CHECK(s.size() == 4, op, ": expected input_shape (N,C,H,W), got ", shape_str(s));
}

struct PoolGeometry {
  Size2 kernel, stride, padding, dilation;
  bool ceil_mode;
};

// attrs.ints = {kernel h, w, stride h, w, padding h, w, dilation h, w}.
OpAttrs pool_attrs(const PoolGeometry& g) {
  OpAttrs a;
  a.ints = {g.kernel[0],  g.kernel[1],  g.stride[0],   g.stride[1],
            g.padding[0], g.padding[1], g.dilation[0], g.dilation[1]};
  return a;
}

PoolGeometry pool_geometry(const char* op, Size2 kernel, Size2 stride, Size2 padding,
                           Size2 dilation, bool ceil_mode) {
  if (stride[0] == 0 && stride[1] == 0) stride = kernel;
  SG_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel size must be positive, got ",
           pair_str(kernel));
  SG_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive, got ", pair_str(stride));
  SG_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be positive, got ",
           pair_str(dilation));
  SG_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[0] <= kernel[0] / 2 &&
               padding[1] <= kernel[1] / 2,
           op, ": padding ", pair_str(padding),
           " must be non-negative and at most half the kernel ", pair_str(kernel));
  return {kernel, stride, padding, dilation, ceil_mode};
}

// Output size along one axis; with ceil_mode the last window must start inside the image or
// its left padding.
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

Shape pool_shape(const char* op, const Shape& x, const PoolGeometry& g) {
  const int64_t ho =
      pool_out(x[2], g.kernel[0], g.stride[0], g.padding[0], g.dilation[0], g.ceil_mode);
  const int64_t wo =
      pool_out(x[3], g.kernel[1], g.stride[1], g.padding[1], g.dilation[1], g.ceil_mode);
  SG_CHECK(ho > 0 && wo > 0, op, ": kernel ", pair_str(g.kernel), " (dilation ",
           pair_str(g.dilation), ") does not fit the padded input ", shape_str(x), " (padding ",
           pair_str(g.padding), ")");
  return {x[0], x[1], ho, wo};
}

Tensor run(OpId op, const Tensor& in, const Shape& out_shape, const OpAttrs& attrs) {
  NoGradGuard no_grad;
  Tensor out = empty(out_shape, Options(in.dtype(), in.device()));
  run_kernel(op, {in.contiguous()}, {out}, attrs);
  return out;
}

void check_grad(const char* op, const Tensor& grad, const Shape& input_shape,
                const Shape& expected) {
  check_input(op, grad, "grad");
  check_input_shape(op, input_shape);
  SG_CHECK(grad.shape() == expected, op, ": grad ", shape_str(grad.shape()),
           " does not match the forward output ", shape_str(expected), " for input ",
           shape_str(input_shape));
}

OpAttrs avg_attrs(const PoolGeometry& g, bool count_include_pad) {
  OpAttrs a = pool_attrs(g);
  a.flag2 = count_include_pad;
  return a;
}

OpAttrs upsample_attrs(UpsampleMode mode, bool align_corners) {
  OpAttrs a;
  a.mode = mode == UpsampleMode::bilinear ? 1 : 0;
  a.flag = align_corners;
  return a;
}

}  // namespace

MaxPoolResult max_pool2d_with_indices(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding,
                                      Size2 dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_input(op, x);
  const PoolGeometry g = pool_geometry(op, kernel, stride, padding, dilation, ceil_mode);
  const Shape out_shape = pool_shape(op, x.shape(), g);
  MaxPoolResult r{empty(out_shape, Options(x.dtype(), x.device())),
                  empty(out_shape, Options(DType::i64, x.device()))};
  {
    NoGradGuard no_grad;
    run_kernel(OpId::max_pool2d, {x.contiguous()}, {r.values, r.indices}, pool_attrs(g));
  }
  record(op, {x}, {r.values, r.indices},
         [si = SavedTensor(r.indices, op), shape = x.shape()](const Grads& grads) {
           NoGradGuard no_grad;
           Tensor dx = empty(shape, Options(grads[0].dtype(), grads[0].device()));
           run_kernel(OpId::max_pool2d_backward, {grads[0].contiguous(), si.get()}, {dx});
           return Grads{dx};
         });
  return r;
}

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation,
                  bool ceil_mode) {
  return max_pool2d_with_indices(x, kernel, stride, padding, dilation, ceil_mode).values;
}

Tensor max_pool2d_backward(const Tensor& grad, const Tensor& indices, const Shape& input_shape) {
  const char* op = "max_pool2d_backward";
  check_input(op, grad, "grad");
  check_input_shape(op, input_shape);
  check_defined(op, indices, "indices");
  check_same_device(op, grad, indices);
  SG_CHECK(indices.dtype() == DType::i64 && indices.shape() == grad.shape(), op,
           ": expected indices i64", shape_str(grad.shape()), " like grad, got ",
           describe(indices));
  SG_CHECK(grad.size(0) == input_shape[0] && grad.size(1) == input_shape[1], op, ": grad ",
           shape_str(grad.shape()), " and input_shape ", shape_str(input_shape),
           " differ in N or C");
  NoGradGuard no_grad;
  Tensor dx = empty(input_shape, Options(grad.dtype(), grad.device()));
  run_kernel(OpId::max_pool2d_backward, {grad.contiguous(), indices.contiguous()}, {dx});
  return dx;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad) {
  const char* op = "avg_pool2d";
  check_input(op, x);
  const PoolGeometry g = pool_geometry(op, kernel, stride, padding, {1, 1}, ceil_mode);
  Tensor y =
      run(OpId::avg_pool2d, x, pool_shape(op, x.shape(), g), avg_attrs(g, count_include_pad));
  record(op, {x}, {y}, [g, count_include_pad, shape = x.shape()](const Grads& grads) {
    return Grads{run(OpId::avg_pool2d_backward, grads[0], shape, avg_attrs(g, count_include_pad))};
  });
  return y;
}

Tensor avg_pool2d_backward(const Tensor& grad, const Shape& input_shape, Size2 kernel, Size2 stride,
                           Size2 padding, bool ceil_mode, bool count_include_pad) {
  const char* op = "avg_pool2d_backward";
  const PoolGeometry g = pool_geometry(op, kernel, stride, padding, {1, 1}, ceil_mode);
  check_input_shape(op, input_shape);
  check_grad(op, grad, input_shape, pool_shape(op, input_shape, g));
  return run(OpId::avg_pool2d_backward, grad, input_shape, avg_attrs(g, count_include_pad));
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  const char* op = "adaptive_avg_pool2d";
  check_input(op, x);
  SG_CHECK(output_size[0] > 0 && output_size[1] > 0, op, ": output size must be positive, got ",
           pair_str(output_size));
  SG_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": expected a non-empty image, got ",
           shape_str(x.shape()));
  Tensor y = run(OpId::adaptive_avg_pool2d, x,
                 {x.size(0), x.size(1), output_size[0], output_size[1]}, OpAttrs{});
  record(op, {x}, {y}, [shape = x.shape()](const Grads& grads) {
    return Grads{run(OpId::adaptive_avg_pool2d_backward, grads[0], shape, OpAttrs{})};
  });
  return y;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad, const Shape& input_shape) {
  const char* op = "adaptive_avg_pool2d_backward";
  check_input(op, grad, "grad");
  check_input_shape(op, input_shape);
  SG_CHECK(grad.size(0) == input_shape[0] && grad.size(1) == input_shape[1] && input_shape[2] > 0 &&
               input_shape[3] > 0,
           op, ": grad ", shape_str(grad.shape()), " does not fit input_shape ",
           shape_str(input_shape));
  return run(OpId::adaptive_avg_pool2d_backward, grad, input_shape, OpAttrs{});
}

Tensor upsample(const Tensor& x, Size2 size, UpsampleMode mode, bool align_corners) {
  const char* op = "upsample";
  check_input(op, x);
  SG_CHECK(size[0] > 0 && size[1] > 0, op, ": output size must be positive, got ", pair_str(size));
  SG_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": expected a non-empty image, got ",
           shape_str(x.shape()));
  const OpAttrs attrs = upsample_attrs(mode, align_corners);
  Tensor y = run(OpId::upsample, x, {x.size(0), x.size(1), size[0], size[1]}, attrs);
  record(op, {x}, {y}, [attrs, shape = x.shape()](const Grads& grads) {
    return Grads{run(OpId::upsample_backward, grads[0], shape, attrs)};
  });
  return y;
}

Tensor upsample(const Tensor& x, double scale, UpsampleMode mode, bool align_corners) {
  check_input("upsample", x);
  SG_CHECK(scale > 0, "upsample: scale must be positive, got ", scale);
  return upsample(x,
                  Size2{static_cast<int64_t>(static_cast<double>(x.size(2)) * scale),
                        static_cast<int64_t>(static_cast<double>(x.size(3)) * scale)},
                  mode, align_corners);
}

Tensor upsample_backward(const Tensor& grad, const Shape& input_shape, UpsampleMode mode,
                         bool align_corners) {
  const char* op = "upsample_backward";
  check_input(op, grad, "grad");
  check_input_shape(op, input_shape);
  SG_CHECK(grad.size(0) == input_shape[0] && grad.size(1) == input_shape[1] && input_shape[2] > 0 &&
               input_shape[3] > 0,
           op, ": grad ", shape_str(grad.shape()), " does not fit input_shape ",
           shape_str(input_shape));
  return run(OpId::upsample_backward, grad, input_shape, upsample_attrs(mode, align_corners));
}

}  // namespace stackgrad
