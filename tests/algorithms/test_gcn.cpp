// The GCN proof, small: on the real Cora public split a GCN beats 75% test accuracy within 100
// epochs, runs are reproducible per seed, and on a synthetic CSBM graph it beats a
// feature-only guess by a wide margin.
#include <gtest/gtest.h>

#include "algorithms/gcn/gcn.h"
#include "datasets/datasets.h"
#include "tests/support/have_dataset.h"

using namespace stackgrad;

TEST(GcnProof, CoraBeats75PercentWithin100Epochs) {
  if (!stackgrad::testing::have_cora()) GTEST_SKIP() << "planetoid/cora not found under any data root";
  data::GraphDataset cora = data::load_planetoid("cora");
  algo::GcnConfig cfg;
  cfg.epochs = 100;
  int64_t epochs_seen = 0;
  algo::GcnResult r = algo::train_gcn(cora, cfg, /*seed=*/0, [&](const algo::GcnEpoch&) { ++epochs_seen; });
  EXPECT_EQ(epochs_seen, 100);
  EXPECT_EQ(r.epochs_trained, 100);
  EXPECT_GT(r.test_accuracy, 0.75);
  EXPECT_GT(r.val_accuracy, 0.70);
}

TEST(GcnProof, SameSeedSameRunToTheLastBit) {
  if (!stackgrad::testing::have_cora()) GTEST_SKIP() << "planetoid/cora not found under any data root";
  data::GraphDataset cora = data::load_planetoid("cora");
  algo::GcnConfig cfg;
  cfg.epochs = 10;
  std::vector<double> a, b, c;
  algo::train_gcn(cora, cfg, 4, [&](const algo::GcnEpoch& e) { a.push_back(e.train_loss); });
  algo::train_gcn(cora, cfg, 4, [&](const algo::GcnEpoch& e) { b.push_back(e.train_loss); });
  algo::train_gcn(cora, cfg, 5, [&](const algo::GcnEpoch& e) { c.push_back(e.train_loss); });
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(GcnProof, EarlyStoppingStopsOnARisingValidationLoss) {
  if (!stackgrad::testing::have_cora()) GTEST_SKIP() << "planetoid/cora not found under any data root";
  data::GraphDataset cora = data::load_planetoid("cora");
  algo::GcnConfig cfg;
  cfg.epochs = 400;
  cfg.lr = 0.05;  // overfits fast, so the validation loss turns up well before 400 epochs
  cfg.early_stopping = 10;
  algo::GcnResult r = algo::train_gcn(cora, cfg, 1);
  EXPECT_LT(r.epochs_trained, 400);
  EXPECT_GT(r.epochs_trained, 10);
}

TEST(GcnProof, LearnsACsbmGraph) {
  Generator g(7);
  data::GraphDataset ds = data::csbm(1000, 3, 32, 0.02, 0.002, 1.0, g);
  algo::GcnConfig cfg;
  cfg.epochs = 100;
  cfg.row_normalize = false;  // Gaussian features: row sums near zero
  algo::GcnResult r = algo::train_gcn(ds, cfg, 0);
  EXPECT_GT(r.test_accuracy, 0.8) << "a 3-class CSBM with homophily ~0.83 and mean degree ~10 is easy";
}

TEST(GcnProof, PubmedWithoutFeaturesSaysSo) {
  data::GraphDataset ds;
  try {
    ds = data::load_planetoid("pubmed");
  } catch (const Error&) {
    GTEST_SKIP() << "planetoid/pubmed not found";
  }
  if (ds.has_features()) GTEST_SKIP() << "this data folder has PubMed's features";
  try {
    algo::train_gcn(ds, {}, 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("features"), std::string::npos) << e.what();
  }
}
