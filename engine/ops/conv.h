// Ops of the conv family over NCHW images (PyTorch semantics): 2-D convolution and its
// transpose, max/average/adaptive pooling and upsampling. Floating inputs (f32, f64).
// Pairs are {height, width}. Kernels: kernels/{reference,cpu}/conv*.cpp; docs/kernels/conv.md
// and docs/kernels/pool.md.
#pragma once

#include <array>
#include <cstdint>

#include "engine/core/tensor.h"

namespace stackgrad {

using Size2 = std::array<int64_t, 2>;

// y[n, o, i, j] = bias[o] + sum_{c in group(o), p, q} w[o, c, p, q] x[n, c, i s_h + p d_h - pad_h,
// j s_w + q d_w - pad_w] (zero outside the image). x [N, C, H, W], w [O, C/groups, kh, kw],
// bias [O] or undefined. Output [N, O, (H + 2 pad_h - d_h (kh - 1) - 1) / s_h + 1, ...].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(),
              Size2 stride = {1, 1}, Size2 padding = {0, 0}, Size2 dilation = {1, 1},
              int64_t groups = 1);

// The backward kernels of conv2d, exposed as ops (not differentiable): the input gradient
// dx [input_shape] from dy [N, O, Ho, Wo] and w, and the weight gradient dw [weight_shape]
// from dy and x. The geometry arguments are those of the forward call.
Tensor conv2d_backward_input(const Tensor& grad, const Tensor& w, const Shape& input_shape,
                             Size2 stride = {1, 1}, Size2 padding = {0, 0}, Size2 dilation = {1, 1},
                             int64_t groups = 1);
Tensor conv2d_backward_weight(const Tensor& grad, const Tensor& x, const Shape& weight_shape,
                              Size2 stride = {1, 1}, Size2 padding = {0, 0},
                              Size2 dilation = {1, 1}, int64_t groups = 1);

// The transpose (adjoint) of conv2d: x [N, C, H, W], w [C, O/groups, kh, kw], bias [O].
// Output [N, O, (H - 1) s - 2 pad + d (k - 1) + output_padding + 1, ...]; output_padding < stride
// or < dilation resolves which of the input sizes that share the forward output size is meant.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(),
                        Size2 stride = {1, 1}, Size2 padding = {0, 0},
                        Size2 output_padding = {0, 0}, Size2 dilation = {1, 1}, int64_t groups = 1);

struct MaxPoolResult {
  Tensor values;   // [N, C, Ho, Wo]
  Tensor indices;  // i64 [N, C, Ho, Wo]: h * W + w of the maximum within its [H, W] plane
};

// Max over kernel windows (padding counts as -inf; NaN wins). stride {0, 0} means the kernel
// size. padding at most half the kernel. ceil_mode rounds the output size up, keeping every
// window's start inside the image or its left padding.
MaxPoolResult max_pool2d_with_indices(const Tensor& x, Size2 kernel, Size2 stride = {0, 0},
                                      Size2 padding = {0, 0}, Size2 dilation = {1, 1},
                                      bool ceil_mode = false);
Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride = {0, 0}, Size2 padding = {0, 0},
                  Size2 dilation = {1, 1}, bool ceil_mode = false);

// Gradient of max_pool2d: dx [input_shape] with dy added at the indexed positions.
Tensor max_pool2d_backward(const Tensor& grad, const Tensor& indices, const Shape& input_shape);

// Mean over kernel windows. count_include_pad divides by the window size clipped to the padded
// image, else by the number of image elements in the window.
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride = {0, 0}, Size2 padding = {0, 0},
                  bool ceil_mode = false, bool count_include_pad = true);
Tensor avg_pool2d_backward(const Tensor& grad, const Shape& input_shape, Size2 kernel,
                           Size2 stride = {0, 0}, Size2 padding = {0, 0}, bool ceil_mode = false,
                           bool count_include_pad = true);

// Mean over windows [floor(i H / Ho), ceil((i + 1) H / Ho)) (and the same along W).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad, const Shape& input_shape);

enum class UpsampleMode { nearest, bilinear };

// Resizes [N, C, H, W] to [N, C, size]. nearest: source floor(i H / Ho). bilinear: source
// (i + 0.5) H / Ho - 0.5 clamped at 0, or i (H - 1) / (Ho - 1) with align_corners.
// The scale overload uses size floor(H scale) and the same source rule (PyTorch with
// recompute_scale_factor; identical for integer scales).
Tensor upsample(const Tensor& x, Size2 size, UpsampleMode mode = UpsampleMode::nearest,
                bool align_corners = false);
Tensor upsample(const Tensor& x, double scale, UpsampleMode mode = UpsampleMode::nearest,
                bool align_corners = false);
Tensor upsample_backward(const Tensor& grad, const Shape& input_shape,
                         UpsampleMode mode = UpsampleMode::nearest, bool align_corners = false);

}  // namespace stackgrad
