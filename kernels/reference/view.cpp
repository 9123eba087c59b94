// reference kernels of the view family.
#include "engine/dispatch/registry.h"

namespace stackgrad {
void register_reference_view() {}
}  // namespace stackgrad
