// gcn_cotraining: Li, Han and Wu (AAAI 2018). With very few labels, expand the label set by
// co-training with partially absorbing random walks, by self-training, or by their union or
// intersection, then train a GCN without any validation set. Prints the paper's table (methods x
// label rates, mean ± std over --repeats random splits) and, with --experiment oversmoothing, the
// accuracy of deeper GCNs and of logistic regression on S̃^k X.
//   ./build/gcn_cotraining --dataset cora --repeats 20
//   ./build/gcn_cotraining --dataset cora --experiment oversmoothing --plot-dir plots
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>

#include "algorithms/gcn_cotraining/experiment.h"
#include "datasets/datasets.h"
#include "engine/stackgrad.h"
#include "train/train.h"

using namespace stackgrad;

namespace {

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", 100 * rate);
  return buf;
}

data::GraphDataset load(const train::CommonFlags& common) {
  if (common.dataset != "synthetic") return data::load_planetoid(common.dataset, common.data_dir);
  Generator g(common.seed + 1000003);
  return data::csbm(2000, 4, 64, 0.01, 0.002, 1.5, g);  // gcn's synthetic graph
}

// The table of one dataset: methods x label rates.
void run_table(const data::GraphDataset& ds, const train::CommonFlags& common,
               const std::vector<double>& rates, int64_t validation, algo::CotrainingConfig cfg,
               const algo::ParWalksOptions& walk_options, train::MetricsWriter& metrics,
               const std::string& table_path) {
  const bool features = ds.has_features();
  if (!features)
    std::printf(
        "note: %s has no node features in this data folder, so only LP (which needs none) runs; "
        "the GCN "
        "rows are n/a. %s\n",
        ds.name.c_str(), "scripts/get-data.sh says where to get them.");
  algo::CotrainingGraph g;
  if (features) g = algo::prepare_graph(ds, /*row_normalize=*/common.dataset != "synthetic");
  const algo::ParWalks walks(ds.edges, ds.num_nodes, walk_options);
  std::printf("%s: %lld nodes, %lld edges, %lld classes, %lld connected components\n",
              ds.name.c_str(), (long long)ds.num_nodes, (long long)ds.num_edges(),
              (long long)ds.num_classes, (long long)walks.num_components());

  // Splits outside, rates inside: a run stopped early has the same number of splits at every rate
  // (and the JSON lines hold every finished split).
  std::map<std::pair<size_t, size_t>, std::vector<double>> acc;  // (rate, method) -> per split
  std::vector<double> seconds(rates.size(), 0.0);
  train::ProgressLine line(ds.name, int64_t(common.repeats) * int64_t(rates.size()), "split");
  for (int s = 0; s < common.repeats; ++s) {
    for (size_t r = 0; r < rates.size(); ++r) {
      // The split depends on (seed, rate, s) only, so a run over some of the rates draws the
      // same splits as a run over all of them.
      Generator gen(common.seed * 1000003 + 7919 * uint64_t(std::llround(rates[r] * 1e6)) +
                    uint64_t(s));
      data::NodeSplit split =
          data::balanced_split_rate(ds.labels, rates[r], {.val = validation, .test = -1}, gen);
      const uint64_t seed = common.seed + 100 * uint64_t(s);
      algo::SplitOutcome o;
      if (features) {
        o = algo::run_split(g, walks, split, cfg, seed);
      } else {
        const Tensor y = index_select(ds.labels, 0, split.train_idx);
        o.accuracy[0] = train::accuracy(algo::parwalks_predict(walks.columns(split.train_idx), y),
                                        ds.labels, cat({split.val_idx, split.test_idx}));
        for (size_t m = 1; m < o.accuracy.size(); ++m) o.accuracy[m] = std::nan("");
        o.budget = algo::label_budget(ds.num_nodes, ds.num_edges(),
                                      algo::count_per_class(y, ds.num_classes));
      }
      seconds[r] += o.seconds;
      for (size_t m = 0; m < algo::kMethods.size(); ++m) {
        acc[{r, m}].push_back(o.accuracy[m]);
        metrics.write({{"dataset", ds.name},
                       {"rate", rates[r]},
                       {"split", s},
                       {"labelled", split.train_idx.numel()},
                       {"method", algo::method_name(algo::kMethods[m])},
                       {"test_accuracy", o.accuracy[m]}});
      }
      const char* names[] = {"cotraining", "self_training", "union", "intersection"};
      for (size_t i = 0; i < o.added.size(); ++i)
        metrics.write({{"dataset", ds.name},
                       {"rate", rates[r]},
                       {"split", s},
                       {"expansion", names[i]},
                       {"added", o.added[i].added},
                       {"added_correct", o.added[i].correct},
                       {"eta", o.budget.eta},
                       {"cg_iterations", o.cg_iterations}});
      if (s == 0)
        std::printf(
            "%s %s: %lld labelled, d̄ = %.2f, η = %.1f, %lld pseudo-labels from co-training (%lld "
            "right), "
            "%lld from self-training (%lld right); CG %lld steps\n",
            ds.name.c_str(), percent(rates[r]).c_str(), (long long)split.train_idx.numel(),
            o.budget.average_degree, o.budget.eta, (long long)o.added[0].added,
            (long long)o.added[0].correct, (long long)o.added[1].added,
            (long long)o.added[1].correct, (long long)o.cg_iterations);
      line.update(int64_t(s) * int64_t(rates.size()) + int64_t(r) + 1,
                  {{"lp", acc[{r, 0}].back()}, {"union", acc[{r, 5}].back()}});
    }
    std::fflush(stdout);
  }
  line.finish();
  for (size_t r = 0; r < rates.size(); ++r)
    std::printf("%s %s: %.1f s per split\n", ds.name.c_str(), percent(rates[r]).c_str(),
                seconds[r] / common.repeats);

  // The table: one row per method, mean ± std (population) over the splits, in percent.
  std::string table = "| " + ds.name + " (" + std::to_string(common.repeats) + " splits) |";
  for (double rate : rates) table += " " + percent(rate) + " |";
  table += "\n| --- |";
  for (size_t r = 0; r < rates.size(); ++r) table += " --- |";
  table += "\n";
  for (size_t m = 0; m < algo::kMethods.size(); ++m) {
    table += std::string("| ") + algo::method_name(algo::kMethods[m]) + " |";
    for (size_t r = 0; r < rates.size(); ++r) {
      const train::MeanStd ms = train::mean_std(acc[{r, m}]);
      char cell[64];
      if (std::isnan(ms.mean))
        std::snprintf(cell, sizeof cell, " n/a |");
      else
        std::snprintf(cell, sizeof cell, " %.1f ± %.1f |", 100 * ms.mean, 100 * ms.std);
      table += cell;
      metrics.write({{"dataset", ds.name},
                     {"rate", rates[r]},
                     {"method", algo::method_name(algo::kMethods[m])},
                     {"mean_test_accuracy", ms.mean},
                     {"std_test_accuracy", ms.std},
                     {"splits", ms.count}});
    }
    table += "\n";
  }
  std::printf("\n%s\n", table.c_str());
  if (!table_path.empty()) {
    std::FILE* f = std::fopen(table_path.c_str(), "a");
    SG_CHECK(f != nullptr, "--table: cannot open ", table_path);
    std::fprintf(f, "%s\n", table.c_str());
    std::fclose(f);
  }
}

