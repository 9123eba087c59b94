// Reference reductions: for each output element, a plain loop over the reduced elements,
// accumulated in double (or int64 for integer types).
#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Splits an input whose trailing `k` dims are reduced into an outer and an inner view.
struct ReduceView {
  TensorArg outer, inner;
};

ReduceView split_reduced(const TensorArg& in, int64_t k) {
  ReduceView v;
  v.outer = in;
  v.inner = in;
  v.outer.ndim = in.ndim - static_cast<int>(k);
  v.inner.ndim = static_cast<int>(k);
  v.outer.numel = 1;
  v.inner.numel = 1;
  for (int d = 0; d < v.outer.ndim; ++d) v.outer.numel *= in.shape[d];
  for (int d = 0; d < k; ++d) {
    v.inner.shape[d] = in.shape[v.outer.ndim + d];
    v.inner.strides[d] = in.strides[v.outer.ndim + d];
    v.inner.numel *= v.inner.shape[d];
  }
  return v;
}

void ref_sum(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  ReduceView v = split_reduced(in, c.attrs.k);
  SG_DISPATCH_NUMERIC(in.dtype, "sum", [&] {
    using Acc = std::conditional_t<std::is_floating_point_v<scalar_t>, double, int64_t>;
    const scalar_t* x = in.ptr<scalar_t>();
    for (int64_t o = 0; o < v.outer.numel; ++o) {
      const scalar_t* base = x + ref_offset(o, v.outer);
      Acc acc = 0;
      for (int64_t i = 0; i < v.inner.numel; ++i) acc += static_cast<Acc>(base[ref_offset(i, v.inner)]);
      out.ptr<scalar_t>()[o] = static_cast<scalar_t>(acc);
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_reduce() {
  register_kernel(OpId::sum, Backend::reference, kernels::ref_sum);
}
}  // namespace stackgrad
