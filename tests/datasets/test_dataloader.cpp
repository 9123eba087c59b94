// DataLoader: coverage and order per epoch, drop_last, determinism in (seed, epoch), prefetch
// identical to no prefetch, early break, and worker errors rethrown in the caller.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "datasets/dataloader.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/random.h"
#include "engine/ops/shape.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using sg::data::Batch;
using sg::data::DataLoader;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

// Row i of x is [i, i + 0.5] so every batch can be checked against its index.
struct Toy {
  sg::Tensor x, y;
  explicit Toy(int64_t n) {
    std::vector<float> xs;
    std::vector<int64_t> ys;
    for (int64_t i = 0; i < n; ++i) {
      xs.push_back(static_cast<float>(i));
      xs.push_back(static_cast<float>(i) + 0.5f);
      ys.push_back(i % 3);
    }
    x = sg::from_vector(xs, {n, 2});
    y = sg::from_vector(ys, {n});
  }
};

std::vector<std::vector<int64_t>> batches_of(DataLoader& loader, int64_t epoch) {
  std::vector<std::vector<int64_t>> out;
  for (const Batch& b : loader.epoch(epoch)) out.push_back(b.index.to_vector<int64_t>());
  return out;
}

}  // namespace

TEST(DataLoader, EveryIndexOncePerEpochAndRowsMatch) {
  Toy toy(103);
  for (bool prefetch : {false, true}) {
    DataLoader loader(toy.x, toy.y, {.batch_size = 10, .shuffle = true, .prefetch = prefetch});
    EXPECT_EQ(loader.size(), 11);
    std::vector<int64_t> seen;
    int64_t batches = 0;
    for (const Batch& b : loader.epoch(3)) {
      ++batches;
      std::vector<int64_t> idx = b.index.to_vector<int64_t>();
      std::vector<float> xs = b.x.to_vector<float>();
      std::vector<int64_t> ys = b.y.to_vector<int64_t>();
      ASSERT_EQ(b.x.shape(), (sg::Shape{static_cast<int64_t>(idx.size()), 2}));
      for (size_t k = 0; k < idx.size(); ++k) {
        EXPECT_EQ(xs[2 * k], static_cast<float>(idx[k]));
        EXPECT_EQ(xs[2 * k + 1], static_cast<float>(idx[k]) + 0.5f);
        EXPECT_EQ(ys[k], idx[k] % 3);
      }
      seen.insert(seen.end(), idx.begin(), idx.end());
    }
    EXPECT_EQ(batches, 11);
    EXPECT_EQ(seen.size(), 103u);
    EXPECT_FALSE(std::is_sorted(seen.begin(), seen.end()));  // shuffled
    std::sort(seen.begin(), seen.end());
    for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(seen[i], i);
  }
}

TEST(DataLoader, DropLastAndNoShuffle) {
  Toy toy(103);
  DataLoader keep(toy.x, toy.y, {.batch_size = 10, .shuffle = false, .drop_last = false});
  DataLoader drop(toy.x, toy.y, {.batch_size = 10, .shuffle = false, .drop_last = true});
  EXPECT_EQ(keep.size(), 11);
  EXPECT_EQ(drop.size(), 10);
  auto k = batches_of(keep, 0), d = batches_of(drop, 0);
  ASSERT_EQ(k.size(), 11u);
  ASSERT_EQ(d.size(), 10u);
  EXPECT_EQ(k.back(), (std::vector<int64_t>{100, 101, 102}));
  EXPECT_EQ(d.back().size(), 10u);
  EXPECT_EQ(k[0][0], 0);
  EXPECT_EQ(k[0][9], 9);
  DataLoader exact(toy.x, toy.y, {.batch_size = 103, .drop_last = true});
  EXPECT_EQ(exact.size(), 1);
}

TEST(DataLoader, OrderDependsOnlyOnSeedAndEpoch) {
  Toy toy(50);
  DataLoader a(toy.x, toy.y, {.batch_size = 8, .seed = 7});
  DataLoader b(toy.x, toy.y, {.batch_size = 8, .seed = 7});
  DataLoader c(toy.x, toy.y, {.batch_size = 8, .seed = 8});
  // b skips epochs 0..4 (as a resumed run would): epoch 5 is the same anyway.
  batches_of(a, 0);
  batches_of(a, 1);
  EXPECT_EQ(batches_of(a, 5), batches_of(b, 5));
  EXPECT_EQ(a.order(5), b.order(5));
  EXPECT_NE(a.order(5), a.order(6));
  EXPECT_NE(a.order(5), c.order(5));
}

TEST(DataLoader, PrefetchEqualsNoPrefetchWithARandomTransform) {
  Toy toy(37);
  auto noisy = [](const sg::Tensor& x, sg::Generator& gen) {
    return sg::add(x, sg::randn(x.shape(), gen));
  };
  DataLoader with(toy.x, toy.y, {.batch_size = 4, .seed = 3, .prefetch = true, .transform = noisy});
  DataLoader without(toy.x, toy.y,
                     {.batch_size = 4, .seed = 3, .prefetch = false, .transform = noisy});
  for (int64_t e : {0, 1}) {
    std::vector<Batch> bw, bo;
    for (const Batch& b : with.epoch(e)) bw.push_back(b);
    for (const Batch& b : without.epoch(e)) bo.push_back(b);
    ASSERT_EQ(bw.size(), bo.size());
    for (size_t i = 0; i < bw.size(); ++i) {
      EXPECT_TRUE(sg::equal(bw[i].x, bo[i].x)) << "epoch " << e << " batch " << i;
      EXPECT_TRUE(sg::equal(bw[i].index, bo[i].index));
    }
    // The transform really changed the inputs.
    EXPECT_FALSE(sg::equal(bw[0].x, sg::index_select(toy.x, 0, bw[0].index)));
  }
  // batch(e, b) on the calling thread gives the same batch too.
  EXPECT_TRUE(sg::equal(with.batch(1, 2).x, without.batch(1, 2).x));
}

TEST(DataLoader, EarlyBreakStopsTheWorker) {
  Toy toy(1000);
  DataLoader loader(toy.x, toy.y, {.batch_size = 1, .prefetch = true});
  for (int rep = 0; rep < 20; ++rep) {
    int64_t taken = 0;
    for (const Batch& b : loader.epoch(rep)) {
      (void)b;
      if (++taken == 3) break;  // the epoch's destructor stops and joins the thread
    }
    EXPECT_EQ(taken, 3);
  }
  // An epoch that is never iterated is fine too.
  { auto unused = loader.epoch(0); }
}

TEST(DataLoader, WorkerErrorsAreRethrownInTheCaller) {
  Toy toy(20);
  auto failing = [](const sg::Tensor& x, sg::Generator&) -> sg::Tensor {
    if (x.to_vector<float>()[0] >= 0) throw sg::Error("my transform failed");
    return x;
  };
  for (bool prefetch : {true, false}) {
    DataLoader loader(toy.x, toy.y, {.batch_size = 5, .prefetch = prefetch, .transform = failing});
    EXPECT_THAT(error_of([&] {
                  for (const Batch& b : loader.epoch(0)) (void)b;
                }),
                HasSubstr("my transform failed"));
  }
}

TEST(DataLoader, BadArguments) {
  Toy toy(10);
  EXPECT_THAT(error_of([&] { DataLoader(toy.x, sg::zeros({9}, sg::DType::i64)); }),
              HasSubstr("DataLoader: inputs and targets must share their first dim"));
  EXPECT_THAT(error_of([&] { DataLoader(toy.x, toy.y, {.batch_size = 0}); }),
              HasSubstr("batch_size must be >= 1, got 0"));
}
