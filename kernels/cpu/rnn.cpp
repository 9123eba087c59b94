// CPU kernels of the rnn family.
#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"

namespace stackgrad {
void register_cpu_rnn() {}
}  // namespace stackgrad
