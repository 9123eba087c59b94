// OpSpecs of the conv family: convolutions (im2col and 1x1 paths, strides, padding, dilation,
// groups), their backward kernels, pooling and upsampling. Shapes stay tiny: gradcheck
// perturbs every input element.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Cases = std::vector<OpCase>;

void spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
          std::function<Cases(std::mt19937_64&)> cases, bool differentiable = true) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  register_op_spec(std::move(s));
}

Tensor randn(std::mt19937_64& r, const Shape& s) { return randn_f64(r, s); }
Tensor bias_of(const Inputs& x) { return x.size() > 2 ? x[2] : Tensor(); }

// Forward-only cases big enough for the CUDA tiled implicit-GEMM kernels (f32: GEMM M >= 128,
// N >= 16, K >= 16; tiles 128 x 64 x 8, so these have remainder tiles, several tiles along M or
// N, and K split where the grid is small): too big for gradcheck. Sums run over up to
// 1152 products, so f32 gets an absolute tolerance of 1e-4.
void tile_spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
               std::function<Cases(std::mt19937_64&)> cases) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = false;
  s.atol_f32 = 1e-4;
  register_op_spec(std::move(s));
}

const bool registered = [] {
  // Stride 1, padding 1, with bias: the 3x3 path, non-contiguous operands, an empty batch.
  spec(
      "conv2d",
      [](const Inputs& x) {
        return conv2d(x[0], x[1], bias_of(x), {1, 1}, {1, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"[2,3,5,5] * [4,3,3,3] + bias",
             {randn(r, {2, 3, 5, 5}), randn(r, {4, 3, 3, 3}), randn(r, {4})}},
            {"non-contiguous",
             {noncontiguous(randn(r, {2, 3, 4, 5})), noncontiguous(randn(r, {2, 3, 3, 3})),
              randn(r, {2})}},
            {"[1,1,2,3] * [2,1,3,1]", {randn(r, {1, 1, 2, 3}), randn(r, {2, 1, 3, 1})}},
            {"empty batch", {randn(r, {0, 3, 4, 4}), randn(r, {2, 3, 3, 3}), randn(r, {2})}},
        };
      });
  // Default geometry: 1x1 kernels take the plain-GEMM path.
  spec(
      "conv2d", [](const Inputs& x) { return conv2d(x[0], x[1], bias_of(x)); },
      [](std::mt19937_64& r) {
        return Cases{
            {"1x1 [2,4,3,3] * [5,4,1,1]", {randn(r, {2, 4, 3, 3}), randn(r, {5, 4, 1, 1})}},
            {"1x1 non-contiguous + bias",
             {noncontiguous(randn(r, {3, 2, 2, 3})), randn(r, {3, 2, 1, 1}), randn(r, {3})}},
            {"3x2 unpadded", {randn(r, {2, 2, 5, 4}), randn(r, {3, 2, 3, 2})}},
        };
      });
  // Stride, asymmetric padding, dilation and groups together.
  spec(
      "conv2d",
      [](const Inputs& x) {
        return conv2d(x[0], x[1], bias_of(x), {2, 1}, {1, 0}, {1, 2}, 2);
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"groups 2", {randn(r, {2, 4, 7, 6}), randn(r, {6, 2, 3, 2}), randn(r, {6})}},
            {"groups 2 non-contiguous",
             {noncontiguous(randn(r, {1, 4, 5, 5})), noncontiguous(randn(r, {2, 2, 2, 2}))}},
        };
      });
  // Depthwise, stride 3 in both directions, 1x1 with stride (not the plain-GEMM path).
  spec(
      "conv2d",
      [](const Inputs& x) {
        return conv2d(x[0], x[1], Tensor(), {3, 3}, {1, 1}, {1, 1}, 3);
      },
      [](std::mt19937_64& r) {
        return Cases{{"depthwise", {randn(r, {2, 3, 7, 8}), randn(r, {3, 1, 3, 3})}},
                     {"1x1 strided", {randn(r, {1, 3, 5, 5}), randn(r, {6, 1, 1, 1})}}};
      });

  // The backward kernels on their own. Forward geometry: input [2,3,6,5], weight [4,3,3,3],
  // stride 2, padding 1 -> output [2,4,3,3]; and a grouped 1x1 conv [2,4,3,3] -> [2,6,3,3].
  spec(
      "conv2d_backward_input",
      [](const Inputs& x) {
        return x[1].size(3) == 3
                   ? conv2d_backward_input(x[0], x[1], {2, 3, 6, 5}, {2, 2}, {1, 1})
                   : conv2d_backward_input(x[0], x[1], {2, 4, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 2);
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"3x3 stride 2", {randn(r, {2, 4, 3, 3}), randn(r, {4, 3, 3, 3})}},
            {"non-contiguous",
             {noncontiguous(randn(r, {2, 4, 3, 3})), noncontiguous(randn(r, {4, 3, 3, 3}))}},
            {"1x1 groups 2", {randn(r, {2, 6, 3, 3}), randn(r, {6, 2, 1, 1})}},
        };
      },
      false);
  spec(
      "conv2d_backward_weight",
      [](const Inputs& x) {
        return x[1].size(1) == 3
                   ? conv2d_backward_weight(x[0], x[1], {4, 3, 3, 3}, {2, 2}, {1, 1})
                   : conv2d_backward_weight(x[0], x[1], {6, 2, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 2);
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"3x3 stride 2", {randn(r, {2, 4, 3, 3}), randn(r, {2, 3, 6, 5})}},
            {"non-contiguous",
             {noncontiguous(randn(r, {2, 4, 3, 3})), noncontiguous(randn(r, {2, 3, 6, 5}))}},
            {"1x1 groups 2", {randn(r, {2, 6, 3, 3}), randn(r, {2, 4, 3, 3})}},
            {"3 images (uneven chunks)", {randn(r, {3, 4, 3, 3}), randn(r, {3, 3, 6, 5})}},
        };
      },
      false);

  // Enough channels and rows that the CPU kernels im2col in two bands of output rows (the
  // second shorter), with stride, padding and dilation: forward-only, gradcheck would be slow.
  // Input [1,64,80,8], weight [2,64,3,3], stride {2,1}, padding 1, dilation {2,1} -> [1,2,39,8].
  spec(
      "conv2d",
      [](const Inputs& x) {
        return conv2d(x[0], x[1], bias_of(x), {2, 1}, {1, 1}, {2, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"two bands", {randn(r, {1, 64, 80, 8}), randn(r, {2, 64, 3, 3}), randn(r, {2})}}};
      },
      false);
  spec(
      "conv2d_backward_input",
      [](const Inputs& x) {
        return conv2d_backward_input(x[0], x[1], {1, 64, 80, 8}, {2, 1}, {1, 1}, {2, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{{"two bands", {randn(r, {1, 2, 39, 8}), randn(r, {2, 64, 3, 3})}}};
      },
      false);
  spec(
      "conv2d_backward_weight",
      [](const Inputs& x) {
        return conv2d_backward_weight(x[0], x[1], {2, 64, 3, 3}, {2, 1}, {1, 1}, {2, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{{"two bands", {randn(r, {1, 2, 39, 8}), randn(r, {1, 64, 80, 8})}}};
      },
      false);

  spec(
      "conv_transpose2d",
      [](const Inputs& x) {
        return conv_transpose2d(x[0], x[1], bias_of(x), {2, 2}, {1, 1}, {1, 0});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"stride 2 + bias", {randn(r, {2, 4, 3, 3}), randn(r, {4, 3, 3, 3}), randn(r, {3})}},
            {"non-contiguous",
             {noncontiguous(randn(r, {1, 2, 3, 4})), noncontiguous(randn(r, {2, 2, 3, 2}))}},
        };
      });
  spec(
      "conv_transpose2d",
      [](const Inputs& x) {
        return conv_transpose2d(x[0], x[1], bias_of(x), {1, 1}, {0, 1}, {0, 0}, {2, 1}, 2);
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"groups 2 dilation", {randn(r, {2, 4, 3, 4}), randn(r, {4, 3, 2, 3})}},
            {"1x1 groups 2", {randn(r, {1, 4, 2, 2}), randn(r, {4, 1, 1, 3}), randn(r, {2})}}};
      });

  // Pooling: distinct values so the maximum is unique under the gradcheck's perturbation.
  spec(
      "max_pool2d",
      [](const Inputs& x) {
        return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{{"3x3 stride 2 pad 1", {distinct_f64(r, {2, 3, 7, 6})}},
                     {"non-contiguous", {noncontiguous(distinct_f64(r, {2, 2, 5, 5}))}},
                     {"empty batch", {distinct_f64(r, {0, 2, 5, 5})}}};
      });
  spec(
      "max_pool2d",
      [](const Inputs& x) {
        return max_pool2d(x[0], {2, 3}, {0, 0}, {1, 0}, {2, 1}, true);
      },
      [](std::mt19937_64& r) {
        return Cases{{"dilation, ceil_mode", {distinct_f64(r, {1, 2, 6, 7})}},
                     {"two rows", {distinct_f64(r, {2, 1, 2, 5})}}};
      });
  spec(
      "max_pool2d_backward",
      [](const Inputs& x) {
        return max_pool2d_backward(x[0], x[1], {2, 3, 7, 6});
      },
      [](std::mt19937_64& r) {
        // Overlapping windows: one input can be the maximum of several outputs.
        Tensor ind = max_pool2d_with_indices(distinct_f64(r, {2, 3, 7, 6}), {3, 3}, {1, 1}).indices;
        return Cases{{"overlapping windows", {randn(r, {2, 3, 5, 4}), ind}}};
      },
      false);

  spec(
      "avg_pool2d",
      [](const Inputs& x) {
        return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{{"3x3 stride 2 pad 1", {randn(r, {2, 3, 7, 6})}},
                     {"non-contiguous", {noncontiguous(randn(r, {2, 2, 5, 5}))}}};
      });
  spec(
      "avg_pool2d",
      [](const Inputs& x) {
        return avg_pool2d(x[0], {2, 3}, {2, 2}, {1, 1}, true, false);
      },
      [](std::mt19937_64& r) {
        return Cases{{"ceil_mode, padding excluded", {randn(r, {2, 2, 6, 7})}}};
      });
  spec(
      "avg_pool2d_backward",
      [](const Inputs& x) {
        return avg_pool2d_backward(x[0], {2, 2, 6, 7}, {2, 3}, {2, 2}, {1, 1}, true, false);
      },
      [](std::mt19937_64& r) {
        return Cases{{"ceil_mode", {randn(r, {2, 2, 4, 4})}}};
      },
      false);

  spec(
      "adaptive_avg_pool2d",
      [](const Inputs& x) {
        return adaptive_avg_pool2d(x[0], {3, 2});
      },
      [](std::mt19937_64& r) {
        return Cases{{"[7,5] -> [3,2]", {randn(r, {2, 3, 7, 5})}},
                     {"non-contiguous", {noncontiguous(randn(r, {1, 2, 2, 5}))}}};
      });
  spec(
      "adaptive_avg_pool2d_backward",
      [](const Inputs& x) {
        return adaptive_avg_pool2d_backward(x[0], {2, 3, 7, 5});
      },
      [](std::mt19937_64& r) {
        return Cases{{"[3,2] -> [7,5]", {randn(r, {2, 3, 3, 2})}},
                     {"[9,8] -> [7,5] (overlapping)", {randn(r, {2, 3, 9, 8})}}};
      },
      false);

  spec(
      "upsample", [](const Inputs& x) { return upsample(x[0], 2.0); },
      [](std::mt19937_64& r) {
        return Cases{{"nearest x2", {randn(r, {2, 3, 3, 4})}},
                     {"non-contiguous", {noncontiguous(randn(r, {1, 2, 2, 3}))}}};
      });
  spec(
      "upsample",
      [](const Inputs& x) {
        return upsample(x[0], {5, 7}, UpsampleMode::bilinear);
      },
      [](std::mt19937_64& r) {
        return Cases{{"bilinear [3,4] -> [5,7]", {randn(r, {2, 2, 3, 4})}},
                     {"bilinear down [8,9] -> [5,7]", {randn(r, {1, 2, 8, 9})}}};
      });
  spec(
      "upsample",
      [](const Inputs& x) {
        return upsample(x[0], {5, 1}, UpsampleMode::bilinear, true);
      },
      [](std::mt19937_64& r) {
        return Cases{{"align_corners", {randn(r, {2, 2, 3, 4})}}};
      });
  spec(
      "upsample",
      [](const Inputs& x) {
        return upsample(x[0], {5, 7});
      },
      [](std::mt19937_64& r) {
        return Cases{{"nearest [3,4] -> [5,7]", {randn(r, {1, 2, 3, 4})}}};
      });
  spec(
      "upsample_backward",
      [](const Inputs& x) {
        return x[0].size(3) == 8 ? upsample_backward(x[0], {2, 2, 3, 4})
                                 : upsample_backward(x[0], {2, 2, 3, 4}, UpsampleMode::bilinear,
                                                     x[0].size(3) == 1);
      },
      [](std::mt19937_64& r) {
        return Cases{{"nearest x2", {randn(r, {2, 2, 6, 8})}},
                     {"bilinear [5,7]", {randn(r, {2, 2, 5, 7})}},
                     {"bilinear align_corners [5,1]", {randn(r, {2, 2, 5, 1})}}};
      },
      false);
  // Tile-sized cases (tile_spec above). Geometry by case: stride 2, padding 1, dilation 2,
  // groups 2 (odd image sizes, M = 168 / 765 / 144 in two to six 128-row tiles), or 3x3
  // padding 1 (N = 70 in two 64-column tiles; K = 1080 or 1152, split on an H100).
  tile_spec(
      "conv2d",
      [](const Inputs& x) {
        return x[1].size(0) == 36 ? conv2d(x[0], x[1], bias_of(x), {2, 2}, {1, 1}, {2, 2}, 2)
                                  : conv2d(x[0], x[1], bias_of(x), {1, 1}, {1, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"tiles: stride 2 dilation 2 groups 2 + bias",
             {randn(r, {3, 8, 17, 15}), randn(r, {36, 4, 3, 3}), randn(r, {36})}},
            {"tiles: N = 70", {randn(r, {2, 5, 9, 9}), randn(r, {70, 5, 3, 3})}},
            {"tiles: K = 1080 split + bias",
             {randn(r, {1, 120, 12, 12}), randn(r, {16, 120, 3, 3}), randn(r, {16})}},
        };
      });
  tile_spec(
      "conv2d_backward_input",
      [](const Inputs& x) {
        if (x[1].size(0) == 8)
          return conv2d_backward_input(x[0], x[1], {3, 36, 17, 15}, {2, 2}, {1, 1}, {2, 2}, 2);
        const int64_t c = x[1].size(1);
        return conv2d_backward_input(x[0], x[1], {x[0].size(0), c, x[0].size(2), x[0].size(3)},
                                     {1, 1}, {1, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"tiles: stride 2 dilation 2 groups 2",
             {randn(r, {3, 8, 8, 7}), randn(r, {8, 18, 3, 3})}},
            {"tiles: N = 70", {randn(r, {2, 5, 9, 9}), randn(r, {5, 70, 3, 3})}},
            {"tiles: K = 1080 split", {randn(r, {1, 120, 12, 12}), randn(r, {120, 16, 3, 3})}},
        };
      });
  tile_spec(
      "conv2d_backward_weight",
      [](const Inputs& x) {
        if (x[0].size(1) == 36)
          return conv2d_backward_weight(x[0], x[1], {36, 16, 3, 3}, {2, 2}, {1, 1}, {2, 2}, 2);
        return conv2d_backward_weight(x[0], x[1], {x[0].size(1), x[1].size(1), 3, 3}, {1, 1},
                                      {1, 1});
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"tiles: stride 2 dilation 2 groups 2",
             {randn(r, {3, 36, 8, 7}), randn(r, {3, 32, 17, 15})}},
            {"tiles: N = 70", {randn(r, {2, 70, 9, 9}), randn(r, {2, 16, 9, 9})}},
            {"tiles: K = 1152 split", {randn(r, {2, 16, 24, 24}), randn(r, {2, 16, 24, 24})}},
        };
      });
  // Backward kernels at odd sizes with overlapping windows (stride below the kernel): every
  // input pixel of the GPU gathers gets several outputs, in the reference's order; a downsample
  // whose taps skip pixels (they get zero).
  spec(
      "avg_pool2d_backward",
      [](const Inputs& x) {
        return avg_pool2d_backward(x[0], {1, 3, 11, 13}, {3, 4}, {1, 2}, {1, 2}, false, true);
      },
      [](std::mt19937_64& r) {
        return Cases{{"3x4 stride 1x2 pad 1x2, count_include_pad", {randn(r, {1, 3, 11, 7})}}};
      },
      false);
  spec(
      "max_pool2d_backward",
      [](const Inputs& x) {
        return max_pool2d_backward(x[0], x[1], {2, 3, 13, 11});
      },
      [](std::mt19937_64& r) {
        Tensor ind =
            max_pool2d_with_indices(distinct_f64(r, {2, 3, 13, 11}), {4, 3}, {2, 1}, {1, 1}, {1, 2})
                .indices;
        return Cases{{"4x3 stride 2x1 dilation 1x2", {randn(r, ind.shape()), ind}}};
      },
      false);
  spec(
      "adaptive_avg_pool2d_backward",
      [](const Inputs& x) {
        return adaptive_avg_pool2d_backward(x[0], {1, 2, 17, 3});
      },
      [](std::mt19937_64& r) {
        return Cases{{"[5,2] -> [17,3]", {randn(r, {1, 2, 5, 2})}}};
      },
      false);
  spec(
      "upsample_backward",
      [](const Inputs& x) {
        return upsample_backward(x[0], {1, 2, 9, 10},
                                 x[0].size(2) == 4 ? UpsampleMode::nearest : UpsampleMode::bilinear,
                                 x[0].size(2) == 23);
      },
      [](std::mt19937_64& r) {
        return Cases{{"nearest down [9,10] -> [4,3]", {randn(r, {1, 2, 4, 3})}},
                     {"bilinear down [9,10] -> [5,4]", {randn(r, {1, 2, 5, 4})}},
                     {"bilinear align_corners up [9,10] -> [23,31]", {randn(r, {1, 2, 23, 31})}}};
      },
      false);
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
