// nn::LSTM against PyTorch (values and every gradient, two bidirectional batch-first layers with
// h0 and c0, parameters loaded by their torch names), its invariants (unbatched = batch of one,
// dropout only in training and reproducible), Tree-LSTM cells against the engine ops and a tiny
// tree computed by hand, and the error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn/recurrent.h"
#include "seq_fixture.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
namespace nn = stackgrad::nn;
using sg::Tensor;
using sg::testing::error_of;
using sg::testing::expect_close;
using sg::testing::leaf;
using sg::testing::load_seq;
using ::testing::HasSubstr;

namespace {

TEST(LstmLayer, MatchesTorchTwoLayersBidirectionalBatchFirst) {
  nn::LSTM m(3, 4, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  m.to(sg::DType::f64);
  ASSERT_EQ(m.named_parameters().size(), 16u);
  sg::testing::load_torch_parameters(m, "lstm");

  Tensor x = leaf(load_seq("lstm_x")), h0 = leaf(load_seq("lstm_h0")),
         c0 = leaf(load_seq("lstm_c0"));
  nn::LstmOutput y = m.forward(x, h0, c0);
  expect_close(y.output, load_seq("lstm_out"), "output");
  expect_close(y.h_n, load_seq("lstm_hn"), "h_n");
  expect_close(y.c_n, load_seq("lstm_cn"), "c_n");

  Tensor loss = sg::sum(y.output * load_seq("lstm_d_out")) +
                sg::sum(y.h_n * load_seq("lstm_d_hn")) + sg::sum(y.c_n * load_seq("lstm_d_cn"));
  loss.backward();
  expect_close(x.grad(), load_seq("lstm_grad_x"), "dx");
  expect_close(h0.grad(), load_seq("lstm_grad_h0"), "dh0");
  expect_close(c0.grad(), load_seq("lstm_grad_c0"), "dc0");
  for (const auto& [name, p] : m.named_parameters())
    expect_close(p.grad(), load_seq("lstm_grad." + name), name.c_str());
}

TEST(LstmLayer, UnbatchedEqualsBatchOfOne) {
  sg::Generator gen(5);
  nn::LSTM m(2, 3, {.num_layers = 2, .bidirectional = true}, gen);
  Tensor x = sg::randn({4, 2}, gen);
  nn::LstmOutput a = m.forward(x);
  nn::LstmOutput b = m.forward(x.unsqueeze(1));
  EXPECT_EQ(a.output.shape(), (sg::Shape{4, 6}));
  EXPECT_EQ(a.h_n.shape(), (sg::Shape{4, 3}));
  EXPECT_TRUE(sg::allclose(a.output, b.output.squeeze(1)));
  EXPECT_TRUE(sg::allclose(a.c_n, b.c_n.squeeze(1)));
}

TEST(LstmLayer, DropoutBetweenLayersOnlyInTrainingAndReproducible) {
  auto run = [](bool training) {
    sg::Generator gen(11);
    nn::LSTM m(2, 8, {.num_layers = 2, .dropout = 0.5}, gen);
    m.train(training);
    return m.forward(sg::ones({3, 2, 2})).output;
  };
  auto run_without_dropout = [] {
    sg::Generator gen(11);
    nn::LSTM m(2, 8, {.num_layers = 2}, gen);
    return m.forward(sg::ones({3, 2, 2})).output;
  };
  EXPECT_TRUE(sg::equal(run(true), run(true)));       // same seed, same masks
  EXPECT_FALSE(sg::allclose(run(true), run(false)));  // the masks change the second layer
  EXPECT_TRUE(sg::allclose(run(false), run_without_dropout()));
}

TEST(LstmLayer, ErrorsNameTheLayerAndShapes) {
  nn::LSTM m(3, 4, {.num_layers = 2, .batch_first = true});
  EXPECT_THAT(error_of([&] {
                m.forward(sg::zeros({2, 5, 7}));
              }),
              HasSubstr("LSTM: expected input [B, T, 3] (or unbatched [T, 3]), got [2, 5, 7]"));
  EXPECT_THAT(error_of([&] {
                m.forward(sg::zeros({2, 5, 3}), sg::zeros({1, 2, 4}));
              }),
              HasSubstr("LSTM: expected h0 [2, 2, 4]"));
  EXPECT_THAT(error_of([&] {
                m.forward(sg::zeros({2, 5, 3}), {}, sg::zeros({2, 3, 4}));
              }),
              HasSubstr("got [2, 3, 4]"));
}

// --- Tree-LSTM ------------------------------------------------------------------------------

TEST(TreeLstmCellLayer, ChildSumByHandOnATwoNodeTree) {
  // Node 1 is a leaf (no children: h̃ = 0, no forget term), node 0 its parent, which then is
  // exactly one LSTM step from the leaf's state.
  sg::Generator gen(2);
  nn::TreeLstmCell cell(3, 2, {}, gen);
  cell.to(sg::DType::f64);
  Tensor x = sg::randn({2, 3}, gen, sg::DType::f64);
  sg::LstmState s = cell.forward(x, sg::forest_from_parents({-1, 0}));

  const int64_t H = 2;
  Tensor gates = sg::matmul(x.select(0, 1).unsqueeze(0), cell.w.t()) + cell.b;  // [1, 4H]
  Tensor i = sg::sigmoid(gates.narrow(1, 0, H)), g = sg::tanh(gates.narrow(1, 2 * H, H));
  Tensor o = sg::sigmoid(gates.narrow(1, 3 * H, H));
  Tensor c_leaf = i * g, h_leaf = o * sg::tanh(c_leaf);
  EXPECT_TRUE(sg::allclose(s.c.narrow(0, 1, 1), c_leaf, 1e-12, 1e-12));
  EXPECT_TRUE(sg::allclose(s.h.narrow(0, 1, 1), h_leaf, 1e-12, 1e-12));
  sg::LstmState root = sg::lstm_cell(x.narrow(0, 0, 1), h_leaf, c_leaf, cell.w, cell.u, cell.b);
  EXPECT_TRUE(sg::allclose(s.h.narrow(0, 0, 1), root.h, 1e-12, 1e-12));
  EXPECT_TRUE(sg::allclose(s.c.narrow(0, 0, 1), root.c, 1e-12, 1e-12));
}

TEST(TreeLstmCellLayer, NaryWrapsTheEngineOpAndTrainsItsParameters) {
  sg::Generator gen(4);
  nn::TreeLstmCell cell(3, 2, {.kind = nn::TreeLstmKind::nary, .arity = 2}, gen);
  EXPECT_EQ(cell.w.shape(), (sg::Shape{10, 3}));
  EXPECT_EQ(cell.u.shape(), (sg::Shape{10, 4}));
  sg::Forest f = sg::forest_from_parents({-1, 0, 0, 1, -1});
  Tensor x = sg::randn({5, 3}, gen);
  sg::LstmState s = cell.forward(x, f);
  sg::LstmState want = sg::tree_lstm_nary(x, f, cell.w, cell.u, cell.b, 2);
  EXPECT_TRUE(sg::allclose(s.h, want.h));
  sg::sum(s.h).backward();
  ASSERT_TRUE(cell.u.grad().defined());
  EXPECT_GT(sg::sum(sg::abs(cell.u.grad())).item(), 0.0);
}

TEST(TreeLstmCellLayer, ErrorNamesTheForestSize) {
  nn::TreeLstmCell cell(3, 2);
  EXPECT_THAT(error_of([&] {
                cell.forward(sg::zeros({2, 3}), sg::forest_from_parents({-1, 0, 0}));
              }),
              HasSubstr("TreeLstmCell: expected x [3, 3] (one row per forest node), got [2, 3]"));
}

}  // namespace
