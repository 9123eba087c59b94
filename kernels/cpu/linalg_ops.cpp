// cpu kernels of the linalg family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_cpu_linalg() {}
}  // namespace stackgrad
