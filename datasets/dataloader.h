// DataLoader: mini-batches of (input, target) rows, shuffled per epoch, optionally transformed,
// optionally assembled ahead of time on a background thread.
//
//   data::DataLoader loader(ds.images, ds.labels, {.batch_size = 128, .shuffle = true});
//   for (int64_t e = start_epoch; e < epochs; ++e)
//     for (const data::Batch& b : loader.epoch(e)) train_step(b.x, b.y);
//
// Reproducibility. The order of epoch e is a function of (seed, e) alone, and the transform of
// batch b in epoch e draws from a Generator seeded by (seed, e, b) alone. So resuming from a
// checkpoint at epoch e needs no saved loader state, and prefetching on or off gives identical
// batches.
//
// Prefetch. With prefetch = true a std::thread gathers the rows of the next batch (and applies
// the transform) while the caller works on the current one; at most two batches wait ready.
// Leaving the loop early (break, an exception) stops and joins the thread when the epoch object
// goes out of scope. An exception thrown by the transform on the thread is rethrown in the
// caller when it reaches that batch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/runtime/generator.h"

namespace stackgrad::data {

struct Batch {
  Tensor x;      // inputs[index], shape [B, ...]
  Tensor y;      // targets[index], shape [B, ...]
  Tensor index;  // i64 [B]: the dataset rows of this batch
};

// Applied to each batch's x (random transforms take the generator; see datasets/transforms.h).
using BatchTransform = std::function<Tensor(const Tensor& x, Generator& gen)>;

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop a last batch smaller than batch_size
  uint64_t seed = 0;
  bool prefetch = true;
  BatchTransform transform = nullptr;
};

class DataLoader {
 public:
  // inputs and targets share their first dim (the dataset size). Both are kept (made
  // contiguous on the CPU); batches are copies of their rows.
  DataLoader(const Tensor& inputs, const Tensor& targets, LoaderOptions options = {});

  int64_t size() const;  // batches per epoch
  int64_t num_samples() const { return n_; }
  const LoaderOptions& options() const { return options_; }

  // The dataset rows of epoch e in visiting order (a permutation when shuffling).
  std::vector<int64_t> order(int64_t epoch) const;
  // Batch b of epoch e, assembled on the calling thread (what the epoch iterator yields).
  Batch batch(int64_t epoch, int64_t b) const;

  class Epoch;
  // The batches of epoch e, for range-for. Keep the returned object alive while iterating.
  Epoch epoch(int64_t e) const;

  class Epoch {
   public:
    class iterator {
     public:
      const Batch& operator*() const { return current_; }
      const Batch* operator->() const { return &current_; }
      iterator& operator++();
      bool operator!=(const iterator& o) const { return pos_ != o.pos_; }
      bool operator==(const iterator& o) const { return pos_ == o.pos_; }

     private:
      friend class Epoch;
      iterator(Epoch* epoch, int64_t pos);
      Epoch* epoch_;
      int64_t pos_;
      Batch current_;
    };

    Epoch(const DataLoader* loader, int64_t epoch);
    ~Epoch();
    Epoch(Epoch&&) noexcept;
    Epoch(const Epoch&) = delete;
    Epoch& operator=(const Epoch&) = delete;
    Epoch& operator=(Epoch&&) = delete;

    iterator begin();
    iterator end();
    int64_t size() const;

   private:
    struct Worker;
    Batch next(int64_t pos);
    const DataLoader* loader_;
    int64_t epoch_;
    std::shared_ptr<const std::vector<int64_t>> order_;  // shared with the worker
    std::unique_ptr<Worker> worker_;                     // set when prefetching
  };

 private:
  Batch assemble(int64_t epoch, int64_t b, const std::vector<int64_t>& order) const;
  Tensor inputs_, targets_;
  int64_t n_ = 0;
  LoaderOptions options_;
};

// A Generator key from several integers (splitmix64 mixing): the loader derives its per-epoch
// and per-batch generators with it, and other code may too.
uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0);

}  // namespace stackgrad::data
