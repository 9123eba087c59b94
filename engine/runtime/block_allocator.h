// The caching allocator's bookkeeping, kept apart from CUDA so its logic runs (and is tested) on
// any machine. A BlockAllocator carves blocks out of large segments that it gets from a
// RawBackend (cudaMalloc/cudaFree on a GPU, a fake in tests) and keeps freed blocks for reuse:
// cudaMalloc and cudaFree synchronise the device and cost far more than a kernel launch, so a
// training step that allocates the same shapes every iteration must not call them.
//
// Sizes and pools:
//   - every request is rounded up to a multiple of 512 bytes (kRound);
//   - small requests (<= 1 MiB) come from 2 MiB segments, kept in the small pool, so many
//     small tensors share one cudaMalloc;
//   - large requests of up to 10 MiB come from 20 MiB segments, larger ones from a segment of
//     their own size rounded up to 2 MiB; both live in the large pool.
// A request takes the smallest free block of its pool that fits (best fit, ties broken by
// address) and splits off the remainder when the remainder is worth keeping (>= 512 B in the
// small pool, > 1 MiB in the large pool: smaller leftovers stay inside the block). Freeing a
// block merges it with free neighbours of the same segment, so a segment whose blocks are all
// free becomes one block again and empty_cache() can return it.
//
// When the backend refuses a segment, the allocator returns every wholly free segment
// (empty_cache) and tries once more; if that fails too it throws stackgrad::Error with the
// requested size and the statistics.
//
// Blocks are never shared across streams: the engine runs every kernel of a device on one
// stream, so a block freed on the host may be handed out again at once (any kernel still using
// it precedes, in stream order, every kernel that uses the new tensor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace stackgrad {

// Raw memory for segments. raw_alloc returns nullptr when the memory is not available (it must
// not throw for that reason); raw_free gives back exactly a pointer raw_alloc returned.
class RawBackend {
 public:
  virtual ~RawBackend() = default;
  virtual void* raw_alloc(size_t nbytes) = 0;
  virtual void raw_free(void* p) = 0;
};

struct MemoryStats {
  size_t allocated_bytes = 0;       // blocks handed out (rounded sizes)
  size_t reserved_bytes = 0;        // segments held from the backend
  size_t peak_allocated_bytes = 0;  // high-water mark of allocated_bytes
  size_t peak_reserved_bytes = 0;   // high-water mark of reserved_bytes
  size_t requested_bytes = 0;       // the callers' sizes of the blocks handed out
  uint64_t num_allocs = 0;          // allocate() calls that returned memory
  uint64_t num_frees = 0;
  uint64_t num_raw_allocs = 0;      // segments obtained (cudaMalloc calls that succeeded)
  uint64_t num_raw_frees = 0;       // segments returned (cudaFree calls)
  uint64_t num_raw_alloc_failures = 0;
  uint64_t num_cache_flushes = 0;   // empty_cache() runs forced by a failed raw allocation
  uint64_t num_ooms = 0;            // allocate() calls that threw
};

std::string format_bytes(size_t n);           // "1.50 MiB"
std::string format_stats(const MemoryStats& s);  // one line, for error messages and logs

class BlockAllocator {
 public:
  static constexpr size_t kRound = 512;
  static constexpr size_t kSmallRequest = size_t{1} << 20;      // <= this: small pool
  static constexpr size_t kSmallSegment = size_t{2} << 20;
  static constexpr size_t kMediumRequest = size_t{10} << 20;    // <= this: a 20 MiB segment
  static constexpr size_t kLargeSegment = size_t{20} << 20;
  static constexpr size_t kHugeRound = size_t{2} << 20;         // huge segments round to this
  static constexpr size_t kMinLargeRemainder = size_t{1} << 20; // large splits keep > this

  // `name` labels errors ("cuda:0"). The backend must outlive the allocator.
  BlockAllocator(RawBackend& backend, std::string name);
  ~BlockAllocator();  // returns every segment; blocks still allocated are leaked to the backend's care
  BlockAllocator(const BlockAllocator&) = delete;
  BlockAllocator& operator=(const BlockAllocator&) = delete;

  static size_t round_size(size_t nbytes);
  static bool is_small(size_t rounded) { return rounded <= kSmallRequest; }
  static size_t segment_size(size_t rounded);

  // nullptr for 0 bytes. Throws stackgrad::Error when out of memory (after one retry).
  void* allocate(size_t nbytes);
  // Error for a pointer this allocator did not hand out (or already freed).
  void free(void* p);
  // Returns every wholly free segment to the backend.
  void empty_cache();
  MemoryStats stats() const;
  void reset_peak();
  // Number of free blocks in each pool (for tests and the debug log).
  size_t free_blocks(bool small_pool) const;

 private:
  struct Block {
    char* ptr = nullptr;
    size_t size = 0;
    size_t requested = 0;
    bool allocated = false;
    bool small = false;
    Block* prev = nullptr;  // neighbours within the same segment
    Block* next = nullptr;
  };
  struct BySizeThenAddress {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };
  using Pool = std::set<Block*, BySizeThenAddress>;

  Pool& pool(bool small) { return small ? small_pool_ : large_pool_; }
  Block* take_free_block(size_t size, bool small);
  Block* new_segment(size_t size, bool small);
  void split(Block* b, size_t size);
  void release_free_segments();

  RawBackend& backend_;
  std::string name_;
  mutable std::mutex mutex_;
  Pool small_pool_, large_pool_;
  std::unordered_map<void*, Block*> allocated_;
  MemoryStats stats_;
};

}  // namespace stackgrad
