// nn::MultiheadAttention against PyTorch (output, head-averaged weights and input gradients with
// a key padding mask, parameters loaded by their torch names), its mask and layout invariants,
// and the error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "nn/attention.h"
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

TEST(MultiheadAttentionLayer, MatchesTorchWithKeyPaddingMaskAndWeights) {
  nn::MultiheadAttention m(4, 2);
  m.to(sg::DType::f64);
  sg::testing::load_torch_parameters(m, "mha");  // in_proj_*, out_proj.weight, out_proj.bias
  EXPECT_EQ(m.state_dict().size(), 4u);

  Tensor q = leaf(load_seq("mha_q")), k = leaf(load_seq("mha_k")), v = leaf(load_seq("mha_v"));
  Tensor pad = sg::gt(load_seq("mha_pad"), sg::scalar_tensor(0.5, sg::DType::f64));
  nn::AttentionOutput y = m.forward(q, k, v, {.key_padding_mask = pad, .need_weights = true});
  expect_close(y.output, load_seq("mha_out"), "output");
  expect_close(y.weights, load_seq("mha_weights"), "weights");

  sg::sum(y.output * load_seq("mha_d_out")).backward();
  expect_close(q.grad(), load_seq("mha_grad_q"), "dq");
  expect_close(k.grad(), load_seq("mha_grad_k"), "dk");
  expect_close(v.grad(), load_seq("mha_grad_v"), "dv");
  expect_close(m.in_proj_weight.grad(), load_seq("mha_grad_in_proj_weight"), "d in_proj_weight");
}

TEST(MultiheadAttentionLayer, BoolAndAdditiveMasksAgreeAndBatchFirstIsATranspose) {
  sg::Generator gen(3);
  nn::MultiheadAttention seq_first(6, 3, {}, gen);
  sg::Generator gen2(3);
  nn::MultiheadAttention batch_first(6, 3, {.batch_first = true}, gen2);
  Tensor x = sg::randn({5, 2, 6}, gen);
  Tensor causal_bool = sg::gt(sg::arange(5).unsqueeze(0), sg::arange(5).unsqueeze(1));  // j > i
  Tensor causal_add =
      sg::masked_fill(sg::zeros({5, 5}), causal_bool, -std::numeric_limits<double>::infinity());

  nn::AttentionOutput a =
      seq_first.forward(x, x, x, {.attn_mask = causal_bool, .need_weights = true});
  nn::AttentionOutput b = seq_first.forward(x, x, x, {.attn_mask = causal_add});
  nn::AttentionOutput c = seq_first.forward(x, x, x, {.is_causal = true});
  EXPECT_TRUE(sg::allclose(a.output, b.output, 1e-5, 1e-6));
  EXPECT_TRUE(sg::allclose(a.output, c.output, 1e-5, 1e-6));
  // Causal weights: rows sum to one, nothing above the diagonal.
  EXPECT_EQ(a.weights.shape(), (sg::Shape{2, 5, 5}));
  EXPECT_TRUE(sg::allclose(sg::sum(a.weights, {2}), sg::ones({2, 5}), 1e-5, 1e-6));
  EXPECT_EQ(sg::sum(sg::masked_fill(a.weights, sg::logical_not(causal_bool), 0.0)).item(), 0.0);

  Tensor xb = x.transpose(0, 1).contiguous();
  nn::AttentionOutput d = batch_first.forward(xb, xb, xb, {.attn_mask = causal_bool});
  EXPECT_TRUE(sg::allclose(d.output, a.output.transpose(0, 1).contiguous(), 1e-5, 1e-6));
}

TEST(MultiheadAttentionLayer, SeparateProjectionsForOtherKeyAndValueSizes) {
  nn::MultiheadAttention m(4, 2, {.kdim = 3, .vdim = 5});
  EXPECT_FALSE(m.in_proj_weight.defined());
  EXPECT_EQ(m.k_proj_weight.shape(), (sg::Shape{4, 3}));
  EXPECT_EQ(m.v_proj_weight.shape(), (sg::Shape{4, 5}));
  nn::AttentionOutput y = m.forward(sg::ones({2, 4}), sg::ones({3, 3}), sg::ones({3, 5}),
                                    {.need_weights = true, .average_attn_weights = false});
  EXPECT_EQ(y.output.shape(), (sg::Shape{2, 4}));
  EXPECT_EQ(y.weights.shape(), (sg::Shape{2, 2, 3}));
  // Identical keys: uniform attention.
  EXPECT_TRUE(sg::allclose(y.weights, sg::full({2, 2, 3}, 1.0 / 3.0)));
}

TEST(MultiheadAttentionLayer, ErrorsNameTheLayerAndShapes) {
  nn::MultiheadAttention m(4, 2);
  Tensor x = sg::zeros({3, 2, 4});
  EXPECT_THAT(error_of([&] {
                m.forward(sg::zeros({3, 2, 5}), x, x);
              }),
              HasSubstr("MultiheadAttention: expected query [N, B, 4], got [3, 2, 5]"));
  EXPECT_THAT(error_of([&] {
                m.forward(x, sg::zeros({3, 1, 4}), x);
              }),
              HasSubstr("disagree on batch or key length"));
  EXPECT_THAT(error_of([&] {
                m.forward(x, x, x, {.key_padding_mask = sg::zeros({3, 2}, sg::DType::boolean)});
              }),
              HasSubstr("expected key_padding_mask [2, 3], got [3, 2]"));
  EXPECT_THAT(error_of([] { nn::MultiheadAttention bad(5, 2); }),
              HasSubstr("embed_dim must be a positive multiple of num_heads"));
}

}  // namespace
