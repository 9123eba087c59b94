// The rnn family beyond the op specs: lstm equals lstm_cell step by step (values and
// gradients), Tree-LSTM levels, a tree alone equals the same tree inside a batch, and a chain
// tree equals lstm_cell applied along the chain.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "engine/stackgrad.h"

namespace sg = stackgrad;

namespace {

sg::Tensor randn(std::mt19937_64& rng, const sg::Shape& shape, double scale = 0.5) {
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(sg::numel_of(shape));
  for (auto& x : v) x = dist(rng);
  return sg::from_vector(v, shape, sg::DType::f64);
}

sg::Tensor leaf(std::mt19937_64& rng, const sg::Shape& shape) {
  sg::Tensor t = randn(rng, shape);
  t.requires_grad_();
  return t;
}

TEST(Lstm, EqualsCellStepByStepWithGradients) {
  std::mt19937_64 rng(3);
  const int64_t T = 4, B = 3, I = 5, H = 6;
  sg::Tensor x = leaf(rng, {T, B, I}), h0 = leaf(rng, {B, H}), c0 = leaf(rng, {B, H});
  sg::Tensor w_ih = leaf(rng, {4 * H, I}), w_hh = leaf(rng, {4 * H, H});
  sg::Tensor b_ih = leaf(rng, {4 * H}), b_hh = leaf(rng, {4 * H});
  sg::Tensor v = randn(rng, {T, B, H}), vh = randn(rng, {B, H}), vc = randn(rng, {B, H});
  std::vector<sg::Tensor> params = {x, h0, c0, w_ih, w_hh, b_ih, b_hh};

  sg::LstmResult fused = sg::lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh);
  sg::Tensor loss = sg::sum(fused.output * v) + sg::sum(fused.h * vh) + sg::sum(fused.c * vc);
  loss.backward();
  std::vector<sg::Tensor> fused_grads;
  for (auto& p : params) {
    fused_grads.push_back(p.grad());
    p.set_grad(sg::Tensor());
  }

  sg::LstmState s{h0, c0};
  std::vector<sg::Tensor> outs;
  for (int64_t t = 0; t < T; ++t) {
    s = sg::lstm_cell(x.select(0, t), s.h, s.c, w_ih, w_hh, b_ih, b_hh);
    outs.push_back(s.h);
  }
  sg::Tensor output = sg::stack(outs);
  EXPECT_TRUE(sg::allclose(fused.output, output, 1e-12, 1e-12));
  EXPECT_TRUE(sg::allclose(fused.c, s.c, 1e-12, 1e-12));
  sg::Tensor loss2 = sg::sum(output * v) + sg::sum(s.h * vh) + sg::sum(s.c * vc);
  loss2.backward();
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(sg::allclose(fused_grads[i], params[i].grad(), 1e-10, 1e-12)) << "input " << i;
}

