// gradient_free_gcn: linearized GCNs (SGC, SSGC, APPNP-style filters) at depths K = 2..64,
// their linear classifier trained by Adam (SGC's recipe) or solved in closed form (ridge), on the
// public split and random class-balanced splits; prints markdown tables, writes JSON lines and an
// SVG of accuracy against K.
//   ./build/gradient_free_gcn --dataset cora --out gf.jsonl --plot acc_vs_k.svg
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "algorithms/gradient_free_gcn/depth_sweep.h"
#include "datasets/datasets.h"
#include "nn/graph.h"
#include "train/train.h"

using namespace stackgrad;

namespace {

std::string fmt(const char* format, double a, double b = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, a, b);
  return buf;
}

const std::vector<std::string> kMethodOrder = {"descent", "descent_std", "ridge", "ridge_std"};

std::string method_title(const std::string& m) {
  if (m == "descent") return "Adam";
  if (m == "descent_std") return "Adam (std)";
  if (m == "ridge") return "ridge";
  return "ridge (std)";
}

// Test accuracy (%) per depth: one column per (filter, method).
std::string accuracy_table(const std::vector<algo::SweepCell>& cells, const algo::SweepConfig& cfg,
                           const std::string& kind, const std::vector<std::string>& methods) {
  std::ostringstream out;
  out << "| K |";
  for (algo::Filter f : cfg.filters)
    for (const auto& m : methods)
      out << " " << algo::filter_name(f) << " " << method_title(m) << " |";
  out << "\n| ---: |";
  for (size_t i = 0; i < cfg.filters.size() * methods.size(); ++i) out << " ---: |";
  out << "\n";
  for (int64_t k : cfg.depths) {
    out << "| " << k << " |";
    for (algo::Filter f : cfg.filters)
      for (const auto& m : methods) {
        const algo::SweepCell* c = algo::find_cell(cells, kind, f, k, m);
        out << " "
            << (c ? fmt("%.1f ± %.1f", 100 * c->test_accuracy.mean, 100 * c->test_accuracy.std)
                  : "")
            << " |";
      }
    out << "\n";
  }
  return out.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? std::nan("") : v[v.size() / 2];  // the upper median: a grid value
}

// Per (filter, depth), over every run of both split kinds: mean fit times, their ratio, and the
// gradient norms of the Adam-trained classifier.
std::string timing_table(const std::vector<algo::SweepRun>& runs, const algo::SweepConfig& cfg) {
  std::ostringstream out;
  out << "| filter | K | Adam fit (ms) | ridge fit (ms) | Adam / ridge | ‖∇W‖ at init | ‖∇W‖ mean "
         "of first "
      << cfg.descent.grad_epochs << " epochs | ridge λ chosen (median) |\n"
      << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (algo::Filter f : cfg.filters)
    for (int64_t k : cfg.depths) {
      double ts = 0, tr = 0, g0 = 0, gm = 0;
      int ns = 0, nr = 0;
      std::vector<double> lambdas;
      for (const auto& r : runs) {
        if (r.filter != f || r.depth != k) continue;
        if (r.method == "descent")
          ts += r.seconds, g0 += r.grad_norm_init, gm += r.grad_norm_mean, ++ns;
        if (r.method == "ridge") tr += r.seconds, ++nr, lambdas.push_back(r.lambda);
      }
      if (!ns || !nr) continue;
      ts /= ns, tr /= nr, g0 /= ns, gm /= ns;
      out << "| " << algo::filter_name(f) << " | " << k << " | " << fmt("%.1f", 1e3 * ts) << " | "
          << fmt("%.2f", 1e3 * tr) << " | " << fmt("%.0fx", ts / tr) << " | " << fmt("%.3g", g0)
          << " | " << fmt("%.3g", gm) << " | " << fmt("%g", median(lambdas)) << " |\n";
    }
  return out.str();
}

void save_plot(const std::vector<algo::SweepCell>& cells, const algo::SweepConfig& cfg,
               const std::string& kind, const std::vector<std::string>& methods,
               const std::string& title, const std::string& path) {
  train::LinePlot plot(title);
  plot.x_label("log2 K (filter depth K = 2 ... 64)").y_label("test accuracy (%)").size(760, 460);
  for (algo::Filter f : cfg.filters)
    for (const auto& m : methods) {
      std::vector<double> xs, ys;
      for (int64_t k : cfg.depths)
        if (const algo::SweepCell* c = algo::find_cell(cells, kind, f, k, m)) {
          xs.push_back(std::log2(double(std::max<int64_t>(k, 1))));
          ys.push_back(100 * c->test_accuracy.mean);
        }
      plot.add_series(std::string(algo::filter_name(f)) + " " + method_title(m), xs, ys);
    }
  plot.save_svg(path);
}

}  // namespace

