// The basic layers of nn/: Linear (and its adapter slot), Conv2d, MaxPool2d, Dropout,
// activations, Flatten, Sequential and ModuleList, checked on hand-computed values, parameter
// names and shapes, repr text and error messages. PyTorch parity: test_layers_parity.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nn/nn.h"
#include "tests/support/error_of.h"

namespace sg = stackgrad;
namespace nn = stackgrad::nn;
using sg::Tensor;
using sg::testing::error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

Tensor vec(std::vector<double> v, const sg::Shape& shape) {
  return sg::from_vector<double>(v, shape);
}

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> out;
  for (auto& [name, t] : m.named_parameters()) out.push_back(name);
  return out;
}

double max_abs(const Tensor& t) { return sg::max(sg::abs(t.detach())).item(); }

// A parameter-free stand-in for a LoRA branch: adapter(x) = scale * x.
struct ScaleAdapter : nn::Module {
  double scale;
  explicit ScaleAdapter(double s) : Module("ScaleAdapter"), scale(s) {}
  Tensor forward(const Tensor& x) override { return x * scale; }
};

}  // namespace

// --- Linear -----------------------------------------------------------------------------------

TEST(Linear, ParametersShapesAndDefaultInitBound) {
  sg::Generator gen(0);
  nn::Linear fc(100, 30, {}, gen);
  EXPECT_THAT(names_of(fc), ElementsAre("weight", "bias"));
  EXPECT_EQ(fc.weight.shape(), (sg::Shape{30, 100}));
  EXPECT_EQ(fc.bias.shape(), (sg::Shape{30}));
  EXPECT_TRUE(fc.weight.requires_grad());
  // torch's default: U(-1/sqrt(in), 1/sqrt(in)) for both.
  EXPECT_LE(max_abs(fc.weight), 0.1);
  EXPECT_GT(max_abs(fc.weight), 0.09);
  EXPECT_LE(max_abs(fc.bias), 0.1);
  EXPECT_GT(max_abs(fc.bias), 0.0);
  sg::Generator same(0);
  nn::Linear again(100, 30, {}, same);
  EXPECT_TRUE(sg::equal(fc.weight, again.weight));
  EXPECT_TRUE(sg::equal(fc.bias, again.bias));
}

TEST(Linear, HandComputedForwardOverLeadingDims) {
  nn::Linear fc(2, 3);
  fc.to(sg::DType::f64);
  fc.load_state_dict(
      {{"weight", vec({1, 2, 0, -1, 3, 1}, {3, 2})}, {"bias", vec({0.5, 0, -1}, {3})}});
  Tensor x = vec({1, 1, 2, 0, 0, 3, -1, -1}, {2, 2, 2});
  Tensor y = fc(x);
  ASSERT_EQ(y.shape(), (sg::Shape{2, 2, 3}));
  // rows (1,1), (2,0), (0,3), (-1,-1) times Wᵀ plus b.
  EXPECT_TRUE(sg::allclose(y, vec({3.5, -1, 3, 2.5, 0, 5, 6.5, -3, 2, -2.5, 1, -5}, {2, 2, 3})));
  // A 1-D input is one sample.
  EXPECT_TRUE(sg::allclose(fc(vec({1, 1}, {2})), vec({3.5, -1, 3}, {3})));
}

TEST(Linear, NoBiasHasNoBiasKeyAndGradientsFlow) {
  nn::Linear fc(3, 2, {.bias = false});
  EXPECT_THAT(names_of(fc), ElementsAre("weight"));
  EXPECT_FALSE(fc.bias.defined());
  EXPECT_EQ(fc.repr(), "Linear(in=3, out=2, bias=false)");
  Tensor x = sg::ones({4, 3});
  sg::sum(fc(x)).backward();
  EXPECT_TRUE(sg::allclose(fc.weight.grad(), sg::full({2, 3}, 4.0)));
}

TEST(Linear, WrongInputShapeNamesBoth) {
  nn::Linear fc(784, 256);
  EXPECT_EQ(fc.repr(), "Linear(in=784, out=256, bias=true)");
  EXPECT_THAT(error_of([&] {
                fc(sg::zeros({32, 100}));
              }),
              HasSubstr("Linear: expected input [..., 784], got [32, 100]"));
}