// Over-smoothing: test accuracy of GCNs with 1..max_layers layers and of logistic regression on
// S̃^k X for k = 0, 1, 2, 4, ..., max_power, on the dataset's public split.
void run_oversmoothing(const data::GraphDataset& ds, const train::CommonFlags& common,
                       const algo::GcnConfig& cfg, int64_t max_layers, int64_t max_power,
                       const std::string& plot_dir, train::MetricsWriter& metrics) {
  const algo::CotrainingGraph g = algo::prepare_graph(ds, common.dataset != "synthetic");
  const data::NodeSplit split{ds.train_idx, ds.val_idx, ds.test_idx};
  std::vector<double> layers, gcn_acc, powers, lr_acc;
  train::ProgressLine line(ds.name + " layers", max_layers, "model");
  for (int64_t l = 1; l <= max_layers; ++l) {
    std::vector<double> a;
    for (int s = 0; s < common.repeats; ++s)
      a.push_back(algo::deep_gcn_accuracy(g, split, l, cfg, common.seed + s));
    const train::MeanStd ms = train::mean_std(a);
    layers.push_back(double(l)), gcn_acc.push_back(100 * ms.mean);
    metrics.write({{"dataset", ds.name},
                   {"model", "gcn"},
                   {"layers", l},
                   {"mean_test_accuracy", ms.mean},
                   {"std_test_accuracy", ms.std},
                   {"seeds", ms.count}});
    std::printf("GCN with %2lld layer(s): %.1f ± %.1f %%\n", (long long)l, 100 * ms.mean,
                100 * ms.std);
    line.update(l);
  }
  line.finish();
  Tensor smoothed = g.features.is_sparse() ? to_dense(g.features) : g.features;
  for (int64_t k = 0; k <= max_power; ++k) {
    if (k > 0) smoothed = spmm(g.adj, smoothed);
    if (k > 1 && (k & (k - 1)) != 0) continue;  // report k = 0, 1, 2, 4, 8, ...
    std::vector<double> a;
    for (int s = 0; s < common.repeats; ++s)
      a.push_back(algo::smoothed_logreg_accuracy(smoothed, g.labels, g.num_classes, split, cfg,
                                                 common.seed + s));
    const train::MeanStd ms = train::mean_std(a);
    powers.push_back(double(k)), lr_acc.push_back(100 * ms.mean);
    metrics.write({{"dataset", ds.name},
                   {"model", "logreg_smoothed"},
                   {"k", k},
                   {"mean_test_accuracy", ms.mean},
                   {"std_test_accuracy", ms.std},
                   {"seeds", ms.count}});
    std::printf("logistic regression on S̃^%lld X: %.1f ± %.1f %%\n", (long long)k, 100 * ms.mean,
                100 * ms.std);
    std::fflush(stdout);
  }
  if (plot_dir.empty()) return;
  train::LinePlot p1("GCN depth on " + ds.name + " (public split)");
  p1.x_label("graph convolution layers")
      .y_label("test accuracy (%)")
      .add_series("GCN", layers, gcn_acc);
  p1.save_svg(plot_dir + "/oversmoothing_gcn_" + ds.name + ".svg");
  train::LinePlot p2("Logistic regression on smoothed features, " + ds.name);
  p2.x_label("k (features S^k X)")
      .y_label("test accuracy (%)")
      .add_series("S^k X + logistic regression", powers, lr_acc);
  p2.save_svg(plot_dir + "/oversmoothing_logreg_" + ds.name + ".svg");
  std::printf("plots written to %s/oversmoothing_{gcn,logreg}_%s.svg\n", plot_dir.c_str(),
              ds.name.c_str());
}

