// Checkpoints: resuming mid-training continues with bit-identical losses (model, Adam state,
// schedule, EMA and the dropout and shuffling generators all restored), values round-trip
// exactly, and a missing part is an error that names it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "optim_fixtures.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using testing::nn_fixture;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("sg_checkpoint_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// A tiny f32 regression model with dropout on its input.
struct Net : nn::Module {
  Tensor W, b;
  Net() : Module("Net") {
    register_parameter("W", W, load_npy(nn_fixture("optim/W0.npy")).to(DType::f32));
    register_parameter("b", b, load_npy(nn_fixture("optim/b0.npy")).to(DType::f32));
  }
  Tensor loss(const Tensor& x, const Tensor& y, Generator& gen) const {
    Tensor h = dropout(x, 0.3, is_training(), gen);
    return mean(square(tanh(matmul(h, W.t()) + b) - y));
  }
};

// Everything a training run holds, built fresh.
struct TrainingRun {
  std::shared_ptr<Net> net = std::make_shared<Net>();
  nn::Adam opt{net->parameters(), {.lr = 0.05, .weight_decay = 0.01}};
  nn::LinearWarmup sched{opt, 2, std::make_unique<nn::StepLR>(opt, 2, 0.5), 0.25};
  nn::ModelEma ema{*net, 0.9, {.warmup = true}};
  Generator dropout_gen{11}, data_gen{22};
  Tensor X = load_npy(nn_fixture("optim/X.npy")).to(DType::f32);
  Tensor Y = load_npy(nn_fixture("optim/Y.npy")).to(DType::f32);

  // One step on a batch of 4 rows drawn by a shuffle; returns the loss.
  double step() {
    Tensor batch = randperm(X.size(0), data_gen).narrow(0, 0, 4);
    opt.zero_grad();
    Tensor loss = net->loss(index_select(X, 0, batch), index_select(Y, 0, batch), dropout_gen);
    loss.backward();
    nn::clip_grad_norm_(net->parameters(), 0.5);
    opt.step();
    sched.step();
    ema.update();
    return loss.item();
  }

  nn::Checkpoint checkpoint() {
    nn::Checkpoint ck;
    ck.model(net.get()).optimizer(&opt).scheduler(&sched).ema(&ema);
    ck.generator("dropout", &dropout_gen).generator("data", &data_gen);
    return ck;
  }
};

TEST(Checkpoint, ResumeGivesBitIdenticalLosses) {
  TrainingRun straight;
  std::vector<double> expected;
  for (int s = 0; s < 6; ++s) expected.push_back(straight.step());

  std::string path = temp_path("resume.safetensors");
  {
    TrainingRun first;
    for (int s = 0; s < 3; ++s) EXPECT_EQ(first.step(), expected[s]);
    first.checkpoint().set("step", 3).set("epoch", 0).save(path);
  }
  TrainingRun resumed;  // fresh objects: initial weights, new generators, epoch 0
  nn::Checkpoint ck = resumed.checkpoint();
  ck.load(path);
  EXPECT_EQ(ck.get_int("step"), 3);
  EXPECT_EQ(resumed.sched.last_epoch(), 3);
  for (int s = 3; s < 6; ++s) EXPECT_EQ(resumed.step(), expected[s]) << "step " << s;
  EXPECT_TRUE(equal(resumed.net->W, straight.net->W));
  EXPECT_TRUE(equal(resumed.ema.shadow().at("W"), straight.ema.shadow().at("W")));
  EXPECT_EQ(resumed.opt.lr(0), straight.opt.lr(0));
  std::filesystem::remove(path);
}

TEST(Checkpoint, WithoutTheGeneratorsTheLossesDiffer) {
  // The control for the test above: the generators' state is what makes the resume exact.
  TrainingRun straight;
  std::vector<double> expected;
  for (int s = 0; s < 4; ++s) expected.push_back(straight.step());
  std::string path = temp_path("nogen.safetensors");
  {
    TrainingRun first;
    for (int s = 0; s < 3; ++s) first.step();
    nn::Checkpoint ck;
    ck.model(first.net.get()).optimizer(&first.opt).scheduler(&first.sched).save(path);
  }
  TrainingRun resumed;
  nn::Checkpoint ck;
  ck.model(resumed.net.get()).optimizer(&resumed.opt).scheduler(&resumed.sched).load(path);
  EXPECT_NE(resumed.step(), expected[3]);
  std::filesystem::remove(path);
}

TEST(Checkpoint, ValuesRoundTripExactly) {
  std::string path = temp_path("values.safetensors");
  Generator gen(5);
  gen.advance(1234);
  nn::Checkpoint out;
  out.generator("g", &gen).set("epoch", 7).set("best", 0.1 + 0.2).set("note", "lr sweep");
  out.save(path);
  Generator back(0);
  nn::Checkpoint in;
  in.generator("g", &back).load(path);
  EXPECT_EQ(back.seed(), 5u);
  EXPECT_EQ(back.offset(), 1234u);
  EXPECT_EQ(in.get_int("epoch"), 7);
  EXPECT_EQ(in.get_double("best"), 0.1 + 0.2);
  EXPECT_EQ(in.get("note"), "lr sweep");
  EXPECT_THAT(error_of([&] { in.get("missing"); }),
              HasSubstr("Checkpoint.get: no value 'missing'"));
  EXPECT_THAT(error_of([&] { in.get_int("note"); }),
              HasSubstr("Checkpoint.get_int: 'note' = 'lr sweep' is not an integer"));
  std::filesystem::remove(path);
}

TEST(Checkpoint, MissingPartsAreNamed) {
  std::string path = temp_path("parts.safetensors");
  TrainingRun run;
  nn::Checkpoint only_model;
  only_model.model(run.net.get()).save(path);

  TrainingRun fresh;
  EXPECT_THAT(error_of([&] { fresh.checkpoint().load(path); }),
              HasSubstr("has no optimizer state ('optim.*' tensors)"));
  nn::Checkpoint with_gen;
  with_gen.model(fresh.net.get()).generator("dropout", &fresh.dropout_gen);
  EXPECT_THAT(error_of([&] { with_gen.load(path); }),
              HasSubstr("has no state for generator 'dropout'"));

  // Another model's tensors: the model's own error, prefixed with the file.
  struct Other : nn::Module {
    Tensor v;
    Other() : Module("Other") { register_parameter("v", v, zeros({2})); }
  };
  auto other = std::make_shared<Other>();
  nn::Checkpoint other_ck;
  other_ck.model(other.get()).save(path);
  nn::Checkpoint into_net;
  into_net.model(fresh.net.get());
  std::string msg = error_of([&] { into_net.load(path); });
  EXPECT_THAT(msg, HasSubstr("Checkpoint.load: " + path + ": Net.load_state_dict: 3 problem(s)"));
  EXPECT_THAT(msg, HasSubstr("missing key 'W'"));

  run.net->save(path);  // a plain model file, not a checkpoint
  nn::Checkpoint any;
  any.model(fresh.net.get());
  EXPECT_THAT(error_of([&] { any.load(path); }),
              HasSubstr("is not a stackgrad checkpoint (metadata 'format' is missing"));
  EXPECT_THAT(error_of([&] { nn::Checkpoint().save(path); }),
              HasSubstr("nothing registered to save"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace stackgrad
