// Convolutions: shape rules, kernel calls and backward formulas side by side. Kernels get
// contiguous operands (im2col wants them; a non-contiguous input costs one copy).
// conv2d's gradients come from two dedicated kernels, conv_transpose2d is built from the same
// three kernels with the roles swapped (its forward is conv2d's input gradient). Pooling and
// upsampling are in conv_pool.cpp.
#include "engine/ops/conv.h"

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace stackgrad {
namespace {

using Grads = std::vector<Tensor>;

struct ConvGeometry {
  Size2 stride, padding, dilation;
  int64_t groups;
};

// attrs.ints = {stride h, w, padding h, w, dilation h, w, groups}.
OpAttrs conv_attrs(const ConvGeometry& g) {
  OpAttrs a;
  a.ints = {g.stride[0],   g.stride[1],   g.padding[0], g.padding[1],
            g.dilation[0], g.dilation[1], g.groups};
  return a;
}

std::string pair_str(Size2 p) { return str_cat("{", p[0], ", ", p[1], "}"); }

// The conv2d output size along one axis, < 1 when the dilated kernel does not fit.
int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

void check_geometry(const char* op, const ConvGeometry& g) {
  SG_CHECK(g.stride[0] > 0 && g.stride[1] > 0, op, ": stride must be positive, got ",
           pair_str(g.stride));
  SG_CHECK(g.padding[0] >= 0 && g.padding[1] >= 0, op, ": padding must be non-negative, got ",
           pair_str(g.padding));
  SG_CHECK(g.dilation[0] > 0 && g.dilation[1] > 0, op, ": dilation must be positive, got ",
           pair_str(g.dilation));
  SG_CHECK(g.groups > 0, op, ": groups must be positive, got ", g.groups);
}

void check_image(const char* op, const Tensor& t, const char* arg, const char* layout) {
  check_defined(op, t, arg);
  check_strided(op, t, arg);
  SG_CHECK(is_floating(t.dtype()), op, ": expected a floating ", arg, ", got ", describe(t));
  SG_CHECK(t.dim() == 4, op, ": expected ", arg, " ", layout, ", got ", shape_str(t.shape()));
}

void check_pair(const char* op, const Tensor& a, const Tensor& b) {
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
}

// Checks weight [O, C/groups, kh, kw] against C input channels and the bias against O.
void check_weight(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                  int64_t channels, int64_t groups, int64_t out_channels) {
  SG_CHECK(channels % groups == 0, op, ": input channels ", channels,
           " are not divisible by groups ", groups, " (input ", shape_str(x.shape()), ")");
  SG_CHECK(w.size(0) % groups == 0, op, ": weight ", shape_str(w.shape()), " dim 0 (", w.size(0),
           ") is not divisible by groups ", groups);
  if (bias.defined()) {
    check_strided(op, bias, "bias");
    check_pair(op, x, bias);
    SG_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, op, ": expected bias [", out_channels,
             "], got ", shape_str(bias.shape()));
  }
}

Tensor run_conv(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g,
                const Shape& out_shape) {
  NoGradGuard no_grad;
  Tensor y = empty(out_shape, Options(x.dtype(), x.device()));
  std::vector<Tensor> in{x.contiguous(), w.contiguous()};
  if (bias.defined()) in.push_back(bias.contiguous());
  run_kernel(OpId::conv2d, in, {y}, conv_attrs(g));
  return y;
}

Tensor run_backward_input(const Tensor& dy, const Tensor& w, const ConvGeometry& g,
                          const Shape& input_shape) {
  NoGradGuard no_grad;
  Tensor dx = empty(input_shape, Options(dy.dtype(), dy.device()));
  run_kernel(OpId::conv2d_backward_input, {dy.contiguous(), w.contiguous()}, {dx}, conv_attrs(g));
  return dx;
}

Tensor run_backward_weight(const Tensor& dy, const Tensor& x, const ConvGeometry& g,
                           const Shape& weight_shape) {
  NoGradGuard no_grad;
  Tensor dw = empty(weight_shape, Options(dy.dtype(), dy.device()));
  run_kernel(OpId::conv2d_backward_weight, {dy.contiguous(), x.contiguous()}, {dw}, conv_attrs(g));
  return dw;
}

Tensor bias_grad(const Tensor& g) { return sum(g, {0, 2, 3}); }

// The conv2d output shape for input [N, C, H, W] and weight [O, C/groups, kh, kw], checked.
Shape conv2d_shape(const char* op, const Shape& x, const Shape& w, const ConvGeometry& g) {
  SG_CHECK(w[1] * g.groups == x[1], op, ": weight ", shape_str(w), " expects ", w[1] * g.groups,
           " input channels (groups ", g.groups, "), got input ", shape_str(x));
  const int64_t ho = conv_out(x[2], w[2], g.stride[0], g.padding[0], g.dilation[0]);
  const int64_t wo = conv_out(x[3], w[3], g.stride[1], g.padding[1], g.dilation[1]);
  SG_CHECK(ho > 0 && wo > 0, op, ": kernel ", w[2], "x", w[3], " (dilation ", pair_str(g.dilation),
           ") does not fit the padded input ", shape_str(x), " (padding ", pair_str(g.padding),
           ")");
  return {x[0], w[0], ho, wo};
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  const char* op = "conv2d";
  const ConvGeometry g{stride, padding, dilation, groups};
  check_image(op, x, "input", "(N,C,H,W)");
  check_image(op, w, "weight", "(O,C/groups,kh,kw)");
  check_pair(op, x, w);
  check_geometry(op, g);
  check_weight(op, x, w, bias, x.size(1), groups, w.size(0));
  const Shape out_shape = conv2d_shape(op, x.shape(), w.shape(), g);
  Tensor y = run_conv(x, w, bias, g, out_shape);
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = bias.requires_grad();
  record(op, {x, w, bias}, {y},
         [sx = SavedTensor(x, op), sw = SavedTensor(w, op), g, gx, gw, gb](const Grads& grads) {
           Tensor x = sx.get(), w = sw.get(), dy = grads[0];
           return Grads{gx ? run_backward_input(dy, w, g, x.shape()) : Tensor(),
                        gw ? run_backward_weight(dy, x, g, w.shape()) : Tensor(),
                        gb ? bias_grad(dy) : Tensor()};
         });
  return y;
}

Tensor conv2d_backward_input(const Tensor& grad, const Tensor& w, const Shape& input_shape,
                             Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  const char* op = "conv2d_backward_input";
  const ConvGeometry g{stride, padding, dilation, groups};
  check_image(op, grad, "grad", "(N,O,Ho,Wo)");
  check_image(op, w, "weight", "(O,C/groups,kh,kw)");
  check_pair(op, grad, w);
  check_geometry(op, g);
  SG_CHECK(input_shape.size() == 4, op, ": expected input_shape (N,C,H,W), got ",
           shape_str(input_shape));
  check_weight(op, grad, w, Tensor(), input_shape[1], groups, w.size(0));
  const Shape out_shape = conv2d_shape(op, input_shape, w.shape(), g);
  SG_CHECK(grad.shape() == out_shape, op, ": grad ", shape_str(grad.shape()),
           " does not match the conv2d output ", shape_str(out_shape));
  return run_backward_input(grad, w, g, input_shape);
}

Tensor conv2d_backward_weight(const Tensor& grad, const Tensor& x, const Shape& weight_shape,
                              Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  const char* op = "conv2d_backward_weight";
  const ConvGeometry g{stride, padding, dilation, groups};
  check_image(op, grad, "grad", "(N,O,Ho,Wo)");
  check_image(op, x, "input", "(N,C,H,W)");
  check_pair(op, grad, x);
  check_geometry(op, g);
  SG_CHECK(weight_shape.size() == 4, op, ": expected weight_shape (O,C/groups,kh,kw), got ",
           shape_str(weight_shape));
  SG_CHECK(x.size(1) % groups == 0 && weight_shape[0] % groups == 0, op, ": channels of input ",
           shape_str(x.shape()), " and weight ", shape_str(weight_shape),
           " are not divisible by groups ", groups);
  const Shape out_shape = conv2d_shape(op, x.shape(), weight_shape, g);
  SG_CHECK(grad.shape() == out_shape, op, ": grad ", shape_str(grad.shape()),
           " does not match the conv2d output ", shape_str(out_shape));
  return run_backward_weight(grad, x, g, weight_shape);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, Size2 stride,
                        Size2 padding, Size2 output_padding, Size2 dilation, int64_t groups) {
  const char* op = "conv_transpose2d";
  const ConvGeometry g{stride, padding, dilation, groups};
  check_image(op, x, "input", "(N,C,H,W)");
  check_image(op, w, "weight", "(C,O/groups,kh,kw)");
  check_pair(op, x, w);
  check_geometry(op, g);
  SG_CHECK(w.size(0) == x.size(1), op, ": weight ", shape_str(w.shape()), " expects ", w.size(0),
           " input channels, got input ", shape_str(x.shape()));
  const int64_t out_channels = w.size(1) * groups;
  check_weight(op, x, w, bias, x.size(1), groups, out_channels);
  for (int a = 0; a < 2; ++a)
    SG_CHECK(output_padding[a] >= 0 &&
                 (output_padding[a] < stride[a] || output_padding[a] < dilation[a]),
             op, ": output_padding ", pair_str(output_padding),
             " must be non-negative and smaller than stride ", pair_str(stride), " or dilation ",
             pair_str(dilation));
  Shape out_shape{x.size(0), out_channels, 0, 0};
  for (int a = 0; a < 2; ++a)
    out_shape[2 + a] = (x.size(2 + a) - 1) * stride[a] - 2 * padding[a] +
                       dilation[a] * (w.size(2 + a) - 1) + output_padding[a] + 1;
  SG_CHECK(out_shape[2] > 0 && out_shape[3] > 0, op, ": the output ", shape_str(out_shape),
           " of input ", shape_str(x.shape()), " and weight ", shape_str(w.shape()),
           " is empty (padding ", pair_str(padding), ")");
  // y is the input gradient of the conv2d that maps y's shape back to x's shape.
  Tensor y = run_backward_input(x, w, g, out_shape);
  if (bias.defined()) {
    NoGradGuard no_grad;
    y = y + bias.view({1, out_channels, 1, 1});
  }
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = bias.requires_grad();
  record(op, {x, w, bias}, {y},
         [sx = SavedTensor(x, op), sw = SavedTensor(w, op), g, gx, gw, gb](const Grads& grads) {
           Tensor x = sx.get(), w = sw.get(), dy = grads[0];
           return Grads{gx ? run_conv(dy, w, Tensor(), g, x.shape()) : Tensor(),
                        gw ? run_backward_weight(x, dy, g, w.shape()) : Tensor(),
                        gb ? bias_grad(dy) : Tensor()};
         });
  return y;
}

}  // namespace stackgrad