// The anchor: a GCN on the public split (20 labels per class), chosen with the 500 validation
// nodes (GCN+V) and without them (GCN-V, highest training accuracy), tested on the 1000 test nodes.
void run_public(const data::GraphDataset& ds, const train::CommonFlags& common,
                const algo::GcnConfig& cfg, train::MetricsWriter& metrics) {
  const algo::CotrainingGraph g = algo::prepare_graph(ds, common.dataset != "synthetic");
  const train::NodeTask task{.labels = g.labels, .train_idx = ds.train_idx, .val_idx = ds.val_idx};
  std::vector<double> with_val, without_val;
  for (int s = 0; s < common.repeats; ++s) {
    const algo::GcnFit fit =
        algo::fit_gcn(g.adj, g.features, g.num_classes, task, cfg, common.seed + s);
    with_val.push_back(train::accuracy(fit.logits_at_best_validation, g.labels, ds.test_idx));
    without_val.push_back(
        train::accuracy(fit.logits_at_highest_train_accuracy, g.labels, ds.test_idx));
    metrics.write({{"dataset", ds.name},
                   {"split", "public"},
                   {"seed", common.seed + s},
                   {"gcn_with_validation", with_val.back()},
                   {"gcn_without_validation", without_val.back()}});
  }
  const train::MeanStd v = train::mean_std(with_val), nv = train::mean_std(without_val);
  std::printf("%s public split, %d seeds: GCN+V %.1f ± %.1f %%, GCN-V %.1f ± %.1f %%\n",
              ds.name.c_str(), common.repeats, 100 * v.mean, 100 * v.std, 100 * nv.mean,
              100 * nv.std);
}

