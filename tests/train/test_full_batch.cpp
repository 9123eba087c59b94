// The full-batch node-classifier loop and the model-selection rules: the loop records what it
// claims (losses, accuracies against pseudo-labels, early stop), and each selection rule picks
// the epoch a hand-made trace says it must.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "engine/stackgrad.h"
#include "nn/linear.h"
#include "nn/optim/adam.h"
#include "tests/support/error_of.h"
#include "train/full_batch.h"

namespace {

using namespace stackgrad;
using namespace stackgrad::train;
using stackgrad::testing::error_of;
using ::testing::HasSubstr;

// Two classes on a line: x < 0 is class 0, x > 0 class 1; 40 nodes.
struct Toy {
  Tensor x, labels, train_idx, test_idx;
};
Toy toy() {
  std::vector<double> xs;
  std::vector<int64_t> ys;
  for (int i = 0; i < 40; ++i) {
    xs.push_back(i < 20 ? -1.0 - 0.1 * i : 1.0 + 0.1 * (i - 20));
    ys.push_back(i < 20 ? 0 : 1);
  }
  return {from_vector(xs, {40, 1}).to(DType::f32), from_vector(ys, {40}),
          from_vector(std::vector<int64_t>{0, 1, 20, 21}, {4}), arange(2, 20).to(DType::i64)};
}

TEST(FitFullBatch, LearnsASeparableProblemAndRecordsEveryEpoch) {
  Toy t = toy();
  Generator gen(0);
  nn::Linear model(1, 2, {}, gen);
  nn::Adam opt(model.parameters(), {.lr = 0.1});
  auto trace = fit_full_batch(model, [&] { return model(t.x); }, opt,
                              {.labels = t.labels, .train_idx = t.train_idx, .test_idx = arange(40).to(DType::i64)},
                              {.epochs = 60});
  ASSERT_EQ(trace.size(), 60u);
  EXPECT_EQ(trace[59].epoch, 59);
  EXPECT_LT(trace.back().train_loss, trace.front().train_loss);
  EXPECT_DOUBLE_EQ(trace.back().train_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(trace.back().test_accuracy, 1.0);
  // Without a validation set its numbers are NaN, and the model ends in eval mode.
  EXPECT_TRUE(std::isnan(trace.back().val_accuracy));
  EXPECT_TRUE(std::isnan(trace.back().val_loss));
  EXPECT_FALSE(model.is_training());
}

TEST(FitFullBatch, PseudoLabelsAreTrainedTowardsAndTestIsScoredOnTruth) {
  Toy t = toy();
  Generator gen(0);
  nn::Linear model(1, 2, {}, gen);
  nn::Adam opt(model.parameters(), {.lr = 0.1});
  // Every training target flipped: the model learns the opposite rule, fits its targets and
  // gets every true label wrong.
  Tensor flipped = 1 - index_select(t.labels, 0, t.train_idx);
  auto trace = fit_full_batch(
      model, [&] { return model(t.x); }, opt,
      {.labels = t.labels, .train_idx = t.train_idx, .train_targets = flipped, .test_idx = t.test_idx}, {.epochs = 60});
  EXPECT_DOUBLE_EQ(trace.back().train_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(trace.back().test_accuracy, 0.0);
}

TEST(FitFullBatch, OnEpochReturningFalseStops) {
  Toy t = toy();
  Generator gen(0);
  nn::Linear model(1, 2, {}, gen);
  nn::Adam opt(model.parameters(), {.lr = 0.1});
  int calls = 0;
  auto trace = fit_full_batch(model, [&] { return model(t.x); }, opt, {.labels = t.labels, .train_idx = t.train_idx},
                              {.epochs = 50, .on_epoch = [&](const EpochRecord& r) {
                                 ++calls;
                                 return r.epoch < 6;
                               }});
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(trace.size(), 7u);
}

TEST(FitFullBatch, RejectsMismatchedTargetsAndLogits) {
  Toy t = toy();
  nn::Linear model(1, 2);
  nn::Adam opt(model.parameters());
  EXPECT_THAT(error_of([&] {
                fit_full_batch(model, [&] { return model(t.x); }, opt,
                               {.labels = t.labels, .train_idx = t.train_idx, .train_targets = arange(3).to(DType::i64)});
              }),
              HasSubstr("train_targets must be i64 [4]"));
  EXPECT_THAT(error_of([&] {
                fit_full_batch(model, [&] { return model(t.x).narrow(0, 0, 10); }, opt,
                               {.labels = t.labels, .train_idx = t.train_idx});
              }),
              HasSubstr("forward must return [40, classes] logits, got [10, 2]"));
  EXPECT_THAT(error_of([&] { fit_full_batch(model, [&] { return model(t.x); }, opt, {.labels = t.labels}); }),
              HasSubstr("no training nodes"));
}

EpochRecord rec(int64_t epoch, double train_loss, double train_acc, double val_loss, double val_acc, double test) {
  return {.epoch = epoch, .step_loss = train_loss, .train_loss = train_loss, .train_accuracy = train_acc,
          .val_loss = val_loss, .val_accuracy = val_acc, .test_accuracy = test};
}

TEST(Selection, BestValidationBreaksTiesByValidationLossThenEarlierEpoch) {
  std::vector<EpochRecord> trace = {rec(0, 1.0, 0.5, 0.9, 0.6, 0.1), rec(1, 0.8, 0.7, 0.7, 0.8, 0.2),
                                    rec(2, 0.6, 0.9, 0.5, 0.8, 0.3), rec(3, 0.5, 0.9, 0.5, 0.8, 0.4),
                                    rec(4, 0.4, 1.0, 0.8, 0.7, 0.5)};
  EXPECT_EQ(select_best_validation(trace).epoch, 2);
  EXPECT_DOUBLE_EQ(select_best_validation(trace).test_accuracy, 0.3);
}

TEST(Selection, HighestTrainAccuracyBreaksTiesByTrainLoss) {
  std::vector<EpochRecord> trace = {rec(0, 1.0, 0.5, 0, 0, 0.1), rec(1, 0.3, 1.0, 0, 0, 0.2),
                                    rec(2, 0.2, 1.0, 0, 0, 0.3), rec(3, 0.25, 1.0, 0, 0, 0.4)};
  EXPECT_EQ(select_highest_train_accuracy(trace).epoch, 2);
}

TEST(Selection, LowestTrainLossLooksOnlyAtCheckpointsAndTheTail) {
  // 100 epochs, loss falling except a dip at epoch 4 (unchecked) and a minimum at epoch 39
  // (checked: (39 + 1) % 20 == 0), with a tail 90..99 that is higher.
  std::vector<EpochRecord> trace;
  for (int64_t e = 0; e < 100; ++e) trace.push_back(rec(e, 1.0 - 0.001 * double(e), 0, 0, 0, double(e)));
  trace[4].train_loss = 0.01;
  trace[39].train_loss = 0.05;
  EXPECT_EQ(select_lowest_train_loss(trace).epoch, 39);
  trace[95].train_loss = 0.04;  // in the last 10%: checked too
  EXPECT_EQ(select_lowest_train_loss(trace).epoch, 95);
  EXPECT_EQ(select_lowest_train_loss(trace, 1, 0).epoch, 4);  // every epoch checked
  EXPECT_THAT(error_of([&] { select_lowest_train_loss(trace, 0); }), HasSubstr("every must be >= 1"));
  EXPECT_THAT(error_of([&] { select_lowest_train_loss({}); }), HasSubstr("empty trace"));
}

TEST(Selection, NanValidationSelectsTheFirstEpoch) {
  const double nan = std::nan("");
  std::vector<EpochRecord> trace = {rec(0, 1, 0, nan, nan, 0.1), rec(1, 0.5, 1, nan, nan, 0.9)};
  EXPECT_EQ(select_best_validation(trace).epoch, 0);
}

TEST(MeanStd, PopulationStandardDeviation) {
  MeanStd s = mean_std({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.std, 2.0);
  EXPECT_EQ(s.count, 8);
  EXPECT_TRUE(std::isnan(mean_std({}).mean));
}

}  // namespace
