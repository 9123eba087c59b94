// CUDA conv2d, conv2d_backward_input and conv2d_backward_weight: the kernels are in
// conv_kernels.cuh (shared with kernels/lab/conv/conv_cuda_lab.cu), the choice between the
// direct and the tiled implicit-GEMM version and its grid in conv_plan.h. Geometry is in
// attrs.ints as engine/dispatch/ops/conv.def documents; operands are contiguous (the op layer
// copies others). conv_transpose2d is built from these three in engine/ops/conv.cpp.
#include "engine/dispatch/registry.h"
#include "kernels/cuda/conv_launch.cuh"

namespace stackgrad::kernels::gpu {
namespace {

ConvPlan plan_for(ConvPass pass, const ConvShape& s, DType dtype) {
  const bool f32 = dtype == DType::f32;
  // The SM count only matters to the tiled kernel's split decision.
  return plan_conv(pass, s, f32, conv_use_tiled(pass, s, f32) ? conv_sm_count() : 1);
}

void cuda_conv2d(const KernelCall& c) {
  const ConvShape s(c.in[0].shape, c.in[1].shape, c.out[0].shape, c.attrs.ints);
  const ConvPlan p = plan_for(ConvPass::forward, s, c.in[0].dtype);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d", [&] {
    using T = scalar_t;
    const T* bias = c.in.size() > 2 ? c.in[2].ptr<T>() : nullptr;
    conv_forward_gpu<T>(s, p, c.in[0].ptr<T>(), c.in[1].ptr<T>(), bias, c.out[0].ptr<T>());
  });
}

// in: dy [N, O, Ho, Wo], w; out: dx [N, C, H, W] (conv_transpose2d's output_padding makes H, W
// larger than the forward formula gives: the kernels take Ho, Wo from dy).
void cuda_conv2d_backward_input(const KernelCall& c) {
  const ConvShape s(c.out[0].shape, c.in[1].shape, c.in[0].shape, c.attrs.ints);
  const ConvPlan p = plan_for(ConvPass::input_grad, s, c.in[0].dtype);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d_backward_input", [&] {
    using T = scalar_t;
    conv_input_grad_gpu<T>(s, p, c.in[0].ptr<T>(), c.in[1].ptr<T>(), c.out[0].ptr<T>());
  });
}

// in: dy, x; out: dw [O, C/G, kh, kw].
void cuda_conv2d_backward_weight(const KernelCall& c) {
  const ConvShape s(c.in[1].shape, c.out[0].shape, c.in[0].shape, c.attrs.ints);
  const ConvPlan p = plan_for(ConvPass::weight_grad, s, c.in[0].dtype);
  SG_DISPATCH_FLOAT(c.in[0].dtype, "conv2d_backward_weight", [&] {
    using T = scalar_t;
    conv_weight_grad_gpu<T>(s, p, c.in[0].ptr<T>(), c.in[1].ptr<T>(), c.out[0].ptr<T>());
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_conv() {
  using namespace kernels::gpu;
  register_kernel(OpId::conv2d, Backend::cuda, cuda_conv2d);
  register_kernel(OpId::conv2d_backward_input, Backend::cuda, cuda_conv2d_backward_input);
  register_kernel(OpId::conv2d_backward_weight, Backend::cuda, cuda_conv2d_backward_weight);
}

}  // namespace stackgrad