// Why LP and co-training are weak where they are: for the first split of each rate, how many
// nodes lie in components without a labelled node, LP's accuracy inside and outside labelled
// components, and where co-training's pseudo-labels fall (giant component or small ones).
void run_diagnosis(const data::GraphDataset& ds, const train::CommonFlags& common,
                   const std::vector<double>& rates, int64_t validation, double budget_factor,
                   const algo::ParWalksOptions& walk_options) {
  const algo::ParWalks walks(ds.edges, ds.num_nodes, walk_options);
  const std::vector<int64_t> comp = walks.component().to_vector<int64_t>();
  const std::vector<int64_t> labels = ds.labels.to_vector<int64_t>();
  std::vector<int64_t> size(size_t(walks.num_components()), 0);
  for (int64_t c : comp) ++size[size_t(c)];
  const int64_t giant = std::max_element(size.begin(), size.end()) - size.begin();
  std::printf("%s: %lld components, the largest has %lld of %lld nodes\n", ds.name.c_str(),
              (long long)size.size(), (long long)size[size_t(giant)], (long long)ds.num_nodes);
  for (double rate : rates) {
    Generator gen(common.seed * 1000003 + 7919 * uint64_t(std::llround(rate * 1e6)));  // split 0
    const data::NodeSplit split =
        data::balanced_split_rate(ds.labels, rate, {.val = validation, .test = -1}, gen);
    const Tensor y = index_select(ds.labels, 0, split.train_idx);
    const Tensor P = walks.columns(split.train_idx);
    std::vector<char> labelled_comp(size.size(), 0);
    for (int64_t v : split.train_idx.to_vector<int64_t>()) labelled_comp[size_t(comp[size_t(v)])] = 1;
    const std::vector<int64_t> pred = algo::parwalks_predict(P, y).to_vector<int64_t>();
    int64_t in = 0, in_ok = 0, out = 0, out_ok = 0;
    for (int64_t v : cat({split.val_idx, split.test_idx}).to_vector<int64_t>()) {
      const bool ok = pred[size_t(v)] == labels[size_t(v)];
      if (labelled_comp[size_t(comp[size_t(v)])]) ++in, in_ok += ok;
      else ++out, out_ok += ok;
    }
    const algo::LabelBudget b = algo::label_budget(
        ds.num_nodes, ds.num_edges(), algo::count_per_class(y, ds.num_classes), budget_factor);
    const algo::ClassSets co = algo::select_top_scores(
        algo::parwalks_class_scores(P, y, ds.num_classes), split.train_idx, b.per_class);
    int64_t g = 0, g_ok = 0, small = 0, small_ok = 0;
    for (size_t k = 0; k < co.size(); ++k)
      for (int64_t v : co[k]) {
        const bool ok = labels[size_t(v)] == int64_t(k);
        if (comp[size_t(v)] == giant) ++g, g_ok += ok;
        else ++small, small_ok += ok;
      }
    auto pct = [](int64_t a, int64_t b) { return b ? 100.0 * double(a) / double(b) : 0.0; };
    std::printf(
        "%s %s: %.1f%% of the unlabelled nodes lie in components without a label; LP %.1f%% right "
        "inside labelled components, %.1f%% outside; co-training adds %lld in the largest "
        "component (%.0f%% right), %lld elsewhere (%.0f%% right)\n",
        ds.name.c_str(), percent(rate).c_str(), pct(out, in + out), pct(in_ok, in), pct(out_ok, out),
        (long long)g, pct(g_ok, g), (long long)small, pct(small_ok, small));
  }
}

}  // namespace

