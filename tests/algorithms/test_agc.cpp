// AGC, small: the low-pass filter against the dense formula, both intra-cluster distances against
// hand-computed values, the order-selection rule on made-up sequences, the SVD + k-means step on
// planted clusters, the scores on hand-made partitions, and AGC itself on a CSBM graph (and on
// Cora at the paper's order when the data is present).
#include <gtest/gtest.h>

#include <cmath>

#include "algorithms/agc/agc.h"
#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "nn/graph.h"
#include "tests/support/have_dataset.h"

using namespace stackgrad;

namespace {

Tensor ids(const std::vector<int64_t>& v) { return from_vector(v); }

Tensor matrix(const std::vector<std::vector<double>>& rows) {
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return from_vector(flat, Shape{int64_t(rows.size()), int64_t(rows[0].size())});
}

}  // namespace

TEST(Agc, LowPassFilterMatchesTheDenseFormula) {
  // A 5-node graph: a path 0-1-2-3 plus the edge 1-4. G = (I + D̃^-1/2 (A + I) D̃^-1/2) / 2.
  const int64_t n = 5;
  const std::vector<std::pair<int, int>> edge_list = {{0, 1}, {1, 2}, {2, 3}, {1, 4}};
  std::vector<int64_t> flat;
  double A[5][5] = {};
  for (auto [i, j] : edge_list) {
    flat.push_back(i);
    flat.push_back(j);
    A[i][j] = A[j][i] = 1;
  }
  const Tensor edges = from_vector(flat, Shape{int64_t(edge_list.size()), 2});
  double deg[5], G[5][5];
  for (int i = 0; i < n; ++i) {
    deg[i] = 1;  // the self loop
    for (int j = 0; j < n; ++j) deg[i] += A[i][j];
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      G[i][j] = 0.5 * ((i == j) + (A[i][j] + (i == j)) / std::sqrt(deg[i] * deg[j]));
  // X [5, 2]; three applications of G by hand.
  std::vector<std::vector<double>> x = {{1, 0}, {0, 2}, {3, 1}, {0, 0}, {1, 1}};
  for (int step = 0; step < 3; ++step) {
    std::vector<std::vector<double>> y(n, std::vector<double>(2, 0.0));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        for (int f = 0; f < 2; ++f) y[i][f] += G[i][j] * x[j][f];
    x = y;
  }
  const Tensor S = nn::gcn_norm(edges, n, true, DType::f64);
  const Tensor got = nn::graph_filter::low_pass(S, matrix({{1, 0}, {0, 2}, {3, 1}, {0, 0}, {1, 1}}), 3);
  const auto v = got.to_vector<double>();
  for (int i = 0; i < n; ++i)
    for (int f = 0; f < 2; ++f) EXPECT_NEAR(v[size_t(i * 2 + f)], x[i][f], 1e-12) << i << "," << f;
}

TEST(Agc, IntraClusterDistanceByHand) {
  // Cluster 0: (0,0), (3,4): one pair at distance 5. Cluster 2: (1,1), (1,2), (1,4): pairs at
  // 1, 3, 2. Cluster 5: the single point (7,7). Ids 1, 3, 4 are unused (not counted).
  const Tensor X = matrix({{0, 0}, {1, 1}, {3, 4}, {1, 2}, {7, 7}, {1, 4}});
  const Tensor assign = ids({0, 2, 0, 2, 5, 2});
  // Euclidean: (1/3) [ 2·5 / (2·1) + 2·(1+3+2) / (3·2) + 0 ] = (5 + 2) / 3.
  EXPECT_NEAR(algo::intra_cluster_distance(X, assign, algo::IntraDistance::euclidean), 7.0 / 3.0, 1e-12);
  // Squared: (1/3) [ 2·25 / 2² + 2·(1+9+4) / 3² + 0 ] = (12.5 + 28/9) / 3.
  EXPECT_NEAR(algo::intra_cluster_distance(X, assign, algo::IntraDistance::squared), (12.5 + 28.0 / 9.0) / 3.0,
              1e-12);
  EXPECT_THROW(algo::intra_cluster_distance(X, ids({0, 1})), Error);
  EXPECT_THROW(algo::intra_cluster_distance(X, ids({0, -1, 0, 0, 0, 0})), Error);
}

TEST(Agc, EuclideanIntraDistanceAcrossBlocksMatchesTheDirectSum) {
  // One cluster of 1500 rows spans two blocks of the blockwise sum; another holds 7 rows.
  Generator gen(3);
  const int64_t n = 1507;
  const Tensor X = randn({n, 3}, gen, DType::f64);
  std::vector<int64_t> a(size_t(n), 0);
  for (size_t i = 1500; i < size_t(n); ++i) a[i] = 1;
  const auto x = X.to_vector<double>();
  double sums[2] = {0, 0};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (a[size_t(i)] != a[size_t(j)]) continue;
      double d2 = 0;
      for (int f = 0; f < 3; ++f) d2 += (x[size_t(i * 3 + f)] - x[size_t(j * 3 + f)]) * (x[size_t(i * 3 + f)] - x[size_t(j * 3 + f)]);
      sums[a[size_t(i)]] += std::sqrt(d2);
    }
  const double expected = 0.5 * (sums[0] / (1500.0 * 1499.0) + sums[1] / (7.0 * 6.0));
  EXPECT_NEAR(algo::intra_cluster_distance(X, from_vector(a), algo::IntraDistance::euclidean), expected, 1e-9);
}

