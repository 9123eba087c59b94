// CUDA shape kernels that are copies between views: cat copies each input into its slice of the
// output, flip copies from a view of the input whose flipped dims start at their last element
// and step backwards (negative strides, which the strided loop of loops.cuh handles). Both
// mirror kernels/reference/shape.cpp's coordinate maps without a kernel of their own.
#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"

namespace stackgrad::kernels::gpu {
namespace {

void cuda_cat(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const int dim = static_cast<int>(c.attrs.dim);
  const int64_t esize = static_cast<int64_t>(dtype_size(out.dtype));
  int64_t start = 0;
  for (const TensorArg& in : c.in) {
    // The output's slice [start, start + in.shape[dim]) along dim: the same strides, fewer rows.
    TensorArg slice = out;
    slice.shape[dim] = in.shape[dim];
    slice.numel = in.numel;
    slice.data = static_cast<char*>(out.data) + start * out.strides[dim] * esize;
    if (in.numel > 0) copy_strided(in, slice);
    start += in.shape[dim];
  }
}

void cuda_flip(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  if (out.numel == 0) return;
  const int64_t esize = static_cast<int64_t>(dtype_size(in.dtype));
  TensorArg view = in;
  // Reading coordinate shape[d] - 1 - i along d: start at the last element, step backwards. A
  // dim listed twice flips back, as in the reference.
  for (int64_t d : c.attrs.ints) {
    view.data = static_cast<char*>(view.data) + (view.shape[d] - 1) * view.strides[d] * esize;
    view.strides[d] = -view.strides[d];
  }
  copy_strided(view, out);
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_shape() {
  using namespace kernels::gpu;
  register_kernel(OpId::cat, Backend::cuda, cuda_cat);
  register_kernel(OpId::flip, Backend::cuda, cuda_flip);
}

}  // namespace stackgrad
