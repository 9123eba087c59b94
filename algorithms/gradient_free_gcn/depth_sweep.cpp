#include "algorithms/gradient_free_gcn/depth_sweep.h"

#include <algorithm>
#include <cmath>

#include "datasets/graph_split.h"
#include "engine/stackgrad.h"

namespace stackgrad::algo {

namespace {

struct NamedSplit {
  std::string kind;
  int64_t index;
  data::NodeSplit split;
};

std::vector<NamedSplit> make_splits(const data::GraphDataset& ds, const SweepConfig& config) {
  std::vector<NamedSplit> splits;
  if (config.public_seeds > 0)
    splits.push_back(
        {"public", 0, {.train_idx = ds.train_idx, .val_idx = ds.val_idx, .test_idx = ds.test_idx}});
  for (int64_t r = 0; r < config.random_splits; ++r) {
    Generator gen(config.seed + 1000 + uint64_t(r));
    splits.push_back({"random", r,
                      data::balanced_split(ds.labels, config.per_class,
                                           {.val = config.val, .test = config.test}, gen)});
  }
  return splits;
}

void check_config(const SweepConfig& config) {
  SG_CHECK(!config.filters.empty(), "run_depth_sweep: no filters");
  SG_CHECK(!config.depths.empty(), "run_depth_sweep: no depths");
  for (int64_t k : config.depths) SG_CHECK(k >= 0, "run_depth_sweep: depths must be >= 0, got ", k);
  SG_CHECK(config.public_seeds >= 0 && config.random_splits >= 0 &&
               config.public_seeds + config.random_splits > 0,
           "run_depth_sweep: need public seeds or random splits, got ", config.public_seeds,
           " and ", config.random_splits);
}

}  // namespace

int64_t sweep_run_count(const SweepConfig& config) {
  const int64_t ridge_methods = 1 + (config.ridge_standardized ? 1 : 0);
  const int64_t descent_methods = 1 + (config.descent_standardized ? 1 : 0);
  const int64_t per_depth =
      (config.public_seeds > 0 ? ridge_methods + descent_methods * config.public_seeds : 0) +
      config.random_splits * (ridge_methods + descent_methods);
  return int64_t(config.filters.size() * config.depths.size()) * per_depth;
}

std::vector<SweepRun> run_depth_sweep(const data::GraphDataset& ds, const Tensor& S,
                                      const Tensor& X, const SweepConfig& config,
                                      const std::function<void(const SweepRun&)>& on_run) {
  check_config(config);
  const std::vector<NamedSplit> splits = make_splits(ds, config);
  std::vector<int64_t> depths = config.depths;
  std::sort(depths.begin(), depths.end());
  depths.erase(std::unique(depths.begin(), depths.end()), depths.end());

  std::vector<SweepRun> runs;
  auto record = [&](SweepRun run) {
    if (on_run) on_run(run);
    runs.push_back(std::move(run));
  };
  for (Filter filter : config.filters) {
    FilterStream stream(filter, S, X, config.filter);
    for (int64_t depth : depths) {
      while (stream.depth() < depth) stream.step();
      const Tensor raw = stream.features();
      const Tensor standardized = (config.ridge_standardized || config.descent_standardized)
                                      ? standardize_columns(raw)
                                      : Tensor();
      for (const NamedSplit& s : splits) {
        const SweepRun base{
            .split_kind = s.kind, .split = s.index, .filter = filter, .depth = depth};
        auto ridge = [&](const Tensor& features, const char* method) {
          RidgeFit f = fit_ridge(features, ds.labels, s.split, config.ridge);
          SweepRun run = base;
          run.method = method;
          run.val_accuracy = f.val_accuracy, run.test_accuracy = f.test_accuracy,
          run.train_accuracy = f.train_accuracy;
          run.seconds = f.seconds, run.lambda = f.lambda;
          record(run);
        };
        auto descent = [&](const Tensor& features, const char* method, uint64_t seed) {
          DescentFit f = fit_descent(features, ds.labels, s.split, config.descent, seed);
          SweepRun run = base;
          run.method = method, run.seed = seed;
          run.val_accuracy = f.val_accuracy, run.test_accuracy = f.test_accuracy,
          run.train_accuracy = f.train_accuracy;
          run.seconds = f.seconds, run.grad_norm_init = f.grad_norm_init,
          run.grad_norm_mean = f.grad_norm_mean;
          record(run);
        };
        ridge(raw, "ridge");
        if (config.ridge_standardized) ridge(standardized, "ridge_std");
        // The public split varies the init only; a random split uses one init, its own index.
        const int64_t inits = s.kind == "public" ? config.public_seeds : 1;
        for (int64_t r = 0; r < inits; ++r) {
          const uint64_t seed = config.seed + uint64_t(s.kind == "public" ? r : s.index);
          descent(raw, "descent", seed);
          if (config.descent_standardized) descent(standardized, "descent_std", seed);
        }
      }
    }
  }
  return runs;
}

std::vector<SweepCell> summarize(const std::vector<SweepRun>& runs) {
  struct Group {
    SweepCell cell;
    std::vector<double> acc;
    double seconds = 0, g0 = 0, gm = 0;
  };
  std::vector<Group> groups;
  for (const SweepRun& r : runs) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return g.cell.split_kind == r.split_kind && g.cell.filter == r.filter &&
             g.cell.depth == r.depth && g.cell.method == r.method;
    });
    if (it == groups.end()) {
      groups.push_back({.cell = {.split_kind = r.split_kind,
                                 .method = r.method,
                                 .filter = r.filter,
                                 .depth = r.depth}});
      it = groups.end() - 1;
    }
    it->acc.push_back(r.test_accuracy);
    it->seconds += r.seconds, it->g0 += r.grad_norm_init, it->gm += r.grad_norm_mean;
  }
  std::vector<SweepCell> cells;
  for (Group& g : groups) {
    const double n = double(g.acc.size());
    g.cell.test_accuracy = train::mean_std(g.acc);
    g.cell.seconds = g.seconds / n;
    g.cell.grad_norm_init = g.g0 / n;  // NaN for the closed form, which has no gradient
    g.cell.grad_norm_mean = g.gm / n;
    cells.push_back(g.cell);
  }
  return cells;
}

const SweepCell* find_cell(const std::vector<SweepCell>& cells, const std::string& split_kind,
                           Filter filter, int64_t depth, const std::string& method) {
  for (const SweepCell& c : cells)
    if (c.split_kind == split_kind && c.filter == filter && c.depth == depth && c.method == method)
      return &c;
  return nullptr;
}

}  // namespace stackgrad::algo