int main(int argc, char** argv) {
  train::Cli cli("gradient_free_gcn",
                 "Linearized GCNs (SGC, SSGC, APPNP filters) at growing depth K: linear classifier "
                 "trained by Adam "
                 "against solved in closed form (ridge), after Zhu, Ai, Li, Wu and Zhou (2023).");
  auto& common = cli.common(
      {.dataset = "cora", .datasets = {"cora", "citeseer", "pubmed", "synthetic"}, .repeats = 10});
  algo::SweepConfig cfg;
  auto& app = cli.app();
  std::vector<std::string> filters = {"sgc", "ssgc", "appnp"};
  app.add_option("--filters", filters, "graph filters to sweep (default sgc,ssgc,appnp)")
      ->delimiter(',')
      ->check(CLI::IsMember({"sgc", "ssgc", "appnp"}));
  app.add_option("--depths", cfg.depths, "filter depths K (default 2,4,8,16,32,64)")
      ->delimiter(',')
      ->check(train::positive());
  app.add_option("--ssgc-alpha", cfg.filter.ssgc_alpha,
                 "SSGC's weight of X in each term (default 0.05; 0: plain average)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--appnp-alpha", cfg.filter.appnp_alpha,
                 "APPNP teleport probability α (default 0.1)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--lr", cfg.descent.lr,
                 "Adam learning rate of the gradient-trained classifier (default 0.2, SGC)")
      ->check(train::positive());
  double weight_decay = -1;
  app.add_option(
         "--weight-decay", weight_decay,
         "Adam L2 of the gradient-trained classifier (default SGC's: 5e-6; 5e-5 on citeseer)")
      ->check(train::non_negative());
  app.add_option("--epochs", cfg.descent.epochs, "Adam epochs (default 100, SGC)")
      ->check(train::positive());
  app.add_option("--grad-epochs", cfg.descent.grad_epochs,
                 "epochs the gradient norm is averaged over (default 10)")
      ->check(train::positive());
  bool no_bias = false;
  app.add_flag("--no-bias", no_bias, "no bias in the gradient-trained classifier (SGC has one)");
  app.add_option(
         "--lambdas", cfg.ridge.lambdas,
         "ridge λ grid relative to the mean squared training row norm, chosen on validation "
         "(default 1e-4,1e-3,1e-2,0.1,1,10)")
      ->delimiter(',')
      ->check(train::positive());
  bool no_intercept = false, no_standardized = false;
  app.add_flag("--no-intercept", no_intercept,
               "ridge without the unpenalised intercept (no centring)");
  app.add_flag("--no-standardized", no_standardized,
               "skip the closed form on per-depth standardised features");
  app.add_flag("--descent-standardized", cfg.descent_standardized,
               "also train the Adam classifier on standardised features (a control)");
  app.add_option("--random-splits", cfg.random_splits, "random class-balanced splits (default 10)")
      ->check(train::non_negative());
  app.add_option("--per-class", cfg.per_class,
                 "labelled nodes per class in a random split (default 20)")
      ->check(train::positive());
  app.add_option("--val", cfg.val, "validation nodes in a random split (default 500)")
      ->check(train::non_negative());
  app.add_option("--test", cfg.test, "test nodes in a random split (default 1000)")
      ->check(train::positive());
  bool raw_features = false;
  app.add_flag("--raw-features", raw_features,
               "do not row-normalise Planetoid features (synthetic: always raw)");
  std::string table_path, plot_path;
  app.add_option("--table", table_path, "also write the markdown tables to this file");
  app.add_option("--plot", plot_path,
                 "SVG of test accuracy against K (random splits; public if there are none)");
  app.footer("--repeats sets the number of inits on the public split (default 10).");
  cli.parse(argc, argv);
  return cli.run_main([&] {
    cfg.filters.clear();
    for (const auto& f : filters) cfg.filters.push_back(algo::parse_filter(f));
    cfg.public_seeds = common.repeats;
    cfg.seed = common.seed;
    cfg.descent.bias = !no_bias;
    cfg.descent.weight_decay =
        weight_decay >= 0 ? weight_decay : (common.dataset == "citeseer" ? 5e-5 : 5e-6);
    cfg.ridge.intercept = !no_intercept;
    cfg.ridge_standardized = !no_standardized;

    data::GraphDataset ds;
    if (common.dataset == "synthetic") {
      Generator g(common.seed + 1000003);
      ds = data::csbm(2000, 4, 64, 0.01, 0.002, 1.5, g);
    } else {
      ds = data::load_planetoid(common.dataset,
                                common.data_dir);  // pubmed: says its features are missing
    }
    const bool row_normalize = !raw_features && common.dataset != "synthetic";
    const Tensor X =
        row_normalize ? data::row_normalize_features(ds.features_or_fail()) : ds.features_or_fail();
    const Tensor S = nn::gcn_norm(ds.edges, ds.num_nodes);
    std::printf(
        "%s: %lld nodes, %lld features, %lld classes; public split %lld / %lld / %lld; "
        "%lld random splits of %lld per class / %lld / %lld\n",
        ds.name.c_str(), (long long)ds.num_nodes, (long long)X.size(1), (long long)ds.num_classes,
        (long long)ds.train_idx.numel(), (long long)ds.val_idx.numel(),
        (long long)ds.test_idx.numel(), (long long)cfg.random_splits, (long long)cfg.per_class,
        (long long)cfg.val, (long long)cfg.test);
    std::printf(
        "Adam: lr %g, weight decay %g, %lld epochs, bias %s; ridge λ grid of %zu, intercept %s\n",
        cfg.descent.lr, cfg.descent.weight_decay, (long long)cfg.descent.epochs,
        cfg.descent.bias ? "yes" : "no", cfg.ridge.lambdas.size(),
        cfg.ridge.intercept ? "yes" : "no");
    std::fflush(stdout);

    train::MetricsWriter metrics(common.out);
    train::ProgressLine line("gradient_free_gcn " + ds.name, algo::sweep_run_count(cfg), "fit");
    int64_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    auto runs = algo::run_depth_sweep(ds, S, X, cfg, [&](const algo::SweepRun& r) {
      line.set_prefix(std::string(algo::filter_name(r.filter)) + " K=" + std::to_string(r.depth));
      line.update(++done, {{"acc", r.test_accuracy}});
      metrics.write({{"dataset", ds.name},
                     {"split_kind", r.split_kind},
                     {"split", r.split},
                     {"seed", r.seed},
                     {"filter", algo::filter_name(r.filter)},
                     {"K", r.depth},
                     {"method", r.method},
                     {"train_accuracy", r.train_accuracy},
                     {"val_accuracy", r.val_accuracy},
                     {"test_accuracy", r.test_accuracy},
                     {"seconds", r.seconds},
                     {"lambda", r.lambda},
                     {"grad_norm_init", r.grad_norm_init},
                     {"grad_norm_mean", r.grad_norm_mean}});
    });
    line.finish();
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto cells = algo::summarize(runs);

    std::vector<std::string> methods;
    for (const auto& m : kMethodOrder)
      for (const auto& c : cells)
        if (c.method == m) {
          methods.push_back(m);
          break;
        }
    std::ostringstream tables;
    if (cfg.public_seeds > 0)
      tables << "\n"
             << ds.name << ", public split: test accuracy (%), Adam mean ± std over "
             << cfg.public_seeds << " inits, ridge deterministic (one fit)\n\n"
             << accuracy_table(cells, cfg, "public", methods);
    if (cfg.random_splits > 0)
      tables << "\n"
             << ds.name << ", " << cfg.random_splits << " random splits (" << cfg.per_class
             << " per class / " << cfg.val << " / " << cfg.test
             << "): test accuracy (%), mean ± std over splits\n\n"
             << accuracy_table(cells, cfg, "random", methods);
    tables << "\n"
           << ds.name
           << ": fit time per run (filter excluded) and gradient norms of the Adam-trained "
              "classifier, "
           << "over all runs\n\n"
           << timing_table(runs, cfg);
    tables << "\n" << runs.size() << " fits in " << fmt("%.1f", total) << " s (filters included)\n";
    std::printf("%s", tables.str().c_str());
    if (!table_path.empty()) {
      std::ofstream f(table_path);
      SG_CHECK(f.good(), "--table: cannot write '", table_path, "'");
      f << tables.str();
    }
    if (!plot_path.empty()) {
      const std::string kind = cfg.random_splits > 0 ? "random" : "public";
      save_plot(cells, cfg, kind, methods,
                ds.name + ": test accuracy against filter depth (" + kind + " splits)", plot_path);
      std::printf("plot: %s\n", plot_path.c_str());
    }
    return 0;
  });
}
