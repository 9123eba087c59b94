#include "nn/conv.h"

#include <cmath>

#include "nn/init.h"

namespace stackgrad::nn {

std::string pair_str(const IntPair& p) {
  return p.h == p.w ? std::to_string(p.h) : str_cat("(", p.h, ", ", p.w, ")");
}

namespace {

void check_geometry(const char* layer, int64_t in, int64_t out, const IntPair& kernel,
                    const IntPair& stride, const IntPair& padding, const IntPair& dilation,
                    int64_t groups) {
  SG_CHECK(in > 0 && out > 0, layer, ": channels must be positive, got in=", in, ", out=", out);
  SG_CHECK(kernel.h > 0 && kernel.w > 0, layer, ": kernel_size must be positive, got ",
           pair_str(kernel));
  SG_CHECK(stride.h > 0 && stride.w > 0, layer, ": stride must be positive, got ",
           pair_str(stride));
  SG_CHECK(padding.h >= 0 && padding.w >= 0, layer, ": padding must be >= 0, got ",
           pair_str(padding));
  SG_CHECK(dilation.h > 0 && dilation.w > 0, layer, ": dilation must be positive, got ",
           pair_str(dilation));
  SG_CHECK(groups > 0 && in % groups == 0 && out % groups == 0, layer, ": groups=", groups,
           " must divide in=", in, " and out=", out);
}

// torch's _ConvNd.reset_parameters: U(-1/sqrt(fan_in), +) for both, fan_in from the weight.
void reset_conv(Tensor& weight, Tensor& bias, Generator& gen) {
  kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in_out(weight.shape()).fan_in));
    uniform_(bias, gen, -bound, bound);
  }
}

void check_input(const char* layer, const Tensor& x, int64_t channels) {
  SG_CHECK(x.dim() == 4 && x.size(1) == channels, layer, ": expected input [N, ", channels,
           ", H, W], got ", shape_str(x.shape()));
}

std::string geometry_repr(int64_t in, int64_t out, const IntPair& kernel, const IntPair& stride,
                          const IntPair& padding, const IntPair& dilation, int64_t groups,
                          bool bias) {
  std::string s = str_cat("in=", in, ", out=", out, ", kernel_size=", pair_str(kernel),
                          ", stride=", pair_str(stride));
  if (padding != IntPair(0)) s += ", padding=" + pair_str(padding);
  if (dilation != IntPair(1)) s += ", dilation=" + pair_str(dilation);
  if (groups != 1) s += str_cat(", groups=", groups);
  s += bias ? ", bias=true" : ", bias=false";
  return s;
}

}  // namespace

// --- Conv2d ---------------------------------------------------------------------------------

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, Conv2dOptions opts,
               Generator& gen)
    : AdaptableLayer("Conv2d"),
      in_channels(in_channels),
      out_channels(out_channels),
      kernel_size(kernel_size),
      options(opts) {
  check_geometry("Conv2d", in_channels, out_channels, kernel_size, opts.stride, opts.padding,
                 opts.dilation, opts.groups);
  register_parameter(
      "weight", weight,
      empty({out_channels, in_channels / opts.groups, kernel_size.h, kernel_size.w}));
  if (opts.bias) register_parameter("bias", bias, empty({out_channels}));
  reset_parameters(gen);
}

void Conv2d::reset_parameters(Generator& gen) { reset_conv(weight, bias, gen); }

Tensor Conv2d::base_forward(const Tensor& x) {
  check_input("Conv2d", x, in_channels);
  return conv2d(x, weight, bias, options.stride.size2(), options.padding.size2(),
                options.dilation.size2(), options.groups);
}

std::string Conv2d::extra_repr() const {
  return geometry_repr(in_channels, out_channels, kernel_size, options.stride, options.padding,
                       options.dilation, options.groups, bias.defined());
}

// --- ConvTranspose2d ------------------------------------------------------------------------

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
                                 ConvTranspose2dOptions opts, Generator& gen)
    : Module("ConvTranspose2d"),
      in_channels(in_channels),
      out_channels(out_channels),
      kernel_size(kernel_size),
      options(opts) {
  check_geometry("ConvTranspose2d", in_channels, out_channels, kernel_size, opts.stride,
                 opts.padding, opts.dilation, opts.groups);
  const IntPair& op = opts.output_padding;
  SG_CHECK(op.h >= 0 && op.w >= 0 && (op.h < opts.stride.h || op.h < opts.dilation.h) &&
               (op.w < opts.stride.w || op.w < opts.dilation.w),
           "ConvTranspose2d: output_padding ", pair_str(op),
           " must be smaller than stride or dilation, got stride ", pair_str(opts.stride),
           ", dilation ", pair_str(opts.dilation));
  register_parameter(
      "weight", weight,
      empty({in_channels, out_channels / opts.groups, kernel_size.h, kernel_size.w}));
  if (opts.bias) register_parameter("bias", bias, empty({out_channels}));
  reset_conv(weight, bias, gen);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input("ConvTranspose2d", x, in_channels);
  return conv_transpose2d(x, weight, bias, options.stride.size2(), options.padding.size2(),
                          options.output_padding.size2(), options.dilation.size2(), options.groups);
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = geometry_repr(in_channels, out_channels, kernel_size, options.stride,
                                options.padding, options.dilation, options.groups, bias.defined());
  if (options.output_padding != IntPair(0))
    s += ", output_padding=" + pair_str(options.output_padding);
  return s;
}

}  // namespace stackgrad::nn