TEST(Linear, AdapterIsAddedRegisteredAndDetachable) {
  auto fc = std::make_shared<nn::Linear>(2, 2, nn::LinearOptions{.bias = false});
  fc->to(sg::DType::f64);
  fc->load_state_dict({{"weight", vec({1, 0, 0, 1}, {2, 2})}});
  Tensor x = vec({1, 2}, {1, 2});
  auto lora = std::make_shared<nn::Linear>(2, 2, nn::LinearOptions{.bias = false});
  lora->to(sg::DType::f64);
  lora->load_state_dict({{"weight", vec({0, 1, 1, 0}, {2, 2})}});
  fc->attach_adapter(lora);
  EXPECT_EQ(fc->adapter(), lora);
  EXPECT_THAT(names_of(*fc), ElementsAre("weight", "lora.weight"));
  EXPECT_TRUE(sg::allclose((*fc)(x), vec({3, 3}, {1, 2})));  // x + swap(x)
  EXPECT_TRUE(sg::allclose(fc->base_forward(x), x));
  EXPECT_THAT(fc->repr(), HasSubstr("(lora): Linear(in=2, out=2, bias=false)"));

  fc->set_adapter_enabled(false);
  EXPECT_TRUE(sg::allclose((*fc)(x), x));
  fc->set_adapter_enabled(true);

  EXPECT_THAT(error_of([&] { fc->attach_adapter(std::make_shared<ScaleAdapter>(1.0)); }),
              HasSubstr("Linear.attach_adapter: an adapter (Linear) is already attached"));
  fc->detach_adapter();
  EXPECT_EQ(fc->adapter(), nullptr);
  EXPECT_THAT(names_of(*fc), ElementsAre("weight"));
  EXPECT_TRUE(sg::allclose((*fc)(x), x));
  EXPECT_THAT(error_of([&] { fc->detach_adapter(); }),
              HasSubstr("Linear.detach_adapter: no adapter is attached"));
  // The slot is free again.
  fc->attach_adapter(std::make_shared<ScaleAdapter>(2.0));
  EXPECT_TRUE(sg::allclose((*fc)(x), x * 3.0));
}

TEST(Bilinear, ShapesAndMismatchedInputs) {
  nn::Bilinear bl(3, 4, 2);
  EXPECT_EQ(bl.weight.shape(), (sg::Shape{2, 3, 4}));
  EXPECT_EQ(bl(sg::ones({5, 3}), sg::ones({5, 4})).shape(), (sg::Shape{5, 2}));
  EXPECT_EQ(bl(sg::ones({2, 5, 3}), sg::ones({2, 5, 4})).shape(), (sg::Shape{2, 5, 2}));
  EXPECT_THAT(error_of([&] {
                bl(sg::ones({5, 3}), sg::ones({5, 3}));
              }),
              HasSubstr("Bilinear: expected x2 [..., 4], got [5, 3]"));
  EXPECT_THAT(
      error_of([&] {
        bl(sg::ones({5, 3}), sg::ones({6, 4}));
      }),
      HasSubstr("Bilinear: x1 and x2 must have the same leading dims, got [5, 3] and [6, 4]"));
  EXPECT_THAT(error_of([&] {
                bl.forward(sg::ones({5, 3}));
              }),
              HasSubstr("Bilinear: has no one-tensor forward(x)"));
}

TEST(Flatten, DefaultKeepsBatchDim) {
  nn::Flatten flat;
  EXPECT_EQ(flat(sg::zeros({2, 3, 4, 5})).shape(), (sg::Shape{2, 60}));
  nn::Flatten middle(1, 2);
  EXPECT_EQ(middle(sg::zeros({2, 3, 4, 5})).shape(), (sg::Shape{2, 12, 5}));
  nn::Identity id;
  Tensor x = sg::ones({3});
  EXPECT_TRUE(id(x).same(x));
}

// --- Conv2d -----------------------------------------------------------------------------------

