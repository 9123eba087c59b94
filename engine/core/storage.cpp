#include "engine/core/storage.h"

#include "engine/core/error.h"
#include "engine/runtime/cpu_allocator.h"
#include "engine/runtime/cuda_context.h"

namespace stackgrad {

// CPU bytes come from engine/runtime/cpu_allocator.h (64-byte aligned); GPU bytes from the
// device's caching allocator (engine/runtime/block_allocator.h, 512-byte aligned).
Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cuda()) {
    // "cuda:N requested but ..." when the build has no CUDA backend or the device is missing.
    cuda_require(device);
    data_ = cuda_alloc(device.index, nbytes);
    return;
  }
  data_ = cpu_alloc(nbytes);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::shared_ptr<void> keep_alive)
    : data_(data), nbytes_(nbytes), device_(device), owned_(false), keep_alive_(std::move(keep_alive)) {}

Storage::~Storage() {
  if (!owned_) return;
  if (device_.is_cuda())
    cuda_free(device_.index, data_);
  else
    cpu_free(data_, nbytes_);
}

}  // namespace stackgrad
