// cpu kernels of the nn family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_cpu_nn() {}
}  // namespace stackgrad
