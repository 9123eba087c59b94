// The Fashion-MNIST CNN proof, small: one epoch on 4000 training images (with flips) gives
// > 70% on the first 2000 test images, and the model's shapes are LeNet's.
#include <gtest/gtest.h>

#include "algorithms/fashion_lenet/model.h"
#include "datasets/datasets.h"
#include "nn/optim.h"
#include "train/classifier.h"

using namespace stackgrad;

TEST(FashionLenetProof, ShapesAndParameterCount) {
  Generator gen(0);
  auto model = algo::make_lenet(0.5, gen);
  Tensor y = (*model)(randn({3, 1, 28, 28}, gen));
  EXPECT_EQ(y.shape(), Shape({3, 10}));
  // conv 16*25+16, bn 2*16, conv 32*16*25+32, bn 2*32, fc 1568*128+128, fc 128*10+10
  EXPECT_EQ(model->num_parameters(), 416 + 32 + 12832 + 64 + 200832 + 1290);
}

TEST(FashionLenetProof, OneEpochOnFourThousandImagesBeats70Percent) {
  data::ImageDataset tr, te;
  try {
    tr = data::load_fashion_mnist(data::Split::train);
    te = data::load_fashion_mnist(data::Split::test);
  } catch (const Error& e) {
    GTEST_SKIP() << "fashion-mnist not found (Debian package dataset-fashion-mnist): " << e.what();
  }
  data::Normalize norm({0.2860}, {0.3530});
  Generator gen(1);
  auto model = algo::make_lenet(0.5, gen);
  data::DataLoader loader(norm(tr.images).narrow(0, 0, 4000), tr.labels.narrow(0, 0, 4000),
                          {.batch_size = 64, .seed = 2, .transform = data::RandomHorizontalFlip(0.5)});
  nn::AdamW opt(model->parameters(), {.lr = 2e-3, .weight_decay = 1e-4});
  train::ClassifierRun run{.model = model, .optimizer = &opt, .loader = &loader,
                           .test_x = norm(te.images).narrow(0, 0, 2000),
                           .test_y = te.labels.narrow(0, 0, 2000), .epochs = 1};
  train::FitResult r = train::fit_classifier(run);
  EXPECT_EQ(r.epochs_run, 1);
  EXPECT_GT(r.last.test_accuracy, 0.70);
  EXPECT_GT(r.last.train_accuracy, 0.5);
}
