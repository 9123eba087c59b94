// Graph normalisations, GCNConv and the fixed graph filters against dense computations on a
// small graph (two components, a duplicate edge, a self-loop and an isolated node).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/graph.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
namespace nn = stackgrad::nn;
namespace gf = stackgrad::nn::graph_filter;
using sg::Tensor;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

constexpr int64_t kNodes = 6;  // node 5 is isolated
const std::vector<int64_t> kEdges = {0, 1, 1, 2, 2, 0, 1, 0, 3, 4, 2, 2, 1, 3};

Tensor edges() { return sg::from_vector(kEdges, {7, 2}, sg::DType::i64); }

// Dense symmetric adjacency with every distinct edge once, plus `loops` on the diagonal.
std::vector<double> dense_adjacency(double loops) {
  std::vector<double> a(kNodes * kNodes, 0.0);
  for (size_t e = 0; e < kEdges.size(); e += 2) {
    a[kEdges[e] * kNodes + kEdges[e + 1]] = 1.0;
    a[kEdges[e + 1] * kNodes + kEdges[e]] = 1.0;
  }
  for (int64_t i = 0; i < kNodes; ++i) a[i * kNodes + i] += loops;
  return a;
}

// D^-1/2 A D^-1/2 (symmetric) or D^-1 A, zero rows for zero degree.
Tensor dense_norm(double loops, bool symmetric) {
  std::vector<double> a = dense_adjacency(loops), d(kNodes, 0.0);
  for (int64_t i = 0; i < kNodes; ++i)
    for (int64_t j = 0; j < kNodes; ++j) d[i] += a[i * kNodes + j];
  for (int64_t i = 0; i < kNodes; ++i)
    for (int64_t j = 0; j < kNodes; ++j) {
      double& v = a[i * kNodes + j];
      if (v == 0.0) continue;
      v = symmetric ? v / std::sqrt(d[i] * d[j]) : v / d[i];
    }
  return sg::from_vector(a, {kNodes, kNodes}, sg::DType::f64);
}

Tensor features(int64_t f, uint64_t seed) {
  sg::Generator gen(seed);
  return sg::randn({kNodes, f}, gen, sg::DType::f64);
}

TEST(GraphNorm, GcnNormMatchesDenseWithAndWithoutSelfLoops) {
  Tensor S = nn::gcn_norm(edges(), kNodes, true, sg::DType::f64);
  ASSERT_TRUE(S.is_sparse());
  EXPECT_TRUE(sg::allclose(sg::to_dense(S), dense_norm(1.0, true), 1e-12, 1e-14));
  EXPECT_DOUBLE_EQ(sg::to_dense(S).select(0, 5).select(0, 5).item(), 1.0);  // isolated node
  Tensor S0 = nn::gcn_norm(edges(), kNodes, false, sg::DType::f64);
  EXPECT_TRUE(sg::allclose(sg::to_dense(S0), dense_norm(0.0, true), 1e-12, 1e-14));
}

TEST(GraphNorm, RandomWalkNormRowsSumToOne) {
  Tensor P = nn::random_walk_norm(edges(), kNodes, true, sg::DType::f64);
  EXPECT_TRUE(sg::allclose(sg::to_dense(P), dense_norm(1.0, false), 1e-12, 1e-14));
  EXPECT_TRUE(sg::allclose(sg::sum(sg::to_dense(P), {1}), sg::ones({kNodes}, sg::DType::f64)));
}

TEST(GCNConvLayer, MatchesDenseInBothProductOrders) {
  Tensor S = nn::gcn_norm(edges(), kNodes, true, sg::DType::f64);
  for (int64_t out : {2, 5}) {  // out < in: S (X W); out >= in: (S X) W
    sg::Generator gen(7);
    nn::GCNConv conv(3, out, {}, gen);
    conv.to(sg::DType::f64);
    EXPECT_EQ(conv.weight.shape(), (sg::Shape{3, out}));
    const double a = std::sqrt(6.0 / (3.0 + out));
    EXPECT_LE(sg::max(sg::abs(conv.weight)).item(), a);
    sg::NoGradGuard no_grad;
    conv.bias.copy_(sg::arange(0.0, double(out), 1.0, sg::DType::f64));
    Tensor x = features(3, 1);
    Tensor want = sg::mm(sg::mm(dense_norm(1.0, true), x), conv.weight) + conv.bias;
    EXPECT_TRUE(sg::allclose(conv.forward(S, x), want, 1e-12, 1e-12)) << "out " << out;
  }
}

TEST(GCNConvLayer, GradientsReachWeightAndBias) {
  nn::GCNConv conv(3, 2);
  Tensor S = nn::gcn_norm(edges(), kNodes);
  sg::sum(conv.forward(S, sg::ones({kNodes, 3}))).backward();
  // d sum / d bias = number of nodes for every output.
  EXPECT_TRUE(sg::allclose(conv.bias.grad(), sg::full({2}, double(kNodes))));
  EXPECT_EQ(conv.weight.grad().shape(), (sg::Shape{3, 2}));
}

