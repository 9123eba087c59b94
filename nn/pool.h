// Pooling and resizing layers over NCHW images (PyTorch semantics, engine ops underneath):
// MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and Upsample. No parameters.
//
//   nn::MaxPool2d pool(2);                                            // stride = kernel
//   nn::AvgPool2d avg(3, {.stride = 1, .padding = 1, .count_include_pad = false});
//   nn::Upsample up({.scale_factor = 2.0, .mode = UpsampleMode::bilinear});
#pragma once

#include <optional>

#include "nn/conv.h"

namespace stackgrad::nn {

struct MaxPool2dOptions {
  IntPair stride = 0;  // 0: the kernel size
  IntPair padding = 0;
  IntPair dilation = 1;
  bool ceil_mode = false;
};

// Maximum over kernel windows (padding counts as -inf).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(IntPair kernel_size, MaxPool2dOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntPair kernel_size;
  MaxPool2dOptions options;
};

struct AvgPool2dOptions {
  IntPair stride = 0;  // 0: the kernel size
  IntPair padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // divide by the padded window size, else by the image part
};

// Mean over kernel windows.
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(IntPair kernel_size, AvgPool2dOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntPair kernel_size;
  AvgPool2dOptions options;
};

// Mean over the windows that split H x W into output_size cells (any input size).
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(IntPair output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  IntPair output_size;
};

// Give exactly one of size and scale_factor. With scale_factor the output is floor(H scale)
// and source positions use the recomputed scale (torch's recompute_scale_factor=True; the same
// as torch's default for integer scales).
struct UpsampleOptions {
  std::optional<IntPair> size;
  std::optional<double> scale_factor;
  UpsampleMode mode = UpsampleMode::nearest;
  bool align_corners = false;  // bilinear only
};

class Upsample : public Module {
 public:
  explicit Upsample(UpsampleOptions opts);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  UpsampleOptions options;
};

}  // namespace stackgrad::nn
