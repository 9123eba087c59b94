// RPC's pieces on cases small enough to check by hand: the Jensen–Shannon divergence against
// closed forms, the uncertainty protocol, the selection dropping a clearly marginal world, the
// self-tuning affinity of three points, the UK-means expected-distance identity, the consensus
// embedding recovering planted clusters across noisy worlds, and a short end-to-end run.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "algorithms/rpc/rpc.h"
#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "train/metrics.h"

using namespace stackgrad;

namespace {

// An uncertain data set from explicit samples [N][S] of 1-D objects.
algo::UncertainDataset one_dimensional(const std::vector<std::vector<double>>& objects) {
  const int64_t N = int64_t(objects.size()), S = int64_t(objects[0].size());
  std::vector<double> flat;
  for (const auto& o : objects) flat.insert(flat.end(), o.begin(), o.end());
  algo::UncertainDataset u;
  u.samples = from_vector(flat, {N, S, 1});
  u.labels = zeros({N}, DType::i64);
  u.num_classes = 1;
  return u;
}

data::TableDataset table(const std::vector<double>& values, int64_t N, int64_t D) {
  data::TableDataset t;
  t.features = from_vector(values, {N, D});
  t.labels = zeros({N}, DType::i64);
  t.class_names = {"a"};
  return t;
}

}  // namespace

TEST(RpcJs, MatchesHandComputedValue) {
  // p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4).
  const std::vector<double> p = {0.5, 0.5}, q = {1.0, 0.0};
  const double expected = 0.5 * (0.5 * std::log(0.5 / 0.75) + 0.5 * std::log(0.5 / 0.25)) +
                          0.5 * (1.0 * std::log(1.0 / 0.75));
  EXPECT_NEAR(algo::js_divergence(p, q), expected, 1e-14);
  EXPECT_NEAR(algo::js_divergence(q, p), expected, 1e-14);  // symmetric
  // Weights are normalised first: scaling either argument changes nothing.
  EXPECT_NEAR(algo::js_divergence(std::vector<double>{3, 3}, std::vector<double>{7, 0}), expected,
              1e-14);
}

TEST(RpcJs, IdenticalGiveZeroAndDisjointGiveLn2) {
  const std::vector<double> p = {0.2, 0.3, 0.5, 0, 0}, disjoint = {0, 0, 0, 0.4, 0.6};
  EXPECT_NEAR(algo::js_divergence(p, p), 0.0, 1e-15);
  EXPECT_NEAR(algo::js_divergence(p, disjoint), std::log(2.0), 1e-14);
  EXPECT_THROW(algo::js_divergence(p, std::vector<double>{1, 2}), Error);
  EXPECT_THROW(algo::js_divergence(p, std::vector<double>(5, 0.0)), Error);
}

TEST(RpcUncertainty, UniformSamplesStayInsideRegionsWhoseWidthsScaleWithTheRange) {
  // Attribute 0 spans [0, 2], attribute 1 spans [0, 20]: ten times the width.
  const data::TableDataset certain = table({0, 0, 1, 5, 2, 20}, 3, 2);
  Generator gen(3);
  const auto u = algo::make_uncertain(certain, 0.25, {.samples = 400}, gen);
  ASSERT_EQ(u.samples.shape(), (Shape{3, 400, 2}));
  const auto w = u.widths.to_vector<double>();
  EXPECT_DOUBLE_EQ(w[0], 0.25 * 2);
  EXPECT_DOUBLE_EQ(w[1], 0.25 * 20);
  const auto x = u.samples.to_vector<double>();
  const auto truth = certain.features.to_vector<double>();
  std::vector<double> lo(6, 1e9), hi(6, -1e9);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t s = 0; s < 400; ++s)
      for (int64_t j = 0; j < 2; ++j) {
        const double v = x[(i * 400 + s) * 2 + j], c = truth[i * 2 + j];
        EXPECT_LE(std::abs(v - c), w[j] / 2 + 1e-12);
        lo[i * 2 + j] = std::min(lo[i * 2 + j], v - c),
                   hi[i * 2 + j] = std::max(hi[i * 2 + j], v - c);
      }
  // 400 draws fill most of each region (the chance of missing its outer 5% on a side is 1e-9).
  for (int64_t a = 0; a < 6; ++a) {
    EXPECT_GT(hi[a] - lo[a], 0.9 * w[a % 2]);
  }
}

