// The kernel table and the one function ops use to run a kernel.
//   kernel_table[op][backend], filled by register_reference_kernels() and register_cpu_kernels()
// (and register_cuda_kernels() in CUDA builds). A missing kernel is an error naming op and
// backend; there is never a silent fallback to another backend.
#pragma once

#include <initializer_list>

#include "engine/core/tensor.h"
#include "engine/dispatch/registry.h"

namespace stackgrad {

// The backend that runs ops on `device` now: cpu tensors use Backend::cpu unless a
// ReferenceKernels guard is active on this thread (tests run every op both ways).
Backend backend_for(Device device);

class ReferenceKernels {
 public:
  ReferenceKernels();
  ~ReferenceKernels();
  ReferenceKernels(const ReferenceKernels&) = delete;
  ReferenceKernels& operator=(const ReferenceKernels&) = delete;
  static bool active();

 private:
  bool previous_;
};

TensorArg make_arg(const Tensor& t);

// Kernel-call logging to stderr: 0 off, 1 each call (op, backend, dtypes, shapes), 2 with its
// time and bandwidth. Starts from STACKGRAD_DEBUG.
int debug_level();
void set_debug_level(int level);

// Runs `op` on the backend of the inputs' device. Outputs must be allocated by the caller.
// Logs the call when STACKGRAD_DEBUG=1 (and its time with =2).
void run_kernel(OpId op, std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> outputs,
                const OpAttrs& attrs = {});
void run_kernel(OpId op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                const OpAttrs& attrs = {});

}  // namespace stackgrad
