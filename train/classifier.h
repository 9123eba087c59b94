// fit_classifier: the epoch loop every supervised classifier executable shares — mini-batches
// from a DataLoader, cross-entropy, backward, an optimiser step (and a per-step LR schedule),
// then test accuracy each epoch — with a progress line, JSON-lines metrics and a checkpoint
// after every epoch from which a later run resumes bit for bit.
//
//   train::ClassifierRun run{.model = net, .optimizer = &opt, .loader = &loader,
//                            .test_x = test.images, .test_y = test.labels, .epochs = 12};
//   train::FitResult r = train::fit_classifier(run);
//
// Resuming: build the same objects, call resume_classifier(run, path) (it restores model,
// optimiser, schedule, every Dropout's generator and sets run.start_epoch), then fit_classifier.
// The DataLoader's order of epoch e depends only on (seed, e) (datasets/dataloader.h), so it
// needs no saved state.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "datasets/dataloader.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/schedule.h"
#include "train/jsonl.h"

namespace stackgrad::train {

struct ClassifierRun {
  std::shared_ptr<nn::Module> model;
  nn::Optimizer* optimizer = nullptr;
  nn::LRScheduler* scheduler = nullptr;  // stepped after every optimiser step (optional)
  data::DataLoader* loader = nullptr;
  Tensor test_x, test_y;  // evaluated after every epoch (optional)
  int64_t epochs = 1;
  int64_t start_epoch = 0;       // set by resume_classifier
  std::string checkpoint_path;   // written after every epoch when non-empty
  MetricsWriter* metrics = nullptr;
  std::string label = "train";   // the progress line's label
  int64_t eval_batch = 1000;
  // Called after each step with (epoch, step within the epoch, loss): tests record losses.
  std::function<void(int64_t, int64_t, double)> on_step;
  // Called after each epoch with its statistics (executables print a line).
  std::function<void(const struct EpochResult&)> on_epoch;
};

struct EpochResult {
  int64_t epoch = 0;          // 0-based
  double train_loss = 0;      // mean over the epoch's batches
  double train_accuracy = 0;  // over the epoch's batches, in training mode
  double test_accuracy = 0;   // after the epoch (NaN without a test set)
  double seconds = 0;         // the epoch's wall time, evaluation included
};

struct FitResult {
  EpochResult last;      // the last epoch run
  double seconds = 0;    // wall time of this call
  int64_t epochs_run = 0;
};

FitResult fit_classifier(ClassifierRun& run);

// "epoch   3  train loss 0.1234  train acc 0.9612  test acc 0.9701  4.5 s" on stdout (flushed):
// what the executables pass as on_epoch.
void print_epoch(const EpochResult& e);

// Restores a checkpoint written by fit_classifier into the run's model, optimiser, schedule and
// Dropout generators, and sets run.start_epoch to the epoch after the saved one.
void resume_classifier(ClassifierRun& run, const std::string& path);

// Accuracy of argmax(model(x)) against y, in eval mode without gradients, in batches; restores
// the model's training mode afterwards.
double evaluate_accuracy(nn::Module& model, const Tensor& x, const Tensor& y, int64_t batch = 1000);

}  // namespace stackgrad::train
