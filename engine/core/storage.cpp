#include "engine/core/storage.h"

#include <cstdlib>

#include "engine/core/error.h"

namespace stackgrad {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  SG_CHECK(device.is_cpu(), "Storage: cannot allocate on ", device.str(),
           ": this build has no CUDA backend yet");
  if (nbytes == 0) return;
  size_t rounded = (nbytes + 63) / 64 * 64;
  data_ = std::aligned_alloc(64, rounded);
  SG_CHECK(data_ != nullptr, "Storage: out of memory allocating ", nbytes, " bytes on cpu");
}

Storage::Storage(void* data, size_t nbytes, Device device, std::shared_ptr<void> keep_alive)
    : data_(data), nbytes_(nbytes), device_(device), owned_(false), keep_alive_(std::move(keep_alive)) {}

Storage::~Storage() {
  if (owned_) std::free(data_);
}

}  // namespace stackgrad
