// graph_filtering_ssl: Li et al.'s comparison (CVPR 2019) of LP, MLP, GCN, GLP and IGCN on random
// class-balanced splits with 4 and 20 labels per class, no validation set (the model with the
// lowest training loss is reported), test on every other labelled node; prints the accuracy and
// time table, mean ± std over --repeats splits.
//   ./build/graph_filtering_ssl --dataset cora --repeats 20 --out cora.jsonl
#include <cmath>
#include <cstdio>
#include <map>

#include "algorithms/graph_filtering_ssl/experiment.h"
#include "datasets/datasets.h"
#include "train/train.h"

using namespace stackgrad;

namespace {

// One strength per --labels entry; empty: the paper's value for that label count.
template <class T>
T strength_for(const std::vector<T>& given, size_t i, T paper, const char* flag, int64_t labels) {
  if (given.empty()) return paper;
  SG_CHECK(given.size() == 1 || i < given.size(), flag,
           ": give one value, or one per --labels entry (", "none for ", labels,
           " labels per class)");
  return given.size() == 1 ? given[0] : given[i];
}

struct Cell {
  std::vector<double> acc, secs, filter_secs;
  std::string filter;
};

}  // namespace

int main(int argc, char** argv) {
  train::Cli cli(
      "graph_filtering_ssl",
      "GLP and IGCN (Li, Wu, Liu, Zhang, Guan: Label Efficient Semi-Supervised Learning via Graph "
      "Filtering, CVPR 2019) against LP, MLP and GCN on random splits.");
  auto& common = cli.common(
      {.dataset = "cora", .datasets = {"cora", "citeseer", "pubmed", "synthetic"}, .repeats = 20});
  auto& app = cli.app();
  algo::NetConfig cfg;
  std::vector<int64_t> labels_per_class = {4, 20};
  std::vector<int64_t> glp_rnm_k, igcn_rnm_k;
  std::vector<double> glp_ar_alpha, igcn_ar_alpha;
  double lp_alpha = 100;
  std::string ar_solver = "series", methods_text = "lp,mlp,gcn,glp-rnm,glp-ar,igcn-rnm,igcn-ar";
  int64_t test_size = -1;
  bool log_epochs = false;
  app.add_option("--labels", labels_per_class,
                 "labels per class, one table column each (default 4,20)")
      ->delimiter(',')
      ->check(train::positive());
  app.add_option(
      "--methods", methods_text,
      "comma-separated methods (default all: lp,mlp,gcn,glp-rnm,glp-ar,igcn-rnm,igcn-ar)");
  app.add_option("--glp-rnm-k", glp_rnm_k,
                 "GLP-RNM power k, one per --labels entry (paper: 10 for 4 labels, 5 for 20)")
      ->delimiter(',')
      ->check(train::non_negative());
  app.add_option("--glp-ar-alpha", glp_ar_alpha,
                 "GLP-AR alpha, one per --labels entry (paper: 20 for 4 labels, 10 for 20)")
      ->delimiter(',')
      ->check(train::positive());
  app.add_option(
         "--igcn-rnm-k", igcn_rnm_k,
         "IGCN-RNM power per layer, one per --labels entry (paper: 5 for 4 labels, 2 for 20)")
      ->delimiter(',')
      ->check(train::non_negative());
  app.add_option(
         "--igcn-ar-alpha", igcn_ar_alpha,
         "IGCN-AR alpha per layer, one per --labels entry (paper: 10 for 4 labels, 5 for 20)")
      ->delimiter(',')
      ->check(train::positive());
  app.add_option("--lp-alpha", lp_alpha, "LP's AR filter alpha (default 100)")
      ->check(train::positive());
  app.add_option("--ar-solver", ar_solver,
                 "AR filter: series (ceil(4 alpha) terms, the authors' code) or cg")
      ->check(CLI::IsMember({"series", "cg"}));
  app.add_option("--test-size", test_size,
                 "test nodes per split (default -1: every labelled node not trained on)");
  app.add_option("--epochs", cfg.epochs, "training epochs (default 200)")->check(train::positive());
  app.add_option("--hidden", cfg.hidden, "hidden units (default 16)")->check(train::positive());
  app.add_option("--lr", cfg.lr, "Adam learning rate (default 0.01)")->check(train::positive());
  app.add_option("--weight-decay", cfg.weight_decay, "L2 on the weights (default 5e-4)")
      ->check(train::non_negative());
  app.add_option("--dropout", cfg.dropout, "dropout at each layer's input (default 0.5)")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--check-every", cfg.check_every,
                 "model selection: check the training loss every N epochs (default 20)")
      ->check(train::positive());
  app.add_option("--check-last", cfg.check_last_fraction,
                 "... and at each of the last fraction of epochs (default 0.1)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--log-epochs", log_epochs, "also write every epoch of every run to --out");
  cli.parse(argc, argv);
  return cli.run_main([&] {
    SG_CHECK(common.device.is_cpu(), "--device ", common.device.str(),
             ": graph_filtering_ssl runs on the CPU only");
    std::vector<algo::Method> methods;
    for (const std::string& m : CLI::detail::split(methods_text, ','))
      methods.push_back(algo::parse_method(m));
    const bool synthetic = common.dataset == "synthetic";
    data::GraphDataset ds;
    if (synthetic) {
      Generator g(common.seed + 1000003);
      // Weak features (signal-to-noise 0.3) on a homophilous graph: the regime the paper is about.
      ds = data::csbm(2000, 4, 64, 0.02, 0.001, 0.3, g);
    } else {
      ds = data::load_planetoid(common.dataset, common.data_dir);
    }
    std::printf("%s: %lld nodes, %lld features, %lld classes, %lld edges\n", ds.name.c_str(),
                (long long)ds.num_nodes, (long long)ds.num_features(), (long long)ds.num_classes,
                (long long)ds.num_edges());
    if (!ds.has_features()) {
      std::vector<algo::Method> kept;
      for (algo::Method m : methods)
        if (algo::needs_features(m))
          std::printf("%s: skipped, %s has no node features here\n", algo::method_name(m).c_str(),
                      ds.name.c_str());
        else
          kept.push_back(m);
      methods = kept;
      if (methods.empty()) ds.features_or_fail();  // nothing left: the loader's explanation
    }
    const algo::ArSolver solver = ar_solver == "cg" ? algo::ArSolver::cg : algo::ArSolver::series;
    std::vector<algo::Setting> settings;
    for (size_t i = 0; i < labels_per_class.size(); ++i) {
      const int64_t L = labels_per_class[i];
      auto paper = algo::paper_strengths(L);
      const bool all_given = !glp_rnm_k.empty() && !glp_ar_alpha.empty() && !igcn_rnm_k.empty() &&
                             !igcn_ar_alpha.empty();
      SG_CHECK(
          paper || all_given, "--labels ", L, ": the paper has no filter strengths for ", L,
          " labels per class; give --glp-rnm-k, --glp-ar-alpha, --igcn-rnm-k and --igcn-ar-alpha");
      algo::Strengths d = paper.value_or(algo::Strengths{});
      algo::Setting s{.labels_per_class = L, .lp_alpha = lp_alpha, .ar_solver = solver};
      s.strengths.glp_rnm_k = strength_for(glp_rnm_k, i, d.glp_rnm_k, "--glp-rnm-k", L);
      s.strengths.glp_ar_alpha = strength_for(glp_ar_alpha, i, d.glp_ar_alpha, "--glp-ar-alpha", L);
      s.strengths.igcn_rnm_k = strength_for(igcn_rnm_k, i, d.igcn_rnm_k, "--igcn-rnm-k", L);
      s.strengths.igcn_ar_alpha =
          strength_for(igcn_ar_alpha, i, d.igcn_ar_alpha, "--igcn-ar-alpha", L);
      settings.push_back(s);
    }

    const algo::Prepared prepared = algo::prepare(ds, /*row_normalize=*/!synthetic);
    train::MetricsWriter metrics(common.out);
    std::map<std::pair<int64_t, algo::Method>, Cell> cells;
    train::ProgressLine line(
        ds.name, int64_t(settings.size()) * common.repeats * int64_t(methods.size()), "run");
    int64_t done = 0;
    for (const algo::Setting& s : settings) {
      algo::FilterCache cache;  // GLP's filtered features, shared by the splits of this setting
      for (int r = 0; r < common.repeats; ++r) {
        // The split depends on (seed, labels per class, r) only: every method sees the same splits.
        Generator split_gen(common.seed * 1000003 + uint64_t(s.labels_per_class) * 7919 +
                            uint64_t(r));
        const data::NodeSplit split = data::balanced_split(
            ds.labels, s.labels_per_class, {.val = 0, .test = test_size}, split_gen);
        const uint64_t seed = common.seed + uint64_t(r);
        for (algo::Method m : methods) {
          algo::EpochCallback log;
          if (log_epochs && metrics.enabled())
            log = [&](const train::EpochRecord& e) {
              metrics.write({{"dataset", ds.name},
                             {"labels_per_class", s.labels_per_class},
                             {"split", r},
                             {"method", algo::method_name(m)},
                             {"epoch", e.epoch + 1},
                             {"step_loss", e.step_loss},
                             {"train_loss", e.train_loss},
                             {"test_accuracy", e.test_accuracy}});
            };
          algo::MethodRun run = algo::run_method(m, prepared, split, s, cfg, seed, cache, log);
          Cell& c = cells[{s.labels_per_class, m}];
          c.acc.push_back(run.test_accuracy);
          c.secs.push_back(run.seconds);
          c.filter_secs.push_back(run.filter_seconds);
          c.filter = run.filter;
          metrics.write({{"dataset", ds.name},
                         {"labels_per_class", s.labels_per_class},
                         {"split", r},
                         {"seed", seed},
                         {"method", algo::method_name(m)},
                         {"filter", run.filter},
                         {"test_accuracy", run.test_accuracy},
                         {"selected_epoch", run.epoch},
                         {"seconds", run.seconds},
                         {"filter_seconds", run.filter_seconds},
                         {"train_nodes", split.train_idx.numel()},
                         {"test_nodes", split.test_idx.numel()}});
          line.update(++done, {{"acc", run.test_accuracy}});
        }
      }
    }
    line.finish();

    // The table: one row per method, per label count its accuracy and its time per split.
    std::printf("\n%s, %d random splits per column (test: %s), lowest-training-loss model\n\n",
                ds.name.c_str(), common.repeats,
                test_size < 0 ? "every labelled node not trained on"
                              : (std::to_string(test_size) + " nodes").c_str());
    std::printf("| method |");
    for (const auto& s : settings)
      std::printf(" %lld labels/class | filter | s per split |", (long long)s.labels_per_class);
    std::printf("\n| --- |");
    for (size_t i = 0; i < settings.size(); ++i) std::printf(" --- | --- | --- |");
    std::printf("\n");
    for (algo::Method m : methods) {
      std::printf("| %s |", algo::method_name(m).c_str());
      for (const auto& s : settings) {
        const Cell& c = cells[{s.labels_per_class, m}];
        const train::MeanStd a = train::mean_std(c.acc), t = train::mean_std(c.secs),
                             f = train::mean_std(c.filter_secs);
        std::printf(" %.1f ± %.1f | %s | %.3f |", 100 * a.mean, 100 * a.std, c.filter.c_str(),
                    t.mean);
        metrics.write({{"dataset", ds.name},
                       {"labels_per_class", s.labels_per_class},
                       {"method", algo::method_name(m)},
                       {"summary", true},
                       {"splits", a.count},
                       {"accuracy_mean", a.mean},
                       {"accuracy_std", a.std},
                       {"seconds_mean", t.mean},
                       {"filter_seconds_mean", f.mean},
                       {"filter", c.filter}});
      }
      std::printf("\n");
    }
    return 0;
  });
}
