// reference kernels of the nn family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_reference_nn() {}
}  // namespace stackgrad
