// Synthetic generators (CSBM, blobs, spirals) and graph splits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "datasets/graph_split.h"
#include "datasets/synthetic.h"
#include "engine/ops/sparse.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

std::vector<int64_t> vec(const sg::Tensor& t) { return t.to_vector<int64_t>(); }

}  // namespace

TEST(Csbm, HomophilyDegreeAndBalance) {
  sg::Generator gen(0);
  const int64_t n = 3000, c = 3;
  const double p_in = 0.01, p_out = 0.002;
  sg::data::GraphDataset g = sg::data::csbm(n, c, 16, p_in, p_out, 2.0, gen);
  EXPECT_EQ(g.num_nodes, n);
  EXPECT_EQ(g.num_classes, c);
  EXPECT_EQ(g.features.shape(), (sg::Shape{n, 16}));
  std::vector<int64_t> counts(c);
  for (int64_t y : vec(g.labels)) ++counts[y];
  EXPECT_EQ(counts, (std::vector<int64_t>{1000, 1000, 1000}));
  // Expected edges: 3 * C(1000, 2) * p_in + 3 * 1000^2 * p_out = 14985 + 6000 = 20985
  // (sd about 140).
  EXPECT_NEAR(static_cast<double>(g.num_edges()), 20985.0, 600.0);
  // Homophily p_in / (p_in + (c - 1) p_out) = 0.01 / 0.014 = 0.714.
  EXPECT_NEAR(sg::data::edge_homophily(g), p_in / (p_in + (c - 1) * p_out), 0.02);
  // Edges are valid, each once (validate_graph checks i < j); no duplicates:
  std::set<std::pair<int64_t, int64_t>> unique;
  std::vector<int64_t> e = vec(g.edges);
  for (size_t k = 0; k < e.size(); k += 2) unique.insert({e[k], e[k + 1]});
  EXPECT_EQ(unique.size(), e.size() / 2);
  EXPECT_EQ(g.train_idx.numel(), 60);
  EXPECT_EQ(g.val_idx.numel(), 500);
  EXPECT_EQ(g.test_idx.numel(), 1000);
}

TEST(Csbm, FeaturesCarryTheClassSignal) {
  sg::Generator gen(1);
  sg::data::GraphDataset g = sg::data::csbm(400, 2, 32, 0.05, 0.01, 3.0, gen);
  // Nearest class mean classifies almost every node when mu = 3 >> noise norm 1.
  std::vector<float> x = g.features.to_vector<float>();
  std::vector<int64_t> y = vec(g.labels);
  std::vector<double> mean(2 * 32, 0.0);
  for (int i = 0; i < 400; ++i)
    for (int f = 0; f < 32; ++f) mean[y[i] * 32 + f] += x[i * 32 + f] / 200.0;
  int correct = 0;
  for (int i = 0; i < 400; ++i) {
    double d[2] = {0, 0};
    for (int k = 0; k < 2; ++k)
      for (int f = 0; f < 32; ++f) d[k] += std::pow(x[i * 32 + f] - mean[k * 32 + f], 2);
    correct += (d[1] < d[0]) == (y[i] == 1);
  }
  EXPECT_GT(correct, 390);
}

TEST(Csbm, SameSeedSameGraph) {
  sg::Generator a(7), b(7), c(8);
  sg::data::GraphDataset ga = sg::data::csbm(200, 4, 8, 0.1, 0.01, 1.0, a);
  sg::data::GraphDataset gb = sg::data::csbm(200, 4, 8, 0.1, 0.01, 1.0, b);
  sg::data::GraphDataset gc = sg::data::csbm(200, 4, 8, 0.1, 0.01, 1.0, c);
  EXPECT_TRUE(sg::equal(ga.edges, gb.edges));
  EXPECT_TRUE(sg::equal(ga.features, gb.features));
  EXPECT_TRUE(sg::equal(ga.train_idx, gb.train_idx));
  EXPECT_FALSE(ga.edges.shape() == gc.edges.shape() && sg::equal(ga.edges, gc.edges));
  // Tiny graph: the split shrinks to fit (per class at most a fifth of the class).
  EXPECT_EQ(ga.train_idx.numel(), 4 * 10);
  EXPECT_EQ(sg::nnz(ga.adjacency()), 2 * ga.num_edges());
  // p = 1 inside, 0 across: complete blocks.
  sg::data::GraphDataset full = sg::data::csbm(20, 2, 2, 1.0, 0.0, 0.0, a);
  EXPECT_EQ(full.num_edges(), 2 * 45);
  EXPECT_DOUBLE_EQ(sg::data::edge_homophily(full), 1.0);
}

