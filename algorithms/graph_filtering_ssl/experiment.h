// The comparison of Li et al. (CVPR 2019), Table 3: seven methods on random class-balanced splits
// with 4 or 20 labels per class, no validation set, test on every other labelled node. This file
// holds the method list, the paper's filter strengths per label count, and one (method, split)
// run; main.cpp loops over splits and prints the table.
//
//   algo::Prepared p = algo::prepare(ds);                        // S̃, features (dense and CSR)
//   algo::Setting s{.labels_per_class = 20, .strengths = *algo::paper_strengths(20)};
//   algo::MethodRun r = algo::run_method(algo::Method::glp_ar, p, split, s, cfg, seed, cache);
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "algorithms/graph_filtering_ssl/models.h"

namespace stackgrad::algo {

// gcn is the authors' GCN baseline: IGCN with S̃ in each layer (RNM, k = 1), their weight decay on
// both layers. gcn_kipf is algorithms/gcn's train_gcn (Kipf's code: L2 on the first layer only,
// dense features), kept as a cross-check; it costs about ten times as much per run.
enum class Method { lp, mlp, gcn, glp_rnm, glp_ar, igcn_rnm, igcn_ar, gcn_kipf };

// The table's methods in the paper's order (gcn_kipf is not among them).
const std::vector<Method>& all_methods();
// "LP", "MLP", "GCN", "GLP-RNM", "GLP-AR", "IGCN-RNM", "IGCN-AR", "GCN-Kipf".
std::string method_name(Method m);
// Accepts the names above in any case ("glp-ar"); Error naming the value otherwise.
Method parse_method(const std::string& name);
// Methods that need node features (all but LP).
bool needs_features(Method m);

// Filter strengths for one label count. IGCN's are per layer: each of its two layers applies
// S̃^igcn_rnm_k or the AR filter with igcn_ar_alpha, so the network as a whole filters with about
// twice that (the paper's k and α, halved, as in the authors' configuration files).
struct Strengths {
  int64_t glp_rnm_k = 5;
  double glp_ar_alpha = 10;
  int64_t igcn_rnm_k = 2;
  double igcn_ar_alpha = 5;
};
// The paper's values: 20 labels per class {5, 10, 2, 5}, 4 labels per class {10, 20, 5, 10};
// none for other label counts.
std::optional<Strengths> paper_strengths(int64_t labels_per_class);

struct Setting {
  int64_t labels_per_class = 20;
  Strengths strengths;
  double lp_alpha = 100;  // LP: AR filter strength on the labels
  ArSolver ar_solver = ArSolver::series;
};

// What every method shares, computed once per dataset.
struct Prepared {
  data::GraphDataset ds;
  Tensor S;  // S̃ as CSR [N, N]
  Tensor x;  // dense f32 [N, F] features, row-normalised for bag-of-words data (undefined without
             // features)
  Tensor x_igcn;  // IGCN's input: x as CSR when under 10% of it is nonzero (bag of words), else x
  bool row_normalized = false;
};
// row_normalize: scale feature rows to sum 1 (the authors' preprocessing of bag-of-words
// features; off for features that can be negative, such as a CSBM's).
Prepared prepare(const data::GraphDataset& ds, bool row_normalize);

// GLP's filtered features depend on the filter only, not on the split: computed once per
// (filter) and reused for every split; `seconds` is what filtering took.
struct FilteredFeatures {
  Tensor x;
  double seconds = 0;
};
using FilterCache = std::map<std::string, FilteredFeatures>;

struct MethodRun {
  double test_accuracy = 0;
  double seconds = 0;         // filtering (GLP: the cached filter's time; LP: its own) + training
  double filter_seconds = 0;  // the filtering part of `seconds`
  int64_t epoch = -1;         // selected epoch (-1 for LP, which has none)
  std::string filter;         // the filter used, described
};

// One run of `method` on `split`. `cfg` holds the network settings (the GCN baseline uses the
// same hidden size, dropout, learning rate, weight decay and epochs through GcnConfig).
// `on_epoch` sees every epoch of the trained methods (LP has none).
MethodRun run_method(Method method, const Prepared& p, const data::NodeSplit& split,
                     const Setting& setting, const NetConfig& cfg, uint64_t seed,
                     FilterCache& cache, const EpochCallback& on_epoch = nullptr);

}  // namespace stackgrad::algo
