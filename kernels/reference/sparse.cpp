// reference kernels of the sparse family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_reference_sparse() {}
}  // namespace stackgrad
