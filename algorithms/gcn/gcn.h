// Kipf & Welling's two-layer graph convolutional network for semi-supervised node
// classification ("Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017):
//   Z = S̃ · dropout(ReLU(S̃ · dropout(X) · W0)) · W1,   S̃ = D̃^-1/2 (A + I) D̃^-1/2,
// trained with cross-entropy on the labelled nodes only, Adam, L2 on W0 alone, row-normalised
// features, Glorot init and no biases — their settings, the defaults of GcnConfig. Features may be
// dense or sparse CSR (bag-of-words rows are ~1% non-zero: the sparse first layer is ~20x cheaper).
// fit_gcn is the lower-level trainer for callers that choose their own split and targets
// (pseudo-labels in self- and co-training) and their own model-selection rule.
//
//   algo::GcnConfig cfg;                           // hidden 16, dropout 0.5, lr 0.01, 200 epochs
//   algo::GcnResult r = algo::train_gcn(data::load_planetoid("cora"), cfg, /*seed=*/0);
#pragma once

#include <functional>
#include <memory>

#include "datasets/planetoid.h"
#include "nn/dropout.h"
#include "nn/graph.h"
#include "train/full_batch.h"

namespace stackgrad::algo {

struct GcnConfig {
  int64_t hidden = 16;
  double dropout = 0.5;
  double lr = 0.01;
  double weight_decay = 5e-4;  // on the first layer's weight only, as Kipf & Welling...
  bool decay_all_layers = false;  // ...or on every weight (Li, Han and Wu's setting)
  int64_t epochs = 200;
  // Kipf's early stopping: stop once the validation loss exceeds the mean of the previous
  // `early_stopping` epochs' (0: train all epochs). Their code uses 10.
  int64_t early_stopping = 0;
  bool bias = false;
  // Scale each feature row to sum 1 (Kipf's preprocessing of bag-of-words features); turn off
  // for features that can be negative, such as a CSBM's Gaussian ones.
  bool row_normalize = true;
};

class Gcn : public nn::Module {
 public:
  Gcn(int64_t in, int64_t hidden, int64_t classes, double dropout, bool bias, Generator& gen);
  // adj: S̃ as CSR [N, N]; x: [N, F] dense or CSR. Returns the logits [N, classes]. For a CSR x
  // the input dropout acts on its stored values, which is the dense dropout's distribution (a
  // zero stays zero either way) without touching the zeros.
  Tensor forward(const Tensor& adj, const Tensor& x);
  std::shared_ptr<nn::GCNConv> conv1, conv2;
  std::shared_ptr<nn::Dropout> drop_in, drop_hidden;
};

struct GcnEpoch {
  int64_t epoch;
  double train_loss;  // the loss stepped on (training mode)
  double val_loss, train_accuracy, val_accuracy, test_accuracy;  // eval mode, after the step
};

struct GcnResult {
  double test_accuracy = 0, val_accuracy = 0;  // of the model after the last epoch trained
  int64_t epochs_trained = 0;
  double seconds = 0;  // training wall time (the normalisation of S̃ and X excluded)
};

// Trains a fresh GCN with parameters and dropout masks drawn from `seed` on the dataset's
// split (ds.train_idx, val_idx, test_idx). `on_epoch` sees every epoch's numbers.
GcnResult train_gcn(const data::GraphDataset& ds, const GcnConfig& cfg, uint64_t seed,
                    const std::function<void(const GcnEpoch&)>& on_epoch = nullptr);

// --- the lower-level trainer -------------------------------------------------------------------

struct GcnFit {
  std::vector<train::EpochRecord> trace;  // one record per epoch (train::fit_full_batch)
  // The eval-mode logits [N, classes] of the epoch that select_highest_train_accuracy(trace)
  // picks (the model one reports when there is no validation set), and of the epoch that
  // select_best_validation(trace) picks (undefined without validation nodes). With them a caller
  // can leave task.test_idx empty and score any node set afterwards, sparing a per-epoch test
  // evaluation.
  Tensor logits_at_highest_train_accuracy, logits_at_best_validation;
  double seconds = 0;
};

// Trains a fresh GCN (parameters and dropout masks from `seed`) on a prepared S̃ (`adj`, CSR) and
// features `x` (dense or CSR, already normalised as the caller wants: cfg.row_normalize is not
// applied here) towards task.train_targets (or the labels) of task.train_idx, for cfg.epochs
// epochs (cfg.early_stopping is not applied here).
GcnFit fit_gcn(const Tensor& adj, const Tensor& x, int64_t num_classes, const train::NodeTask& task,
               const GcnConfig& cfg, uint64_t seed,
               const std::function<void(const train::EpochRecord&)>& on_epoch = nullptr);

}  // namespace stackgrad::algo
