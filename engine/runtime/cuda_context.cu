// The CUDA context (engine/runtime/cuda_context.h): per-device state created on first use, and
// the caching allocator over cudaMalloc/cudaFree. Never managed memory: unified memory would
// hide host<->device traffic behind page faults, and the copies are meant to be visible.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"

namespace stackgrad {

namespace {

constexpr int kMaxDevices = 64;
constexpr size_t kStagingChunk = size_t{4} << 20;  // each of the two pinned buffers

// Segments straight from cudaMalloc. Out of memory is an answer (nullptr), not an error: the
// allocator then frees its cache and asks again. Any other failure is a real error.
class CudaRawBackend : public RawBackend {
 public:
  explicit CudaRawBackend(int index) : index_(index) {}
  void* raw_alloc(size_t nbytes) override {
    cuda_set_device(index_);
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, nbytes);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear it, so the next launch check does not report it
      return nullptr;
    }
    SG_CUDA_CHECK(e);
    return p;
  }
  void raw_free(void* p) override {
    cuda_set_device(index_);
    SG_CUDA_CHECK(cudaFree(p));
  }

 private:
  int index_;
};

struct DeviceState {
  explicit DeviceState(int index) : backend(index), allocator(backend, "cuda:" + std::to_string(index)) {}
  cudaStream_t stream = nullptr;
  CudaRawBackend backend;
  BlockAllocator allocator;
  // Host<->device staging: two pinned buffers used in turn, each with the event of its last copy.
  std::mutex staging_mutex;
  std::array<char*, 2> staging{nullptr, nullptr};
  std::array<cudaEvent_t, 2> staged{nullptr, nullptr};
};

struct Devices {
  int count = -1;
  std::string why_none;  // cudaGetDeviceCount's error when count == 0
  std::array<std::once_flag, kMaxDevices> once;
  std::array<DeviceState*, kMaxDevices> state{};
};

// Never destroyed: tensors freed during static teardown still return their blocks here.
Devices& devices() {
  static Devices* d = [] {
    auto* p = new Devices;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      p->why_none = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
      (void)cudaGetLastError();
      n = 0;
    } else if (n == 0) {
      p->why_none = "cudaGetDeviceCount found none";
    }
    p->count = std::min(n, kMaxDevices);
    return p;
  }();
  return *d;
}

thread_local int t_current_device = -1;

DeviceState& state(int index) {
  Devices& d = devices();
  cuda_require(Device::cuda(index));
  std::call_once(d.once[index], [&] {
    cuda_set_device(index);
    auto* s = new DeviceState(index);
    // Non-blocking: no implicit ordering with the legacy default stream, which nothing here uses.
    SG_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    d.state[index] = s;
  });
  return *d.state[index];
}

void ensure_staging(DeviceState& s) {
  if (s.staging[0] != nullptr) return;
  for (int i = 0; i < 2; ++i) {
    SG_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&s.staging[i]), kStagingChunk,
                                cudaHostAllocDefault));
    SG_CUDA_CHECK(cudaEventCreateWithFlags(&s.staged[i], cudaEventDisableTiming));
  }
}

}  // namespace

bool cuda_compiled() { return true; }
int cuda_device_count() { return devices().count; }
bool cuda_available() { return cuda_device_count() > 0; }

void cuda_require(Device device) {
  SG_CHECK(device.is_cuda(), "cuda_require: ", device.str(), " is not a CUDA device");
  Devices& d = devices();
  SG_CHECK(d.count > 0, device.str(), " requested but no CUDA device is present (", d.why_none, ")");
  SG_CHECK(device.index >= 0 && device.index < d.count, device.str(), " requested but only ",
           d.count, d.count == 1 ? " CUDA device is" : " CUDA devices are", " present");
}

void cuda_set_device(int index) {
  if (t_current_device == index) return;
  SG_CUDA_CHECK(cudaSetDevice(index));
  t_current_device = index;
}

int cuda_current_device() {
  if (t_current_device < 0) {
    int dev = 0;
    SG_CUDA_CHECK(cudaGetDevice(&dev));
    t_current_device = dev;
  }
  return t_current_device;
}

void* cuda_stream(int index) { return state(index).stream; }

void cuda_synchronize(int index) {
  if (index >= 0) {
    SG_CUDA_CHECK(cudaStreamSynchronize(state(index).stream));
    return;
  }
  Devices& d = devices();
  for (int i = 0; i < d.count; ++i)
    if (d.state[i] != nullptr) SG_CUDA_CHECK(cudaStreamSynchronize(d.state[i]->stream));
}

