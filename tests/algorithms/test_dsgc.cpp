// DSGC: the PPMI attribute affinity and its top-k sparsification against hand-computed values,
// G X F against dense formulas, the within-class variance ratio on a hand-made example, and
// short runs that must beat a threshold (a CSBM graph; Cora when the data is there).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "algorithms/dsgc/attribute_graph.h"
#include "algorithms/dsgc/dsgc.h"
#include "algorithms/dsgc/ssl.h"
#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "nn/graph.h"
#include "tests/support/have_dataset.h"

using namespace stackgrad;

namespace {

// 4 nodes x 4 binary attributes. Attribute counts n = (3, 2, 2, 2); co-occurrences
// n01 = 2, n02 = 1, n03 = 1, n12 = 0, n13 = 0, n23 = 2.
Tensor toy_features(double scale = 1.0) {
  std::vector<double> v = {1, 1, 0, 0,  //
                           1, 0, 1, 1,  //
                           1, 1, 0, 0,  //
                           0, 0, 1, 1};
  for (double& e : v) e *= scale;
  return from_vector(v, {4, 4});
}

std::set<std::pair<int64_t, int64_t>> edge_set(const Tensor& csr) {
  const auto crow = csr_crow(csr).to_vector<int64_t>();
  const auto col = csr_col(csr).to_vector<int64_t>();
  std::set<std::pair<int64_t, int64_t>> out;
  for (size_t i = 0; i + 1 < crow.size(); ++i)
    for (int64_t e = crow[i]; e < crow[i + 1]; ++e) out.insert({int64_t(i), col[size_t(e)]});
  return out;
}

}  // namespace

TEST(Dsgc, PpmiMatchesHandComputedValues) {
  const Tensor p = algo::ppmi_matrix(toy_features());
  const auto v = p.to_vector<double>();
  auto at = [&](int i, int j) { return v[size_t(i * 4 + j)]; };
  // PMI(i, j) = log(N n_ij / (n_i n_j)) with N = 4.
  EXPECT_NEAR(at(0, 1), std::log(4.0 * 2 / (3 * 2)), 1e-12);  // log(4/3) > 0
  EXPECT_NEAR(at(2, 3), std::log(4.0 * 2 / (2 * 2)), 1e-12);  // log 2
  EXPECT_EQ(at(0, 2), 0.0);                                   // log(2/3) < 0: clipped
  EXPECT_EQ(at(0, 3), 0.0);
  EXPECT_EQ(at(1, 2), 0.0);  // never together
  EXPECT_EQ(at(1, 3), 0.0);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(at(i, i), 0.0);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(at(i, j), at(j, i));
  }
  // Counts come from the binarised features: scaling X changes nothing.
  EXPECT_EQ(algo::ppmi_matrix(toy_features(0.25)).to_vector<double>(), v);
  // Pairs seen on fewer than 3 nodes are dropped: here all of them.
  EXPECT_EQ(max(algo::ppmi_matrix(toy_features(), 3)).item(), 0.0);
  EXPECT_THROW(algo::ppmi_matrix(toy_features(), 0), Error);
}

TEST(Dsgc, PositiveCorrelationClipsNegativeOnes) {
  // Column 1 = 2 * column 0 (correlation 1), column 2 = -column 0 (correlation -1 -> 0).
  const Tensor x = from_vector(std::vector<double>{1, 2, -1, 2, 4, -2, 4, 8, -4}, {3, 3});
  const auto c = algo::positive_correlation_matrix(x).to_vector<double>();
  EXPECT_NEAR(c[1], 1.0, 1e-12);
  EXPECT_NEAR(c[3], 1.0, 1e-12);
  EXPECT_EQ(c[2], 0.0);
  EXPECT_EQ(c[0], 0.0);
}

