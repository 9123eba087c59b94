// The caching allocator's bookkeeping (engine/runtime/block_allocator.h) over a fake backend:
// host memory with a capacity, counted calls and pointers that the test can reason about. The
// CUDA allocator is this class over cudaMalloc/cudaFree, so these tests cover its logic on any
// machine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "engine/core/error.h"
#include "engine/runtime/block_allocator.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using ::testing::HasSubstr;
using testing::error_of;

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

class FakeBackend : public RawBackend {
 public:
  explicit FakeBackend(size_t capacity = size_t{1} << 40) : capacity_(capacity) {}
  void* raw_alloc(size_t n) override {
    ++alloc_calls;
    if (in_use + n > capacity_) return nullptr;
    void* p = std::malloc(n);
    live.insert(p);
    sizes[p] = n;
    in_use += n;
    return p;
  }
  void raw_free(void* p) override {
    ++free_calls;
    ASSERT_TRUE(live.count(p)) << "raw_free of a pointer raw_alloc did not return";
    live.erase(p);
    in_use -= sizes[p];
    std::free(p);
  }
  ~FakeBackend() override {
    for (void* p : live) std::free(p);
  }
  size_t alloc_calls = 0, free_calls = 0, in_use = 0;
  std::set<void*> live;
  std::map<void*, size_t> sizes;

 private:
  size_t capacity_;
};

char* as_bytes(void* p) { return static_cast<char*>(p); }

TEST(BlockAllocator, RoundsToHalfKilobyteAndPicksSegments) {
  EXPECT_EQ(BlockAllocator::round_size(0), 0u);
  EXPECT_EQ(BlockAllocator::round_size(1), 512u);
  EXPECT_EQ(BlockAllocator::round_size(512), 512u);
  EXPECT_EQ(BlockAllocator::round_size(513), 1024u);
  EXPECT_TRUE(BlockAllocator::is_small(1 * MiB));
  EXPECT_FALSE(BlockAllocator::is_small(1 * MiB + 512));
  EXPECT_EQ(BlockAllocator::segment_size(512), 2 * MiB);
  EXPECT_EQ(BlockAllocator::segment_size(1 * MiB), 2 * MiB);
  EXPECT_EQ(BlockAllocator::segment_size(1 * MiB + 512), 20 * MiB);
  EXPECT_EQ(BlockAllocator::segment_size(10 * MiB), 20 * MiB);
  EXPECT_EQ(BlockAllocator::segment_size(10 * MiB + 512), 12 * MiB);  // own segment, 2 MiB steps
  EXPECT_EQ(BlockAllocator::segment_size(33 * MiB), 34 * MiB);
}

TEST(BlockAllocator, ZeroBytesIsNullAndFreeingNullIsFine) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  EXPECT_EQ(a.allocate(0), nullptr);
  a.free(nullptr);
  EXPECT_EQ(be.alloc_calls, 0u);
}

TEST(BlockAllocator, SmallBlocksShareOneSegmentBackToBack) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* p = a.allocate(1000);  // 1024 after rounding
  void* q = a.allocate(100);   // 512
  void* r = a.allocate(4096);
  EXPECT_EQ(be.alloc_calls, 1u);
  EXPECT_EQ(as_bytes(q), as_bytes(p) + 1024);
  EXPECT_EQ(as_bytes(r), as_bytes(q) + 512);
  MemoryStats s = a.stats();
  EXPECT_EQ(s.allocated_bytes, 1024u + 512u + 4096u);
  EXPECT_EQ(s.requested_bytes, 1000u + 100u + 4096u);
  EXPECT_EQ(s.reserved_bytes, 2 * MiB);
  EXPECT_EQ(s.num_raw_allocs, 1u);
  EXPECT_EQ(s.num_allocs, 3u);
  a.free(p);
  a.free(q);
  a.free(r);
}

TEST(BlockAllocator, FreedBlockIsReusedWithoutANewSegment) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* p = a.allocate(3 * MiB);
  a.free(p);
  void* q = a.allocate(3 * MiB);
  EXPECT_EQ(q, p);
  EXPECT_EQ(be.alloc_calls, 1u);
  EXPECT_EQ(a.stats().num_raw_allocs, 1u);
  a.free(q);
}

