// LoRA adapters on their own: the branch equals s·x Aᵀ Bᵀ computed by hand, merging moves exactly
// that into the weight (the merged layer gives the adapted layer's output) and unmerging takes it
// back, both idempotent; the conv adapter's merged kernel reproduces its two-convolution branch
// (with groups); the tree helpers; error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/lora.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
namespace nn = stackgrad::nn;
using sg::Tensor;
using sg::testing::error_of;
using ::testing::HasSubstr;

namespace {

// B starts at zero (the adapted layer starts as the base); give it values to test anything.
void randomize_b(nn::LoraAdapter& lora, uint64_t seed) {
  sg::Generator gen(seed);
  sg::NoGradGuard no_grad;
  lora.lora_B.copy_(sg::randn(lora.lora_B.shape(), gen, lora.lora_B.dtype()));
}

TEST(LoraLinearAdapter, InitAndBranchMatchTheFormula) {
  sg::Generator gen(1);
  nn::LoraLinear lora(6, 5, 2, /*alpha=*/8.0, gen);
  EXPECT_EQ(lora.lora_A.shape(), (sg::Shape{2, 6}));
  EXPECT_EQ(lora.lora_B.shape(), (sg::Shape{5, 2}));
  EXPECT_DOUBLE_EQ(lora.scale(), 4.0);
  EXPECT_LE(sg::max(sg::abs(lora.lora_A)).item(), 1.0 / std::sqrt(6.0));
  Tensor x = sg::randn({3, 4, 6}, gen);
  EXPECT_EQ(sg::sum(sg::abs(lora.forward(x))).item(), 0.0);  // B = 0

  lora.to(sg::DType::f64);
  randomize_b(lora, 2);
  x = x.to(sg::DType::f64);
  Tensor want = sg::matmul(sg::matmul(x, lora.lora_A.t()), lora.lora_B.t()) * 4.0;
  EXPECT_TRUE(sg::allclose(lora.forward(x), want, 1e-12, 1e-12));
  sg::sum(lora.forward(x)).backward();
  EXPECT_TRUE(lora.lora_A.grad().defined() && lora.lora_B.grad().defined());
}

TEST(LoraLinearAdapter, MergeUnmergeRoundTripIsIdempotent) {
  sg::Generator gen(3);
  nn::LoraLinear lora(4, 3, 2, 4.0, gen);
  lora.to(sg::DType::f64);
  randomize_b(lora, 4);
  Tensor W0 = sg::randn({3, 4}, gen, sg::DType::f64), W = W0.clone();
  Tensor x = sg::randn({5, 4}, gen, sg::DType::f64);
  Tensor adapted = sg::matmul(x, W.t()) + lora.forward(x);

  lora.merge(W);
  EXPECT_TRUE(lora.merged());
  EXPECT_TRUE(sg::allclose(W, W0 + sg::mm(lora.lora_B, lora.lora_A) * 2.0, 1e-12, 1e-12));
  Tensor once = W.clone();
  lora.merge(W);  // no-op
  EXPECT_TRUE(sg::equal(W, once));
  Tensor zero = lora.forward(x);
  EXPECT_EQ(zero.shape(), (sg::Shape{5, 3}));
  EXPECT_EQ(sg::sum(sg::abs(zero)).item(), 0.0);
  EXPECT_TRUE(sg::allclose(sg::matmul(x, W.t()) + zero, adapted, 1e-12, 1e-12));

  lora.unmerge(W);
  EXPECT_FALSE(lora.merged());
  EXPECT_TRUE(sg::allclose(W, W0, 1e-13, 1e-13));
  Tensor back = W.clone();
  lora.unmerge(W);  // no-op
  EXPECT_TRUE(sg::equal(W, back));
  EXPECT_TRUE(sg::allclose(lora.forward(x), adapted - sg::matmul(x, W0.t()), 1e-12, 1e-12));
}

TEST(LoraConv2dAdapter, MergedKernelReproducesTheBranch) {
  for (int64_t groups : {1, 2}) {
    sg::Generator gen(5);
    const nn::LoraConvGeometry geo{.kernel_size = {3, 3},
                                   .stride = {2, 1},
                                   .padding = {1, 1},
                                   .dilation = {1, 2},
                                   .groups = groups};
    nn::LoraConv2d lora(4, 6, geo, /*rank=*/4, /*alpha=*/2.0, gen);
    EXPECT_EQ(lora.lora_A.shape(), (sg::Shape{4, 4 / groups, 3, 3}));
    EXPECT_EQ(lora.lora_B.shape(), (sg::Shape{6, 4 / groups, 1, 1}));
    lora.to(sg::DType::f64);
    randomize_b(lora, 6);
    Tensor W = sg::randn({6, 4 / groups, 3, 3}, gen, sg::DType::f64);
    Tensor x = sg::randn({2, 4, 7, 8}, gen, sg::DType::f64);
    auto base = [&](const Tensor& w) {
      return sg::conv2d(x, w, Tensor(), geo.stride, geo.padding, geo.dilation, groups);
    };
    Tensor adapted = base(W) + lora.forward(x);
    lora.merge(W);
    Tensor zero = lora.forward(x);
    EXPECT_EQ(zero.shape(), adapted.shape());
    EXPECT_TRUE(sg::allclose(base(W) + zero, adapted, 1e-11, 1e-11)) << "groups " << groups;
  }
}

TEST(LoraTree, ParametersAndFreezing) {
  struct Model : nn::Module {
    Tensor w;
    std::shared_ptr<nn::LoraLinear> a;
    std::shared_ptr<nn::LoraConv2d> b;
    Model() : Module("Model") {
      register_parameter("w", w, sg::ones({2}));
      a = register_module("a", std::make_shared<nn::LoraLinear>(3, 2, 1));
      b = register_module("b", std::make_shared<nn::LoraConv2d>(1, 1, nn::LoraConvGeometry{}, 1));
    }
  } m;
  std::vector<Tensor> ps = nn::lora_parameters(m);
  ASSERT_EQ(ps.size(), 4u);
  EXPECT_TRUE(ps[0].same(m.a->lora_A) && ps[3].same(m.b->lora_B));
  nn::mark_only_lora_as_trainable(m);
  EXPECT_FALSE(m.w.requires_grad());
  EXPECT_TRUE(m.a->lora_A.requires_grad() && m.b->lora_B.requires_grad());
}

TEST(LoraOnLayers, LinearGetsTheBranchFrozenBaseAndMergesInPlace) {
  sg::Generator gen(8);
  auto fc = std::make_shared<nn::Linear>(6, 4, nn::LinearOptions{}, gen);
  fc->to(sg::DType::f64);
  Tensor x = sg::randn({3, 6}, gen, sg::DType::f64);
  Tensor base = (*fc)(x), W0 = fc->weight.clone();

  auto lora = nn::add_lora(*fc, /*rank=*/2, /*alpha=*/4.0, gen);
  EXPECT_EQ(lora->lora_A.dtype(), sg::DType::f64);
  EXPECT_FALSE(fc->weight.requires_grad() || fc->bias.requires_grad());
  EXPECT_TRUE(fc->state_dict().count("lora.lora_A") == 1);
  EXPECT_TRUE(sg::allclose((*fc)(x), base));  // B = 0: starts as the base layer
  randomize_b(*lora, 9);
  Tensor adapted = (*fc)(x);
  EXPECT_TRUE(sg::allclose(adapted, base + lora->forward(x), 1e-12, 1e-12));

  sg::sum(adapted).backward();
  EXPECT_FALSE(fc->weight.grad().defined());
  EXPECT_TRUE(lora->lora_A.grad().defined() && lora->lora_B.grad().defined());
  EXPECT_EQ(nn::lora_parameters(*fc).size(), 2u);

  nn::merge_lora(*fc);
  EXPECT_TRUE(lora->merged());
  EXPECT_FALSE(sg::allclose(fc->weight, W0));
  EXPECT_TRUE(sg::allclose((*fc)(x), adapted, 1e-12, 1e-12));
  nn::unmerge_lora(*fc);
  EXPECT_TRUE(sg::allclose(fc->weight, W0, 1e-13, 1e-13));
}

TEST(LoraOnLayers, Conv2dAdapterTakesTheLayersGeometry) {
  sg::Generator gen(10);
  nn::Conv2d conv(4, 6, 3, nn::Conv2dOptions{.stride = 2, .padding = 1, .groups = 2}, gen);
  conv.to(sg::DType::f64);
  auto lora = nn::add_lora(conv, 2, 1.0, gen);
  EXPECT_EQ(lora->lora_A.shape(), (sg::Shape{2, 2, 3, 3}));
  randomize_b(*lora, 11);
  Tensor x = sg::randn({1, 4, 9, 9}, gen, sg::DType::f64);
  Tensor adapted = conv(x);
  EXPECT_EQ(adapted.shape(), (sg::Shape{1, 6, 5, 5}));
  nn::merge_lora(conv);
  EXPECT_TRUE(sg::allclose(conv(x), adapted, 1e-11, 1e-11));
  EXPECT_TRUE(sg::allclose(conv.base_forward(x), adapted, 1e-11, 1e-11));
}

TEST(LoraErrors, NameTheAdapterAndShapes) {
  nn::LoraLinear lin(4, 3, 2);
  EXPECT_THAT(error_of([&] {
                lin.forward(sg::zeros({2, 5}));
              }),
              HasSubstr("LoraLinear: expected input [..., 4], got [2, 5]"));
  Tensor w = sg::zeros({4, 3});
  EXPECT_THAT(error_of([&] { lin.merge(w); }),
              HasSubstr("LoraLinear.merge: expected weight [3, 4], got [4, 3]"));
  EXPECT_FALSE(lin.merged());
  nn::LoraConv2d conv(2, 2, {.kernel_size = {3, 3}}, 2);
  EXPECT_THAT(error_of([&] {
                conv.forward(sg::zeros({1, 3, 5, 5}));
              }),
              HasSubstr("LoraConv2d: expected input [N, 2, H, W], got [1, 3, 5, 5]"));
  EXPECT_THAT(error_of([] { nn::LoraConv2d bad(4, 4, {.groups = 2}, 3); }),
              HasSubstr("must be multiples of groups, got in=4, out=4, rank=3, groups=2"));
}

}  // namespace
