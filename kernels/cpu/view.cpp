// cpu kernels of the view family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_cpu_view() {}
}  // namespace stackgrad
