// CUDA shape kernels that are copies between views: cat copies each input into its slice of the
// output, flip copies from a view of the input whose flipped dims start at their last element
// and step backwards (negative strides, which the strided loop of loops.cuh handles). Both
// mirror kernels/reference/shape.cpp's coordinate maps without a kernel of their own.
// one_hot zeroes its output and writes the ones, one thread per index; sort and topk are in
// sort.cu.
#include <limits>

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

// out[i * classes + index[i]] = 1 (out zeroed before). An out-of-range index writes nothing; the
// smallest position holding one is kept in *bad (atomicMin), so the host reports the same index
// as the reference, which stops at the first in C order.
template <typename I>
__global__ void one_hot_kernel(int64_t n, const I* index, OffsetCalc<1> calc, int64_t classes,
                               int64_t* out, unsigned long long* bad) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[1];
    calc.get(i, off);
    const int64_t idx = static_cast<int64_t>(index[off[0]]);
    if (idx < 0 || idx >= classes) {
      atomicMin(bad, static_cast<unsigned long long>(i));
      continue;
    }
    out[i * classes + idx] = 1;
  }
}

void cuda_one_hot(const KernelCall& c) {
  const TensorArg &index = c.in[0], &out = c.out[0];
  const int64_t classes = c.attrs.k;
  if (out.numel == 0 && index.numel == 0) return;
  cudaStream_t stream = current_stream();
  const int device = cuda_current_device();
  if (out.numel > 0)
    SG_CUDA_CHECK(
        cudaMemsetAsync(out.data, 0, static_cast<size_t>(out.numel) * sizeof(int64_t), stream));
  if (index.numel == 0) return;
  auto* bad = static_cast<unsigned long long*>(cuda_alloc(device, sizeof(unsigned long long)));
  unsigned long long first_bad = 0;
  int64_t bad_index = 0;
  try {
    SG_CUDA_CHECK(cudaMemsetAsync(bad, 0xFF, sizeof(unsigned long long), stream));
    const OffsetCalc<1> calc = make_offset_calc<1>({&index});
    auto launch = [&](const auto* idx) {
      one_hot_kernel<<<blocks_for(index.numel), kThreads, 0, stream>>>(
          index.numel, idx, calc, classes, out.ptr<int64_t>(), bad);
      SG_CUDA_CHECK_LAUNCH("one_hot_kernel");
    };
    if (index.dtype == DType::i32) {
      launch(index.ptr<int32_t>());
    } else if (index.dtype == DType::i64) {
      launch(index.ptr<int64_t>());
    } else {
      fail("one_hot: index must be i32 or i64, got ", dtype_name(index.dtype));
    }
    SG_CUDA_CHECK(
        cudaMemcpyAsync(&first_bad, bad, sizeof(first_bad), cudaMemcpyDeviceToHost, stream));
    SG_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (first_bad != std::numeric_limits<unsigned long long>::max()) {
      // The offending value, read back from its position (C order over index's shape).
      int64_t rest = static_cast<int64_t>(first_bad), off = 0;
      for (int d = index.ndim - 1; d >= 0; --d) {
        off += (rest % index.shape[d]) * index.strides[d];
        rest /= index.shape[d];
      }
      const size_t esize = dtype_size(index.dtype);
      int64_t value64 = 0;
      int32_t value32 = 0;
      void* dst = esize == 4 ? static_cast<void*>(&value32) : static_cast<void*>(&value64);
      SG_CUDA_CHECK(cudaMemcpyAsync(dst, static_cast<const char*>(index.data) + off * esize, esize,
                                    cudaMemcpyDeviceToHost, stream));
      SG_CUDA_CHECK(cudaStreamSynchronize(stream));
      bad_index = esize == 4 ? value32 : value64;
    }
  } catch (...) {
    cuda_free(device, bad);
    throw;
  }
  cuda_free(device, bad);
  if (first_bad != std::numeric_limits<unsigned long long>::max())
    fail("one_hot: class index ", bad_index, " is out of bounds for num_classes ", classes);
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_shape() {
  using namespace kernels::gpu;
  register_kernel(OpId::cat, Backend::cuda, cuda_cat);
  register_kernel(OpId::flip, Backend::cuda, cuda_flip);
  register_kernel(OpId::one_hot, Backend::cuda, cuda_one_hot);
}

}  // namespace stackgrad
