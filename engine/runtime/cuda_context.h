// The CUDA context: devices, one stream per device, the caching allocator per device and the
// copies between host and device. The header needs no CUDA headers, so engine code calls it in
// every build; a build without CUDA (engine/runtime/cuda_context_stub.cpp) reports zero devices
// and fails every other call with "this build has no CUDA backend".
//
// Every kernel of a device runs on that device's stream, in call order; the host waits only
// where it needs a result (copies to the host, synchronize()).
#pragma once

#include <cstddef>

#include "engine/core/device.h"
#include "engine/runtime/block_allocator.h"

namespace stackgrad {

// Whether this build compiled the CUDA backend (STACKGRAD_CUDA found nvcc).
bool cuda_compiled();
// Number of usable GPUs; 0 without CUDA, without a driver or without a device (never throws).
int cuda_device_count();
bool cuda_available();
// Throws "cuda:N requested but <why>" unless device N can be used.
void cuda_require(Device device);
// Makes `index` the calling thread's current device (cheap when it already is).
void cuda_set_device(int index);
int cuda_current_device();
// The device's stream (a cudaStream_t, as void* so this header stays CUDA-free).
void* cuda_stream(int index);
// Waits for every kernel and copy queued on the device's stream; index -1: every device.
void cuda_synchronize(int index = -1);

// The caching allocator of one device (engine/runtime/block_allocator.h).
void* cuda_alloc(int index, size_t nbytes);
void cuda_free(int index, void* p);
MemoryStats cuda_memory_stats(int index);
void cuda_empty_cache(int index = -1);  // -1: every device

// Copies of n contiguous bytes. Host<->device copies of at least kPinnedStagingMin bytes go
// through two pinned staging buffers in turn, so the memcpy into one overlaps the DMA from the
// other (from pageable memory the driver stages anyway, in smaller pieces). All return when the
// bytes have arrived.
constexpr size_t kPinnedStagingMin = size_t{1} << 20;
void cuda_copy_host_to_device(int index, void* dst, const void* src, size_t n);
void cuda_copy_device_to_host(int index, void* dst, const void* src, size_t n);
void cuda_copy_device_to_device(int dst_index, void* dst, int src_index, const void* src, size_t n);

}  // namespace stackgrad