void* cuda_alloc(int index, size_t nbytes) { return state(index).allocator.allocate(nbytes); }
void cuda_free(int index, void* p) { state(index).allocator.free(p); }
MemoryStats cuda_memory_stats(int index) { return state(index).allocator.stats(); }

void cuda_empty_cache(int index) {
  Devices& d = devices();
  for (int i = 0; i < d.count; ++i) {
    if (d.state[i] == nullptr || (index >= 0 && i != index)) continue;
    // Blocks freed on the host may still be read by queued kernels; cudaFree would wait for
    // them anyway, this makes the wait explicit.
    SG_CUDA_CHECK(cudaStreamSynchronize(d.state[i]->stream));
    d.state[i]->allocator.empty_cache();
  }
}

void cuda_copy_host_to_device(int index, void* dst, const void* src, size_t n) {
  if (n == 0) return;
  DeviceState& s = state(index);
  cuda_set_device(index);
  if (n < kPinnedStagingMin) {
    SG_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, s.stream));
    SG_CUDA_CHECK(cudaStreamSynchronize(s.stream));
    return;
  }
  std::lock_guard<std::mutex> lock(s.staging_mutex);
  ensure_staging(s);
  const char* from = static_cast<const char*>(src);
  char* to = static_cast<char*>(dst);
  for (size_t off = 0, k = 0; off < n; off += kStagingChunk, ++k) {
    const size_t len = std::min(kStagingChunk, n - off);
    const int b = static_cast<int>(k % 2);
    // The buffer's previous DMA must be done before the host overwrites it.
    SG_CUDA_CHECK(cudaEventSynchronize(s.staged[b]));
    std::memcpy(s.staging[b], from + off, len);
    SG_CUDA_CHECK(cudaMemcpyAsync(to + off, s.staging[b], len, cudaMemcpyHostToDevice, s.stream));
    SG_CUDA_CHECK(cudaEventRecord(s.staged[b], s.stream));
  }
  SG_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

void cuda_copy_device_to_host(int index, void* dst, const void* src, size_t n) {
  if (n == 0) return;
  DeviceState& s = state(index);
  cuda_set_device(index);
  if (n < kPinnedStagingMin) {
    SG_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s.stream));
    SG_CUDA_CHECK(cudaStreamSynchronize(s.stream));
    return;
  }
  std::lock_guard<std::mutex> lock(s.staging_mutex);
  ensure_staging(s);
  const char* from = static_cast<const char*>(src);
  char* to = static_cast<char*>(dst);
  const size_t chunks = (n + kStagingChunk - 1) / kStagingChunk;
  // Chunk k's DMA runs while the host copies chunk k-1 out of the other buffer.
  auto drain = [&](size_t k) {
    const int b = static_cast<int>(k % 2);
    const size_t off = k * kStagingChunk, len = std::min(kStagingChunk, n - off);
    SG_CUDA_CHECK(cudaEventSynchronize(s.staged[b]));
    std::memcpy(to + off, s.staging[b], len);
  };
  for (size_t k = 0; k < chunks; ++k) {
    const int b = static_cast<int>(k % 2);
    const size_t off = k * kStagingChunk, len = std::min(kStagingChunk, n - off);
    SG_CUDA_CHECK(cudaMemcpyAsync(s.staging[b], from + off, len, cudaMemcpyDeviceToHost, s.stream));
    SG_CUDA_CHECK(cudaEventRecord(s.staged[b], s.stream));
    if (k > 0) drain(k - 1);
  }
  drain(chunks - 1);
}

void cuda_copy_device_to_device(int dst_index, void* dst, int src_index, const void* src, size_t n) {
  if (n == 0) return;
  DeviceState& from = state(src_index);
  if (dst_index == src_index) {
    // Same stream as every kernel of the device: ordered, no host wait needed.
    cuda_set_device(src_index);
    SG_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, from.stream));
    return;
  }
  // Across devices the copy runs on the source's stream; the destination's queued work may still
  // use the (reused) destination block, so wait for it first, and for the copy after.
  SG_CUDA_CHECK(cudaStreamSynchronize(state(dst_index).stream));
  cuda_set_device(src_index);
  SG_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_index, src, src_index, n, from.stream));
  SG_CUDA_CHECK(cudaStreamSynchronize(from.stream));
}

}  // namespace stackgrad
