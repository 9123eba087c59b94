// Li et al.'s graph filters and models, small: every filter (RNM, AR by series and by CG, RW)
// against its dense matrix formula on a 6-node graph, IGCN's per-layer filter against the dense
// product, label propagation's labels on a toy graph worked by hand, the lowest-loss selection
// against the shared rule, and a short GLP run on Cora's public split.
#include <gtest/gtest.h>

#include <cmath>

#include "algorithms/graph_filtering_ssl/experiment.h"
#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "nn/graph.h"
#include "tests/support/have_dataset.h"

using namespace stackgrad;
using algo::Filter;

namespace {

// A 6-node graph: a triangle 0-1-2 joined by the edge 2-3 to a path 3-4-5.
Tensor small_edges() { return from_vector<int64_t>({0, 1, 1, 2, 0, 2, 2, 3, 3, 4, 4, 5}, {6, 2}); }
constexpr int64_t kNodes = 6;

// S̃ built densely from the definition, in f64: D̃^-1/2 (A + I) D̃^-1/2.
std::vector<double> dense_s_tilde() {
  std::vector<double> A(kNodes * kNodes, 0.0);
  const std::vector<int64_t> e = small_edges().to_vector<int64_t>();
  for (size_t i = 0; i < e.size(); i += 2)
    A[e[i] * kNodes + e[i + 1]] = A[e[i + 1] * kNodes + e[i]] = 1.0;
  for (int64_t i = 0; i < kNodes; ++i) A[i * kNodes + i] = 1.0;
  std::vector<double> d(kNodes, 0.0);
  for (int64_t i = 0; i < kNodes; ++i)
    for (int64_t j = 0; j < kNodes; ++j) d[i] += A[i * kNodes + j];
  for (int64_t i = 0; i < kNodes; ++i)
    for (int64_t j = 0; j < kNodes; ++j) A[i * kNodes + j] /= std::sqrt(d[i] * d[j]);
  return A;
}

Tensor dense(const std::vector<double>& m) { return from_vector(m, {kNodes, kNodes}); }

Tensor features() {
  Generator gen(3);
  return randn({kNodes, 4}, gen, DType::f64);
}

Tensor identity() {
  std::vector<double> I(kNodes * kNodes, 0.0);
  for (int64_t i = 0; i < kNodes; ++i) I[i * kNodes + i] = 1.0;
  return dense(I);
}

Tensor matrix_power(const Tensor& M, int64_t k) {
  Tensor P = identity();
  for (int64_t i = 0; i < k; ++i) P = mm(P, M);
  return P;
}

void expect_close(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.shape(), b.shape());
  const std::vector<double> x = a.to(DType::f64).to_vector<double>(),
                            y = b.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], tol) << "at " << i;
}

Tensor s_sparse() { return nn::gcn_norm(small_edges(), kNodes, true, DType::f64); }

}  // namespace

TEST(GraphFilters, SparseSTildeIsTheDenseDefinition) {
  expect_close(to_dense(s_sparse()), dense(dense_s_tilde()), 1e-12);
}

TEST(GraphFilters, RnmIsTheKthPowerOfSTilde) {
  const Tensor X = features(), S = dense(dense_s_tilde());
  for (int64_t k : {0, 1, 3, 5})
    expect_close(algo::apply_filter(s_sparse(), X, Filter::rnm(k)), mm(matrix_power(S, k), X),
                 1e-12);
}

TEST(GraphFilters, RwIsThePowerOfTheLazyWalk) {
  const Tensor X = features(), S = dense(dense_s_tilde());
  const Tensor half = (identity() + S) * 0.5;
  for (int64_t k : {1, 4})
    expect_close(algo::apply_filter(s_sparse(), X, Filter::rw(k)), mm(matrix_power(half, k), X),
                 1e-12);
}

TEST(GraphFilters, ArSeriesIsTheAuthorsTruncatedNeumannSum) {
  // ceil(4α) terms of Σ β^j S̃^j X / (1 + α), β = α / (1 + α), summed here from dense powers.
  const Tensor X = features(), S = dense(dense_s_tilde());
  const double alpha = 2.5, beta = alpha / (1 + alpha);
  EXPECT_EQ(algo::ar_series_terms(alpha), 10);
  EXPECT_EQ(algo::ar_series_terms(10), 40);
  Tensor sum = zeros({kNodes, kNodes}, DType::f64);
  for (int64_t j = 0; j < 10; ++j) sum = sum + matrix_power(S, j) * std::pow(beta, double(j));
  expect_close(algo::apply_filter(s_sparse(), X, Filter::ar(alpha)), mm(sum, X) / (1 + alpha),
               1e-12);
}

TEST(GraphFilters, ArByCgIsTheInverse) {
  // (I + α L̃)^-1 X with L̃ = I - S̃, by a dense solve.
  const Tensor X = features(), S = dense(dense_s_tilde());
  for (double alpha : {0.5, 10.0, 100.0}) {
    const Tensor M = identity() + (identity() - S) * alpha;
    const Tensor G = algo::apply_filter(s_sparse(), X, Filter::ar(alpha, algo::ArSolver::cg));
    expect_close(mm(M, G), X, 1e-8);
    expect_close(G, solve(M, X), 1e-8);
  }
}

