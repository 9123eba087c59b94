// Gradient-free linearized GCNs, small: the closed-form ridge against a 3x3 case solved by hand
// and its primal form against its dual; the SGC / SSGC / APPNP filters against dense formulas on
// a five-node graph; the gradient norm against a case computed by hand; short real runs on a CSBM
// graph and on Cora.
#include <gtest/gtest.h>

#include <cmath>

#include "algorithms/gradient_free_gcn/depth_sweep.h"
#include "algorithms/gradient_free_gcn/gradient_free_gcn.h"
#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "nn/graph.h"
#include "tests/support/have_dataset.h"

using namespace stackgrad;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(a.to(DType::f64) - b.to(DType::f64))).item();
}

Tensor matrix(const std::vector<double>& values, int64_t rows, int64_t cols) {
  return from_vector(values, {rows, cols}, DType::f64);
}

// A five-node graph: the path 0-1-2-3-4 plus the chord 0-2.
const std::vector<std::pair<int64_t, int64_t>> kEdges = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {0, 2}};
constexpr int64_t kNodes = 5;

Tensor edge_tensor() {
  std::vector<int64_t> flat;
  for (auto [u, v] : kEdges) flat.push_back(u), flat.push_back(v);
  return from_vector(flat, {int64_t(kEdges.size()), 2}, DType::i64);
}

// S̃ = D̃^-1/2 (A + I) D̃^-1/2 written out densely from the edge list.
Tensor dense_normalized_adjacency() {
  std::vector<double> a(kNodes * kNodes, 0.0), deg(kNodes, 1.0);
  for (int64_t i = 0; i < kNodes; ++i) a[i * kNodes + i] = 1;
  for (auto [u, v] : kEdges) a[u * kNodes + v] = a[v * kNodes + u] = 1, deg[u] += 1, deg[v] += 1;
  for (int64_t i = 0; i < kNodes; ++i)
    for (int64_t j = 0; j < kNodes; ++j) a[i * kNodes + j] /= std::sqrt(deg[i] * deg[j]);
  return matrix(a, kNodes, kNodes);
}

Tensor small_features() { return matrix({1, 0, 2, 0, 1, 0, 3, 1, 1, 0, 0, 1, 2, 2, 0}, kNodes, 3); }

}  // namespace

// X = [[1,0,1],[0,1,0],[1,1,0]], Y = [[1,0],[0,1],[2,0]], λ = 1: XᵀX + I =
// [[3,1,1],[1,3,0],[1,0,2]] has determinant 13 and adjugate [[6,-2,-3],[-2,5,1],[-3,1,8]]; XᵀY =
// [[3,0],[2,1],[1,0]], so W = adj · XᵀY / 13 = [[11,-2],[5,5],[1,1]] / 13.
TEST(GradientFreeGcn, RidgeMatchesTheHandSolvedCase) {
  Tensor X = matrix({1, 0, 1, 0, 1, 0, 1, 1, 0}, 3, 3);
  Tensor Y = matrix({1, 0, 0, 1, 2, 0}, 3, 2);
  Tensor expected = matrix({11, -2, 5, 5, 1, 1}, 3, 2) / 13.0;
  EXPECT_LT(max_abs_diff(algo::ridge_primal(X, Y, 1.0), expected), 1e-12);
  EXPECT_LT(max_abs_diff(algo::ridge_dual(X, Y, 1.0), expected), 1e-12);
}

TEST(GradientFreeGcn, PrimalAndDualFormsGiveTheSameWeights) {
  Generator gen(3);
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{6, 40}, {40, 6}}) {  // wide (L < F) and tall
    Tensor X = randn({rows, cols}, gen, DType::f64), Y = randn({rows, 3}, gen, DType::f64);
    for (double lambda : {1e-3, 0.5, 20.0}) {
      Tensor primal = algo::ridge_primal(X, Y, lambda), dual = algo::ridge_dual(X, Y, lambda);
      EXPECT_EQ(primal.shape(), (Shape{cols, 3}));
      EXPECT_LT(max_abs_diff(primal, dual), 1e-9 * (1 + max(abs(primal)).item()))
          << rows << "x" << cols << " λ " << lambda;
    }
  }
  EXPECT_THROW(algo::ridge_dual(matrix({1, 2}, 1, 2), matrix({1}, 1, 1), 0.0), Error);
}