TEST(Blobs, BalancedAroundTheirCentres) {
  sg::Generator gen(0);
  sg::data::TableDataset t = sg::data::blobs(301, 3, 2, 0.1, gen);
  EXPECT_EQ(t.features.shape(), (sg::Shape{301, 2}));
  EXPECT_EQ(t.num_classes(), 3);
  std::vector<int64_t> counts(3);
  for (int64_t y : vec(t.labels)) ++counts[y];
  EXPECT_EQ(counts, (std::vector<int64_t>{101, 100, 100}));
  // With std 0.1 every point is within 1 of its class's mean.
  std::vector<double> x = t.features.to_vector<double>();
  std::vector<int64_t> y = vec(t.labels);
  std::vector<double> mean(6, 0.0);
  for (int i = 0; i < 301; ++i)
    for (int d = 0; d < 2; ++d) mean[y[i] * 2 + d] += x[i * 2 + d] / counts[y[i]];
  for (int i = 0; i < 301; ++i)
    EXPECT_LT(std::hypot(x[i * 2] - mean[y[i] * 2], x[i * 2 + 1] - mean[y[i] * 2 + 1]), 1.0);
}

TEST(Spirals, ArmsAndRadius) {
  sg::Generator gen(0);
  sg::data::TableDataset s = sg::data::two_spirals(200, 0.0, gen);
  EXPECT_EQ(s.features.shape(), (sg::Shape{200, 2}));
  std::vector<int64_t> counts(2);
  for (int64_t y : vec(s.labels)) ++counts[y];
  EXPECT_EQ(counts, (std::vector<int64_t>{100, 100}));
  std::vector<double> x = s.features.to_vector<double>();
  // Without noise the last point of each arm is at radius 1, and arm 1 mirrors arm 0.
  EXPECT_NEAR(std::hypot(x[2 * 198], x[2 * 198 + 1]), 1.0, 1e-12);
  EXPECT_NEAR(x[2 * 198] + x[2 * 199], 0.0, 1e-12);
  EXPECT_EQ(sg::data::spirals(5, 50, 0.1, gen).num_classes(), 5);
}

TEST(GraphSplit, BalancedCountsDisjointAndNoUnlabeled) {
  // 3 classes of 100 nodes and 30 unlabelled nodes, interleaved.
  std::vector<int64_t> y;
  for (int i = 0; i < 330; ++i) y.push_back(i % 11 == 10 ? -1 : i % 3);
  sg::Tensor labels = sg::from_vector(y);
  std::vector<int64_t> per_class(3);
  for (int64_t v : y)
    if (v >= 0) ++per_class[v];
  sg::Generator gen(0);
  sg::data::NodeSplit s = sg::data::balanced_split(labels, 10, {.val = 50, .test = 100}, gen);
  std::vector<int64_t> counts(3);
  for (int64_t i : vec(s.train_idx)) ++counts[y[i]];
  EXPECT_EQ(counts, (std::vector<int64_t>{10, 10, 10}));
  EXPECT_EQ(s.val_idx.numel(), 50);
  EXPECT_EQ(s.test_idx.numel(), 100);
  std::set<int64_t> all;
  for (const sg::Tensor* t : {&s.train_idx, &s.val_idx, &s.test_idx})
    for (int64_t i : vec(*t)) {
      EXPECT_NE(y[i], -1);
      EXPECT_TRUE(all.insert(i).second) << "node " << i << " in two sets";
    }
  // test = -1: all remaining labelled nodes.
  sg::data::NodeSplit rest = sg::data::balanced_split(labels, 10, {.val = 50, .test = -1}, gen);
  EXPECT_EQ(rest.test_idx.numel(), 300 - 30 - 50);
  // Rate: 10% of each class.
  sg::data::NodeSplit r = sg::data::balanced_split_rate(labels, 0.1, {.val = 0, .test = 0}, gen);
  EXPECT_EQ(r.train_idx.numel(), 30);
  // Too many asked for.
  EXPECT_THAT(
      error_of([&] { sg::data::balanced_split(labels, 10, {.val = 200, .test = 100}, gen); }),
      HasSubstr("asked for 200 validation and 100 test nodes but only 270 labelled nodes "
                "remain after the 30 training nodes"));
  EXPECT_THAT(error_of([&] { sg::data::balanced_split(labels, 101, {}, gen); }),
              HasSubstr("class 0 has 100 labelled nodes, fewer than per_class = 101"));
  // Same seed, same split.
  sg::Generator a(3), b(3);
  EXPECT_TRUE(sg::equal(sg::data::balanced_split(labels, 5, {.val = 20, .test = 20}, a).val_idx,
                        sg::data::balanced_split(labels, 5, {.val = 20, .test = 20}, b).val_idx));
}

TEST(GraphSplit, IndexMask) {
  sg::Tensor m = sg::data::index_mask(sg::from_vector<int64_t>({0, 3}), 5);
  EXPECT_EQ(m.dtype(), sg::DType::boolean);
  EXPECT_EQ(m.to_vector<bool>(), (std::vector<bool>{true, false, false, true, false}));
  EXPECT_THAT(error_of([] { sg::data::index_mask(sg::from_vector<int64_t>({5}), 5); }),
              HasSubstr("index_mask: index 5 outside [0, 5)"));
}
