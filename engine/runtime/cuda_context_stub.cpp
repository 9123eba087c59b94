// The CUDA context of a build without CUDA: no devices, and a clear error for every request.
// CUDA builds compile engine/runtime/cuda_context.cu instead of this file (CMakeLists.txt).
#include "engine/core/error.h"
#include "engine/runtime/cuda_context.h"

namespace stackgrad {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail(what, ": this build has no CUDA backend (configure with -DSTACKGRAD_CUDA=ON where nvcc "
       "is installed)");
}
}  // namespace

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
bool cuda_available() { return false; }
void cuda_require(Device device) {
  fail(device.str(), " requested but this build has no CUDA backend (configure with "
       "-DSTACKGRAD_CUDA=ON where nvcc is installed)");
}
void cuda_set_device(int) { no_cuda("cuda_set_device"); }
int cuda_current_device() { no_cuda("cuda_current_device"); }
void* cuda_stream(int) { no_cuda("cuda_stream"); }
void cuda_synchronize(int index) {
  if (index >= 0) no_cuda("cuda_synchronize");  // every device: none, so nothing to wait for
}
void* cuda_alloc(int, size_t) { no_cuda("cuda_alloc"); }
void cuda_free(int, void*) { no_cuda("cuda_free"); }
MemoryStats cuda_memory_stats(int) { no_cuda("cuda_memory_stats"); }
void cuda_empty_cache(int) {}  // nothing cached
void cuda_copy_host_to_device(int, void*, const void*, size_t) { no_cuda("cuda_copy_host_to_device"); }
void cuda_copy_device_to_host(int, void*, const void*, size_t) { no_cuda("cuda_copy_device_to_host"); }
void cuda_copy_device_to_device(int, void*, int, const void*, size_t) {
  no_cuda("cuda_copy_device_to_device");
}

}  // namespace stackgrad
