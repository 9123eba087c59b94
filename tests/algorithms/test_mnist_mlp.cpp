// The MNIST MLP proof, small: three epochs on 6000 training images already give > 85% on the
// first 2000 test images, and training resumed from a checkpoint written after epoch 1 continues with
// bit-identical losses (dropout masks, Adam moments, the cosine schedule, the shuffled order).
#include <gtest/gtest.h>

#include <filesystem>

#include "algorithms/mnist_mlp/model.h"
#include "datasets/datasets.h"
#include "nn/optim.h"
#include "train/classifier.h"

using namespace stackgrad;

namespace {

struct MnistData {
  Tensor x, y, test_x, test_y;
};

bool load(MnistData& s, int64_t limit) {
  try {
    data::ImageDataset tr = data::load_mnist(data::Split::train), te = data::load_mnist(data::Split::test);
    data::Normalize norm({0.1307}, {0.3081});
    s.x = norm(tr.images).narrow(0, 0, limit);
    s.y = tr.labels.narrow(0, 0, limit);
    s.test_x = norm(te.images).narrow(0, 0, 2000);
    s.test_y = te.labels.narrow(0, 0, 2000);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// One run with fresh objects: every step's loss, and the final test accuracy. `epochs_now`
// < `epochs` simulates an interrupted run (the schedule still spans `epochs`).
struct Trace {
  std::vector<double> losses;  // (epoch, step) in order
  double test_accuracy = 0;
};

Trace run(const MnistData& s, int64_t epochs, int64_t epochs_now, const std::string& save, const std::string& resume) {
  Generator gen(3);
  auto model = algo::make_mlp(64, 0.2, gen);
  data::DataLoader loader(s.x, s.y, {.batch_size = 100, .shuffle = true, .seed = 5, .prefetch = true});
  nn::Adam opt(model->parameters(), {.lr = 2e-3});
  nn::CosineAnnealingLR sched(opt, epochs * loader.size());
  Trace t;
  train::ClassifierRun r{.model = model, .optimizer = &opt, .scheduler = &sched, .loader = &loader,
                         .test_x = s.test_x, .test_y = s.test_y, .epochs = epochs_now,
                         .checkpoint_path = save};
  r.on_step = [&](int64_t, int64_t, double loss) { t.losses.push_back(loss); };
  if (!resume.empty()) train::resume_classifier(r, resume);
  t.test_accuracy = train::fit_classifier(r).last.test_accuracy;
  return t;
}

}  // namespace

TEST(MnistMlpProof, ThreeEpochsOnATenthOfTheDataBeat85Percent) {
  MnistData s;
  if (!load(s, 6000)) GTEST_SKIP() << "mnist not found under any data root";
  Trace t = run(s, 3, 3, "", "");
  EXPECT_EQ(t.losses.size(), 180u);
  EXPECT_GT(t.test_accuracy, 0.85);
  EXPECT_LT(t.losses.back(), t.losses.front() / 3);
}

TEST(MnistMlpProof, ResumedTrainingIsBitIdentical) {
  MnistData s;
  if (!load(s, 2000)) GTEST_SKIP() << "mnist not found under any data root";
  const std::string path = (std::filesystem::temp_directory_path() / "stackgrad_mlp_resume.safetensors").string();
  Trace whole = run(s, 3, 3, "", "");
  Trace first = run(s, 3, 1, path, "");  // stops after epoch 1, checkpoint written
  Trace rest = run(s, 3, 3, "", path);   // fresh objects, resumed at epoch 2
  std::filesystem::remove(path);
  ASSERT_EQ(whole.losses.size(), 60u);
  ASSERT_EQ(first.losses.size(), 20u);
  ASSERT_EQ(rest.losses.size(), 40u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(first.losses[i], whole.losses[i]) << "step " << i;
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(rest.losses[i], whole.losses[20 + i]) << "step " << 20 + i;
  EXPECT_EQ(rest.test_accuracy, whole.test_accuracy);
}
