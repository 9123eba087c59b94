// CPU random kernels: the shared kernels split over parallel_for. Counter-based, so the numbers
// do not depend on how the range is split.
#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/reference/random_kernels.h"

namespace stackgrad {
namespace {
struct ParallelLoop {
  template <typename F>
  void operator()(int64_t n, F&& f) const {
    parallel_for(0, n, 16384, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) f(i);
    });
  }
};
}  // namespace

void register_cpu_random() {
  using namespace kernels;
  register_kernel(OpId::uniform, Backend::cpu, uniform_kernel<ParallelLoop>);
  register_kernel(OpId::normal, Backend::cpu, normal_kernel<ParallelLoop>);
  register_kernel(OpId::randint, Backend::cpu, randint_kernel<ParallelLoop>);
  register_kernel(OpId::bernoulli, Backend::cpu, bernoulli_kernel<ParallelLoop>);
  // A sort of random keys: the reference kernel is already the CPU kernel.
  register_kernel(OpId::randperm, Backend::cpu, randperm_kernel);
  register_kernel(OpId::dropout, Backend::cpu, dropout_kernel<ParallelLoop>);
}
}  // namespace stackgrad