TEST(GraphFilters, ArSeriesApproachesTheInverseWithMoreTerms) {
  const Tensor X = features();
  const Tensor exact = algo::apply_filter(s_sparse(), X, Filter::ar(5, algo::ArSolver::cg));
  auto err = [&](int64_t terms) {
    return max(abs(algo::apply_filter(s_sparse(), X, Filter::ar(5, algo::ArSolver::series, terms)) -
                   exact))
        .item();
  };
  EXPECT_GT(err(20), 1e-3);   // the authors' ceil(4α) = 20 terms: an approximation...
  EXPECT_LT(err(400), 1e-8);  // ...that converges to the inverse
}

TEST(Igcn, EachLayerAppliesTheDenseFilterAfterItsWeight) {
  // In eval mode (no dropout) IGCN is G relu(G X W1) W2 with G the per-layer filter.
  const Tensor S = dense(dense_s_tilde());
  const Tensor X = features().to(DType::f32);
  for (const Filter& f : {Filter::rnm(2), Filter::ar(3)}) {
    Generator gen(1);
    algo::FilterNet net(4, 5, 3, 0.5, f, gen);
    net.eval();
    const Tensor G = f.kind == algo::FilterKind::rnm ? matrix_power(S, 2) : [&] {
      Tensor sum = zeros({kNodes, kNodes}, DType::f64);
      const double beta = 3.0 / 4.0;
      for (int64_t j = 0; j < 12; ++j) sum = sum + matrix_power(S, j) * std::pow(beta, double(j));
      return sum / 4.0;
    }();
    const Tensor Gf = G.to(DType::f32);
    const Tensor expected = mm(Gf, mm(relu(mm(Gf, mm(X, net.w1))), net.w2));
    NoGradGuard no_grad;
    const Tensor Sf = nn::gcn_norm(small_edges(), kNodes);
    expect_close(net.forward(Sf, X), expected, 1e-5);
    expect_close(net.forward(Sf, dense_to_csr(X)), expected,
                 1e-5);  // sparse features: same network
  }
}

TEST(LabelPropagation, ToyGraphGetsTheHandLabels) {
  // Two triangles {0,1,2} and {3,4,5} joined by the edge 2-3, a pendant 6 on node 5 and an
  // isolated node 7. Node 0 is labelled 0 and node 4 labelled 1: label mass stays in each
  // triangle, crosses the bridge weakly, node 6 follows 5; node 7 receives nothing (class 0).
  const Tensor edges =
      from_vector<int64_t>({0, 1, 1, 2, 0, 2, 2, 3, 3, 4, 4, 5, 3, 5, 5, 6}, {8, 2});
  const Tensor S = nn::gcn_norm(edges, 8);
  const Tensor labels = from_vector<int64_t>({0, 0, 0, 1, 1, 1, 1, 1});
  const Tensor train = from_vector<int64_t>({0, 4});
  for (const Filter& f : {Filter::ar(100), Filter::ar(100, algo::ArSolver::cg), Filter::rnm(6)}) {
    const std::vector<int64_t> pred =
        algo::label_propagation(S, train, labels, 2, f).to_vector<int64_t>();
    EXPECT_EQ(pred, (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 1, 0})) << f.describe();
  }
}

TEST(Selection, KeptModelIsTheRulesChoice) {
  // is_checked_epoch must agree with select_lowest_train_loss: for several lengths, a trace
  // whose loss falls at every epoch selects the last checked epoch.
  for (int64_t epochs : {1, 7, 20, 45, 200}) {
    std::vector<train::EpochRecord> trace(static_cast<size_t>(epochs));
    int64_t last_checked = -1;
    for (int64_t e = 0; e < epochs; ++e) {
      trace[size_t(e)].epoch = e;
      trace[size_t(e)].train_loss = 1.0 / double(e + 1);
      if (algo::is_checked_epoch(e, epochs, 20, 0.1)) last_checked = e;
    }
    EXPECT_EQ(train::select_lowest_train_loss(trace, 20, 0.1).epoch, last_checked) << epochs;
  }
}

TEST(Glp, CoraPublicSplitBeats75Percent) {
  if (!stackgrad::testing::have_cora()) GTEST_SKIP() << "planetoid/cora not found under any data root";
  const data::GraphDataset cora = data::load_planetoid("cora");
  const data::NodeSplit split = data::planetoid_public_split(cora);
  const Tensor S = nn::gcn_norm(cora.edges, cora.num_nodes);
  const Tensor x = data::row_normalize_features(cora.features);
  algo::NetConfig cfg;
  cfg.epochs = 100;
  Tensor xbar;
  {
    NoGradGuard no_grad;
    xbar = algo::apply_filter(S, x, Filter::rnm(5));
  }
  const algo::SelectedRun glp = algo::train_glp(xbar, cora.labels, split, cora.num_classes, cfg, 0);
  const algo::SelectedRun mlp = algo::train_glp(x, cora.labels, split, cora.num_classes, cfg, 0);
  EXPECT_GT(glp.test_accuracy, 0.75);
  EXPECT_GT(glp.test_accuracy, mlp.test_accuracy + 0.15);  // the filter is what helps
  EXPECT_TRUE(
      algo::is_checked_epoch(glp.epoch, cfg.epochs, cfg.check_every, cfg.check_last_fraction));
}
