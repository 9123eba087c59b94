// The trained models of "Label Efficient Semi-Supervised Learning via Graph Filtering" (Li et al.,
// CVPR 2019) and their shared training rule:
//   MLP   Z = drop(ReLU(drop(X) W1)) W2 on the labelled rows only (the classifier of GLP);
//   GLP   the same MLP on X̄ = G X, filtered once before training;
//   IGCN  Z = G' drop(ReLU(G' drop(X) W1)) W2, a GCN whose per-layer filter G' is S̃^k' (RNM)
//         or (I + α' L̃)^-1 (AR) instead of S̃;
// all with no biases, Glorot weights, Adam with L2 on every weight (the authors' code), and no
// validation set: the model reported is the one with the lowest training loss among the epochs
// checked (every 20th and the last 10%), train::select_lowest_train_loss's rule.
//
//   algo::NetConfig cfg;                                    // hidden 16, dropout 0.5, 200 epochs
//   auto glp = algo::train_glp(apply_filter(S, X, Filter::rnm(5)), ds.labels, split, C, cfg, seed);
//   auto igcn = algo::train_igcn(S, dense_to_csr(X), ds.labels, split, C, Filter::rnm(2), cfg,
//   seed);
#pragma once

#include <functional>
#include <vector>

#include "algorithms/gcn/gcn.h"
#include "algorithms/graph_filtering_ssl/filters.h"
#include "datasets/graph_split.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "train/full_batch.h"

namespace stackgrad::algo {

struct NetConfig {
  int64_t hidden = 16;
  double dropout = 0.5;  // at the input of both layers
  double lr = 0.01;
  double weight_decay =
      5e-4;  // Adam's L2 term on both weights (the authors' weight_decay * l2_loss)
  int64_t epochs = 200;
  // Model selection: the lowest eval-mode training loss among every `check_every`-th epoch and
  // the last `check_last_fraction` of them.
  int64_t check_every = 20;
  double check_last_fraction = 0.1;
};

// Two layers without biases: Z = F(drop(ReLU(F(drop(X) W1))) W2) with F the layer filter (the
// identity for MLP and GLP). X may be dense or CSR (bag-of-words features are ~1% nonzero: the
// first product is then a sparse one, and dropout touches only the nonzeros, which is the same
// in distribution as dense dropout since zeros stay zero).
class FilterNet : public nn::Module {
 public:
  FilterNet(int64_t in, int64_t hidden, int64_t classes, double dropout, Filter layer_filter,
            Generator& gen);
  // S: S̃ as CSR [R, R] (unused, may be undefined, when the layer filter is none); x [R, in].
  // Returns the logits [R, classes].
  Tensor forward(const Tensor& S, const Tensor& x);

  Tensor w1, w2;  // [in, hidden], [hidden, classes], Glorot-uniform
  Filter layer_filter;
  double dropout;

 private:
  Generator dropout_gen_;
};

// Whether select_lowest_train_loss(trace, every, last_fraction) looks at `epoch` (0-based) of a
// trace of `epochs` records; the loops below evaluate only these epochs.
bool is_checked_epoch(int64_t epoch, int64_t epochs, int64_t every, double last_fraction);

struct SelectedRun {
  double test_accuracy = 0;               // of the selected epoch's model
  int64_t epoch = 0;                      // the selected epoch (0-based)
  double train_loss = 0;                  // its eval-mode training loss
  double seconds = 0;                     // training wall time (filtering done before excluded)
  std::vector<train::EpochRecord> trace;  // every epoch; train_loss is NaN where unchecked
};

using EpochCallback = std::function<void(const train::EpochRecord&)>;

// Trains `model` for cfg.epochs Adam steps on the loss of `train_logits()` against `train_y`,
// evaluates (eval mode) the training loss at the checked epochs only, keeps a copy of the
// parameters whenever a checked loss beats every earlier one, and finally measures the test
// accuracy of that copy: the test set is evaluated once per run, yet the result is exactly
// select_lowest_train_loss over the full trace with test accuracy at every epoch.
SelectedRun fit_lowest_train_loss(nn::Module& model, nn::Optimizer& opt,
                                  const std::function<Tensor()>& train_logits,
                                  const Tensor& train_y, const std::function<Tensor()>& test_logits,
                                  const Tensor& test_y, const NetConfig& cfg,
                                  const EpochCallback& on_epoch = nullptr);

// GLP (or MLP, on unfiltered features): the MLP trained on features[train_idx] only, tested on
// features[test_idx]. features: dense f32 [N, F], already filtered.
SelectedRun train_glp(const Tensor& features, const Tensor& labels, const data::NodeSplit& split,
                      int64_t num_classes, const NetConfig& cfg, uint64_t seed,
                      const EpochCallback& on_epoch = nullptr);

// IGCN with `layer_filter` in each of its two layers. S: S̃ CSR [N, N]; features dense or CSR [N,
// F].
SelectedRun train_igcn(const Tensor& S, const Tensor& features, const Tensor& labels,
                       const data::NodeSplit& split, int64_t num_classes,
                       const Filter& layer_filter, const NetConfig& cfg, uint64_t seed,
                       const EpochCallback& on_epoch = nullptr);

// The GCN baseline: Kipf and Welling's model as algorithms/gcn trains it (train_gcn), on `split`,
// with the same selection rule. train_gcn reports its eval-mode loss on the validation nodes, so
// the training nodes are passed as its validation set to read the eval-mode training loss.
SelectedRun train_gcn_lowest_loss(const data::GraphDataset& ds, const data::NodeSplit& split,
                                  const GcnConfig& cfg, int64_t check_every,
                                  double check_last_fraction, uint64_t seed,
                                  const EpochCallback& on_epoch = nullptr);

}  // namespace stackgrad::algo
