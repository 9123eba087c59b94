// cpu kernels of the matmul family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_cpu_matmul() {}
}  // namespace stackgrad
