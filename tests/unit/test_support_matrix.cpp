// The support matrix: every op of the op list and the backends that have a kernel for it,
// printed as a table (so a missing CUDA kernel is visible in the test log), and checked against
// the registry: kernel ops have reference and CPU kernels, composite ops have none, and the CUDA
// column is exactly kCudaOps in a CUDA build (and empty otherwise). Adding a CUDA kernel means
// adding its op here and to kernels/cuda/README.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "engine/dispatch/dispatch.h"
#include "engine/runtime/cuda_context.h"

namespace stackgrad {
namespace {

// The ops kernels/cuda/ registers (kernels/cuda/register.cu).
const std::set<std::string> kCudaOps = {
    // elementwise.cu
    "copy", "fill", "neg", "abs", "sign", "relu", "clamp", "exp", "log", "log1p", "sqrt", "rsqrt",
    "sin", "cos", "tanh", "erf", "sigmoid", "leaky_relu", "elu", "gelu", "gelu_erf", "silu",
    "softplus", "pow_scalar", "add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne",
    "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "where",
    // reduce.cu
    "sum", "prod", "max", "min", "argmax", "argmin", "var", "norm", "logsumexp",
    // softmax.cu
    "softmax", "log_softmax",
    // shape.cu
    "cat", "flip", "one_hot",
    // index.cu
    "gather", "index_select", "scatter_add", "pad", "embedding", "embedding_backward",
    // random.cu
    "uniform", "normal", "randint", "bernoulli", "dropout",
    // scan.cu
    "cumsum",
    // sort.cu
    "sort", "topk", "randperm",
    // nn.cu
    "cross_entropy", "cross_entropy_backward",
    // gemm.cu
    "bmm",
    // rnn.cu
    "lstm_cell", "lstm_cell_backward", "lstm", "lstm_backward",
    // linalg.cu
    "eigh", "cholesky", "solve_triangular", "solve", "inverse", "qr", "svd",
    // sparse.cu
    "spmm", "sddmm", "sparse_transpose", "to_dense", "sparse_mask",
    // conv.cu
    "conv2d", "conv2d_backward_input", "conv2d_backward_weight",
    // norm.cu
    "batch_norm", "batch_norm_backward", "layer_norm", "layer_norm_backward", "group_norm",
    "group_norm_backward",
    // pool.cu
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "upsample", "upsample_backward",
    // optim.cu
    "adam_step", "sgd_step",
    // attention.cu
    "scaled_dot_product_attention", "scaled_dot_product_attention_backward"};

const char* mark(bool b) { return b ? "yes" : "-"; }

TEST(SupportMatrix, PrintsEveryOpAndItsBackends) {
  std::printf("%-24s %-12s %-10s %-10s %-5s %-5s\n", "op", "family", "kind", "reference", "cpu",
              "cuda");
  int kernel_ops = 0, cuda_ops = 0;
  for (OpId op : all_ops()) {
    const bool k = op_has_kernel(op);
    kernel_ops += k;
    cuda_ops += has_kernel(op, Backend::cuda);
    std::printf("%-24s %-12s %-10s %-10s %-5s %-5s\n", std::string(op_name(op)).c_str(),
                std::string(op_family(op)).c_str(), k ? "kernel" : "composite",
                k ? mark(has_kernel(op, Backend::reference)) : "n/a",
                k ? mark(has_kernel(op, Backend::cpu)) : "n/a",
                k ? mark(has_kernel(op, Backend::cuda)) : "n/a");
  }
  std::printf("%d ops, %d with kernels; %d with a CUDA kernel (%s build, %d GPU(s) present)\n",
              kNumOps, kernel_ops, cuda_ops, cuda_compiled() ? "CUDA" : "CPU-only",
              cuda_device_count());
  EXPECT_GT(kernel_ops, 0);
}

TEST(SupportMatrix, KernelOpsHaveReferenceAndCpuKernelsCompositesHaveNone) {
  for (OpId op : all_ops()) {
    const std::string name(op_name(op));
    if (op_has_kernel(op)) {
      EXPECT_TRUE(has_kernel(op, Backend::reference)) << name << ": no reference kernel";
      EXPECT_TRUE(has_kernel(op, Backend::cpu)) << name << ": no cpu kernel";
    } else {
      for (Backend b : {Backend::reference, Backend::cpu, Backend::cuda})
        EXPECT_FALSE(has_kernel(op, b)) << name << " is composite but has a " << backend_name(b) << " kernel";
    }
  }
}

TEST(SupportMatrix, CudaColumnIsExactlyTheListedOps) {
  for (const auto& name : kCudaOps) {
    OpId op = op_by_name(name);  // throws for a name not in the op list
    EXPECT_TRUE(op_has_kernel(op)) << name << " is listed as a CUDA op but is composite";
  }
  for (OpId op : all_ops()) {
    const std::string name(op_name(op));
    const bool listed = kCudaOps.count(name) > 0;
    if (cuda_compiled())
      EXPECT_EQ(has_kernel(op, Backend::cuda), listed)
          << name << (listed ? ": listed but no CUDA kernel is registered"
                             : ": has a CUDA kernel but is missing from kCudaOps");
    else
      EXPECT_FALSE(has_kernel(op, Backend::cuda)) << name << ": a CUDA kernel in a CPU-only build";
  }
}

TEST(SupportMatrix, MissingCudaKernelIsAnErrorNamingOpAndDevice) {
  if (!cuda_available()) GTEST_SKIP() << "needs a GPU to hold a cuda:0 tensor";
  OpId missing = OpId::count_;
  for (OpId op : all_ops())
    if (op_has_kernel(op) && !has_kernel(op, Backend::cuda)) missing = op;
  if (missing == OpId::count_) GTEST_SKIP() << "every kernel op has a CUDA kernel";
  Tensor x = ones({2, 2}, Device::cuda(0));
  try {
    run_kernel(missing, {x}, {x});
    FAIL() << "no error for " << op_name(missing);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::string(op_name(missing)) +
                                         ": no kernel for backend cuda (device cuda:0)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace stackgrad
