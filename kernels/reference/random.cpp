// Reference random kernels: the shared kernels with a serial loop.
#include "engine/dispatch/registry.h"
#include "kernels/reference/random_kernels.h"

namespace stackgrad {
void register_reference_random() {
  using namespace kernels;
  register_kernel(OpId::uniform, Backend::reference, uniform_kernel<SerialLoop>);
  register_kernel(OpId::normal, Backend::reference, normal_kernel<SerialLoop>);
  register_kernel(OpId::randint, Backend::reference, randint_kernel<SerialLoop>);
  register_kernel(OpId::bernoulli, Backend::reference, bernoulli_kernel<SerialLoop>);
  register_kernel(OpId::randperm, Backend::reference, randperm_kernel);
  register_kernel(OpId::dropout, Backend::reference, dropout_kernel<SerialLoop>);
}
}  // namespace stackgrad
