// The CPU allocator behind Storage: 64-byte aligned blocks, with a cache of freed large blocks.
// Large fresh allocations come from mmap, and first-touching their pages can cost more than the
// op that fills them (an elementwise op on 16 MB spends most of its time in page faults), so a
// freed block of 256 KiB or more is kept for the next request of the same rounded size. The
// cache holds at most STACKGRAD_CPU_CACHE_MB megabytes (default 1024; 0 turns it off).
#pragma once

#include <cstddef>
#include <cstdint>

namespace stackgrad {

void* cpu_alloc(size_t nbytes);
void cpu_free(void* p, size_t nbytes);

struct CpuAllocatorStats {
  size_t cached_bytes = 0;  // freed blocks held for reuse
  uint64_t hits = 0;        // requests served from the cache
  uint64_t misses = 0;      // cacheable requests that went to the system
};
CpuAllocatorStats cpu_allocator_stats();
// Returns every cached block to the system.
void cpu_empty_cache();

}  // namespace stackgrad
