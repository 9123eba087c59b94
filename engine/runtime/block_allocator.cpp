#include "engine/runtime/block_allocator.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "engine/core/error.h"

namespace stackgrad {

std::string format_bytes(size_t n) {
  char buf[32];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%zu B", n);
  } else if (n < (size_t{1} << 20)) {
    std::snprintf(buf, sizeof buf, "%.2f KiB", double(n) / 1024.0);
  } else if (n < (size_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f MiB", double(n) / double(1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(n) / double(1 << 30));
  }
  return buf;
}

std::string format_stats(const MemoryStats& s) {
  return str_cat("allocated ", format_bytes(s.allocated_bytes), " (peak ",
                 format_bytes(s.peak_allocated_bytes), "), reserved ",
                 format_bytes(s.reserved_bytes), " (peak ", format_bytes(s.peak_reserved_bytes),
                 "), ", s.num_raw_allocs, " segment allocations, ", s.num_raw_frees,
                 " segment frees, ", s.num_allocs, " allocations, ", s.num_frees, " frees");
}

BlockAllocator::BlockAllocator(RawBackend& backend, std::string name)
    : backend_(backend), name_(std::move(name)) {}

BlockAllocator::~BlockAllocator() {
  // Segments with live blocks are left alone: a tensor may outlive the allocator at static
  // teardown, and the process's exit returns the memory anyway.
  release_free_segments();
}

size_t BlockAllocator::round_size(size_t nbytes) {
  if (nbytes == 0) return 0;
  return (nbytes + kRound - 1) / kRound * kRound;
}

size_t BlockAllocator::segment_size(size_t rounded) {
  if (is_small(rounded)) return kSmallSegment;
  if (rounded <= kMediumRequest) return kLargeSegment;
  return (rounded + kHugeRound - 1) / kHugeRound * kHugeRound;
}

BlockAllocator::Block* BlockAllocator::take_free_block(size_t size, bool small) {
  Pool& p = pool(small);
  Block key;
  key.size = size;
  key.ptr = nullptr;
  auto it = p.lower_bound(&key);  // smallest block of at least `size`, lowest address first
  if (it == p.end()) return nullptr;
  Block* b = *it;
  p.erase(it);
  return b;
}

BlockAllocator::Block* BlockAllocator::new_segment(size_t size, bool small) {
  const size_t seg = segment_size(size);
  void* raw = backend_.raw_alloc(seg);
  if (raw == nullptr) {
    ++stats_.num_raw_alloc_failures;
    ++stats_.num_cache_flushes;
    release_free_segments();
    raw = backend_.raw_alloc(seg);
    if (raw == nullptr) {
      ++stats_.num_raw_alloc_failures;
      return nullptr;
    }
  }
  ++stats_.num_raw_allocs;
  stats_.reserved_bytes += seg;
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  auto* b = new Block;
  b->ptr = static_cast<char*>(raw);
  b->size = seg;
  b->small = small;
  return b;
}

// Cuts `b` to `size` bytes and returns the rest to the pool, when the rest is worth a block.
void BlockAllocator::split(Block* b, size_t size) {
  const size_t rest = b->size - size;
  const bool worth = b->small ? rest >= kRound : rest > kMinLargeRemainder;
  if (!worth) return;
  auto* r = new Block;
  r->ptr = b->ptr + size;
  r->size = rest;
  r->small = b->small;
  r->prev = b;
  r->next = b->next;
  if (b->next) b->next->prev = r;
  b->next = r;
  b->size = size;
  pool(r->small).insert(r);
}

void* BlockAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t size = round_size(nbytes);
  const bool small = is_small(size);
  Block* b = take_free_block(size, small);
  if (b == nullptr) b = new_segment(size, small);
  if (b == nullptr) {
    ++stats_.num_ooms;
    fail(name_, ": out of memory allocating ", format_bytes(nbytes), " (", nbytes,
         " bytes, a segment of ", format_bytes(segment_size(size)),
         ") after freeing the cache and retrying; ", format_stats(stats_));
  }
  split(b, size);
  b->allocated = true;
  b->requested = nbytes;
  allocated_[b->ptr] = b;
  ++stats_.num_allocs;
  stats_.allocated_bytes += b->size;
  stats_.requested_bytes += nbytes;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return b->ptr;
}

void BlockAllocator::free(void* p) {
  if (p == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = allocated_.find(p);
  SG_CHECK(it != allocated_.end(), name_, ": free of a pointer this allocator did not allocate");
  Block* b = it->second;
  allocated_.erase(it);
  ++stats_.num_frees;
  stats_.allocated_bytes -= b->size;
  stats_.requested_bytes -= b->requested;
  b->allocated = false;
  b->requested = 0;
  Pool& pl = pool(b->small);
  // Merge with the free neighbours: they leave the pool, b grows over them.
  if (Block* n = b->next; n && !n->allocated) {
    pl.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    delete n;
  }
  if (Block* q = b->prev; q && !q->allocated) {
    pl.erase(q);
    q->size += b->size;
    q->next = b->next;
    if (b->next) b->next->prev = q;
    delete b;
    b = q;
  }
  pl.insert(b);
}

void BlockAllocator::release_free_segments() {
  for (bool small : {true, false}) {
    Pool& pl = pool(small);
    std::vector<Block*> whole;
    for (Block* b : pl)
      if (b->prev == nullptr && b->next == nullptr) whole.push_back(b);
    for (Block* b : whole) {
      pl.erase(b);
      backend_.raw_free(b->ptr);
      ++stats_.num_raw_frees;
      stats_.reserved_bytes -= b->size;
      delete b;
    }
  }
}

void BlockAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
}

MemoryStats BlockAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void BlockAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

size_t BlockAllocator::free_blocks(bool small_pool) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return small_pool ? small_pool_.size() : large_pool_.size();
}

}  // namespace stackgrad
