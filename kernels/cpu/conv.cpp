// CPU kernels of the conv family.
#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"

namespace stackgrad {
void register_cpu_conv() {}
}  // namespace stackgrad
