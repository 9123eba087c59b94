// Planetoid loaders on the real files (skipped when absent) and row_normalize_features.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "datasets/data_root.h"
#include "datasets/planetoid.h"
#include "engine/ops/sparse.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

bool have(const std::string& name) {
  try {
    sg::data::find_dataset({"planetoid/" + name}, {"labels.npy"});
    return true;
  } catch (const sg::Error&) {
    return false;
  }
}

#define REQUIRE_PLANETOID(name) \
  if (!have(name)) GTEST_SKIP() << "planetoid/" name " not found under the data roots"

}  // namespace

TEST(Planetoid, Cora) {
  REQUIRE_PLANETOID("cora");
  sg::data::GraphDataset ds = sg::data::load_planetoid("Cora");
  EXPECT_EQ(ds.name, "cora");
  EXPECT_EQ(ds.num_nodes, 2708);
  EXPECT_EQ(ds.num_classes, 7);
  ASSERT_TRUE(ds.has_features());
  EXPECT_EQ(ds.features.shape(), (sg::Shape{2708, 1433}));
  EXPECT_EQ(ds.num_edges(), 5278);
  EXPECT_EQ(ds.train_idx.numel(), 140);
  EXPECT_EQ(ds.val_idx.numel(), 500);
  EXPECT_EQ(ds.test_idx.numel(), 1000);
  // 20 training nodes per class.
  std::vector<int64_t> y = ds.labels.to_vector<int64_t>(), per_class(7);
  for (int64_t i : ds.train_idx.to_vector<int64_t>()) ++per_class[y[i]];
  EXPECT_EQ(per_class, std::vector<int64_t>(7, 20));

  sg::Tensor a = ds.adjacency();
  EXPECT_TRUE(a.is_sparse());
  EXPECT_EQ(a.shape(), (sg::Shape{2708, 2708}));
  EXPECT_EQ(sg::nnz(a), 2 * 5278);  // both directions, no self loops
  EXPECT_EQ(sg::nnz(ds.adjacency(/*symmetric=*/false)), 5278);
}

TEST(Planetoid, CiteSeerHasUnlabeledNodes) {
  REQUIRE_PLANETOID("citeseer");
  sg::data::GraphDataset ds = sg::data::load_planetoid("citeseer");
  EXPECT_EQ(ds.num_nodes, 3327);
  EXPECT_EQ(ds.num_classes, 6);
  EXPECT_EQ(ds.num_features(), 3703);
  int64_t unlabeled = 0;
  for (int64_t y : ds.labels.to_vector<int64_t>()) unlabeled += y == -1;
  EXPECT_EQ(unlabeled, 15);
  EXPECT_EQ(ds.num_edges(), 4552);
}

TEST(Planetoid, PubMedLoadsWithoutFeaturesAndSaysWhy) {
  REQUIRE_PLANETOID("pubmed");
  sg::data::GraphDataset ds = sg::data::load_planetoid("pubmed");
  EXPECT_EQ(ds.num_nodes, 19717);
  EXPECT_EQ(ds.num_classes, 3);
  EXPECT_EQ(ds.num_edges(), 44324);
  EXPECT_EQ(ds.train_idx.numel(), 60);
  EXPECT_FALSE(ds.has_features());
  std::string msg = error_of([&] { ds.features_or_fail(); });
  EXPECT_THAT(msg, HasSubstr("PubMed's node features are not in the data folder"));
  EXPECT_THAT(msg, HasSubstr("scripts/get-data.sh"));
}

TEST(Planetoid, UnknownName) {
  EXPECT_THAT(error_of([] { sg::data::load_planetoid("reddit"); }),
              HasSubstr("unknown dataset 'reddit' (expected cora, citeseer or pubmed)"));
}

TEST(Planetoid, ValidateGraphNamesTheProblem) {
  sg::data::GraphDataset g;
  g.name = "toy";
  g.num_nodes = 3;
  g.num_classes = 2;
  g.labels = sg::from_vector<int64_t>({0, 1, -1});
  g.edges = sg::from_vector<int64_t>({0, 1, 1, 2}, {2, 2});
  EXPECT_EQ(error_of([&] { sg::data::validate_graph(g, "toy"); }), "no error");
  g.edges = sg::from_vector<int64_t>({0, 1, 2, 1}, {2, 2});
  EXPECT_THAT(error_of([&] { sg::data::validate_graph(g, "toy"); }),
              HasSubstr("toy: edge 1 is (2, 1); expected 0 <= i < j < 3"));
  g.edges = sg::from_vector<int64_t>({0, 1}, {1, 2});
  g.labels = sg::from_vector<int64_t>({0, 2, -1});
  EXPECT_THAT(error_of([&] { sg::data::validate_graph(g, "toy"); }),
              HasSubstr("toy: label 2 outside [-1, 2)"));
}

TEST(Planetoid, RowNormalizeKeepsZeroRows) {
  sg::Tensor x = sg::from_vector<float>({1, 3, 0, 0, 0, 0, 2, 2, 4}, {3, 3});
  sg::Tensor r = sg::data::row_normalize_features(x);
  EXPECT_EQ(r.to_vector<float>(),
            (std::vector<float>{0.25f, 0.75f, 0, 0, 0, 0, 0.25f, 0.25f, 0.5f}));
  EXPECT_EQ(x.to_vector<float>()[0], 1.0f);  // input untouched
  EXPECT_THAT(error_of([] { sg::data::row_normalize_features(sg::zeros({3}, sg::DType::f32)); }),
              HasSubstr("row_normalize_features: expected a floating cpu [N, F] tensor"));
}