TEST(Dsgc, TopKSparsificationUnionMutualAndThreshold) {
  const Tensor a = from_vector(std::vector<double>{0, .9, .5, .1,   //
                                                   .9, 0, .35, .3,  //
                                                   .5, .35, 0, .8,  //
                                                   .1, .3, .8, 0},
                               {4, 4});
  // Top 2 per row: 0 -> {1, 2}, 1 -> {0, 2}, 2 -> {3, 0}, 3 -> {2, 1}.
  using E = std::set<std::pair<int64_t, int64_t>>;
  auto both = [](E pairs) {
    E out;
    for (auto [i, j] : pairs) out.insert({i, j}), out.insert({j, i});
    return out;
  };
  const Tensor u = algo::sparsify_affinity(a, 2, 0.0, /*mutual=*/false);
  EXPECT_EQ(edge_set(u), both({{0, 1}, {0, 2}, {1, 2}, {2, 3}, {1, 3}}));
  EXPECT_EQ(edge_set(algo::sparsify_affinity(a, 2, 0.0, /*mutual=*/true)),
            both({{0, 1}, {0, 2}, {2, 3}}));
  EXPECT_EQ(edge_set(algo::sparsify_affinity(a, 0, 0.4, false)), both({{0, 1}, {0, 2}, {2, 3}}));
  // Kept entries carry the affinity; the result is symmetric.
  const auto d = to_dense(u).to_vector<float>();
  EXPECT_FLOAT_EQ(d[1 * 4 + 3], 0.3f);
  EXPECT_FLOAT_EQ(d[3 * 4 + 1], 0.3f);
  EXPECT_FLOAT_EQ(d[0 * 4 + 3], 0.0f);
  // Ties go to the lower column.
  const Tensor tie = from_vector(std::vector<double>{0, 1, 1, 1, 0, 0, 1, 0, 0}, {3, 3});
  EXPECT_EQ(edge_set(algo::sparsify_affinity(tie, 1, 0.0, true)), both({{0, 1}}));
}

TEST(Dsgc, FilterMatchesDenseFormulas) {
  // Path graph 0-1-2-3 and an attribute graph with self loops.
  data::GraphDataset ds;
  ds.num_nodes = 4;
  ds.edges = from_vector(std::vector<int64_t>{0, 1, 1, 2, 2, 3}, {3, 2});
  Generator gen(3);
  const Tensor x = randn({4, 3}, gen, DType::f64);
  algo::AttributeGraphOptions opt{
      .affinity = algo::AttributeAffinity::ppmi, .top_k = 0, .self_loop = 1.0};
  const Tensor A_F = algo::attribute_graph(toy_features().narrow(1, 0, 3).contiguous(), opt);
  const Tensor F = algo::attribute_filter(A_F);

  // Dense references.
  const double a_f[3][3] = {{1, std::log(4.0 / 3), 0}, {std::log(4.0 / 3), 1, 0}, {0, 0, 1}};
  const auto af = to_dense(A_F).to_vector<float>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(af[size_t(i * 3 + j)], a_f[i][j], 1e-6);
  double deg[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) deg[i] += a_f[i][j];
  std::vector<double> f(9), lazy(9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      f[size_t(i * 3 + j)] = a_f[i][j] / std::sqrt(deg[i] * deg[j]);
      lazy[size_t(i * 3 + j)] = ((i == j) + f[size_t(i * 3 + j)]) / 2;
    }
  const double adj[4][4] = {{1, 1, 0, 0}, {1, 1, 1, 0}, {0, 1, 1, 1}, {0, 0, 1, 1}};  // A + I
  std::vector<double> p(16);
  for (int i = 0; i < 4; ++i) {
    double d = 0;
    for (int j = 0; j < 4; ++j) d += adj[i][j];
    for (int j = 0; j < 4; ++j) p[size_t(i * 4 + j)] = adj[i][j] / d;
  }
  const Tensor P = from_vector(p, {4, 4});
  const Tensor expected = mm(mm(mm(P, P), x), from_vector(f, {3, 3}));
  const Tensor got =
      algo::filter_2d(ds, x, F, {.kind = algo::ObjectFilter::random_walk, .steps = 2});
  EXPECT_LT(max(abs(got - expected)).item(), 1e-6);
  // The two filters commute: (G X) F = G (X F).
  EXPECT_LT(max(abs(algo::filter_attributes(algo::filter_objects(ds, x), F) - expected)).item(),
            1e-6);
  // F' = (I + F) / 2.
  EXPECT_LT(
      max(abs(to_dense(algo::lazy_attribute_filter(F)).to(DType::f64) - from_vector(lazy, {3, 3})))
          .item(),
      1e-6);
}

