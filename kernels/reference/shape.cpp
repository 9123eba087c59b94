// reference kernels of the shape family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_reference_shape() {}
}  // namespace stackgrad