TEST(Agc, SelectOrderStopsAtTheFirstRise) {
  EXPECT_EQ(algo::select_order({5, 4, 3, 3.5, 2}), 3);  // order 4 rises: keep 3, ignore the later dip
  EXPECT_EQ(algo::select_order({5, 4, 3}), 3);          // never rises: the last order
  EXPECT_EQ(algo::select_order({1}), 1);
  EXPECT_EQ(algo::select_order({2, 3}), 1);
  EXPECT_EQ(algo::select_order({3, 3, 2, 2.5}), 3);  // equal is not a rise
  EXPECT_THROW(algo::select_order({}), Error);
}

TEST(Agc, ScoresIgnoreUnlabelledNodesAndMatchClusters) {
  // Clusters 1,1,2,2,0,0 against classes 0,0,1,1,2,0 (one error), plus a node labelled -1.
  const algo::ClusterMetrics m = algo::score_clustering(ids({1, 1, 2, 2, 0, 0, 2}), ids({0, 0, 1, 1, 2, 0, -1}));
  EXPECT_NEAR(m.acc, 5.0 / 6.0, 1e-12);
  // Matched predictions 0,0,1,1,2,2 against 0,0,1,1,2,0: class 0 has P 1, R 2/3 (F1 4/5),
  // class 1 F1 1, class 2 P 1/2, R 1 (F1 2/3).
  EXPECT_NEAR(m.f1, (0.8 + 1.0 + 2.0 / 3.0) / 3.0, 1e-12);
  EXPECT_GT(m.nmi, 0.0);
  EXPECT_LT(m.nmi, 1.0);
  const algo::ClusterMetrics perfect = algo::score_clustering(ids({4, 4, 1, 1}), ids({0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(perfect.acc, 1.0);
  EXPECT_DOUBLE_EQ(perfect.f1, 1.0);
  EXPECT_NEAR(perfect.nmi, 1.0, 1e-12);
}

TEST(Agc, ClusterBySvdRecoversPlantedClusters) {
  // Bag-of-words-like rows: each of 3 planted groups uses its own 20 words often (p = 0.3) and
  // the other 40 rarely (p = 0.03).
  Generator gen(7);
  const int64_t n = 300, f = 60, c = 3;
  const Tensor u = rand({n, f}, gen, DType::f64);
  const auto uv = u.to_vector<double>();
  std::vector<double> x(size_t(n * f));
  std::vector<int64_t> truth(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    truth[size_t(i)] = i % c;
    for (int64_t j = 0; j < f; ++j) {
      const double p = j / 20 == i % c ? 0.3 : 0.03;
      x[size_t(i * f + j)] = uv[size_t(i * f + j)] < p ? 1.0 : 0.0;
    }
  }
  const Tensor X = from_vector(x, Shape{n, f}), labels = from_vector(truth);
  const algo::ClusterScores s = algo::cluster_by_svd(X, c, labels, 3, /*seed=*/0);
  ASSERT_EQ(s.acc.size(), 3u);
  ASSERT_EQ(s.predictions.size(), 3u);
  EXPECT_EQ(s.predictions[0].numel(), n);
  EXPECT_GT(s.acc_summary.mean, 0.95);
  EXPECT_GT(s.nmi_summary.mean, 0.8);
  EXPECT_GT(s.f1_summary.mean, 0.95);
  // Same seed, same clustering.
  const algo::ClusterScores again = algo::cluster_by_svd(X, c, labels, 3, 0);
  EXPECT_EQ(again.acc, s.acc);
  // Without labels: predictions only.
  const algo::ClusterScores unlabelled = algo::cluster_by_svd(X, c, Tensor(), 2, 0);
  EXPECT_TRUE(unlabelled.acc.empty());
  EXPECT_EQ(unlabelled.predictions.size(), 2u);
}

TEST(Agc, FilteringHelpsOnANoisyCsbm) {
  // Weak features (mu 0.3) but a homophilous graph: AGC's filtered features cluster far better
  // than the raw ones.
  Generator g(11);
  const data::GraphDataset ds = data::csbm(600, 3, 32, 0.03, 0.002, 0.3, g);
  const Tensor X = ds.features.to(DType::f64);
  const algo::ClusterScores raw = algo::cluster_embedding(X, 3, ds.labels, 2, 0, {.restarts = 3});
  algo::AgcConfig cfg;
  cfg.runs = 2;
  cfg.max_order = 20;
  cfg.kmeans.restarts = 3;
  std::vector<int64_t> orders;
  const algo::AgcResult r = algo::run_agc(nn::gcn_norm(ds.edges, ds.num_nodes, true, DType::f64), X, 3, ds.labels,
                                          cfg, 0, [&](const algo::AgcStep& s) { orders.push_back(s.order); });
  ASSERT_GE(r.order, 1);
  ASSERT_LE(r.order, 20);
  // It computed the orders 1..(chosen + 1), or 1..20 when the distance never rose.
  EXPECT_EQ(int64_t(orders.size()), std::min<int64_t>(r.order + 1, 20));
  EXPECT_EQ(orders.front(), 1);
  EXPECT_GT(r.best.acc_summary.mean, raw.acc_summary.mean + 0.2);
  EXPECT_GT(r.best.acc_summary.mean, 0.85);
}

TEST(Agc, CoraAtThePapersOrderBeats60Percent) {
  if (!stackgrad::testing::have_cora()) GTEST_SKIP() << "planetoid/cora not found under any data root";
  const data::GraphDataset cora = data::load_planetoid("cora");
  const Tensor S = nn::gcn_norm(cora.edges, cora.num_nodes, true, DType::f64);
  const Tensor X = nn::graph_filter::low_pass(S, cora.features.to(DType::f64), 12);
  const algo::ClusterScores s = algo::cluster_by_svd(X, 7, cora.labels, 1, 0, {.restarts = 3});
  EXPECT_GT(s.acc_summary.mean, 0.60);
}
