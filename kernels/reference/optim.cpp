// Reference kernels of the optim family: one parameter after another, one element after
// another, through the shared per-element updates of optim_math.h (which replay the unfused
// optimisers' tensor ops).
#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"
#include "kernels/reference/optim_math.h"

namespace stackgrad::kernels {
namespace {

void ref_adam_step(const KernelCall& c) {
  const size_t n = c.in.size() / 5;
  if (n == 0) return;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "adam_step", [&] {
    using T = scalar_t;
    const AdamScalars<T> s =
        adam_scalars<T>(c.attrs.alpha, c.attrs.beta, c.attrs.flag, c.attrs.flag2, c.attrs.ints);
    for (size_t i = 0; i < n; ++i) {
      const TensorArg &p = c.in[5 * i], &g = c.in[5 * i + 1], &m = c.in[5 * i + 2],
                      &v = c.in[5 * i + 3], &vmax = c.in[5 * i + 4];
      const AdamParamScalars<T> q = adam_param_scalars<T>(c.attrs.ints, i);
      for (int64_t e = 0; e < p.numel; ++e)
        adam_update<HostArith>(ref_at<T>(p, e), ref_at<T>(g, e), ref_at<T>(m, e), ref_at<T>(v, e),
                               s.amsgrad ? &ref_at<T>(vmax, e) : nullptr, s, q);
    }
  });
}

void ref_sgd_step(const KernelCall& c) {
  const size_t n = c.in.size() / 3;
  if (n == 0) return;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "sgd_step", [&] {
    using T = scalar_t;
    const SgdScalars<T> s = sgd_scalars<T>(c.attrs.alpha, c.attrs.beta, c.attrs.flag, c.attrs.ints);
    for (size_t i = 0; i < n; ++i) {
      const TensorArg &p = c.in[3 * i], &g = c.in[3 * i + 1], &b = c.in[3 * i + 2];
      const bool first = c.attrs.ints[2 + i] != 0;
      for (int64_t e = 0; e < p.numel; ++e)
        sgd_update<HostArith>(ref_at<T>(p, e), ref_at<T>(g, e),
                              s.has_momentum ? &ref_at<T>(b, e) : nullptr, first, s);
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_optim() {
  using namespace kernels;
  register_kernel(OpId::adam_step, Backend::reference, ref_adam_step);
  register_kernel(OpId::sgd_step, Backend::reference, ref_sgd_step);
}
}  // namespace stackgrad
