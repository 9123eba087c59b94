// cpu kernels of the shape family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_cpu_shape() {}
}  // namespace stackgrad
