// The experiment of the gradient-free paper: accuracy of linearized GCNs against the depth K of
// their filter, for a gradient-trained classifier (SGC's recipe) and the closed-form one, over
// the public split (seeds vary the training init only) and random class-balanced splits. Each
// filter propagates once for all depths and splits (FilterStream), so a sweep to K = 64 costs 64
// sparse products per filter, not one pass per depth.
//
//   algo::SweepConfig cfg;                       // sgc, ssgc, appnp; K = 2..64; 10 + 10 splits
//   auto runs = algo::run_depth_sweep(ds, S, X, cfg);
//   auto cells = algo::summarize(runs);          // mean ± std per (split kind, filter, K, method)
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "algorithms/gradient_free_gcn/gradient_free_gcn.h"
#include "datasets/planetoid.h"
#include "train/full_batch.h"

namespace stackgrad::algo {

struct SweepConfig {
  std::vector<Filter> filters = {Filter::sgc, Filter::ssgc, Filter::appnp};
  std::vector<int64_t> depths = {2, 4, 8, 16, 32, 64};
  FilterOptions filter;
  RidgeConfig ridge;
  DescentConfig descent;
  int64_t public_seeds = 10;   // gradient-trained runs on the stored split (one init each)
  int64_t random_splits = 10;  // random class-balanced splits (one run of each method per split)
  int64_t per_class = 20, val = 500, test = 1000;  // the random splits' sizes
  bool ridge_standardized = true;     // also fit the closed form on standardize_columns(X̄)
  bool descent_standardized = false;  // also train the gradient model on standardize_columns(X̄)
  uint64_t seed = 0;  // inits are seed + r; random split r draws from seed + 1000 + r
};

// One fitted classifier.
struct SweepRun {
  std::string split_kind;  // "public" or "random"
  int64_t split = 0;       // the random split's index (0 for the public one)
  uint64_t seed = 0;       // the init's seed (descent)
  Filter filter = Filter::sgc;
  int64_t depth = 0;
  std::string method;  // "descent", "descent_std", "ridge", "ridge_std"
  double val_accuracy = 0, test_accuracy = 0, train_accuracy = 0;
  double seconds = 0;            // the classifier's fit alone (filter excluded)
  double lambda = std::nan("");  // ridge: the relative λ chosen
  double grad_norm_init = std::nan(""), grad_norm_mean = std::nan("");  // descent
};

// Runs every (filter, depth, split, method). ds supplies labels and the stored split; S is the
// propagation matrix [N, N] (CSR) and X the preprocessed features [N, F]. The closed form is
// deterministic, so on the public split it runs once; descent runs public_seeds times there.
// on_run sees every run as it finishes (progress, JSON lines).
std::vector<SweepRun> run_depth_sweep(const data::GraphDataset& ds, const Tensor& S,
                                      const Tensor& X, const SweepConfig& config,
                                      const std::function<void(const SweepRun&)>& on_run = nullptr);

// How many runs run_depth_sweep does for `config`.
int64_t sweep_run_count(const SweepConfig& config);

// The runs of one (split kind, filter, depth, method), summarised.
struct SweepCell {
  std::string split_kind, method;
  Filter filter = Filter::sgc;
  int64_t depth = 0;
  train::MeanStd test_accuracy;
  double seconds = 0;                                                   // mean per run
  double grad_norm_init = std::nan(""), grad_norm_mean = std::nan("");  // means (descent)
};
// In order of first appearance in `runs`.
std::vector<SweepCell> summarize(const std::vector<SweepRun>& runs);
// The cell with these keys, or nullptr.
const SweepCell* find_cell(const std::vector<SweepCell>& cells, const std::string& split_kind,
                           Filter filter, int64_t depth, const std::string& method);

}  // namespace stackgrad::algo
