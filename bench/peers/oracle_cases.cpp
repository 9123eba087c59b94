// Writes cases for the PyTorch oracle (bench/peers/torch_oracle.py): for each case, the inputs,
// stackgrad's output, a random cotangent v and stackgrad's gradients of sum(output * v), all
// as f64 .npy files in <dir>/<case>/. The oracle recomputes each case with PyTorch and compares.
// Cases cover the semantics where frameworks differ in details (smoothing, corrections, padding
// modes, broadcasting of matmul, reduction conventions).
//   ./build-bench/oracle_cases <dir>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>

#include "engine/stackgrad.h"

using namespace stackgrad;
namespace fs = std::filesystem;

namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;

struct Case {
  std::string name;
  Inputs inputs;
  Fn fn;
  bool differentiable = true;
};

std::mt19937_64 rng(20261126);

Tensor normal(const Shape& s) {
  std::normal_distribution<double> d;
  std::vector<double> v(numel_of(s));
  for (auto& x : v) x = d(rng);
  return from_vector(v, s, DType::f64);
}
Tensor uniform(const Shape& s, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(numel_of(s));
  for (auto& x : v) x = d(rng);
  return from_vector(v, s, DType::f64);
}
Tensor ints(const Shape& s, int64_t lo, int64_t hi) {
  std::uniform_int_distribution<int64_t> d(lo, hi - 1);
  std::vector<int64_t> v(numel_of(s));
  for (auto& x : v) x = d(rng);
  return from_vector(v, s, DType::i64);
}
Tensor spd(int64_t n) {
  Tensor a = normal({n, n});
  return matmul(a, a.t()) + eye(n, n, DType::f64) * double(n);
}