TEST(RpcUncertainty, NormalShapeHasTheUniformVarianceAndLevelZeroIsCertain) {
  const data::TableDataset certain = table({0, 4, 1, 0}, 2, 2);
  Generator gen(5);
  const auto u = algo::make_uncertain(
      certain, 0.5, {.samples = 20000, .shape = algo::UncertaintyShape::normal}, gen);
  // Attribute 0 has range 1, width 0.5, variance 0.25 / 12; attribute 1 range 4, width 2.
  const auto tr = u.total_variances().to_vector<double>();
  const double expected = 0.25 / 12 + 4.0 / 12;
  for (double v : tr) EXPECT_NEAR(v, expected, 0.03 * expected);
  Generator g2(5);
  const auto certain_again = algo::make_uncertain(certain, 0.0, {.samples = 4}, g2);
  EXPECT_TRUE(allclose(certain_again.means(), certain.features, 0, 0));
  EXPECT_THROW(algo::make_uncertain(certain, -0.1, {}, g2), Error);
}

TEST(RpcSelection, DropsTheClearlyMarginalWorld) {
  // Two objects, ten samples each, nine near the object's centre and one far outlier (index 9,
  // a tenth of the mass). Worlds 0, 1, 3 take central samples; world 2 takes both outliers, so
  // with it the four worlds put a quarter of the mass where the objects have a tenth.
  const auto u = one_dimensional({{0.0, 0.1, -0.1, 0.05, -0.05, 0.02, -0.02, 0.08, -0.08, 5.0},
                                  {1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.08, 0.92, -4.0}});
  const Tensor worlds = from_vector(std::vector<int64_t>{0, 1, 1, 2, 9, 9, 3, 0}, {4, 2});
  const algo::RepresentativeLoss loss(u, worlds);
  const auto sel = algo::select_representative_worlds(loss, 3, algo::SelectionRule::marginal);
  ASSERT_EQ(sel.dropped.size(), 1u);
  EXPECT_EQ(sel.dropped[0], 2);
  EXPECT_EQ(sel.kept, (std::vector<int64_t>{0, 1, 3}));
  ASSERT_EQ(sel.world_loss.size(), 4u);
  for (int64_t w : {0, 1, 3})
    EXPECT_LT(sel.world_loss[w], 0.5 * sel.world_loss[2]) << "world " << w;
  EXPECT_DOUBLE_EQ(sel.world_loss[2], loss({2}));
  // The coverage rule judges the set instead: the three central worlds' kernels spread over the
  // nine central samples, so without world 2 the outliers' tenth of the mass would be missing;
  // it drops a central world (the first of the equally good ones) and keeps the outlier world.
  const auto cover = algo::select_representative_worlds(loss, 3, algo::SelectionRule::coverage);
  ASSERT_EQ(cover.dropped.size(), 1u);
  EXPECT_NE(cover.dropped[0], 2);
  EXPECT_LT(cover.loss_of_kept(), sel.loss_of_kept());
  // The loss equals its definition, computed here with js_divergence and the kernel.
  std::vector<double> q(10), p(10, 0.1);
  double by_hand = 0;
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t t = 0; t < 10; ++t)
      q[t] = loss.kernel(i, loss.choice(0, i), t) + loss.kernel(i, loss.choice(3, i), t);
    by_hand += algo::js_divergence(p, q) / 2;
  }
  EXPECT_NEAR(loss({0, 3}), by_hand, 1e-14);
  EXPECT_THROW(algo::select_representative_worlds(loss, 5), Error);
}

