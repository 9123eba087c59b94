// nn::UNet against the same model in PyTorch (bench/peers/unet_torch.py): the parameter names
// and shapes key for key, and one forward pass of a tiny model with fixed weights, both from
// tests/fixtures/nn/unet_state.json (written by `python3 bench/peers/unet_torch.py
// --write-fixture ...` with PyTorch 1.13). Also: gradients reach every parameter, errors name
// what was wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/io/json_min.h"
#include "nn/nn.h"
#include "optim_fixtures.h"
#include "tests/support/error_of.h"

namespace stackgrad::nn {
namespace {

struct UNetFixture {
  std::map<std::string, Shape> state;
  std::vector<double> tiny_output;
};

UNetFixture load_fixture() {
  std::ifstream f(testing::nn_fixture("unet_state.json"));
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  SG_CHECK(!text.empty(), "unet_state.json: missing or empty");
  io::JsonReader r(text, "unet_state.json");
  UNetFixture fx;
  std::string key;
  r.begin_object();
  while (r.next_key(key)) {
    if (key == "state") {
      r.begin_object();
      std::string name;
      while (r.next_key(name)) {
        Shape shape;
        r.begin_array();
        while (r.next_element()) shape.push_back(static_cast<int64_t>(r.read_uint64(name)));
        fx.state[name] = shape;
      }
    } else if (key == "tiny_output") {
      r.begin_array();
      while (r.next_element())
        fx.tiny_output.push_back(std::stod(std::string(r.read_number_text())));
    } else {
      r.skip_value();
    }
  }
  return fx;
}

TEST(UNet, ParameterNamesAndShapesMatchThePyTorchModel) {
  const UNetFixture fx = load_fixture();
  UNet model;
  const StateDict ours = model.state_dict();
  ASSERT_EQ(ours.size(), fx.state.size());
  for (const auto& [name, shape] : fx.state) {
    auto it = ours.find(name);
    ASSERT_NE(it, ours.end()) << "missing " << name;
    EXPECT_EQ(shape_str(it->second.shape()), shape_str(shape)) << name;
  }
}

TEST(UNet, TinyForwardMatchesPyTorch) {
  const UNetFixture fx = load_fixture();
  UNet tiny({.in_channels = 2,
             .out_channels = 2,
             .base_channels = 8,
             .channel_mults = {1, 2},
             .attention_levels = {1},
             .groups = 2,
             .heads = 2});
  tiny.to(DType::f64);
  // The fixture's weights: parameter p (in name order) holds sin(i + offset) / 4.
  int64_t offset = 0;
  for (auto& [name, p] : tiny.state_dict()) {
    NoGradGuard no_grad;
    Tensor v = sin(arange(0.0, static_cast<double>(p.numel()), 1.0, DType::f64) +
                   static_cast<double>(offset)) /
               4.0;
    p.copy_(v.reshape(p.shape()));
    offset += p.numel();
  }
  Tensor x = sin(arange(0.0, 64.0, 1.0, DType::f64) * 0.7).reshape({2, 2, 4, 4});
  Tensor t = from_vector(std::vector<double>{3.0, 250.0}, {2});
  Tensor y = tiny.forward(x, t);
  ASSERT_EQ(shape_str(y.shape()), "[2, 2, 4, 4]");
  ASSERT_EQ(static_cast<size_t>(y.numel()), fx.tiny_output.size());
  Tensor expected = from_vector(fx.tiny_output, y.shape());
  EXPECT_TRUE(allclose(y, expected, 1e-9, 1e-9)) << "ours:\n" << y << "\ntorch:\n" << expected;
}

TEST(UNet, GradientsReachEveryParameter) {
  Generator gen(7);
  UNet model({.in_channels = 1,
              .out_channels = 1,
              .base_channels = 8,
              .channel_mults = {1, 2},
              .attention_levels = {1},
              .groups = 2,
              .heads = 2},
             gen);
  Tensor x = randn({2, 1, 8, 8}, gen);
  Tensor t = from_vector(std::vector<float>{1.0f, 500.0f}, {2});
  Tensor loss = mse_loss(model.forward(x, t), zeros({2, 1, 8, 8}));
  loss.backward();
  for (const auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_GT(max(abs(p.grad())).item<float>(), 0.0f) << name << " got an all-zero gradient";
  }
}

TEST(UNet, ErrorsNameWhatWasWrong) {
  UNet model({.base_channels = 8,
              .channel_mults = {1, 2},
              .attention_levels = {1},
              .groups = 2,
              .heads = 2});
  EXPECT_NE(testing::error_of([&] {
              model.forward(zeros({2, 3, 8, 8}), zeros({2}));
            }).find("expected x [N, 1, H, W]"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              model.forward(zeros({2, 1, 7, 8}), zeros({2}));
            }).find("divisible by 2"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              model.forward(zeros({2, 1, 8, 8}), zeros({3}));
            }).find("expected steps t [2]"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] {
              UNet bad({.base_channels = 8, .channel_mults = {1}, .attention_levels = {3}});
            }).find("attention level 3"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] {
              UNet bad({.base_channels = 6, .groups = 4});
            }).find("divisible by groups"),
            std::string::npos);
}

}  // namespace
}  // namespace stackgrad::nn
