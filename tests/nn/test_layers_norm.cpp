// Normalisation layers, Embedding and Upsample beyond the PyTorch parity cases: buffers and their
// names, train vs eval, the options that remove parameters or buffers, repr text and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn/nn.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
namespace nn = stackgrad::nn;
using sg::Tensor;
using sg::testing::error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

std::vector<std::string> keys_of(const nn::Module& m) {
  std::vector<std::string> out;
  for (auto& [name, t] : m.state_dict()) out.push_back(name);
  return out;
}

}  // namespace

TEST(BatchNorm, TorchStateKeysAndI64Counter) {
  nn::BatchNorm2d bn(3);
  EXPECT_THAT(keys_of(bn),
              ElementsAre("bias", "num_batches_tracked", "running_mean", "running_var", "weight"));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), sg::DType::i64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  bn.to(sg::DType::f64);  // the counter stays an integer
  EXPECT_EQ(bn.num_batches_tracked.dtype(), sg::DType::i64);
  EXPECT_EQ(bn.running_mean.dtype(), sg::DType::f64);
  EXPECT_EQ(bn.repr(),
            "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
}

TEST(BatchNorm, TrainUpdatesEvalFreezes) {
  sg::Generator gen(1);
  nn::BatchNorm1d bn(2);
  Tensor x = sg::randn({64, 2}, gen, {}, 3.0, 2.0);
  Tensor y = bn(x);
  // Training normalises with the batch statistics: each column has mean 0 and variance 1.
  EXPECT_TRUE(sg::allclose(sg::mean(y, {0}), sg::zeros({2}), 0, 1e-5));
  EXPECT_TRUE(sg::allclose(sg::var(y, {0}, 0), sg::ones({2}), 0, 1e-3));
  EXPECT_EQ(bn.num_batches_tracked.item(), 1);
  // running_mean = 0.9 * 0 + 0.1 * batch mean.
  EXPECT_TRUE(sg::allclose(bn.running_mean, sg::mean(x, {0}) * 0.1, 1e-5, 1e-6));
  bn.eval();
  Tensor before = bn.running_mean.clone();
  Tensor z = bn(x);
  EXPECT_TRUE(sg::equal(bn.running_mean, before));
  EXPECT_EQ(bn.num_batches_tracked.item(), 1);
  Tensor want = (x - bn.running_mean) / sg::sqrt(bn.running_var + 1e-5);
  EXPECT_TRUE(sg::allclose(z, want, 1e-5, 1e-5));
}

TEST(BatchNorm, WithoutRunningStatsOrAffine) {
  nn::BatchNorm1d bn(2, {.affine = false, .track_running_stats = false});
  EXPECT_TRUE(keys_of(bn).empty());
  bn.eval();  // still batch statistics
  Tensor x = sg::from_vector<float>({1, 10, 3, 30}, {2, 2});
  EXPECT_TRUE(sg::allclose(bn(x), sg::from_vector<float>({-1, -1, 1, 1}, {2, 2}), 1e-4, 1e-4));
  nn::BatchNorm1d seq(3);
  EXPECT_EQ(seq(sg::zeros({4, 3, 5})).shape(), (sg::Shape{4, 3, 5}));
}

TEST(BatchNorm, ShapeErrors) {
  nn::BatchNorm2d bn2(3);
  EXPECT_THAT(error_of([&] {
                bn2(sg::zeros({4, 3}));
              }),
              HasSubstr("BatchNorm2d: expected input [N, C, H, W] with C=3, got [4, 3]"));
  nn::BatchNorm1d bn1(3);
  EXPECT_THAT(error_of([&] {
                bn1(sg::zeros({4, 5}));
              }),
              HasSubstr("BatchNorm1d: expected input [N, C] or [N, C, L] with C=3, got [4, 5]"));
}