TEST(RpcAffinity, SelfTuningMatchesThreePointsByHand) {
  // Points 0, 1, 3 on a line with K = 1: σ = (1, 1, 2).
  const Tensor X = from_vector(std::vector<double>{0, 1, 3}, {3, 1});
  const auto W = algo::self_tuning_affinity(X, 1).to_vector<double>();
  const std::vector<double> expected = {0,
                                        std::exp(-1.0),
                                        std::exp(-9.0 / 2),  //
                                        std::exp(-1.0),
                                        0,
                                        std::exp(-4.0 / 2),  //
                                        std::exp(-9.0 / 2),
                                        std::exp(-4.0 / 2),
                                        0};
  for (size_t a = 0; a < 9; ++a) EXPECT_NEAR(W[a], expected[a], 1e-14) << "entry " << a;
  EXPECT_THROW(algo::self_tuning_affinity(X, 3), Error);
}

TEST(RpcUkMeans, ExpectedDistanceIsMeanDistancePlusTrace) {
  Generator gen(11);
  const Tensor samples = randn({40, 3}, gen, DType::f64, 2.0, 1.5);
  const std::vector<double> c = {0.5, -1.0, 3.0};
  const double direct = algo::expected_squared_distance(samples, c);
  EXPECT_NEAR(direct, algo::expected_squared_distance_by_moments(samples, c), 1e-10 * direct);
}

TEST(RpcConsensus, RecoversPlantedClustersAcrossNoisyWorlds) {
  // Three clusters of 30 points in 2-D; five worlds, each the cluster centres plus fresh noise
  // large enough that single worlds sometimes mix neighbours.
  Generator gen(7);
  const int64_t per = 30, k = 3, N = per * k;
  const double centers[3][2] = {{0, 0}, {4, 0}, {2, 3.5}};
  std::vector<int64_t> truth(N);
  std::vector<Tensor> affinities;
  for (int v = 0; v < 5; ++v) {
    const auto noise = randn({N, 2}, gen, DType::f64, 0.0, 0.8).to_vector<double>();
    std::vector<double> x(2 * N);
    for (int64_t i = 0; i < N; ++i) {
      truth[i] = i / per;
      x[2 * i] = centers[i / per][0] + noise[2 * i],
            x[2 * i + 1] = centers[i / per][1] + noise[2 * i + 1];
    }
    affinities.push_back(
        algo::normalized_affinity(algo::self_tuning_affinity(from_vector(x, {N, 2}))));
  }
  const algo::ConsensusResult c =
      algo::consensus_embedding(affinities, k, {.lambda = 1.0, .iterations = 5});
  ASSERT_EQ(c.embedding.shape(), (Shape{N, k}));
  // Orthonormal columns.
  EXPECT_TRUE(allclose(mm(c.embedding.t(), c.embedding), eye(k, -1, DType::f64), 1e-8, 1e-8));
  ASSERT_EQ(c.disagreement.size(), 6u);
  for (double d : c.disagreement) EXPECT_GE(d, -1e-9);
  Generator kg(0);
  const Tensor labels = train::kmeans(algo::normalize_rows(c.embedding), k, {}, kg).labels;
  EXPECT_GE(train::clustering_accuracy(labels, from_vector(truth)).accuracy, 0.95);
}

TEST(RpcPipeline, ShortRunOnBlobsIsAccurateAndReproducible) {
  Generator data_gen(1);
  const data::TableDataset blobs = data::blobs(120, 3, 4, 1.0, data_gen);
  auto run_once = [&] {
    Generator gen(2);
    const auto u = algo::make_uncertain(blobs, 0.1, {.samples = 10}, gen);
    algo::RpcConfig cfg;
    cfg.worlds = 8, cfg.representatives = 3, cfg.consensus.iterations = 3;
    return algo::run_rpc_and_baselines(u, cfg, gen);
  };
  const algo::RpcRun a = run_once(), b = run_once();
  ASSERT_EQ(a.scores.size(), 6u);
  for (size_t m = 0; m < a.scores.size(); ++m) {
    EXPECT_GT(a.scores[m].acc, 0.95) << a.scores[m].method;
    EXPECT_EQ(a.scores[m].acc, b.scores[m].acc) << a.scores[m].method;
    EXPECT_EQ(a.scores[m].nmi, b.scores[m].nmi) << a.scores[m].method;
  }
  EXPECT_EQ(a.scores.back().method, "rpc");
  EXPECT_EQ(a.selection.kept.size(), 3u);
  EXPECT_EQ(a.selection.loss.size(), 6u);  // L(all 8), then one per drop
}
