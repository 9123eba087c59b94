// 2-D convolution layers over NCHW images, with PyTorch's parameter names, layouts and default
// initialisation: Conv2d (weight [out, in/groups, kh, kw]) and ConvTranspose2d (weight
// [in, out/groups, kh, kw]). Geometry arguments take one number or a {height, width} pair.
//
//   auto conv = std::make_shared<nn::Conv2d>(3, 16, 3, nn::Conv2dOptions{.padding = 1});
//   auto down = std::make_shared<nn::Conv2d>(16, 32, 3, nn::Conv2dOptions{.stride = 2});
//   Tensor y = (*conv)(x);  // [N, 3, H, W] -> [N, 16, H, W]
#pragma once

#include "nn/layer_adapter.h"

namespace stackgrad::nn {

// A {height, width} pair that converts from one number (used for both) or from {h, w}.
struct IntPair {
  int64_t h = 0, w = 0;
  IntPair(int64_t both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor)
  IntPair(int64_t h, int64_t w) : h(h), w(w) {}
  Size2 size2() const { return {h, w}; }
  bool operator==(const IntPair&) const = default;
};
std::string pair_str(const IntPair& p);  // "3" when square, else "(3, 5)"

struct Conv2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

// Cross-correlation of x [N, in, H, W] with `out` filters (engine conv2d). Default init as
// torch: weight kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), +), bias the same bound, with
// fan_in = in/groups * kh * kw. Accepts an adapter (see layer_adapter.h).
class Conv2d : public AdaptableLayer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, Conv2dOptions opts = {},
         Generator& gen = default_generator());
  Tensor base_forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters(Generator& gen = default_generator());

  int64_t in_channels, out_channels;
  IntPair kernel_size;
  Conv2dOptions options;
  Tensor weight;  // [out, in/groups, kh, kw]
  Tensor bias;    // [out], undefined without bias
};

struct ConvTranspose2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  IntPair dilation = 1;
};

// The adjoint of Conv2d (engine conv_transpose2d): [N, in, H, W] -> [N, out, (H - 1) s - 2 pad
// + d (k - 1) + output_padding + 1, ...]. Init as torch, with fan_in = out/groups * kh * kw
// (computed from the weight's layout [in, out/groups, kh, kw]).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
                  ConvTranspose2dOptions opts = {}, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  IntPair kernel_size;
  ConvTranspose2dOptions options;
  Tensor weight;  // [in, out/groups, kh, kw]
  Tensor bias;    // [out], undefined without bias
};

}  // namespace stackgrad::nn
