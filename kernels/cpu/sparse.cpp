// cpu kernels of the sparse family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_cpu_sparse() {}
}  // namespace stackgrad
