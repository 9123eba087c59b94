// reference kernels of the linalg family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_reference_linalg() {}
}  // namespace stackgrad