TEST(Conv2d, WeightLayoutInitAndOutputShape) {
  sg::Generator gen(1);
  nn::Conv2d conv(4, 6, {3, 2}, {.stride = 2, .padding = {1, 0}, .groups = 2}, gen);
  EXPECT_EQ(conv.weight.shape(), (sg::Shape{6, 2, 3, 2}));
  EXPECT_EQ(conv.bias.shape(), (sg::Shape{6}));
  double bound = 1.0 / std::sqrt(2.0 * 3 * 2);  // fan_in = in/groups * kh * kw
  EXPECT_LE(max_abs(conv.weight), bound);
  EXPECT_GT(max_abs(conv.weight), 0.8 * bound);
  EXPECT_LE(max_abs(conv.bias), bound);
  EXPECT_EQ(conv(sg::zeros({1, 4, 7, 8})).shape(), (sg::Shape{1, 6, 4, 4}));
  EXPECT_EQ(conv.repr(),
            "Conv2d(in=4, out=6, kernel_size=(3, 2), stride=2, padding=(1, 0), groups=2, "
            "bias=true)");
}

TEST(Conv2d, HandComputedOnesKernel) {
  nn::Conv2d conv(1, 1, 2, {.bias = false});
  conv.to(sg::DType::f64);
  conv.load_state_dict({{"weight", sg::ones({1, 1, 2, 2}, sg::DType::f64)}});
  Tensor x = sg::arange(9, sg::DType::f64).reshape({1, 1, 3, 3});
  // Sums of each 2x2 window of [[0,1,2],[3,4,5],[6,7,8]].
  EXPECT_TRUE(sg::allclose(conv(x), vec({8, 12, 20, 24}, {1, 1, 2, 2})));
}

TEST(Conv2d, ErrorsAndAdapter) {
  EXPECT_THAT(error_of([] { nn::Conv2d(4, 6, 3, {.groups = 4}); }),
              HasSubstr("Conv2d: groups=4 must divide in=4 and out=6"));
  nn::Conv2d conv(3, 8, 3);
  EXPECT_THAT(error_of([&] {
                conv(sg::zeros({1, 4, 8, 8}));
              }),
              HasSubstr("Conv2d: expected input [N, 3, H, W], got [1, 4, 8, 8]"));
  EXPECT_THAT(error_of([&] {
                conv(sg::zeros({3, 8, 8}));
              }),
              HasSubstr("Conv2d: expected input [N, 3, H, W], got [3, 8, 8]"));
  // An adapter whose output matches the base output's shape is added to it.
  auto same = std::make_shared<nn::Conv2d>(3, 8, 3);
  conv.attach_adapter(same);
  Tensor x = sg::randn({1, 3, 5, 5});
  EXPECT_TRUE(sg::allclose(conv(x), conv.base_forward(x) + (*same)(x)));
  EXPECT_THAT(names_of(conv), ElementsAre("weight", "bias", "lora.weight", "lora.bias"));
}