TEST(GraphFilter, PowersMatchDenseMatrixPowers) {
  Tensor S = nn::gcn_norm(edges(), kNodes, true, sg::DType::f64);
  Tensor P = nn::random_walk_norm(edges(), kNodes, true, sg::DType::f64);
  Tensor Sd = dense_norm(1.0, true), Pd = dense_norm(1.0, false), X = features(3, 2);
  Tensor I = sg::eye(kNodes, -1, sg::DType::f64);
  EXPECT_TRUE(sg::allclose(gf::rnm(S, X, 3), sg::mm(Sd, sg::mm(Sd, sg::mm(Sd, X))), 1e-12, 1e-12));
  EXPECT_TRUE(sg::allclose(gf::rnm(S, X, 0), X));
  EXPECT_TRUE(sg::allclose(gf::random_walk(P, X, 2), sg::mm(Pd, sg::mm(Pd, X)), 1e-12, 1e-12));
  Tensor H = (I + Sd) * 0.5;
  EXPECT_TRUE(sg::allclose(gf::low_pass(S, X, 2), sg::mm(H, sg::mm(H, X)), 1e-12, 1e-12));
  // A single column as a vector.
  EXPECT_TRUE(sg::allclose(gf::rnm(S, X.select(1, 0).contiguous(), 2),
                           sg::mm(Sd, sg::mm(Sd, X)).select(1, 0).contiguous(), 1e-12, 1e-12));
}

TEST(GraphFilter, ArBySeriesAndByCgMatchADenseSolve) {
  Tensor S = nn::gcn_norm(edges(), kNodes, true, sg::DType::f64);
  Tensor I = sg::eye(kNodes, -1, sg::DType::f64), X = features(4, 3);
  X.select(1, 3).zero_();  // a zero column must not divide 0 by 0 in CG
  const double alpha = 0.7;
  Tensor want = sg::solve(I + (I - dense_norm(1.0, true)) * alpha, X);
  Tensor series = gf::ar(S, X, alpha, {.method = gf::ArMethod::series, .terms = 120});
  Tensor cg = gf::ar(S, X, alpha, {.method = gf::ArMethod::cg, .tol = 1e-12});
  EXPECT_TRUE(sg::allclose(series, want, 1e-10, 1e-12));
  EXPECT_TRUE(sg::allclose(cg, want, 1e-9, 1e-11));
  // Few terms are visibly truncated: the series converges like (α / (1 + α))^terms.
  EXPECT_FALSE(sg::allclose(gf::ar(S, X, alpha, {.method = gf::ArMethod::series, .terms = 3}), want,
                            1e-6, 1e-6));
}

TEST(GraphFilter, ArIsDifferentiableInX) {
  // d/dX sum(W ⊙ (M^-1 X)) = M^-T W = M^-1 W (M symmetric): the gradient is the filter of W.
  Tensor S = nn::gcn_norm(edges(), kNodes, true, sg::DType::f64);
  Tensor X = features(2, 4), W = features(2, 5);
  X.requires_grad_();
  sg::sum(gf::ar(S, X, 0.5, {.tol = 1e-13}) * W).backward();
  EXPECT_TRUE(sg::allclose(X.grad(), gf::ar(S, W, 0.5, {.tol = 1e-13}), 1e-8, 1e-10));
}

TEST(GraphErrors, NameTheFunctionAndShapes) {
  Tensor S = nn::gcn_norm(edges(), kNodes);
  nn::GCNConv conv(3, 2);
  EXPECT_THAT(error_of([&] {
                conv.forward(S, sg::zeros({kNodes, 4}));
              }),
              HasSubstr("GCNConv: expected x [6, 3], got [6, 4]"));
  EXPECT_THAT(error_of([&] {
                conv.forward(sg::zeros({6, 6}), sg::zeros({kNodes, 3}));
              }),
              HasSubstr("GCNConv: expected adj a square sparse CSR matrix"));
  EXPECT_THAT(error_of([&] {
                nn::gcn_norm(sg::zeros({4, 3}, sg::DType::i64), 5);
              }),
              HasSubstr("gcn_norm: expected edges i64 [E, 2], got i64[4, 3]"));
  EXPECT_THAT(error_of([&] {
                gf::ar(S, sg::zeros({5, 2}), 1.0);
              }),
              HasSubstr("ar: expected dense X [6, F], got f32[5, 2]"));
  EXPECT_THAT(error_of([&] {
                gf::rnm(S, sg::zeros({6, 2}), -1);
              }),
              HasSubstr("rnm: k must be >= 0"));
}

}  // namespace
