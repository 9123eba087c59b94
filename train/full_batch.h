// Full-batch training of a node classifier, the loop every semi-supervised graph method shares:
// each epoch one forward over all N nodes, cross-entropy on the labelled rows, one optimiser
// step, then a forward in eval mode whose loss and accuracy on the train/validation/test nodes
// are recorded. Papers differ in how they pick the model to report (best validation accuracy,
// highest training accuracy, lowest training loss); the trace lets a caller apply any of these
// rules after one run, without retraining.
//
//   train::NodeTask task{.labels = ds.labels, .train_idx = ds.train_idx, .test_idx = ds.test_idx};
//   auto trace = train::fit_full_batch(model, [&] { return model.forward(adj, x); }, opt, task);
//   double acc = train::select_lowest_train_loss(trace).test_accuracy;
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/core/tensor.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"

namespace stackgrad::train {

struct NodeTask {
  Tensor labels;         // i64 [N]: the true labels, used for every evaluation
  Tensor train_idx;      // i64 [L]: the nodes trained on
  // i64 [L]: what each training node is trained towards. Undefined: labels[train_idx]. Self- and
  // co-training put pseudo-labels here; accuracies on train_idx are measured against them.
  Tensor train_targets;
  Tensor val_idx, test_idx;  // i64, optional (undefined or empty: NaN in the records)
};

struct EpochRecord {
  int64_t epoch = 0;      // 0-based
  double step_loss = 0;   // the loss the optimiser stepped on (training mode, dropout on)
  double train_loss = 0;  // after the step, eval mode, on train_idx against the targets
  double train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  double test_accuracy = 0;
};

struct FullBatchOptions {
  int64_t epochs = 200;
  // Called after every epoch; returning false stops training (early stopping).
  std::function<bool(const EpochRecord&)> on_epoch;
};

// Trains `model` (whose logits [N, C] `forward` computes for all nodes) with `optimizer`;
// returns one record per epoch run. The model is left in eval mode after the last epoch.
std::vector<EpochRecord> fit_full_batch(nn::Module& model, const std::function<Tensor()>& forward,
                                        nn::Optimizer& optimizer, const NodeTask& task,
                                        const FullBatchOptions& options = {});

// Model selection over a trace (non-empty). Each returns the chosen epoch's record.
//
// Highest validation accuracy; ties go to the lower validation loss, then the earlier epoch.
EpochRecord select_best_validation(const std::vector<EpochRecord>& trace);
// Highest training accuracy (eval mode); ties go to the lower training loss, then the earlier
// epoch. The "no validation set" rule of Li, Han and Wu (AAAI 2018).
EpochRecord select_highest_train_accuracy(const std::vector<EpochRecord>& trace);
// Lowest training loss (eval mode) among the epochs checked: every `every`-th epoch and each of
// the last `last_fraction` of the trace. The rule of Li et al. (CVPR 2019) without validation.
EpochRecord select_lowest_train_loss(const std::vector<EpochRecord>& trace, int64_t every = 20,
                                     double last_fraction = 0.1);

// Mean and population standard deviation, the "81.2 ± 0.4" of every table.
struct MeanStd {
  double mean = 0, std = 0;
  int64_t count = 0;
};
MeanStd mean_std(const std::vector<double>& values);

}  // namespace stackgrad::train
