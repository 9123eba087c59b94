// DSGC's semi-supervised learner and the GCN baseline it is compared with. The learner is a
// two-layer MLP on fixed, pre-filtered rows (X, X F, G X or G X F): the filter does the graph
// work once per dataset, the MLP is trained once per split. Model selection as in the paper's
// code: the test accuracy of the epoch with the best validation accuracy.
//
//   algo::MlpConfig cfg;                                  // hidden 64, dropout 0.2, Adam lr 0.1,
//   200 epochs data::NodeSplit split = data::balanced_split(ds.labels, 20, {.val = 500, .test =
//   -1}, gen); algo::SplitResult r = algo::train_mlp(GXF, ds.labels, split, ds.num_classes, cfg,
//   /*seed=*/0);
#pragma once

#include <cstdint>

#include "datasets/graph_split.h"
#include "engine/core/tensor.h"

namespace stackgrad::algo {

struct MlpConfig {
  int64_t hidden = 64;
  double dropout = 0.2;        // on the input and on the hidden layer
  double lr = 0.1;             // Adam
  double weight_decay = 5e-4;  // L2 on the first layer's weight (Kipf's convention)
  int64_t epochs = 200;
};

struct SplitResult {
  double test_accuracy = 0;  // at the selected epoch
  double val_accuracy = 0;   // at the selected epoch
  int64_t best_epoch = 0;    // 0-based
  double seconds = 0;        // training and evaluation
};

// Trains a fresh MLP (parameters and dropout masks drawn from `seed`) on the rows of features
// [N, d] (dense) with split.train_idx as labelled nodes. Only the rows the loop needs go through
// the network: train and validation rows every epoch, test rows whenever the validation
// accuracy improves (the MLP treats rows independently, so this equals a full-batch run).
SplitResult train_mlp(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                      int64_t num_classes, const MlpConfig& cfg, uint64_t seed);

// Kipf and Welling's GCN, S̃ dropout(ReLU(S̃ dropout(X) W0)) W1 + b, with X kept sparse (CSR) so
// the first layer costs nnz(X) * hidden; dropout on X drops its stored entries. Same settings
// struct as the MLP; the same best-validation selection.
SplitResult train_gcn_baseline(const Tensor& S, const Tensor& features_csr, const Tensor& labels,
                               const data::NodeSplit& split, int64_t num_classes,
                               const MlpConfig& cfg, uint64_t seed);

}  // namespace stackgrad::algo