TEST(BlockAllocator, FreeMergesNeighboursBothWays) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* p = a.allocate(8 * KiB);
  void* q = a.allocate(8 * KiB);
  void* r = a.allocate(8 * KiB);
  void* guard = a.allocate(8 * KiB);  // keeps r's right neighbour allocated
  // Blocks: p q r guard [rest of the segment, free].
  EXPECT_EQ(a.free_blocks(true), 1u);
  a.free(p);
  a.free(r);
  EXPECT_EQ(a.free_blocks(true), 3u);  // p, r and the rest: not adjacent
  a.free(q);                           // joins p and r into one 24 KiB block
  EXPECT_EQ(a.free_blocks(true), 2u);
  void* big = a.allocate(24 * KiB);  // fits exactly where p, q, r were
  EXPECT_EQ(big, p);
  EXPECT_EQ(be.alloc_calls, 1u);
  a.free(big);
  a.free(guard);  // everything merges back into the whole segment
  EXPECT_EQ(a.free_blocks(true), 1u);
  a.empty_cache();
  EXPECT_EQ(be.free_calls, 1u);
  EXPECT_EQ(a.stats().reserved_bytes, 0u);
}

TEST(BlockAllocator, BestFitTakesTheSmallestFreeBlockThatFits) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* big = a.allocate(64 * KiB);
  void* sep1 = a.allocate(512);
  void* small = a.allocate(4 * KiB);
  void* sep2 = a.allocate(512);
  a.free(big);
  a.free(small);
  // Free: 64 KiB at big, 4 KiB at small, and the rest of the segment. 3 KiB fits all three.
  void* p = a.allocate(3 * KiB);
  EXPECT_EQ(p, small);
  void* q = a.allocate(5 * KiB);  // no longer fits the 1 KiB left at small: the 64 KiB block
  EXPECT_EQ(q, big);
  for (void* x : {sep1, sep2, p, q}) a.free(x);
}

TEST(BlockAllocator, LargeRequestsUseTwentyMebibyteSegmentsAndHugeOnesTheirOwn) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* p = a.allocate(5 * MiB);
  void* q = a.allocate(5 * MiB);
  EXPECT_EQ(be.alloc_calls, 1u);
  EXPECT_EQ(as_bytes(q), as_bytes(p) + 5 * MiB);
  EXPECT_EQ(a.stats().reserved_bytes, 20 * MiB);
  void* h = a.allocate(50 * MiB + 1);
  EXPECT_EQ(be.alloc_calls, 2u);
  EXPECT_EQ(be.sizes[h], 52 * MiB);
  EXPECT_EQ(a.stats().reserved_bytes, 72 * MiB);
  // A small request never comes from the large pool.
  void* s = a.allocate(256);
  EXPECT_EQ(be.alloc_calls, 3u);
  EXPECT_EQ(a.stats().reserved_bytes, 74 * MiB);
  for (void* x : {p, q, h, s}) a.free(x);
}

TEST(BlockAllocator, LargeLeftoversOfAMebibyteOrLessStayInTheBlock) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* p = a.allocate(19 * MiB + 512 * KiB);  // leaves 512 KiB of the 20 MiB segment
  EXPECT_EQ(a.stats().allocated_bytes, 20 * MiB);
  EXPECT_EQ(a.free_blocks(false), 0u);
  a.free(p);
  EXPECT_EQ(a.stats().allocated_bytes, 0u);
}

TEST(BlockAllocator, PeakAndCountsFollowTheHighWaterMark) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* p = a.allocate(2 * MiB);
  void* q = a.allocate(3 * MiB);
  a.free(p);
  void* r = a.allocate(1 * MiB);
  MemoryStats s = a.stats();
  EXPECT_EQ(s.peak_allocated_bytes, 5 * MiB);
  EXPECT_EQ(s.allocated_bytes, 4 * MiB);
  EXPECT_EQ(s.num_allocs, 3u);
  EXPECT_EQ(s.num_frees, 1u);
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_allocated_bytes, 4 * MiB);
  a.free(q);
  a.free(r);
}

TEST(BlockAllocator, EmptyCacheKeepsSegmentsWithLiveBlocks) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  void* live = a.allocate(4 * KiB);   // small segment stays
  void* gone = a.allocate(12 * MiB);  // its own 12 MiB segment, freed below
  a.free(gone);
  EXPECT_EQ(a.stats().reserved_bytes, 14 * MiB);
  a.empty_cache();
  EXPECT_EQ(a.stats().reserved_bytes, 2 * MiB);
  EXPECT_EQ(be.free_calls, 1u);
  EXPECT_EQ(be.live.size(), 1u);
  a.free(live);
  a.empty_cache();
  EXPECT_EQ(be.live.size(), 0u);
  EXPECT_EQ(a.stats().num_raw_frees, 2u);
}

