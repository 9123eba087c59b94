#include "engine/core/storage.h"

#include "engine/core/error.h"
#include "engine/runtime/cpu_allocator.h"

namespace stackgrad {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  SG_CHECK(device.is_cpu(), "Storage: cannot allocate on ", device.str(),
           ": this build has no CUDA backend yet");
  data_ = cpu_alloc(nbytes);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::shared_ptr<void> keep_alive)
    : data_(data), nbytes_(nbytes), device_(device), owned_(false), keep_alive_(std::move(keep_alive)) {}

Storage::~Storage() {
  if (owned_) cpu_free(data_, nbytes_);
}

}  // namespace stackgrad