TEST(Dsgc, WithinClassVarianceRatioHandExample) {
  // Classes {0, 2} and {10, 12}: within = 1 + 1 + 1 + 1, total (mean 6) = 36 + 16 + 16 + 36.
  // The last row is unlabelled and ignored.
  const Tensor x = from_vector(std::vector<double>{0, 2, 10, 12, 1000}, {5, 1});
  const Tensor y = from_vector(std::vector<int64_t>{0, 0, 1, 1, -1});
  EXPECT_NEAR(algo::within_class_variance_ratio(x, y), 4.0 / 104.0, 1e-12);
  // Two columns add up their sums of squares.
  const Tensor x2 = from_vector(std::vector<double>{0, 0, 2, 0, 10, 1, 12, 1}, {4, 2});
  EXPECT_NEAR(algo::within_class_variance_ratio(x2, y.narrow(0, 0, 4)), 4.0 / (104.0 + 1.0), 1e-12);
}

TEST(Dsgc, TwoDimensionalFilterHelpsOnCsbm) {
  Generator g(1);
  data::GraphDataset ds = data::csbm(600, 3, 32, 0.02, 0.004, 0.8, g);
  const Tensor F = algo::attribute_filter(algo::attribute_graph(ds.features, {.top_k = 8}));
  const Tensor gx = algo::filter_objects(ds, ds.features);
  const Tensor gxf = algo::filter_attributes(gx, F);
  EXPECT_LT(algo::within_class_variance_ratio(gxf, ds.labels),
            algo::within_class_variance_ratio(gx, ds.labels));
  EXPECT_LT(algo::within_class_variance_ratio(gx, ds.labels),
            algo::within_class_variance_ratio(ds.features, ds.labels));
  Generator split_gen(2);
  const data::NodeSplit split =
      data::balanced_split(ds.labels, 10, {.val = 100, .test = -1}, split_gen);
  const algo::MlpConfig cfg{.epochs = 60};
  const algo::SplitResult r = algo::train_mlp(gxf, ds.labels, split, ds.num_classes, cfg, 0);
  EXPECT_GT(r.test_accuracy, 0.8);
  // Reruns with the same seed are identical.
  EXPECT_EQ(algo::train_mlp(gxf, ds.labels, split, ds.num_classes, cfg, 0).test_accuracy,
            r.test_accuracy);
}

TEST(Dsgc, CoraShortRunsBeatThresholds) {
  if (!stackgrad::testing::have_cora()) GTEST_SKIP() << "Cora not found";
  data::GraphDataset ds = data::load_planetoid("cora");
  const Tensor x = data::row_normalize_features(ds.features);
  const Tensor F = algo::attribute_filter(algo::attribute_graph(ds.features));
  const Tensor gxf = algo::filter_2d(ds, x, F);
  Generator split_gen(0);
  const data::NodeSplit split =
      data::balanced_split(ds.labels, 20, {.val = 500, .test = -1}, split_gen);
  const algo::MlpConfig cfg{.epochs = 100};
  EXPECT_GT(algo::train_mlp(gxf, ds.labels, split, ds.num_classes, cfg, 0).test_accuracy, 0.78);
  const Tensor S = nn::gcn_norm(ds.edges, ds.num_nodes);
  EXPECT_GT(algo::train_gcn_baseline(S, dense_to_csr(x), ds.labels, split, ds.num_classes, cfg, 0)
                .test_accuracy,
            0.75);
}
