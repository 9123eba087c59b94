// rpc: clustering uncertain data via representative possible worlds with consistency learning
// (Liu et al., Computer Communications 2021) against UK-means, spectral clustering of the means
// and all-worlds clustering; ACC and NMI, mean ± std over --repeats seeds, per uncertainty level.
//   ./build/rpc --dataset iris --levels 0.1,0.2,0.3 --repeats 10 --out rpc_iris.jsonl
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "algorithms/rpc/rpc.h"
#include "datasets/datasets.h"
#include "train/train.h"

using namespace stackgrad;

namespace {

std::string cell(const std::vector<double>& values) {
  const train::MeanStd ms = train::mean_std(values);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f", 100 * ms.mean, 100 * ms.std);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  train::Cli cli(
      "rpc",
      "Clustering uncertain data via representative possible worlds with consistency learning "
      "(Liu et al., Computer Communications 2021), with UK-means, spectral clustering of the "
      "means and all-worlds clustering as baselines.");
  auto& common = cli.common({.dataset = "synthetic",
                             .datasets = {"synthetic", "iris", "wine", "breast_cancer", "digits"},
                             .repeats = 10});
  algo::RpcConfig cfg;
  algo::UncertaintyOptions uncertainty;
  std::vector<double> levels = {0.1, 0.2, 0.3};
  std::string shape = "uniform", selection = "marginal";
  bool raw_features = false, no_ablations = false;
  int64_t synthetic_n = 600, synthetic_k = 4, synthetic_dim = 8;
  double synthetic_std = 6.0;
  auto& app = cli.app();
  app.add_option("--levels", levels,
                 "uncertainty levels: region width as a fraction of each attribute's range")
      ->delimiter(',');
  app.add_option("--shape", shape, "uncertainty region: uniform, or normal with the same variance")
      ->check(CLI::IsMember({"uniform", "normal"}));
  app.add_option("--samples", uncertainty.samples, "samples per uncertain object (default 50)")
      ->check(train::positive());
  app.add_option("--worlds", cfg.worlds, "candidate possible worlds M (default 40)")
      ->check(train::positive());
  app.add_option("--representatives", cfg.representatives,
                 "representative worlds m kept (default 10)")
      ->check(train::positive());
  app.add_option("--bandwidth", cfg.representative.bandwidth,
                 "γ of the representative loss's kernel, h_i² = γ tr Σ_i (default 1)")
      ->check(train::positive());
  app.add_option("--selection", selection,
                 "marginal: keep the m worlds with the lowest own loss; coverage: backward "
                 "elimination on the "
                 "set's loss (default marginal)")
      ->check(CLI::IsMember({"marginal", "coverage"}));
  app.add_option("--neighbor", cfg.neighbor, "K of the self-tuning affinity bandwidth (default 7)")
      ->check(train::positive());
  app.add_option("--lambda", cfg.consensus.lambda, "co-regularisation weight λ (default 1)")
      ->check(train::non_negative());
  app.add_option("--iterations", cfg.consensus.iterations, "consensus alternations (default 10)")
      ->check(train::non_negative());
  app.add_option("--subspace-steps", cfg.consensus.subspace_steps,
                 "subspace iterations per world update (default 3)")
      ->check(train::positive());
  app.add_option("--kmeans-restarts", cfg.kmeans.restarts, "k-means restarts (default 10)")
      ->check(train::positive());
  app.add_flag("--raw-features", raw_features, "do not standardise the attributes first");
  app.add_flag("--no-ablations", no_ablations, "skip rep-average and random-consensus");
  app.add_option("--synthetic-n", synthetic_n, "synthetic: objects (default 600)")
      ->check(train::positive());
  app.add_option("--synthetic-k", synthetic_k, "synthetic: Gaussian components (default 4)")
      ->check(train::positive());
  app.add_option("--synthetic-dim", synthetic_dim, "synthetic: dimensions (default 8)")
      ->check(train::positive());
  app.add_option("--synthetic-std", synthetic_std,
                 "synthetic: component std, centres in [-10, 10]^dim (default 6)")
      ->check(train::positive());
  cli.parse(argc, argv);
  return cli.run_main([&] {
    cfg.ablations = !no_ablations;
    uncertainty.shape = algo::parse_uncertainty_shape(shape);
    cfg.representative.rule = algo::parse_selection_rule(selection);
    for (double l : levels) SG_CHECK(l >= 0, "--levels: every level must be >= 0, got ", l);
    SG_CHECK(cfg.representatives <= cfg.worlds, "--representatives must be at most --worlds (",
             cfg.worlds, "), got ", cfg.representatives);
    data::TableDataset certain;
    if (common.dataset == "synthetic") {
      Generator g(1000003);  // one fixed mixture; the seeds vary the uncertainty and the worlds
      certain = data::blobs(synthetic_n, synthetic_k, synthetic_dim, synthetic_std, g);
    } else {
      certain = data::load_uci(common.dataset, common.data_dir);
    }
    if (!raw_features) certain.features = data::standardize(certain.features);
    std::printf(
        "%s: %lld objects, %lld attributes, %lld classes; %lld samples per object (%s), %lld "
        "worlds, "
        "%lld representative\n",
        common.dataset.c_str(), (long long)certain.size(), (long long)certain.features.size(1),
        (long long)certain.num_classes(), (long long)uncertainty.samples, shape.c_str(),
        (long long)cfg.worlds, (long long)cfg.representatives);
    std::fflush(stdout);

    train::MetricsWriter metrics(common.out);
    std::vector<std::string> methods;
    // acc[method][level], nmi[method][level]: one value per seed.
    std::map<std::string, std::vector<std::vector<double>>> acc, nmi, secs;
    const int64_t per_run = cfg.ablations ? 6 : 4;
    train::ProgressLine line("rpc " + common.dataset,
                             int64_t(levels.size()) * common.repeats * per_run, "method");
    int64_t done = 0;
    for (size_t li = 0; li < levels.size(); ++li) {
      for (int r = 0; r < common.repeats; ++r) {
        const uint64_t seed = common.seed + uint64_t(r);
        // The same seed at every level: the same unit noise and worlds, scaled by the level.
        Generator gen(seed);
        algo::UncertainDataset u = algo::make_uncertain(certain, levels[li], uncertainty, gen);
        algo::RpcRun run = algo::run_rpc_and_baselines(u, cfg, gen, [&](const std::string& method) {
          line.set_prefix("level " + std::to_string(levels[li]).substr(0, 4) + " seed " +
                          std::to_string(seed) + " " + method);
          line.update(++done);
        });
        std::printf("level %.2f seed %3llu ", levels[li], (unsigned long long)seed);
        for (const algo::MethodScore& s : run.scores) {
          if (li == 0 && r == 0) methods.push_back(s.method);
          auto& a = acc[s.method];
          a.resize(levels.size()), nmi[s.method].resize(levels.size()),
              secs[s.method].resize(levels.size());
          a[li].push_back(s.acc), nmi[s.method][li].push_back(s.nmi),
              secs[s.method][li].push_back(s.seconds);
          std::printf(" %s %.3f/%.3f", s.method.c_str(), s.acc, s.nmi);
          metrics.write({{"dataset", common.dataset},
                         {"level", levels[li]},
                         {"seed", seed},
                         {"method", s.method},
                         {"acc", s.acc},
                         {"nmi", s.nmi},
                         {"seconds", s.seconds}});
        }
        // The worlds' own losses L({w}): their mean over all candidates and over the kept ones.
        double own_all = 0, own_kept = 0;
        for (double l : run.selection.world_loss)
          own_all += l / double(run.selection.world_loss.size());
        for (int64_t w : run.selection.kept)
          own_kept += run.selection.world_loss[w] / double(run.selection.kept.size());
        std::printf("  L(set) all %.4f kept %.4f random %.4f; L(world) all %.4f kept %.4f\n",
                    run.selection.loss.front(), run.selection.loss_of_kept(),
                    run.random_subset_loss, own_all, own_kept);
        std::fflush(stdout);
        metrics.write({{"dataset", common.dataset},
                       {"level", levels[li]},
                       {"seed", seed},
                       {"method", "selection"},
                       {"loss_all", run.selection.loss.front()},
                       {"loss_kept", run.selection.loss_of_kept()},
                       {"loss_random", run.random_subset_loss},
                       {"world_loss_all", own_all},
                       {"world_loss_kept", own_kept},
                       {"disagreement_first", run.consensus_disagreement.front()},
                       {"disagreement_last", run.consensus_disagreement.back()}});
      }
    }
    line.finish();

    // Markdown tables: methods by levels.
    for (const char* what : {"ACC", "NMI"}) {
      auto& table = std::string(what) == "ACC" ? acc : nmi;
      std::printf("\n%s (%%), %s, mean ± std over %d seeds\n\n| method |", what,
                  common.dataset.c_str(), common.repeats);
      for (double l : levels) std::printf(" level %.2f |", l);
      std::printf("\n| --- |");
      for (size_t li = 0; li < levels.size(); ++li) std::printf(" --- |");
      std::printf("\n");
      for (const std::string& m : methods) {
        std::printf("| %s |", m.c_str());
        for (size_t li = 0; li < levels.size(); ++li)
          std::printf(" %s |", cell(table[m][li]).c_str());
        std::printf("\n");
      }
    }
    std::printf("\nseconds per run (mean over levels and seeds):");
    for (const std::string& m : methods) {
      std::vector<double> all;
      for (auto& v : secs[m]) all.insert(all.end(), v.begin(), v.end());
      std::printf(" %s %.3f", m.c_str(), train::mean_std(all).mean);
    }
    std::printf("\n");
    return 0;
  });
}
