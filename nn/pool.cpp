#include "nn/pool.h"

namespace stackgrad::nn {

namespace {

void check_image(const char* layer, const Tensor& x) {
  SG_CHECK(x.dim() == 4, layer, ": expected input [N, C, H, W], got ", shape_str(x.shape()));
}

void check_positive(const char* layer, const char* what, const IntPair& p) {
  SG_CHECK(p.h > 0 && p.w > 0, layer, ": ", what, " must be positive, got ", pair_str(p));
}

// The stride that windows actually use (0 stands for the kernel size).
IntPair effective_stride(const IntPair& stride, const IntPair& kernel) {
  return {stride.h == 0 ? kernel.h : stride.h, stride.w == 0 ? kernel.w : stride.w};
}

}  // namespace

MaxPool2d::MaxPool2d(IntPair kernel_size, MaxPool2dOptions opts)
    : Module("MaxPool2d"), kernel_size(kernel_size), options(opts) {
  check_positive("MaxPool2d", "kernel_size", kernel_size);
  options.stride = effective_stride(opts.stride, kernel_size);
  check_positive("MaxPool2d", "stride", options.stride);
}

Tensor MaxPool2d::forward(const Tensor& x) {
  check_image("MaxPool2d", x);
  return max_pool2d(x, kernel_size.size2(), options.stride.size2(), options.padding.size2(),
                    options.dilation.size2(), options.ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  std::string s =
      str_cat("kernel_size=", pair_str(kernel_size), ", stride=", pair_str(options.stride),
              ", padding=", pair_str(options.padding));
  if (options.dilation != IntPair(1)) s += ", dilation=" + pair_str(options.dilation);
  if (options.ceil_mode) s += ", ceil_mode=true";
  return s;
}

AvgPool2d::AvgPool2d(IntPair kernel_size, AvgPool2dOptions opts)
    : Module("AvgPool2d"), kernel_size(kernel_size), options(opts) {
  check_positive("AvgPool2d", "kernel_size", kernel_size);
  options.stride = effective_stride(opts.stride, kernel_size);
  check_positive("AvgPool2d", "stride", options.stride);
}

Tensor AvgPool2d::forward(const Tensor& x) {
  check_image("AvgPool2d", x);
  return avg_pool2d(x, kernel_size.size2(), options.stride.size2(), options.padding.size2(),
                    options.ceil_mode, options.count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  std::string s =
      str_cat("kernel_size=", pair_str(kernel_size), ", stride=", pair_str(options.stride),
              ", padding=", pair_str(options.padding));
  if (options.ceil_mode) s += ", ceil_mode=true";
  if (!options.count_include_pad) s += ", count_include_pad=false";
  return s;
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(IntPair output_size)
    : Module("AdaptiveAvgPool2d"), output_size(output_size) {
  check_positive("AdaptiveAvgPool2d", "output_size", output_size);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  check_image("AdaptiveAvgPool2d", x);
  return adaptive_avg_pool2d(x, output_size.size2());
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }

Upsample::Upsample(UpsampleOptions opts) : Module("Upsample"), options(opts) {
  SG_CHECK(opts.size.has_value() != opts.scale_factor.has_value(),
           "Upsample: give exactly one of size and scale_factor");
  if (opts.size) check_positive("Upsample", "size", *opts.size);
  if (opts.scale_factor)
    SG_CHECK(*opts.scale_factor > 0, "Upsample: scale_factor must be positive, got ",
             *opts.scale_factor);
  SG_CHECK(!opts.align_corners || opts.mode == UpsampleMode::bilinear,
           "Upsample: align_corners needs mode bilinear");
}

Tensor Upsample::forward(const Tensor& x) {
  check_image("Upsample", x);
  if (options.size) return upsample(x, options.size->size2(), options.mode, options.align_corners);
  return upsample(x, *options.scale_factor, options.mode, options.align_corners);
}

std::string Upsample::extra_repr() const {
  std::string s = options.size ? "size=" + pair_str(*options.size)
                               : str_cat("scale_factor=", *options.scale_factor);
  s += options.mode == UpsampleMode::bilinear ? ", mode=bilinear" : ", mode=nearest";
  if (options.align_corners) s += ", align_corners=true";
  return s;
}

}  // namespace stackgrad::nn
