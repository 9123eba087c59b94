// PyTorch parity of the layers: tests/fixtures/nn/make_layer_fixtures.py ran each torch layer
// in float64 and saved its state_dict, input, output and (for some) gradients. Here the state is
// loaded into our layer by name with a strict load_state_dict, which proves the parameter and
// buffer names and layouts match torch's; then forward, backward and the updated buffers are
// compared in f64 to rtol 1e-10.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "nn/nn.h"

namespace sg = stackgrad;
namespace nn = stackgrad::nn;
using sg::Tensor;

namespace {

std::filesystem::path fixture_dir() {
  std::filesystem::path root;
  if (const char* env = std::getenv("STACKGRAD_SOURCE_DIR"); env != nullptr && *env != '\0')
    root = env;
  else
    root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return root / "tests" / "fixtures" / "nn" / "layers";
}

// Every file "<name>.<kind>[.<key>].npy" of one case, by kind and key.
struct Case {
  nn::StateDict param, grad, after;
  std::map<std::string, Tensor> plain;  // input, input2, output, cotangent
};

Case load_case(const std::string& name) {
  Case c;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir())) {
    std::string file = entry.path().filename().string();
    if (file.rfind(name + ".", 0) != 0 || entry.path().extension() != ".npy") continue;
    std::string rest = file.substr(name.size() + 1, file.size() - name.size() - 5);
    Tensor t = sg::load_npy(entry.path().string());
    auto dot = rest.find('.');
    std::string kind = rest.substr(0, dot),
                key = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (kind == "param")
      c.param[key] = t;
    else if (kind == "grad")
      c.grad[key] = t;
    else if (kind == "after")
      c.after[key] = t;
    else
      c.plain[kind] = t;
  }
  EXPECT_TRUE(c.plain.count("input") && c.plain.count("output")) << "no fixture for " << name;
  return c;
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << " is undefined";
  ASSERT_EQ(got.shape(), want.shape()) << what;
  Tensor g = got.detach().to(want.dtype());
  EXPECT_TRUE(sg::allclose(g, want, 1e-10, 1e-12))
      << what << ": max |diff| " << sg::max(sg::abs(g - want)).item();
}

using Forward = std::function<Tensor(nn::Module&, const std::vector<Tensor>&)>;

Tensor one_input(nn::Module& m, const std::vector<Tensor>& in) { return m.forward(in[0]); }

// Loads case `name` into `layer` (made f64), runs it and compares everything the case saved.
void check(const std::string& name, nn::Module& layer, bool training = true,
           const Forward& forward = one_input) {
  SCOPED_TRACE(name);
  Case c = load_case(name);
  layer.to(sg::DType::f64);
  layer.train(training);
  layer.load_state_dict(c.param);  // strict: names and shapes must be torch's
  std::vector<Tensor> inputs{c.plain["input"]};
  if (c.plain.count("input2")) inputs.push_back(c.plain["input2"]);
  for (Tensor& x : inputs)
    if (sg::is_floating(x.dtype())) x.requires_grad_(true);

  Tensor y = forward(layer, inputs);
  expect_close(y, c.plain["output"], "output");
  if (!c.grad.empty()) {
    sg::sum(y * c.plain["cotangent"]).backward();
    std::map<std::string, Tensor> params;
    for (auto& [n, p] : layer.named_parameters()) params[n] = p;
    for (auto& [what, want] : c.grad) {
      if (what == "input")
        expect_close(inputs[0].grad(), want, "grad of the input");
      else if (what == "input2")
        expect_close(inputs[1].grad(), want, "grad of input2");
      else
        expect_close(params.at(what).grad(), want, "grad of " + what);
    }
  }
  nn::StateDict state = layer.state_dict();
  for (auto& [key, want] : c.after) {
    if (want.dtype() == sg::DType::i64)
      EXPECT_TRUE(sg::equal(state.at(key), want)) << key;
    else
      expect_close(state.at(key), want, key + " after the step");
  }
}

}  // namespace

TEST(LayerParity, Linear) {
  nn::Linear layer(5, 3);
  check("linear", layer);
}

TEST(LayerParity, Bilinear) {
  nn::Bilinear layer(3, 4, 2);
  check("bilinear", layer, true, [](nn::Module& m, const std::vector<Tensor>& in) {
    return static_cast<nn::Bilinear&>(m)(in[0], in[1]);
  });
}

TEST(LayerParity, Conv2dStridePaddingGroups) {
  nn::Conv2d layer(4, 6, 3, {.stride = 2, .padding = 1, .groups = 2});
  check("conv2d", layer);
}

TEST(LayerParity, Conv2dRectangularDilatedNoBias) {
  nn::Conv2d layer(3, 4, {3, 2},
                   {.stride = {1, 2}, .padding = {1, 0}, .dilation = {2, 1}, .bias = false});
  check("conv2d_rect", layer);
}

TEST(LayerParity, ConvTranspose2dStride2OutputPadding) {
  nn::ConvTranspose2d layer(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  check("conv_transpose2d", layer);
}

TEST(LayerParity, Pools) {
  nn::MaxPool2d max_pool(3, {.stride = 2, .padding = 1});
  check("maxpool", max_pool);
  nn::MaxPool2d max_ceil(2, {.ceil_mode = true});
  check("maxpool_ceil", max_ceil);
  nn::AvgPool2d avg(3, {.stride = 2, .padding = 1, .count_include_pad = false});
  check("avgpool", avg);
  nn::AvgPool2d avg_pad(2, {.stride = 1, .padding = 1});
  check("avgpool_pad", avg_pad);
  nn::AdaptiveAvgPool2d adaptive({3, 2});
  check("adaptive_avgpool", adaptive);
}

TEST(LayerParity, Upsample) {
  nn::Upsample bilinear({.scale_factor = 2.0, .mode = sg::UpsampleMode::bilinear});
  check("upsample_bilinear", bilinear);
  nn::Upsample corners(
      {.size = nn::IntPair{5, 7}, .mode = sg::UpsampleMode::bilinear, .align_corners = true});
  check("upsample_bilinear_ac", corners);
  nn::Upsample nearest({.scale_factor = 2.0});
  check("upsample_nearest", nearest);
}

TEST(LayerParity, BatchNorm2dTrainStepUpdatesRunningStats) {
  nn::BatchNorm2d layer(3, {.momentum = 0.2});
  check("batchnorm2d_train", layer);
}

TEST(LayerParity, BatchNorm2dEvalUsesRunningStats) {
  nn::BatchNorm2d layer(3);
  check("batchnorm2d_eval", layer, /*training=*/false);
}

TEST(LayerParity, BatchNorm1d) {
  nn::BatchNorm1d layer(4);
  check("batchnorm1d_train", layer);
  nn::BatchNorm1d cumulative(4, {.momentum = std::nullopt});
  check("batchnorm1d_cumulative", cumulative);
}

TEST(LayerParity, LayerNormAndGroupNorm) {
  nn::LayerNorm ln(sg::Shape{3, 4});
  check("layernorm", ln);
  nn::GroupNorm gn(2, 6);
  check("groupnorm", gn);
}

TEST(LayerParity, EmbeddingWithPaddingIdx) {
  nn::Embedding layer(10, 4, {.padding_idx = 0});
  check("embedding", layer);
}

TEST(LayerParity, Gelu) {
  nn::GELU exact;
  check("gelu", exact);
  nn::GELU tanh_approx(sg::GeluApprox::tanh);
  check("gelu_tanh", tanh_approx);
}
