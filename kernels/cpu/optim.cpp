// CPU kernels of the optim family: the shared per-element updates (kernels/reference/
// optim_math.h) over contiguous buffers, each parameter's elements split over parallel_for.
// Elements are independent, so the split does not change any bit.
#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/reference/optim_math.h"

namespace stackgrad::kernels {
namespace {

void cpu_adam_step(const KernelCall& c) {
  const size_t n = c.in.size() / 5;
  if (n == 0) return;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "adam_step", [&] {
    using T = scalar_t;
    const AdamScalars<T> s =
        adam_scalars<T>(c.attrs.alpha, c.attrs.beta, c.attrs.flag, c.attrs.flag2, c.attrs.ints);
    for (size_t i = 0; i < n; ++i) {
      T* p = c.in[5 * i].ptr<T>();
      const T* g = c.in[5 * i + 1].ptr<T>();
      T *m = c.in[5 * i + 2].ptr<T>(), *v = c.in[5 * i + 3].ptr<T>();
      T* vmax = s.amsgrad ? c.in[5 * i + 4].ptr<T>() : nullptr;
      const AdamParamScalars<T> q = adam_param_scalars<T>(c.attrs.ints, i);
      parallel_for(0, c.in[5 * i].numel, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t e = lo; e < hi; ++e)
          adam_update<HostArith>(p[e], g[e], m[e], v[e], vmax ? vmax + e : nullptr, s, q);
      });
    }
  });
}

void cpu_sgd_step(const KernelCall& c) {
  const size_t n = c.in.size() / 3;
  if (n == 0) return;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "sgd_step", [&] {
    using T = scalar_t;
    const SgdScalars<T> s = sgd_scalars<T>(c.attrs.alpha, c.attrs.beta, c.attrs.flag, c.attrs.ints);
    for (size_t i = 0; i < n; ++i) {
      T* p = c.in[3 * i].ptr<T>();
      const T* g = c.in[3 * i + 1].ptr<T>();
      T* b = s.has_momentum ? c.in[3 * i + 2].ptr<T>() : nullptr;
      const bool first = c.attrs.ints[2 + i] != 0;
      parallel_for(0, c.in[3 * i].numel, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t e = lo; e < hi; ++e)
          sgd_update<HostArith>(p[e], g[e], b ? b + e : nullptr, first, s);
      });
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_optim() {
  using namespace kernels;
  register_kernel(OpId::adam_step, Backend::cpu, cpu_adam_step);
  register_kernel(OpId::sgd_step, Backend::cpu, cpu_sgd_step);
}
}  // namespace stackgrad
