// The kernel table's registration side. Kernel files include this (and kernel.h), never Tensor.
#pragma once

#include "engine/dispatch/kernel.h"
#include "engine/dispatch/op_list.h"

namespace stackgrad {

enum class Backend : uint8_t { reference, cpu, cuda };
constexpr int kNumBackends = 3;
const char* backend_name(Backend b);

void register_kernel(OpId op, Backend backend, KernelFn fn);
KernelFn find_kernel(OpId op, Backend backend);  // nullptr if none
bool has_kernel(OpId op, Backend backend);

// Family registration hooks, one per family and backend, defined in kernels/<backend>/<family>.cpp
// and called once, in order, by the table's initialiser.
#define SG_DECLARE_REGISTER(family)    \
  void register_reference_##family(); \
  void register_cpu_##family();
SG_FOR_EACH_OP_FAMILY(SG_DECLARE_REGISTER)
#undef SG_DECLARE_REGISTER

}  // namespace stackgrad
