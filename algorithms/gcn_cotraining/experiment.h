// One random split of the paper's experiment: the seven methods of its tables (LP, GCN+V, GCN−V,
// co-training, self-training, union, intersection) on the same labelled nodes, and the
// over-smoothing study (deeper GCNs, and logistic regression on S̃^k X for growing k).
//
//   algo::CotrainingGraph g = algo::prepare_graph(ds, /*row_normalize=*/true);
//   algo::ParWalks walks(ds.edges, ds.num_nodes);
//   algo::SplitOutcome o = algo::run_split(g, walks, split, algo::CotrainingConfig{}, seed);
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "algorithms/gcn/gcn.h"
#include "algorithms/gcn_cotraining/cotraining.h"
#include "algorithms/gcn_cotraining/parwalks.h"
#include "datasets/graph_split.h"

namespace stackgrad::algo {

// The graph in the form every GCN of an experiment reuses: S̃, the features (CSR when they are
// mostly zeros, as bag-of-words are), labels and sizes.
struct CotrainingGraph {
  Tensor adj;       // S̃ = D̃^-1/2 (A + I) D̃^-1/2, CSR f32
  Tensor features;  // [N, F], row-normalised if asked; CSR when under 10% non-zero
  Tensor labels;    // i64 [N]
  int64_t num_nodes = 0, num_edges = 0, num_classes = 0;
};
CotrainingGraph prepare_graph(const data::GraphDataset& ds, bool row_normalize);

struct CotrainingConfig {
  GcnConfig gcn = [] {
    GcnConfig c;
    c.decay_all_layers = true;  // Li, Han and Wu: 5e-4 on every weight
    return c;
  }();
  double budget_factor = 3.0;  // t_k = floor(budget_factor · η · n_k / n_L)
};

enum class Method {
  lp,
  gcn_with_validation,
  gcn_without_validation,
  cotraining,
  self_training,
  union_,
  intersection
};
inline constexpr std::array<Method, 7> kMethods = {
    Method::lp,          Method::gcn_with_validation, Method::gcn_without_validation,
    Method::cotraining,  Method::self_training,       Method::union_,
    Method::intersection};
const char* method_name(Method m);  // "LP", "GCN+V", "GCN-V", "Co-training", ...

struct SplitOutcome {
  // Test accuracy per method (index: position in kMethods). The test set is every labelled node
  // outside the training set, for every method; GCN+V's is that minus its 500 validation nodes.
  std::array<double, 7> accuracy{};
  // Pseudo-labels added by co-training, self-training, union, intersection and how many are right.
  std::array<AddedStats, 4> added{};
  LabelBudget budget;
  int64_t cg_iterations = 0;
  double seconds = 0;
};

// Runs every method on `split` (train_idx labelled; val_idx GCN+V's validation set; test_idx the
// rest). GCN runs draw their parameters from seed, seed + 1, ... .
SplitOutcome run_split(const CotrainingGraph& g, const ParWalks& walks,
                       const data::NodeSplit& split, const CotrainingConfig& cfg, uint64_t seed);

// --- over-smoothing ------------------------------------------------------------------------------

// A GCN with `layers` graph convolutions (hidden width `hidden`, ReLU and dropout between them):
// layers = 1 is softmax(S̃ X W), 2 is Kipf's model. Test accuracy of the epoch with the best
// validation accuracy, training on split.train_idx.
double deep_gcn_accuracy(const CotrainingGraph& g, const data::NodeSplit& split, int64_t layers,
                         const GcnConfig& cfg, uint64_t seed);

// Logistic regression (one linear layer, Adam, cfg.lr / weight_decay / epochs) on the fixed
// smoothed features S̃^k X (dense [N, F]), best-validation test accuracy.
double smoothed_logreg_accuracy(const Tensor& smoothed, const Tensor& labels, int64_t num_classes,
                                const data::NodeSplit& split, const GcnConfig& cfg, uint64_t seed);

}  // namespace stackgrad::algo