TEST(GradientFreeGcn, FiltersMatchDenseFormulas) {
  const Tensor S = nn::gcn_norm(edge_tensor(), kNodes, true, DType::f64);
  const Tensor Sd = dense_normalized_adjacency(), X = small_features();
  ASSERT_LT(max_abs_diff(to_dense(S), Sd), 1e-12);
  const double a_ssgc = 0.05, a_appnp = 0.1;
  const algo::FilterOptions opts{.ssgc_alpha = a_ssgc, .appnp_alpha = a_appnp};

  Tensor power = X, sum = zeros_like(X), ppr = X;
  for (int64_t k = 1; k <= 6; ++k) {
    power = mm(Sd, power);
    sum = sum + power;
    ppr = mm(Sd, ppr) * (1 - a_appnp) + X * a_appnp;
    EXPECT_LT(max_abs_diff(algo::apply_filter(algo::Filter::sgc, S, X, k, opts), power), 1e-12)
        << "K " << k;
    Tensor ssgc = sum * ((1 - a_ssgc) / double(k)) + X * a_ssgc;
    EXPECT_LT(max_abs_diff(algo::apply_filter(algo::Filter::ssgc, S, X, k, opts), ssgc), 1e-12)
        << "K " << k;
    EXPECT_LT(max_abs_diff(algo::apply_filter(algo::Filter::appnp, S, X, k, opts), ppr), 1e-12)
        << "K " << k;
  }
  // Deep APPNP converges to personalised PageRank, α (I - (1 - α) S̃)^-1 X (error ~ 0.9^K).
  Tensor closed = mm(inverse(eye(kNodes, -1, DType::f64) - Sd * (1 - a_appnp)), X) * a_appnp;
  EXPECT_LT(max_abs_diff(algo::apply_filter(algo::Filter::appnp, S, X, 300, opts), closed), 1e-10);
  // Depth 0 is X for every filter; a features() taken earlier survives later steps.
  algo::FilterStream stream(algo::Filter::ssgc, S, X, opts);
  EXPECT_LT(max_abs_diff(stream.features(), X), 0.0 + 1e-300);
  stream.step();
  Tensor at1 = stream.features().clone(), kept = stream.features();
  stream.step();
  EXPECT_EQ(max_abs_diff(kept, at1), 0.0);
  EXPECT_THROW(algo::parse_filter("gcn"), Error);
}

TEST(GradientFreeGcn, StandardizedColumnsHaveMeanZeroStdOneAndConstantsVanish) {
  Tensor X = matrix({1, 5, 2, 3, 5, 4, 8, 5, 6}, 3, 3);  // column 1 is constant
  Tensor Z = algo::standardize_columns(X);
  EXPECT_LT(max(abs(mean(Z, {0}))).item(), 1e-12);
  auto sd = stackgrad::std(Z, {0}, /*correction=*/0).to_vector<double>();
  EXPECT_NEAR(sd[0], 1.0, 1e-12);
  EXPECT_EQ(sd[1], 0.0);
  EXPECT_NEAR(sd[2], 1.0, 1e-12);
}