TEST(ConvTranspose2d, WeightLayoutAndOutputShape) {
  nn::ConvTranspose2d up(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  EXPECT_EQ(up.weight.shape(), (sg::Shape{4, 3, 3, 3}));
  EXPECT_EQ(up(sg::zeros({1, 4, 5, 5})).shape(), (sg::Shape{1, 6, 10, 10}));
  EXPECT_THAT(
      error_of([] { nn::ConvTranspose2d(2, 2, 3, {.stride = 2, .output_padding = 2}); }),
      HasSubstr("ConvTranspose2d: output_padding 2 must be smaller than stride or dilation"));
}

// --- pooling ----------------------------------------------------------------------------------

TEST(MaxPool2d, HandComputedAndDefaultStride) {
  nn::MaxPool2d pool(2);
  EXPECT_EQ(pool.repr(), "MaxPool2d(kernel_size=2, stride=2, padding=0)");
  Tensor x = vec({1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 9, 9, 7, 1, 2, 3}, {1, 1, 4, 4});
  EXPECT_TRUE(sg::allclose(pool(x), vec({5, 8, 7, 9}, {1, 1, 2, 2})));
  EXPECT_THAT(error_of([&] {
                pool(sg::zeros({4, 4}));
              }),
              HasSubstr("MaxPool2d: expected input [N, C, H, W], got [4, 4]"));
}

TEST(AvgPool2d, HandComputed) {
  nn::AvgPool2d pool(2);
  Tensor x = vec({1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 9, 9, 7, 1, 2, 3}, {1, 1, 4, 4});
  EXPECT_TRUE(sg::allclose(pool(x), vec({13 / 4.0, 11 / 4.0, 8 / 4.0, 23 / 4.0}, {1, 1, 2, 2})));
  nn::AdaptiveAvgPool2d global(1);
  EXPECT_TRUE(sg::allclose(global(x), vec({55 / 16.0}, {1, 1, 1, 1})));
}

// --- dropout ----------------------------------------------------------------------------------

TEST(Dropout, TrainMasksAndScalesEvalIsIdentity) {
  sg::Generator gen(3);
  nn::Dropout drop(0.25, gen);
  Tensor x = sg::ones({100000});
  Tensor y = drop(x);
  double zeros = sg::sum((y == 0.0).to(sg::DType::f64)).item();
  EXPECT_NEAR(zeros / 100000.0, 0.25, 0.01);
  // Survivors are scaled by 1 / (1 - p).
  EXPECT_NEAR(sg::max(y).item(), 1.0 / 0.75, 1e-6);
  EXPECT_NEAR(sg::min(sg::where(y == 0.0, sg::full_like(y, 10.0), y)).item(), 1.0 / 0.75, 1e-6);
  drop.eval();
  EXPECT_TRUE(drop(x).same(x) || sg::equal(drop(x), x));
}

TEST(Dropout, SameSeedSameMaskAndSetGenerator) {
  sg::Generator g1(11), g2(11);
  nn::Dropout a(0.5, g1), b(0.5, g2);
  Tensor x = sg::ones({1000});
  Tensor ya = a(x);
  EXPECT_TRUE(sg::equal(ya, b(x)));
  EXPECT_FALSE(sg::equal(ya, a(x)));  // the layer's stream moves on
  a.set_generator(sg::Generator(5));
  b.set_generator(sg::Generator(5));
  EXPECT_TRUE(sg::equal(a(x), b(x)));
  EXPECT_THAT(error_of([] { nn::Dropout(1.5); }),
              HasSubstr("Dropout: p must be in [0, 1], got 1.5"));
}

TEST(Dropout2d, ZeroesWholeChannels) {
  sg::Generator gen(4);
  nn::Dropout2d drop(0.5, gen);
  Tensor y = drop(sg::ones({8, 16, 3, 3}));
  // Within each (sample, channel) all 9 values are equal: 0 or 2.
  Tensor per_channel = y.reshape({8 * 16, 9});
  EXPECT_TRUE(sg::equal(sg::max(per_channel, {1}), sg::min(per_channel, {1})));
  double kept = sg::sum((per_channel.select(1, 0) == 2.0).to(sg::DType::f64)).item();
  EXPECT_GT(kept, 30);
  EXPECT_LT(kept, 98);
}

// --- activations ------------------------------------------------------------------------------

TEST(Activations, HandComputedValues) {
  Tensor x = vec({-2, 0, 1.5}, {3});
  EXPECT_TRUE(sg::allclose(nn::ReLU()(x), vec({0, 0, 1.5}, {3})));
  EXPECT_TRUE(sg::allclose(nn::LeakyReLU(0.1)(x), vec({-0.2, 0, 1.5}, {3})));
  EXPECT_TRUE(sg::allclose(nn::ELU(2.0)(x), vec({2 * (std::exp(-2.0) - 1), 0, 1.5}, {3})));
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  EXPECT_TRUE(sg::allclose(nn::Sigmoid()(x), vec({sig(-2), 0.5, sig(1.5)}, {3})));
  EXPECT_TRUE(sg::allclose(nn::SiLU()(x), vec({-2 * sig(-2), 0, 1.5 * sig(1.5)}, {3})));
  EXPECT_TRUE(sg::allclose(nn::Tanh()(x), vec({std::tanh(-2.0), 0, std::tanh(1.5)}, {3})));
  EXPECT_TRUE(sg::allclose(
      nn::Softplus()(x),
      vec({std::log1p(std::exp(-2.0)), std::log(2.0), std::log1p(std::exp(1.5))}, {3})));
  EXPECT_TRUE(sg::allclose(nn::GELU()(x), vec({-2 * 0.5 * std::erfc(2 / std::sqrt(2.0)), 0,
                                               1.5 * 0.5 * std::erfc(-1.5 / std::sqrt(2.0))},
                                              {3})));
  Tensor logits = vec({0, std::log(3.0)}, {1, 2});
  EXPECT_TRUE(sg::allclose(nn::Softmax(1)(logits), vec({0.25, 0.75}, {1, 2})));
  EXPECT_TRUE(
      sg::allclose(nn::LogSoftmax(-1)(logits), vec({std::log(0.25), std::log(0.75)}, {1, 2})));
  EXPECT_EQ(nn::LeakyReLU(0.2).repr(), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(nn::GELU(sg::GeluApprox::tanh).repr(), "GELU(approximate=tanh)");
  EXPECT_EQ(nn::Softmax(1).repr(), "Softmax(dim=1)");
}

// --- containers -------------------------------------------------------------------------------

TEST(Sequential, TorchNamesChainingAndAccess) {
  sg::Generator gen(5);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(2, 8, nn::LinearOptions{}, gen), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(8, 1, nn::LinearOptions{}, gen));
  EXPECT_THAT(names_of(*net), ElementsAre("0.weight", "0.bias", "2.weight", "2.bias"));
  EXPECT_EQ(net->size(), 3u);
  auto fc2 = net->at<nn::Linear>(2);
  EXPECT_EQ(fc2->out_features, 1);
  EXPECT_EQ((*net)[-2]->type_name(), "ReLU");
  Tensor x = sg::randn({4, 2}, gen);
  Tensor manual = (*fc2)(sg::relu((*net->at<nn::Linear>(0))(x)));
  EXPECT_TRUE(sg::equal((*net)(x), manual));
  EXPECT_EQ(net->repr(),
            "Sequential(\n"
            "  (0): Linear(in=2, out=8, bias=true)\n"
            "  (1): ReLU()\n"
            "  (2): Linear(in=8, out=1, bias=true)\n"
            ")");
  EXPECT_THAT(error_of([&] { (*net)[3]; }),
              HasSubstr("Sequential: index 3 out of range for 3 modules"));
  EXPECT_THAT(error_of([&] { net->at<nn::Linear>(1); }),
              HasSubstr("Sequential: module 1 is a ReLU, not the requested type"));
}

TEST(Sequential, BraceListPushBackAndNames) {
  nn::Sequential seq({std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::Tanh>()});
  seq.push_back(std::make_shared<nn::Linear>(4, 2));
  seq.push_back("head", std::make_shared<nn::Linear>(2, 2));
  EXPECT_THAT(names_of(seq),
              ElementsAre("0.weight", "0.bias", "2.weight", "2.bias", "head.weight", "head.bias"));
  EXPECT_EQ(seq(sg::zeros({5, 3})).shape(), (sg::Shape{5, 2}));
  EXPECT_THAT(error_of([&] {
                seq(sg::zeros({5, 4}));
              }),
              HasSubstr("Linear: expected input [..., 3], got [5, 4]"));
  nn::Sequential empty;
  Tensor x = sg::ones({2});
  EXPECT_TRUE(empty(x).same(x));
}

TEST(ModuleList, HoldsWithoutForward) {
  nn::ModuleList list({std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::Linear>(2, 3)});
  EXPECT_THAT(names_of(list), ElementsAre("0.weight", "0.bias", "1.weight", "1.bias"));
  int64_t outs = 0;
  for (const auto& m : list) outs += std::dynamic_pointer_cast<nn::Linear>(m)->out_features;
  EXPECT_EQ(outs, 5);
  EXPECT_THAT(error_of([&] { list(sg::ones({2})); }), HasSubstr("ModuleList: has no one-tensor"));
}
