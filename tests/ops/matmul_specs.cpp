// OpSpecs of the matmul family.
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;

// Random values of `shape` whose last two dims are a transposed view (column-major matrices).
Tensor transposed(std::mt19937_64& r, Shape shape) {
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  return randn_f64(r, shape).transpose(-2, -1);
}

void spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
          std::function<std::vector<OpCase>(std::mt19937_64&)> cases, bool differentiable = true,
          double atol_f32 = 1e-5) {
  OpSpec s;
  s.op = op;
  s.atol_f32 = atol_f32;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  register_op_spec(std::move(s));
}

const bool registered = [] {
  spec(
      "bmm", [](const Inputs& x) { return bmm(x[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"contiguous [2, 3, 4] x [2, 4, 5]",
             {randn_f64(r, {2, 3, 4}), randn_f64(r, {2, 4, 5})}},
            {"transposed views", {transposed(r, {2, 3, 4}), transposed(r, {2, 4, 5})}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {3, 2, 5})), noncontiguous(randn_f64(r, {3, 5, 4}))}},
            {"matrix-vector N = 1", {randn_f64(r, {2, 5, 7}), randn_f64(r, {2, 7, 1})}},
            {"vector-matrix M = 1", {randn_f64(r, {2, 1, 7}), transposed(r, {2, 7, 6})}},
            {"M = N = 1", {randn_f64(r, {3, 1, 6}), randn_f64(r, {3, 6, 1})}},
            {"zero batch", {randn_f64(r, {0, 3, 4}), randn_f64(r, {0, 4, 5})}},
            {"zero M", {randn_f64(r, {2, 0, 4}), randn_f64(r, {2, 4, 5})}},
            {"zero K gives zeros", {randn_f64(r, {2, 3, 0}), randn_f64(r, {2, 0, 5})}},
        };
      });
  // A batch dim of stride 0 (a broadcast operand), expanded inside the op call so that gradcheck
  // perturbs the real leaf.
  spec(
      "bmm",
      [](const Inputs& x) {
        return bmm(x[0].expand({3, 4, 5}), x[1]);
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"stride-0 batch of a", {randn_f64(r, {1, 4, 5}), randn_f64(r, {3, 5, 2})}},
            {"stride-0 batch of a, transposed b",
             {randn_f64(r, {1, 4, 5}), transposed(r, {3, 5, 18})}},
        };
      });
  // Shapes that cross every cache block (MC = 72, KC = 256, NC = 256) with partial edge tiles.
  // Forward only: a finite-difference gradcheck at this size would take minutes. The f32 sums of
  // up to 1000 products of unit normals (|c| ~ 30) round to about 1e-4 absolute.
  spec(
      "bmm", [](const Inputs& x) { return bmm(x[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"blocks [1, 150, 530] x [1, 530, 270]",
             {randn_f64(r, {1, 150, 530}), randn_f64(r, {1, 530, 270})}},
            {"blocks, transposed a", {transposed(r, {2, 77, 260}), randn_f64(r, {2, 260, 33})}},
            {"blocks, non-contiguous b",
             {randn_f64(r, {2, 73, 257}), noncontiguous(randn_f64(r, {2, 257, 40}))}},
            {"long K matrix-vector", {randn_f64(r, {2, 9, 1000}), randn_f64(r, {2, 1000, 1})}},
        };
      },
      false, 5e-4);

  // Shapes that reach each CUDA GEMM path (kernels/cuda/gemm_plan.h) with partial edge tiles:
  // the 64x64 register-tiled kernel with float4 loads (row-major and transposed operands) and
  // with scalar loads (leading dims not a multiple of 4, partial quads), the 16x16 kernel for a
  // thin product, and a batch beyond gridDim.z's 65535. Forward only (gradchecks at these sizes
  // are slow); the CUDA parity suite runs the backward of the differentiable specs above.
  spec(
      "bmm", [](const Inputs& x) { return bmm(x[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"64-tiles, float4 loads, remainders [2, 100, 76] x [2, 76, 92]",
             {randn_f64(r, {2, 100, 76}), randn_f64(r, {2, 76, 92})}},
            {"64-tiles, both transposed",
             {transposed(r, {2, 100, 76}), transposed(r, {2, 76, 92})}},
            {"64-tiles, scalar loads [1, 99, 61] x [1, 61, 67]",
             {randn_f64(r, {1, 99, 61}), randn_f64(r, {1, 61, 67})}},
            {"thin M = 20", {randn_f64(r, {1, 20, 300}), randn_f64(r, {1, 300, 50})}},
            {"batch 65537 > gridDim.z", {randn_f64(r, {65537, 2, 3}), randn_f64(r, {65537, 3, 2})}},
        };
      },
      false, 5e-4);
  // Enough 128x128 tiles (66 x 2 x 2 >= two waves of 132 SMs) for the 128-tile kernel: M and K
  // not multiples of its tiles, B broadcast over the batch (stride 0) or transposed.
  spec(
      "bmm",
      [](const Inputs& x) {
        return bmm(x[0], x[1].expand({66, 36, 132}));
      },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"128-tiles, stride-0 batch of b",
             {randn_f64(r, {66, 130, 36}), randn_f64(r, {1, 36, 132})}},
            {"128-tiles, transposed a, stride-0 b",
             {transposed(r, {66, 130, 36}), transposed(r, {1, 36, 132})}},
        };
      },
      false, 5e-4);

  spec(
      "mm", [](const Inputs& x) { return mm(x[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"contiguous [3, 4] x [4, 5]", {randn_f64(r, {3, 4}), randn_f64(r, {4, 5})}},
            {"transposed a", {transposed(r, {6, 4}), randn_f64(r, {4, 17})}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {5, 3})), noncontiguous(randn_f64(r, {3, 7}))}},
            {"row vector", {randn_f64(r, {1, 5}), randn_f64(r, {5, 4})}},
            {"column result", {randn_f64(r, {4, 5}), randn_f64(r, {5, 1})}},
            {"zero-size M", {randn_f64(r, {0, 3}), randn_f64(r, {3, 2})}},
            {"zero K", {randn_f64(r, {3, 0}), randn_f64(r, {0, 2})}},
        };
      });

  spec(
      "matmul", [](const Inputs& x) { return matmul(x[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"1-D x 1-D", {randn_f64(r, {4}), randn_f64(r, {4})}},
            {"2-D x 1-D", {randn_f64(r, {3, 4}), randn_f64(r, {4})}},
            {"1-D x 2-D", {randn_f64(r, {4}), randn_f64(r, {4, 5})}},
            {"3-D x 1-D", {randn_f64(r, {2, 3, 4}), randn_f64(r, {4})}},
            {"1-D x 3-D", {randn_f64(r, {4}), randn_f64(r, {2, 4, 5})}},
            {"2-D x 2-D", {randn_f64(r, {3, 4}), noncontiguous(randn_f64(r, {4, 2}))}},
            {"3-D x 2-D (folded)", {randn_f64(r, {2, 3, 4}), randn_f64(r, {4, 5})}},
            {"non-contiguous 3-D x 2-D (not folded)",
             {noncontiguous(randn_f64(r, {2, 3, 4})), randn_f64(r, {4, 5})}},
            {"2-D x 3-D (a broadcast)", {randn_f64(r, {3, 4}), randn_f64(r, {2, 4, 5})}},
            {"broadcast batch [2, 1, 3, 4] x [3, 4, 5]",
             {randn_f64(r, {2, 1, 3, 4}), randn_f64(r, {3, 4, 5})}},
            {"broadcast batch [1, 3, 4] x [2, 4, 2]",
             {randn_f64(r, {1, 3, 4}), transposed(r, {2, 4, 2})}},
            {"4-D x 4-D", {randn_f64(r, {2, 2, 3, 4}), randn_f64(r, {2, 2, 4, 3})}},
            {"zero-size batch", {randn_f64(r, {0, 3, 4}), randn_f64(r, {4, 5})}},
            {"zero K", {randn_f64(r, {2, 3, 0}), randn_f64(r, {0, 5})}},
        };
      });

  spec(
      "dot", [](const Inputs& x) { return dot(x[0], x[1]); },
      [](std::mt19937_64& r) {
        return std::vector<OpCase>{
            {"[5] . [5]", {randn_f64(r, {5}), randn_f64(r, {5})}},
            {"non-contiguous",
             {noncontiguous(randn_f64(r, {11})), noncontiguous(randn_f64(r, {11}))}},
            {"zero-size", {randn_f64(r, {0}), randn_f64(r, {0})}},
        };
      });
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