int main(int argc, char** argv) {
  train::Cli cli(
      "gcn_cotraining",
      "Co-training, self-training, union and intersection for GCNs with few labels (Li, Han and "
      "Wu, "
      "AAAI 2018), beside LP and GCN with / without validation; and the over-smoothing study.");
  auto& common = cli.common(
      {.dataset = "cora", .datasets = {"cora", "citeseer", "pubmed", "synthetic"}, .repeats = 20});
  algo::CotrainingConfig cfg;
  algo::ParWalksOptions walks;
  auto& app = cli.app();
  std::vector<double> rates;
  int64_t validation = 500, max_layers = 10, max_power = 64;
  std::string experiment = "table", plot_dir, table_path;
  bool first_layer_decay = false;
  app.add_option(
         "--rates", rates,
         "label rates (default 0.005 0.01 0.02 0.03 0.04 0.05; PubMed 0.0003 0.0005 0.001 0.003)")
      ->check(CLI::Range(1e-6, 0.9));
  app.add_option("--validation", validation, "validation nodes for GCN+V (default 500)")
      ->check(train::non_negative());
  app.add_option("--epochs", cfg.gcn.epochs, "training epochs of every GCN (default 200)")
      ->check(train::positive());
  app.add_option("--hidden", cfg.gcn.hidden, "hidden units (default 16)")->check(train::positive());
  app.add_option("--lr", cfg.gcn.lr, "Adam learning rate (default 0.01)")->check(train::positive());
  app.add_option("--weight-decay", cfg.gcn.weight_decay, "L2 on the weights (default 5e-4)")
      ->check(train::non_negative());
  app.add_flag("--first-layer-decay-only", first_layer_decay,
               "L2 on the first layer only, as Kipf & Welling");
  app.add_option("--dropout", cfg.gcn.dropout, "dropout probability (default 0.5)")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--alpha", walks.alpha, "ParWalks absorption rate α in (L + αI)^-1 (default 1e-6)")
      ->check(train::positive());
  app.add_option("--cg-tol", walks.tol, "CG relative residual tolerance (default 1e-9)")
      ->check(train::positive());
  app.add_option("--cg-max-iter", walks.max_iter, "CG steps at most (default 10000)")
      ->check(train::positive());
  app.add_option("--budget-factor", cfg.budget_factor,
                 "t_k = floor(factor · η · n_k / n_L) (default 3)")
      ->check(train::non_negative());
  app.add_option(
         "--experiment", experiment,
         "table, oversmoothing, public (GCN+V / GCN-V on the public split), diagnosis (components, "
                 "LP and co-training inside and outside them) or all (default table)")
      ->check(CLI::IsMember({"table", "oversmoothing", "public", "diagnosis", "all"}));
  app.add_option("--max-layers", max_layers, "over-smoothing: GCN depths 1..N (default 10)")
      ->check(train::positive());
  app.add_option("--max-power", max_power, "over-smoothing: S̃^k X for k up to N (default 64)")
      ->check(train::non_negative());
  app.add_option("--plot-dir", plot_dir, "over-smoothing: write the SVG plots into this folder");
  app.add_option("--table", table_path, "append the markdown table to this file");
  cli.parse(argc, argv);
  return cli.run_main([&] {
    cfg.gcn.decay_all_layers = !first_layer_decay;
    cfg.gcn.row_normalize = common.dataset != "synthetic";
    if (rates.empty())
      rates = common.dataset == "pubmed" ? std::vector<double>{0.0003, 0.0005, 0.001, 0.003}
                                         : std::vector<double>{0.005, 0.01, 0.02, 0.03, 0.04, 0.05};
    const data::GraphDataset ds = load(common);
    train::MetricsWriter metrics(common.out);
    const bool all = experiment == "all";
    if (all || experiment == "table")
      run_table(ds, common, rates, validation, cfg, walks, metrics, table_path);
    if (all || experiment == "public") run_public(ds, common, cfg.gcn, metrics);
    if (all || experiment == "diagnosis")
      run_diagnosis(ds, common, rates, validation, cfg.budget_factor, walks);
    if (all || experiment == "oversmoothing")
      run_oversmoothing(ds, common, cfg.gcn, max_layers, max_power, plot_dir, metrics);
    return 0;
  });
}
