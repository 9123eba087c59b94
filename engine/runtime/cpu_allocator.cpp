#include "engine/runtime/cpu_allocator.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/core/error.h"

namespace stackgrad {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kMinCached = size_t{256} << 10;  // below this, malloc is fast enough
constexpr size_t kGranule = size_t{64} << 10;     // cached sizes are rounded up to 64 KiB

size_t cache_limit() {
  static const size_t limit = [] {
    const char* s = std::getenv("STACKGRAD_CPU_CACHE_MB");
    long mb = s ? std::atol(s) : 1024;
    return static_cast<size_t>(mb > 0 ? mb : 0) << 20;
  }();
  return limit;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // by rounded size
  CpuAllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: storages may be freed during static teardown
  return *c;
}

// Small blocks (one-element tensors, shapes of a few hundred floats) are the bulk of the
// allocations of a training step's bookkeeping; aligned_alloc + free cost about as much as a
// small op itself. Each thread keeps a short free list per 64-byte size class up to 4 KiB, so
// the next request of the same class is a pop. Lists are bounded (kSmallPerClass blocks), live
// per thread (no lock), and are returned to the system when the thread ends. Under
// AddressSanitizer the cache is off so use-after-free stays visible.
constexpr size_t kSmallMax = 4096;
constexpr size_t kSmallClasses = kSmallMax / kAlign;
constexpr size_t kSmallPerClass = 32;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSmallCache = false;
#else
constexpr bool kSmallCache = true;
#endif

struct SmallCache {
  void* blocks[kSmallClasses][kSmallPerClass];
  uint32_t count[kSmallClasses] = {};
  bool alive = true;  // storages freed after this thread's cache is gone go straight to free()
  void release() {
    for (size_t c = 0; c < kSmallClasses; ++c) {
      for (uint32_t i = 0; i < count[c]; ++i) std::free(blocks[c][i]);
      count[c] = 0;
    }
  }
  ~SmallCache() {
    release();
    alive = false;
  }
};

thread_local SmallCache t_small;

size_t rounded(size_t nbytes) {
  return nbytes >= kMinCached ? (nbytes + kGranule - 1) / kGranule * kGranule
                              : (nbytes + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

void* cpu_alloc(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t size = rounded(nbytes);
  if (kSmallCache && size <= kSmallMax && t_small.alive) {
    const size_t cls = size / kAlign - 1;
    if (t_small.count[cls] > 0) return t_small.blocks[cls][--t_small.count[cls]];
  } else if (size >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= size;
      ++c.stats.hits;
      return p;
    }
    ++c.stats.misses;
  }
  void* p = std::aligned_alloc(kAlign, size);
  SG_CHECK(p != nullptr, "cpu_alloc: out of memory allocating ", nbytes, " bytes (",
           cpu_allocator_stats().cached_bytes, " bytes cached; cpu_empty_cache() frees them)");
  return p;
}

void cpu_free(void* p, size_t nbytes) {
  if (p == nullptr) return;
  const size_t size = rounded(nbytes);
  if (kSmallCache && size <= kSmallMax && t_small.alive) {
    const size_t cls = size / kAlign - 1;
    if (t_small.count[cls] < kSmallPerClass) {
      t_small.blocks[cls][t_small.count[cls]++] = p;
      return;
    }
  } else if (size >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.stats.cached_bytes + size <= cache_limit()) {
      c.free_blocks[size].push_back(p);
      c.stats.cached_bytes += size;
      return;
    }
  }
  std::free(p);
}

CpuAllocatorStats cpu_allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void cpu_empty_cache() {
  if (kSmallCache && t_small.alive) t_small.release();
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

}  // namespace stackgrad