// Zero weights and bias give uniform probabilities p = 1/2, so ∂loss/∂W = (1/L) Σ_i (p - y_i) x_iᵀ
// (W [C, F] as nn::Linear stores it). x1 = (1, 2) of class 0, x2 = (3, 0) of class 1:
// row 0 = ((-1/2)(1, 2) + (1/2)(3, 0)) / 2 = (1/2, -1/2), row 1 its negative; the norm is 1.
TEST(GradientFreeGcn, GradientNormMatchesTheAnalyticCase) {
  nn::Linear model(2, 2);
  model.weight.detach().zero_();
  model.bias.detach().zero_();
  Tensor X = from_vector<float>({1, 2, 3, 0}, {2, 2});
  Tensor y = from_vector<int64_t>({0, 1}, {2});
  EXPECT_NEAR(algo::loss_gradient_norm(model, X, y), 1.0, 1e-6);
  EXPECT_FALSE(model.weight.grad().defined());
  // Scaling the features scales the gradient at zero weights: shrinking features, vanishing
  // gradient.
  EXPECT_NEAR(algo::loss_gradient_norm(model, X * 0.01, y), 0.01, 1e-8);
}

// On a CSBM graph, the closed form stays accurate at depth 16 while the Adam-trained SGC
// classifier collapses, and its gradient at init shrinks with depth.
TEST(GradientFreeGcn, ShortSweepOnASyntheticGraphShowsTheClaim) {
  Generator g(1000003);
  data::GraphDataset ds = data::csbm(2000, 4, 64, 0.01, 0.002, 1.5, g);
  const Tensor S = nn::gcn_norm(ds.edges, ds.num_nodes);
  algo::SweepConfig cfg;
  cfg.filters = {algo::Filter::sgc};
  cfg.depths = {2, 16};
  cfg.public_seeds = 2;
  cfg.random_splits = 2;
  int64_t seen = 0;
  auto runs =
      algo::run_depth_sweep(ds, S, ds.features, cfg, [&](const algo::SweepRun&) { ++seen; });
  EXPECT_EQ(int64_t(runs.size()), algo::sweep_run_count(cfg));
  EXPECT_EQ(seen, int64_t(runs.size()));
  auto cells = algo::summarize(runs);
  auto acc = [&](int64_t k, const char* m) {
    return algo::find_cell(cells, "random", algo::Filter::sgc, k, m)->test_accuracy.mean;
  };
  EXPECT_GT(acc(2, "ridge"), 0.9);
  EXPECT_GT(acc(2, "descent"), 0.9);
  EXPECT_GT(acc(16, "ridge"), 0.75);
  EXPECT_GT(acc(16, "ridge"), acc(16, "descent") + 0.2);
  const auto* shallow = algo::find_cell(cells, "public", algo::Filter::sgc, 2, "descent");
  const auto* deep = algo::find_cell(cells, "public", algo::Filter::sgc, 16, "descent");
  EXPECT_LT(deep->grad_norm_init, 0.2 * shallow->grad_norm_init);
  EXPECT_EQ(algo::find_cell(cells, "public", algo::Filter::sgc, 2, "ridge")->test_accuracy.count,
            1);
  EXPECT_EQ(shallow->test_accuracy.count, 2);
}

TEST(GradientFreeGcn, CoraPublicSplitSgcK2) {
  if (!stackgrad::testing::have_cora()) GTEST_SKIP() << "planetoid/cora not found under any data root";
  data::GraphDataset cora = data::load_planetoid("cora");
  const Tensor X = algo::apply_filter(algo::Filter::sgc, nn::gcn_norm(cora.edges, cora.num_nodes),
                                      data::row_normalize_features(cora.features), 2);
  const data::NodeSplit split{
      .train_idx = cora.train_idx, .val_idx = cora.val_idx, .test_idx = cora.test_idx};
  algo::RidgeFit ridge = algo::fit_ridge(X, cora.labels, split);
  EXPECT_GT(ridge.test_accuracy, 0.78);
  EXPECT_EQ(ridge.weight.shape(), (Shape{1433, 7}));
  algo::DescentFit adam = algo::fit_descent(X, cora.labels, split, {}, /*seed=*/0);
  EXPECT_GT(adam.test_accuracy, 0.78);
  EXPECT_GT(adam.grad_norm_init, 0.0);
}
