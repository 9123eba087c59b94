// Storage: the bytes behind one or more tensors, plus a version counter that in-place writes bump
// so autograd can tell when a tensor it saved for backward was modified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/core/device.h"

namespace stackgrad {

class Storage {
 public:
  // Allocates nbytes on `device` (64-byte aligned on the CPU). Contents are uninitialised.
  Storage(size_t nbytes, Device device);
  // Wraps memory the caller owns; `keep_alive` is held as long as the storage lives.
  Storage(void* data, size_t nbytes, Device device, std::shared_ptr<void> keep_alive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
  bool owned_ = true;
  std::shared_ptr<void> keep_alive_;
};

}  // namespace stackgrad
