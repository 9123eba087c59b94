// Checks for CUDA runtime calls and kernel launches, for .cu files only. A failed call throws
// stackgrad::Error naming the call, the file and the line, and CUDA's name for the error:
//   CUDA error: cudaMalloc(&p, n) failed at engine/runtime/cuda_context.cu:88: cudaErrorInvalidValue (invalid argument)
#pragma once

#include <cuda_runtime_api.h>

#include "engine/core/error.h"

namespace stackgrad {

inline void cuda_check(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return;
  fail("CUDA error: ", call, " failed at ", file, ":", line, ": ", cudaGetErrorName(e), " (",
       cudaGetErrorString(e), ")");
}

}  // namespace stackgrad

#define SG_CUDA_CHECK(call) ::stackgrad::cuda_check((call), #call, __FILE__, __LINE__)
// After a <<<...>>> launch: reports a bad configuration (grid, block, shared memory) at once.
// Faults inside the kernel surface at the next synchronising call, which is checked too.
#define SG_CUDA_CHECK_LAUNCH(kernel_name) \
  ::stackgrad::cuda_check(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
