// Omniglot loaders on the real files (skipped when the data folder is absent); sizes from the
// folder's README.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datasets/data_root.h"
#include "datasets/omniglot.h"
#include "engine/ops/reduce.h"

namespace sg = stackgrad;
using sg::data::OmniglotSet;

namespace {

bool have_omniglot() {
  try {
    sg::data::find_dataset({"omniglot"}, {"background_small1_images.npy.gz"});
    return true;
  } catch (const sg::Error&) {
    return false;
  }
}

}  // namespace

TEST(Omniglot, BackgroundSmall1) {
  if (!have_omniglot()) GTEST_SKIP() << "omniglot/ not found under the data roots";
  sg::data::OmniglotDataset ds = sg::data::load_omniglot(OmniglotSet::background_small1);
  EXPECT_EQ(ds.images.shape(), (sg::Shape{2720, 1, 105, 105}));
  EXPECT_EQ(ds.num_classes, 136);
  EXPECT_EQ(ds.class_names[0], "Balinese/character01");
  EXPECT_EQ(ds.char_ids[0], 108);
  // 20 consecutive rows per class.
  std::vector<int64_t> y = ds.labels.to_vector<int64_t>();
  EXPECT_EQ(y[19], 0);
  EXPECT_EQ(y[20], 1);
  EXPECT_EQ(y.back(), 135);
  // Background is 1 as stored; ink (0) covers about 8% of the pixels.
  const double mean = sg::mean(ds.images).item();
  EXPECT_GT(mean, 0.85);
  EXPECT_LT(mean, 0.97);
}

TEST(Omniglot, ClassTablesAndOneShotRuns) {
  if (!have_omniglot()) GTEST_SKIP() << "omniglot/ not found under the data roots";
  EXPECT_EQ(sg::data::load_omniglot_classes(OmniglotSet::background_small2).num_classes, 156);
  sg::data::OmniglotDataset eval = sg::data::load_omniglot_classes(OmniglotSet::evaluation);
  EXPECT_EQ(eval.num_classes, 659);
  EXPECT_EQ(eval.alphabets[0], "Angelic");

  sg::data::OneShotRuns runs = sg::data::load_omniglot_oneshot("", /*ink_is_one=*/true);
  EXPECT_EQ(runs.train.shape(), (sg::Shape{20, 20, 1, 105, 105}));
  EXPECT_EQ(runs.test.shape(), (sg::Shape{20, 20, 1, 105, 105}));
  EXPECT_EQ(runs.answers.shape(), (sg::Shape{20, 20}));
  // Each run's answers are a permutation of 0..19.
  std::vector<int64_t> a = runs.answers.to_vector<int64_t>();
  for (int r = 0; r < 20; ++r) {
    std::vector<int64_t> row(a.begin() + 20 * r, a.begin() + 20 * r + 20);
    std::sort(row.begin(), row.end());
    for (int i = 0; i < 20; ++i) EXPECT_EQ(row[i], i);
  }
  // README: run 1, item 1 answers class 8 (1-based).
  EXPECT_EQ(a[0], 7);
  // ink_is_one: ink is now the minority value 1.
  EXPECT_LT(sg::mean(runs.train).item(), 0.15);
}