std::vector<Case> cases() {
  std::vector<Case> c;
  auto add = [&](std::string name, Inputs in, Fn fn, bool diff = true) {
    c.push_back({std::move(name), std::move(in), std::move(fn), diff});
  };
  // Activations.
  add("gelu_tanh", {normal({5, 7})}, [](const Inputs& x) { return gelu(x[0], GeluApprox::tanh); });
  add("gelu_erf", {normal({5, 7})}, [](const Inputs& x) { return gelu(x[0]); });
  add("elu", {normal({5, 7})}, [](const Inputs& x) { return elu(x[0], 1.3); });
  add("softplus", {normal({5, 7}) * 3.0}, [](const Inputs& x) { return softplus(x[0], 2.0, 3.0); });
  add("leaky_relu", {normal({5, 7})}, [](const Inputs& x) { return leaky_relu(x[0], 0.1); });
  add("silu", {normal({5, 7})}, [](const Inputs& x) { return silu(x[0]); });
  add("clamp", {normal({5, 7})}, [](const Inputs& x) { return clamp(x[0], -0.5, 0.7); });
  add("pow_tensor", {uniform({4, 3}, 0.5, 2.0), normal({3})}, [](const Inputs& x) { return pow(x[0], x[1]); });
  add("rsqrt", {uniform({4, 3}, 0.5, 2.0)}, [](const Inputs& x) { return rsqrt(x[0]); });
  add("erf", {normal({4, 3})}, [](const Inputs& x) { return erf(x[0]); });
  add("maximum_broadcast", {normal({4, 1}), normal({3})}, [](const Inputs& x) { return maximum(x[0], x[1]); });
  // Reductions.
  add("softmax_dim1", {normal({4, 6}) * 3.0}, [](const Inputs& x) { return softmax(x[0], 1); });
  add("log_softmax_dim0", {normal({4, 6}) * 3.0}, [](const Inputs& x) { return log_softmax(x[0], 0); });
  add("logsumexp_dims", {normal({3, 4, 5})}, [](const Inputs& x) { return logsumexp(x[0], {0, 2}); });
  add("var_correction0", {normal({4, 6})}, [](const Inputs& x) { return var(x[0], {1}, 0); });
  add("std_keepdim", {normal({4, 6})}, [](const Inputs& x) { return stackgrad::std(x[0], {0}, 1, true); });
  add("norm_p1", {normal({4, 6})}, [](const Inputs& x) { return norm(x[0], 1.0, {1}); });
  add("norm_p2_all", {normal({4, 6})}, [](const Inputs& x) { return norm(x[0], 2.0); });
  add("norm_pinf", {normal({4, 6})}, [](const Inputs& x) { return norm(x[0], INFINITY, {0}); });
  add("cumsum", {normal({4, 6})}, [](const Inputs& x) { return cumsum(x[0], 1); });
  add("prod_dim", {normal({3, 5})}, [](const Inputs& x) { return prod(x[0], {1}); });
  add("amax_dims", {normal({3, 4, 5})}, [](const Inputs& x) { return max(x[0], {1, 2}); });
  add("mean_keepdim", {normal({3, 4, 5})}, [](const Inputs& x) { return mean(x[0], {0, 2}, true); });
  // Losses.
  {
    Tensor target = ints({8}, 0, 5);
    target.data_ptr<int64_t>()[3] = -100;
    add("cross_entropy_smooth_ignore", {normal({8, 5}), target},
        [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.1); });
    add("cross_entropy_sum", {normal({8, 5}), target},
        [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.0, Reduction::sum); });
    add("cross_entropy_none_4d", {normal({2, 3, 4, 2}), ints({2, 4, 2}, 0, 3)},
        [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.0, Reduction::none); });
    add("nll_loss", {log_softmax(normal({8, 5}), 1), target},
        [](const Inputs& x) { return nll_loss(x[0], x[1]); });
  }
  add("bce_with_logits_pos_weight", {normal({6, 3}) * 3.0, uniform({6, 3}, 0, 1), uniform({3}, 0.5, 2.0)},
      [](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1], x[2]); });
  add("mse_loss", {normal({6, 3}), normal({6, 3})}, [](const Inputs& x) { return mse_loss(x[0], x[1]); });
  // Matmul.
  add("matmul_broadcast_batch", {normal({2, 1, 3, 4}), normal({5, 4, 2})},
      [](const Inputs& x) { return matmul(x[0], x[1]); });
  add("matmul_vec_mat", {normal({4}), normal({3, 4, 2})}, [](const Inputs& x) { return matmul(x[0], x[1]); });
  add("matmul_mat_vec", {normal({3, 4}), normal({4})}, [](const Inputs& x) { return matmul(x[0], x[1]); });
  // Shape and index ops.
  add("pad_reflect", {normal({2, 3, 5})}, [](const Inputs& x) { return pad(x[0], {2, 1, 1, 2}, PadMode::reflect); });
  add("pad_constant", {normal({2, 3})}, [](const Inputs& x) { return pad(x[0], {1, 2, 0, 1}, PadMode::constant, 0.5); });
  add("gather_dim1", {normal({4, 5}), ints({4, 3}, 0, 5)}, [](const Inputs& x) { return gather(x[0], 1, x[1]); });
  add("scatter_add_dim0", {normal({4, 3}), ints({6, 3}, 0, 4), normal({6, 3})},
      [](const Inputs& x) { return scatter_add(x[0], 0, x[1], x[2]); });
  add("index_select_dim0", {normal({5, 3}), ints({7}, 0, 5)}, [](const Inputs& x) { return index_select(x[0], 0, x[1]); });
  add("take_along_dim", {normal({4, 5}), ints({4, 2}, 0, 5)}, [](const Inputs& x) { return take_along_dim(x[0], x[1], 1); });
  add("flip", {normal({3, 4})}, [](const Inputs& x) { return flip(x[0], {0, 1}); });
  add("repeat", {normal({2, 3})}, [](const Inputs& x) { return repeat(x[0], {2, 1, 3}); });
  add("tile", {normal({2, 3})}, [](const Inputs& x) { return tile(x[0], {2}); });
  add("topk_values", {normal({4, 7})}, [](const Inputs& x) { return topk(x[0], 3, 1).values; });
  add("sort_descending", {normal({4, 7})}, [](const Inputs& x) { return sort(x[0], 0, true).values; });
  add("cat_stack", {normal({2, 3}), normal({2, 3})},
      [](const Inputs& x) { return cat({stack({x[0], x[1]}, 1).flatten(1), x[0]}, 1); });
  add("one_hot", {ints({6}, 0, 4)}, [](const Inputs& x) { return one_hot(x[0], 5).to(DType::f64); }, false);
  // Sparse.
  {
    Tensor src = ints({30}, 0, 12), dst = ints({30}, 0, 12);
    add("gcn_norm_spmm", {src, dst, normal({12, 4})}, [](const Inputs& x) {
      Tensor a = gcn_norm(from_edge_list(x[0], x[1], 12, Tensor(), true, DType::f64));
      return spmm(a, x[2]);
    });
  }
  // Convolutions, pooling, upsampling.
  add("conv2d_stride_dilation_groups", {normal({2, 4, 9, 8}), normal({6, 2, 3, 2}), normal({6})},
      [](const Inputs& x) { return conv2d(x[0], x[1], x[2], {2, 1}, {1, 2}, {2, 1}, 2); });
  add("conv_transpose2d_output_padding", {normal({2, 4, 5, 4}), normal({4, 3, 3, 3}), normal({6})},
      [](const Inputs& x) { return conv_transpose2d(x[0], x[1], x[2], {2, 2}, {1, 0}, {1, 1}, {1, 1}, 2); });
  add("max_pool2d_ceil_pad_dilation", {normal({2, 3, 9, 8})},
      [](const Inputs& x) { return max_pool2d(x[0], {3, 2}, {2, 2}, {1, 1}, {2, 1}, true); });
  add("avg_pool2d_exclude_pad", {normal({2, 3, 7, 8})},
      [](const Inputs& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, true, false); });
  add("adaptive_avg_pool2d", {normal({2, 3, 7, 9})},
      [](const Inputs& x) { return adaptive_avg_pool2d(x[0], {3, 4}); });
  add("upsample_bilinear", {normal({2, 3, 4, 5})},
      [](const Inputs& x) { return upsample(x[0], Size2{7, 9}, UpsampleMode::bilinear); });
  add("upsample_bilinear_align", {normal({2, 3, 4, 5})},
      [](const Inputs& x) { return upsample(x[0], 2.0, UpsampleMode::bilinear, true); });
  add("upsample_nearest", {normal({2, 3, 4, 5})},
      [](const Inputs& x) { return upsample(x[0], Size2{7, 11}); });
  // Normalisation and embedding.
  add("batch_norm_train", {normal({6, 3, 4, 2}), uniform({3}, 0.5, 2.0), normal({3})}, [](const Inputs& x) {
    Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
    return batch_norm(x[0], rm, rv, x[1], x[2], true, 0.1, 1e-5);
  });
  add("layer_norm", {normal({4, 3, 5}), normal({3, 5}), normal({3, 5})},
      [](const Inputs& x) { return layer_norm(x[0], {3, 5}, x[1], x[2]); });
  add("group_norm", {normal({3, 6, 4}), normal({6}), normal({6})},
      [](const Inputs& x) { return group_norm(x[0], 3, x[1], x[2]); });
  add("embedding_padding", {normal({7, 4}), ints({3, 5}, 0, 7)},
      [](const Inputs& x) { return embedding(x[0], x[1], 2); });
  // Attention and recurrent cells.
  add("sdpa_mask", {normal({2, 2, 5, 4}), normal({2, 2, 6, 4}), normal({2, 2, 6, 3}),
                    uniform({5, 6}, -2.0, 0.0)},
      [](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2], x[3].detach()); });
  add("sdpa_causal", {normal({2, 2, 5, 4}), normal({2, 2, 7, 4}), normal({2, 2, 7, 3})},
      [](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), true); });
  add("lstm", {normal({4, 3, 5}), normal({3, 6}), normal({3, 6}), normal({24, 5}) * 0.5,
               normal({24, 6}) * 0.5, normal({24}), normal({24})},
      [](const Inputs& x) {
        LstmResult r = lstm(x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
        return cat({r.output.flatten(), r.c.flatten()}, 0);
      });
  // Linear algebra.
  add("solve", {spd(5), normal({5, 2})}, [](const Inputs& x) { return solve(x[0], x[1]); });
  add("inverse", {spd(4)}, [](const Inputs& x) { return inverse(x[0]); });
  add("cholesky", {spd(5)}, [](const Inputs& x) { return cholesky((x[0] + x[0].t()) * 0.5); });
  add("eigvalsh", {normal({6, 6})}, [](const Inputs& x) { return eigh((x[0] + x[0].t()) * 0.5).eigenvalues; });
  add("solve_triangular_upper", {spd(4), normal({4, 3})},
      [](const Inputs& x) { return solve_triangular(cholesky(x[0], true), x[1], true); }, false);
  add("svd_values", {normal({6, 4})}, [](const Inputs& x) { return svd(x[0].detach()).S; }, false);
  add("qr_r", {normal({6, 4})}, [](const Inputs& x) { return qr(x[0].detach()).R; }, false);
  return c;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 2 || std::string(argv[1]) == "--help") {
    std::puts("usage: oracle_cases <output dir>\nWrites the cases compared by bench/peers/torch_oracle.py.");
    return argc == 2 ? 0 : 2;
  }
  fs::path dir = argv[1];
  fs::create_directories(dir);
  std::ofstream manifest(dir / "manifest.txt");
  int n = 0;
  for (auto& c : cases()) {
    fs::path d = dir / c.name;
    fs::create_directories(d);
    Inputs leaves;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      Tensor t = c.inputs[i].detach();
      save_npy((d / ("in" + std::to_string(i) + ".npy")).string(), t);
      if (c.differentiable && is_floating(t.dtype())) t.requires_grad_();
      leaves.push_back(t);
    }
    Tensor out = c.fn(leaves);
    save_npy((d / "out.npy").string(), out.detach());
    if (c.differentiable && out.requires_grad()) {
      Tensor v = normal(out.shape());
      save_npy((d / "cotangent.npy").string(), v);
      sum(out * v).backward();
      for (size_t i = 0; i < leaves.size(); ++i)
        if (leaves[i].requires_grad() && leaves[i].grad().defined())
          save_npy((d / ("grad" + std::to_string(i) + ".npy")).string(), leaves[i].grad());
    }
    manifest << c.name << "\n";
    ++n;
  }
  std::printf("oracle_cases: wrote %d cases to %s\n", n, dir.c_str());
  return 0;
} catch (const Error& e) {
  std::fprintf(stderr, "oracle_cases: %s\n", e.what());
  return 1;
}