TEST(BlockAllocator, RetriesOnceAfterFreeingTheCache) {
  FakeBackend be(40 * MiB);
  BlockAllocator a(be, "fake:0");
  void* p = a.allocate(5 * MiB);  // a 20 MiB segment
  a.free(p);                      // cached, still reserved
  void* q = a.allocate(30 * MiB);  // 20 cached + 30 > 40: fails, flushes, then fits
  ASSERT_NE(q, nullptr);
  MemoryStats s = a.stats();
  EXPECT_EQ(s.num_raw_alloc_failures, 1u);
  EXPECT_EQ(s.num_cache_flushes, 1u);
  EXPECT_EQ(s.num_raw_frees, 1u);
  EXPECT_EQ(s.reserved_bytes, 30 * MiB);
  EXPECT_EQ(be.alloc_calls, 3u);
  a.free(q);
}

TEST(BlockAllocator, OutOfMemoryNamesTheSizeAndTheStats) {
  FakeBackend be(16 * MiB);
  BlockAllocator a(be, "cuda:0");
  void* keep = a.allocate(1 * MiB);  // a 2 MiB small segment: the stats are not all zero
  std::string msg = error_of([&] { a.allocate(64 * MiB); });
  EXPECT_THAT(msg, HasSubstr("cuda:0: out of memory allocating 64.00 MiB (67108864 bytes"));
  EXPECT_THAT(msg, HasSubstr("after freeing the cache and retrying"));
  EXPECT_THAT(msg, HasSubstr("reserved"));
  EXPECT_THAT(msg, HasSubstr("segment allocations"));
  EXPECT_THAT(msg, HasSubstr("allocated 1.00 MiB"));
  EXPECT_EQ(a.stats().num_ooms, 1u);
  a.free(keep);
}

TEST(BlockAllocator, OutOfMemoryWhenEvenOneSegmentCannotBeHad) {
  FakeBackend be(16 * MiB);
  BlockAllocator a(be, "cuda:0");
  // 5 MiB wants a 20 MiB segment, which a 16 MiB device cannot give.
  std::string msg = error_of([&] { a.allocate(5 * MiB); });
  EXPECT_THAT(msg, HasSubstr("out of memory allocating 5.00 MiB"));
  EXPECT_THAT(msg, HasSubstr("a segment of 20.00 MiB"));
  EXPECT_EQ(a.stats().num_raw_alloc_failures, 2u);  // the try and the retry
  // Small requests still work: a 2 MiB segment fits.
  void* p = a.allocate(1000);
  EXPECT_NE(p, nullptr);
  a.free(p);
}

TEST(BlockAllocator, FreeOfAForeignPointerIsAnError) {
  FakeBackend be;
  BlockAllocator a(be, "cuda:0");
  int x = 0;
  EXPECT_THAT(error_of([&] { a.free(&x); }), HasSubstr("cuda:0: free of a pointer"));
  void* p = a.allocate(100);
  a.free(p);
  EXPECT_THAT(error_of([&] { a.free(p); }), HasSubstr("did not allocate"));
}

TEST(BlockAllocator, ManyRandomAllocationsKeepTheBooksBalanced) {
  FakeBackend be;
  BlockAllocator a(be, "fake:0");
  std::vector<std::pair<char*, size_t>> live;
  uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (int step = 0; step < 4000; ++step) {
    if (live.empty() || next() % 3 != 0) {
      size_t n = 1 + (next() >> 33) % (next() % 4 == 0 ? 24 * MiB : 64 * KiB);
      char* p = static_cast<char*>(a.allocate(n));
      // No overlap with any live block.
      for (auto& [q, m] : live) ASSERT_TRUE(p + n <= q || q + m <= p) << "overlap at step " << step;
      live.push_back({p, n});
    } else {
      size_t i = (next() >> 33) % live.size();
      a.free(live[i].first);
      live.erase(live.begin() + static_cast<long>(i));
    }
  }
  size_t requested = 0;
  for (auto& [p, n] : live) requested += n;
  EXPECT_EQ(a.stats().requested_bytes, requested);
  for (auto& [p, n] : live) a.free(p);
  MemoryStats s = a.stats();
  EXPECT_EQ(s.allocated_bytes, 0u);
  EXPECT_EQ(s.requested_bytes, 0u);
  a.empty_cache();  // every segment is whole again, so all go back
  EXPECT_EQ(a.stats().reserved_bytes, 0u);
  EXPECT_EQ(be.live.size(), 0u);
  EXPECT_EQ(s.num_raw_allocs, be.alloc_calls);
}

}  // namespace
}  // namespace stackgrad
