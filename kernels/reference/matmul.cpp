// reference kernels of the matmul family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_reference_matmul() {}
}  // namespace stackgrad