// Sizes where the CPU kernels split the hidden units over two threads (with a partial vector
// at the end): forward and backward through time against the reference kernels, f32 and f64,
// and bit-for-bit the same on one and two threads.
TEST(Lstm, ChunkedKernelsMatchReferenceAndThreadCount) {
  std::mt19937_64 rng(21);
  const int64_t T = 3, B = 16, I = 8, H = 44;
  const int threads = sg::num_threads();
  for (sg::DType dt : {sg::DType::f32, sg::DType::f64}) {
    std::vector<sg::Tensor> in;
    for (const sg::Shape& s : std::vector<sg::Shape>{
             {T, B, I}, {B, H}, {B, H}, {4 * H, I}, {4 * H, H}, {4 * H}, {4 * H}})
      in.push_back(randn(rng, s).to(dt).requires_grad_());
    sg::Tensor v = randn(rng, {T, B, H}).to(dt);
    auto run = [&](int n, bool reference) {
      sg::set_num_threads(n);
      std::unique_ptr<sg::ReferenceKernels> guard;
      if (reference) guard = std::make_unique<sg::ReferenceKernels>();
      for (auto& t : in) t.set_grad(sg::Tensor());
      sg::LstmResult r = sg::lstm(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
      (sg::sum(r.output * v) + sg::sum(r.c)).backward();
      std::vector<sg::Tensor> out = {r.output.detach(), r.c.detach()};
      for (auto& t : in) out.push_back(t.grad());
      return out;
    };
    const auto two = run(2, false), one = run(1, false), ref = run(1, true);
    sg::set_num_threads(threads);
    const double tol = dt == sg::DType::f32 ? 1e-4 : 1e-10;
    for (size_t i = 0; i < two.size(); ++i) {
      EXPECT_TRUE(sg::allclose(two[i], ref[i], tol, tol)) << "output " << i;
      EXPECT_TRUE(sg::equal(two[i], one[i])) << "output " << i << " depends on the thread count";
    }
  }
}

// lstm_cell on sizes where both of its kernels split the units over two threads.
TEST(LstmCell, ChunkedKernelsMatchReferenceAndThreadCount) {
  std::mt19937_64 rng(22);
  const int64_t B = 64, I = 8, H = 44;
  const int threads = sg::num_threads();
  std::vector<sg::Tensor> in;
  for (const sg::Shape& s : std::vector<sg::Shape>{{B, I}, {B, H}, {B, H}, {4 * H, I}, {4 * H, H}})
    in.push_back(randn(rng, s).to(sg::DType::f32).requires_grad_());
  sg::Tensor v = randn(rng, {B, H}).to(sg::DType::f32);
  auto run = [&](int n, bool reference) {
    sg::set_num_threads(n);
    std::unique_ptr<sg::ReferenceKernels> guard;
    if (reference) guard = std::make_unique<sg::ReferenceKernels>();
    for (auto& t : in) t.set_grad(sg::Tensor());
    sg::LstmState s = sg::lstm_cell(in[0], in[1], in[2], in[3], in[4]);
    (sg::sum(s.h * v) + sg::sum(s.c)).backward();
    std::vector<sg::Tensor> out = {s.h.detach(), s.c.detach()};
    for (auto& t : in) out.push_back(t.grad());
    return out;
  };
  const auto two = run(2, false), one = run(1, false), ref = run(1, true);
  sg::set_num_threads(threads);
  for (size_t i = 0; i < two.size(); ++i) {
    EXPECT_TRUE(sg::allclose(two[i], ref[i], 1e-4, 1e-4)) << "output " << i;
    EXPECT_TRUE(sg::equal(two[i], one[i])) << "output " << i << " depends on the thread count";
  }
}

TEST(TreeLstm, ForestLevelsAreHeights) {
  // 0 <- {1, 2}, 2 <- {3}; 4 alone.
  sg::Forest f = sg::forest_from_parents({-1, 0, 0, 2, -1});
  EXPECT_EQ(f.child_offsets, (std::vector<int64_t>{0, 2, 2, 3, 3, 3}));
  EXPECT_EQ(f.child_index, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(f.level_offsets, (std::vector<int64_t>{0, 3, 4, 5}));
  EXPECT_EQ(f.level_nodes, (std::vector<int64_t>{1, 3, 4, 2, 0}));
}

// Tree A: 0 <- {1, 2}, 1 <- {3, 4} (5 nodes). The batch puts an unrelated tree first
// (5 <- {6}, as nodes 0, 1) and A after it (nodes 2..6), then a lone node 7.
TEST(TreeLstm, TreeAloneEqualsTreeInBatch) {
  std::mt19937_64 rng(5);
  const int64_t I = 3, H = 4;
  sg::Tensor xa = randn(rng, {5, I}), xo = randn(rng, {2, I}), xl = randn(rng, {1, I});
  sg::Tensor w = randn(rng, {4 * H, I}), u = randn(rng, {4 * H, H}), b = randn(rng, {4 * H});
  sg::Forest alone = sg::forest_from_parents({-1, 0, 0, 1, 1});
  sg::Forest batch = sg::forest_from_parents({-1, 0, -1, 2, 2, 3, 3, -1});
  sg::Tensor xb = sg::cat({xo, xa, xl});
  sg::LstmState a = sg::tree_lstm_child_sum(xa, alone, w, u, b);
  sg::LstmState bt = sg::tree_lstm_child_sum(xb, batch, w, u, b);
  EXPECT_TRUE(sg::allclose(a.h, bt.h.narrow(0, 2, 5), 1e-12, 1e-12));
  EXPECT_TRUE(sg::allclose(a.c, bt.c.narrow(0, 2, 5), 1e-12, 1e-12));

  const int64_t A = 2;
  sg::Tensor wn = randn(rng, {(3 + A) * H, I}), un = randn(rng, {(3 + A) * H, A * H});
  sg::Tensor bn = randn(rng, {(3 + A) * H});
  sg::LstmState na = sg::tree_lstm_nary(xa, alone, wn, un, bn, A);
  sg::LstmState nb = sg::tree_lstm_nary(xb, batch, wn, un, bn, A);
  EXPECT_TRUE(sg::allclose(na.h, nb.h.narrow(0, 2, 5), 1e-12, 1e-12));
  EXPECT_TRUE(sg::allclose(na.c, nb.c.narrow(0, 2, 5), 1e-12, 1e-12));
}

// A chain 3 -> 2 -> 1 -> 0 (node 3 the leaf): each node is lstm_cell of its child's state, with
// b as b_ih and no b_hh; the leaf starts from zeros. Both cells (the N-ary one with arity 1).
TEST(TreeLstm, ChainEqualsLstmCellSteps) {
  std::mt19937_64 rng(9);
  const int64_t I = 3, H = 5, N = 4;
  sg::Tensor x = randn(rng, {N, I}), w = randn(rng, {4 * H, I}), u = randn(rng, {4 * H, H});
  sg::Tensor b = randn(rng, {4 * H});
  sg::Forest chain = sg::forest_from_parents({-1, 0, 1, 2});
  sg::LstmState cs = sg::tree_lstm_child_sum(x, chain, w, u, b);
  sg::LstmState na = sg::tree_lstm_nary(x, chain, w, u, b, 1);
  sg::LstmState s;
  for (int64_t v = N - 1; v >= 0; --v) {
    s = sg::lstm_cell(x.narrow(0, v, 1), s.h, s.c, w, u, b);
    EXPECT_TRUE(sg::allclose(cs.h.narrow(0, v, 1), s.h, 1e-12, 1e-12)) << "node " << v;
    EXPECT_TRUE(sg::allclose(cs.c.narrow(0, v, 1), s.c, 1e-12, 1e-12)) << "node " << v;
    EXPECT_TRUE(sg::allclose(na.h.narrow(0, v, 1), s.h, 1e-12, 1e-12)) << "node " << v;
  }
}

// Two children with equal states: the child-sum node sees h̃ = 2 h_k, and its c adds both
// children's forget terms (a check on the per-child forget gate and the segment sums).
TEST(TreeLstm, ChildSumAddsEveryChild) {
  std::mt19937_64 rng(11);
  const int64_t I = 2, H = 3;
  sg::Tensor xl = randn(rng, {1, I}), xr = randn(rng, {1, I});
  sg::Tensor w = randn(rng, {4 * H, I}), u = randn(rng, {4 * H, H}), b = randn(rng, {4 * H});
  sg::Forest f = sg::forest_from_parents({-1, 0, 0});
  sg::Tensor x = sg::cat({xr, xl, xl});
  sg::LstmState s = sg::tree_lstm_child_sum(x, f, w, u, b);
  sg::LstmState leafs = sg::lstm_cell(xl, sg::Tensor(), sg::Tensor(), w, u, b);
  // Root by hand: gates from 2 h_k for i, g, o; f from one h_k (both children equal).
  sg::Tensor hk = leafs.h, ck = leafs.c;
  sg::Tensor gates = sg::matmul(xr, w.t()) + b + sg::matmul(hk * 2.0, u.t());
  sg::Tensor fg = sg::sigmoid(sg::matmul(xr, w.narrow(0, H, H).t()) + b.narrow(0, H, H) +
                              sg::matmul(hk, u.narrow(0, H, H).t()));
  sg::Tensor c =
      sg::sigmoid(gates.narrow(1, 0, H)) * sg::tanh(gates.narrow(1, 2 * H, H)) + fg * ck * 2.0;
  sg::Tensor h = sg::sigmoid(gates.narrow(1, 3 * H, H)) * sg::tanh(c);
  EXPECT_TRUE(sg::allclose(s.c.narrow(0, 0, 1), c, 1e-12, 1e-12));
  EXPECT_TRUE(sg::allclose(s.h.narrow(0, 0, 1), h, 1e-12, 1e-12));
}

}  // namespace
