// nn::Module: registration, the tree walks, train/eval, to(dtype), state_dict round trips and
// their errors, and loading a checkpoint written by the Python safetensors library.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "nn/module.h"
#include "tests/support/error_of.h"
#include "tests/support/fixture_path.h"

using namespace stackgrad;
using stackgrad::testing::error_of;
using stackgrad::testing::fixture_path;
using ::testing::HasSubstr;

namespace {

// Minimal layers with raw parameters, named like their PyTorch counterparts.
struct Affine : nn::Module {
  Tensor weight, bias;
  Affine(int64_t in, int64_t out, bool with_bias = true) : Module("Affine") {
    register_parameter("weight", weight, zeros({out, in}));
    if (with_bias) register_parameter("bias", bias, zeros({out}));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = matmul(x, weight.t());
    return bias.defined() ? y + bias : y;
  }
  std::string extra_repr() const override {
    return str_cat("in=", weight.size(1), ", out=", weight.size(0));
  }
};

struct Norm : nn::Module {
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  explicit Norm(int64_t c) : Module("Norm") {
    register_parameter("weight", weight, ones({c}));
    register_parameter("bias", bias, zeros({c}));
    register_buffer("running_mean", running_mean, zeros({c}));
    register_buffer("running_var", running_var, ones({c}));
    register_buffer("num_batches_tracked", num_batches_tracked, zeros({}, DType::i64));
  }
};

struct Net : nn::Module {
  std::shared_ptr<Affine> encoder, head;
  std::shared_ptr<Norm> norm;
  Tensor scratch;  // a non-persistent buffer: moved by to(), not saved
  Net() : Module("Net") {
    encoder = register_module("encoder", std::make_shared<Affine>(4, 3));
    norm = register_module("norm", std::make_shared<Norm>(3));
    head = register_module("head", std::make_shared<Affine>(3, 2, false));
    register_buffer("scratch", scratch, zeros({5}), /*persistent=*/false);
  }
};

// value[i] = 0.25 i - 1 + offset over the flattened tensor (make_checkpoint_fixture.py).
Tensor ramp(const Shape& shape, double offset) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return (arange(n).to(DType::f64) * 0.25 + (offset - 1.0)).reshape(shape);
}

}  // namespace

TEST(Module, NamesFollowRegistrationOrderDepthFirst) {
  Net net;
  std::vector<std::string> names;
  for (auto& [name, p] : net.named_parameters()) names.push_back(name);
  EXPECT_THAT(names, ::testing::ElementsAre("encoder.weight", "encoder.bias", "norm.weight",
                                            "norm.bias", "head.weight"));
  EXPECT_EQ(net.parameters().size(), 5u);
  EXPECT_EQ(net.num_parameters(), 12 + 3 + 3 + 3 + 6);
  for (const Tensor& p : net.parameters()) EXPECT_TRUE(p.requires_grad() && p.is_leaf());
  std::vector<std::string> modules;
  for (auto& [name, m] : net.named_modules()) modules.push_back(name + ":" + m->type_name());
  EXPECT_THAT(modules, ::testing::ElementsAre("encoder:Affine", "norm:Norm", "head:Affine"));
  EXPECT_EQ(net.named_parameters(/*recurse=*/false).size(), 0u);
  EXPECT_EQ(net.named_buffers().size(), 4u);  // scratch + the three of norm
}

TEST(Module, StateDictHoldsParametersAndPersistentBuffersOnly) {
  Net net;
  nn::StateDict sd = net.state_dict();
  EXPECT_EQ(sd.size(), 8u);
  EXPECT_EQ(sd.count("scratch"), 0u);
  EXPECT_EQ(sd.count("norm.num_batches_tracked"), 1u);
  EXPECT_FALSE(sd.at("encoder.weight").requires_grad());
  // The entries share storage with the module (a write to the module shows through).
  { NoGradGuard g; net.encoder->weight.fill_(2.0); }
  EXPECT_EQ(sd.at("encoder.weight").to_vector<float>()[0], 2.0f);
}

TEST(Module, RegistrationErrors) {
  struct Bad : nn::Module {
    Tensor a, b;
    Bad() : Module("Bad") {}
    void twice() {
      register_parameter("a", a, zeros({1}));
      register_parameter("a", b, zeros({1}));
    }
    void dotted() { register_parameter("x.y", a, zeros({1})); }
    void integer() { register_parameter("i", a, zeros({1}, DType::i64)); }
  };
  EXPECT_THAT(error_of([] { Bad().twice(); }), HasSubstr("Bad: 'a' is already registered"));
  EXPECT_THAT(error_of([] { Bad().dotted(); }), HasSubstr("invalid member name 'x.y'"));
  EXPECT_THAT(error_of([] { Bad().integer(); }), HasSubstr("parameter 'i' must be floating, got i64"));
  nn::Module plain("Plain");
  EXPECT_THAT(error_of([&] { plain(zeros({1})); }), HasSubstr("Plain: has no one-tensor forward"));
}

TEST(Module, TrainEvalReachesEveryModule) {
  Net net;
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.norm->is_training());
  net.train();
  EXPECT_TRUE(net.head->is_training());
}