TEST(LayerNorm, NormalisesTrailingDimsAndChecksThem) {
  nn::LayerNorm ln(4);
  EXPECT_THAT(keys_of(ln), ElementsAre("bias", "weight"));
  Tensor x = sg::from_vector<float>({1, 2, 3, 4, 10, 10, 10, 10}, {2, 4});
  Tensor y = ln(x);
  EXPECT_TRUE(sg::allclose(sg::mean(y, {1}), sg::zeros({2}), 0, 1e-6));
  EXPECT_TRUE(sg::allclose(y.select(0, 1), sg::zeros({4})));
  nn::LayerNorm ln2(sg::Shape{3, 4}, {.elementwise_affine = false});
  EXPECT_TRUE(keys_of(ln2).empty());
  EXPECT_EQ(ln2.repr(), "LayerNorm([3, 4], eps=1e-05, elementwise_affine=false)");
  EXPECT_THAT(error_of([&] {
                ln2(sg::zeros({2, 4, 3}));
              }),
              HasSubstr("LayerNorm: expected input [..., 3, 4], got [2, 4, 3]"));
}

TEST(GroupNorm, ChecksGroupsAndChannels) {
  EXPECT_THAT(error_of([] { nn::GroupNorm(4, 6); }),
              HasSubstr("GroupNorm: num_groups=4 must divide num_channels=6"));
  nn::GroupNorm gn(2, 4);
  EXPECT_EQ(gn.weight.shape(), (sg::Shape{4}));
  EXPECT_THAT(error_of([&] {
                gn(sg::zeros({2, 3, 5}));
              }),
              HasSubstr("GroupNorm: expected input [N, 4, ...], got [2, 3, 5]"));
  EXPECT_EQ(gn.repr(), "GroupNorm(2, 4, eps=1e-05, affine=true)");
}

TEST(Embedding, PaddingRowIsZeroAndUntrained) {
  sg::Generator gen(2);
  nn::Embedding emb(6, 3, {.padding_idx = -1}, gen);  // the last row
  EXPECT_EQ(emb.padding_idx, 5);
  EXPECT_TRUE(sg::equal(emb.weight.select(0, 5).detach(), sg::zeros({3})));
  EXPECT_GT(sg::max(sg::abs(emb.weight.detach())).item(), 0.5);  // N(0, 1) elsewhere
  Tensor idx = sg::from_vector<int64_t>({5, 1, 1}, {3});
  Tensor out = emb(idx);
  EXPECT_EQ(out.shape(), (sg::Shape{3, 3}));
  EXPECT_TRUE(sg::equal(out.select(0, 1), emb.weight.select(0, 1)));
  sg::sum(out).backward();
  Tensor g = emb.weight.grad();
  EXPECT_TRUE(sg::equal(g.select(0, 5), sg::zeros({3})));
  EXPECT_TRUE(sg::equal(g.select(0, 1), sg::full({3}, 2.0)));
  EXPECT_EQ(emb.repr(), "Embedding(6, 3, padding_idx=5)");
}

TEST(Embedding, Errors) {
  EXPECT_THAT(error_of([] { nn::Embedding(4, 2, {.padding_idx = 4}); }),
              HasSubstr("Embedding: padding_idx 4 out of range for num_embeddings=4"));
  nn::Embedding emb(4, 2);
  EXPECT_THAT(error_of([&] { emb(sg::zeros({2})); }),
              HasSubstr("Embedding: expected integer indices (i64 or i32), got f32[2]"));
  EXPECT_THAT(error_of([&] { emb(sg::from_vector<int64_t>({1, 4}, {2})); }), HasSubstr("4"));
}

TEST(Upsample, OptionsAreChecked) {
  EXPECT_THAT(error_of([] { nn::Upsample({}); }),
              HasSubstr("Upsample: give exactly one of size and scale_factor"));
  EXPECT_THAT(error_of([] { nn::Upsample({.scale_factor = 2.0, .align_corners = true}); }),
              HasSubstr("Upsample: align_corners needs mode bilinear"));
  nn::Upsample up({.size = nn::IntPair{4, 6}});
  EXPECT_EQ(up(sg::zeros({1, 1, 2, 3})).shape(), (sg::Shape{1, 1, 4, 6}));
  EXPECT_EQ(up.repr(), "Upsample(size=(4, 6), mode=nearest)");
}
