// CPU kernels of the attention family.
#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"

namespace stackgrad {
void register_cpu_attention() {}
}  // namespace stackgrad