TEST(Module, ToDtypeKeepsLeavesAndIntegerBuffers) {
  Net net;
  Tensor before = net.encoder->weight;
  net.to(DType::f64);
  EXPECT_EQ(net.encoder->weight.dtype(), DType::f64);
  EXPECT_TRUE(net.encoder->weight.requires_grad() && net.encoder->weight.is_leaf());
  EXPECT_FALSE(net.encoder->weight.same(before));  // the slot itself was replaced
  EXPECT_EQ(net.norm->running_mean.dtype(), DType::f64);
  EXPECT_EQ(net.norm->num_batches_tracked.dtype(), DType::i64);
  EXPECT_EQ(net.scratch.dtype(), DType::f64);
  // parameters() sees the new tensors.
  EXPECT_TRUE(net.parameters()[0].same(net.encoder->weight));
}

TEST(Module, ZeroGradAndFreeze) {
  Net net;
  Tensor loss = sum((*net.encoder)(ones({2, 4})));
  loss.backward();
  EXPECT_TRUE(net.encoder->weight.grad().defined());
  net.zero_grad();
  EXPECT_FALSE(net.encoder->weight.grad().defined());
  net.encoder->set_frozen(true);
  EXPECT_FALSE(net.encoder->weight.requires_grad());
  EXPECT_TRUE(net.head->weight.requires_grad());
}

TEST(Module, LoadStateDictCopiesInPlace) {
  Net a, b;
  { NoGradGuard g; for (auto& p : a.parameters()) p.copy_(randn(p.shape())); }
  Tensor handle = b.encoder->weight;  // an optimiser would hold this
  b.load_state_dict(a.state_dict());
  EXPECT_TRUE(equal(b.encoder->weight, a.encoder->weight));
  EXPECT_TRUE(b.encoder->weight.same(handle));
}

TEST(Module, LoadStateDictListsEveryProblem) {
  Net net;
  nn::StateDict sd = net.state_dict();
  sd.erase("norm.bias");
  sd["extra.weight"] = zeros({1});
  sd["head.weight"] = zeros({3, 2});
  sd["norm.num_batches_tracked"] = zeros({});  // floating where the model has i64
  std::string msg = error_of([&] { net.load_state_dict(sd); });
  EXPECT_THAT(msg, HasSubstr("Net.load_state_dict: 4 problem(s)"));
  EXPECT_THAT(msg, HasSubstr("missing key 'norm.bias'"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'extra.weight'"));
  EXPECT_THAT(msg, HasSubstr("'head.weight' has shape [3, 2] in the checkpoint but [2, 3] in the model"));
  EXPECT_THAT(msg, HasSubstr("'norm.num_batches_tracked' is f32 in the checkpoint but i64 in the model"));
  // Non-strict loads what matches but still refuses a wrong shape.
  sd.erase("norm.num_batches_tracked");
  EXPECT_THAT(error_of([&] { net.load_state_dict(sd, false); }), HasSubstr("'head.weight' has shape"));
  sd.erase("head.weight");
  sd["encoder.bias"] = full({3}, 5.0);
  net.load_state_dict(sd, /*strict=*/false);
  EXPECT_EQ(net.encoder->bias.to_vector<float>(), std::vector<float>({5, 5, 5}));
}

TEST(Module, LoadsACheckpointWrittenByPythonSafetensors) {
  Net net;
  net.load(fixture_path("nn/python_checkpoint.safetensors"));
  EXPECT_TRUE(allclose(net.encoder->weight, ramp({3, 4}, 0.0).to(DType::f32), 0, 0));
  EXPECT_TRUE(allclose(net.encoder->bias, ramp({3}, 10.0).to(DType::f32), 0, 0));
  EXPECT_TRUE(allclose(net.norm->running_var, ramp({3}, 50.0).to(DType::f32), 0, 0));
  EXPECT_EQ(net.norm->num_batches_tracked.item(), 7.0);
  EXPECT_EQ(net.head->weight.dtype(), DType::f32);  // converted from the file's f64
  EXPECT_TRUE(allclose(net.head->weight, ramp({2, 3}, 60.0).to(DType::f32), 0, 0));
  // And the loaded model computes with those values.
  Tensor y = (*net.encoder)(ones({1, 4}));
  EXPECT_FLOAT_EQ(y.to_vector<float>()[0], (-1.0f - 0.75f - 0.5f - 0.25f) + 9.0f);
}

TEST(Module, SaveLoadRoundTripThroughAFile) {
  Net a, b;
  { NoGradGuard g; for (auto& p : a.parameters()) p.copy_(randn(p.shape())); a.norm->running_mean.fill_(3); }
  auto path = std::filesystem::temp_directory_path() / "stackgrad_test_module.safetensors";
  a.save(path.string(), {{"epoch", "4"}});
  b.load(path.string());
  for (auto& [name, t] : a.state_dict()) EXPECT_TRUE(equal(t, b.state_dict().at(name))) << name;
  std::map<std::string, std::string> meta;
  load_safetensors(path.string(), &meta);
  EXPECT_EQ(meta.at("epoch"), "4");
  std::filesystem::remove(path);
  EXPECT_THAT(error_of([&] { b.load(path.string()); }), HasSubstr(path.string()));
}

TEST(Module, ReprShowsTheTree) {
  Net net;
  EXPECT_EQ(net.repr(),
            "Net(\n  (encoder): Affine(in=4, out=3)\n  (norm): Norm()\n  (head): Affine(in=3, out=2)\n)");
}
