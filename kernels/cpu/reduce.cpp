// CPU reductions: outputs split over parallel_for; each output reduces its elements in a fixed
// order, so results do not depend on the thread count.
#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Calls f(base_offset) ... for the reduced elements of output `o`: the input's trailing k dims
// are reduced; the innermost reduced dim is walked with its stride.
template <typename T, typename Acc>
Acc sum_one(const T* x, const TensorArg& in, int outer_nd, int64_t o) {
  // Offset of the output element's first input element.
  int64_t off = 0;
  for (int d = outer_nd - 1; d >= 0; --d) {
    off += (o % in.shape[d]) * in.strides[d];
    o /= in.shape[d];
  }
  const int nd = in.ndim;
  if (nd == outer_nd) return static_cast<Acc>(x[off]);
  const int64_t inner = in.shape[nd - 1], stride = in.strides[nd - 1];
  int64_t rows = 1;
  for (int d = outer_nd; d < nd - 1; ++d) rows *= in.shape[d];
  Acc acc = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t roff = off, rr = r;
    for (int d = nd - 2; d >= outer_nd; --d) {
      roff += (rr % in.shape[d]) * in.strides[d];
      rr /= in.shape[d];
    }
    const T* p = x + roff;
    if (stride == 1) {
      for (int64_t i = 0; i < inner; ++i) acc += static_cast<Acc>(p[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) acc += static_cast<Acc>(p[i * stride]);
    }
  }
  return acc;
}

void cpu_sum(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const int outer_nd = in.ndim - static_cast<int>(c.attrs.k);
  SG_DISPATCH_NUMERIC(in.dtype, "sum", [&] {
    using Acc = std::conditional_t<std::is_floating_point_v<scalar_t>, double, int64_t>;
    const scalar_t* x = in.ptr<scalar_t>();
    scalar_t* y = out.ptr<scalar_t>();
    const int64_t per_output = out.numel > 0 ? std::max<int64_t>(1, in.numel / out.numel) : 1;
    parallel_for(0, out.numel, std::max<int64_t>(1, kElementwiseGrain / per_output), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) y[o] = static_cast<scalar_t>(sum_one<scalar_t, Acc>(x, in, outer_nd, o));
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_reduce() { register_kernel(OpId::sum, Backend::cpu, kernels::cpu_sum); }
}  // namespace stackgrad
