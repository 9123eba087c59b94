// gcn: Kipf & Welling's two-layer GCN on a Planetoid split (public split of Cora, CiteSeer) or
// a synthetic contextual stochastic block model; mean ± std test accuracy over --repeats seeds.
//   ./build/gcn --dataset cora --repeats 10
#include <cmath>
#include <cstdio>

#include "algorithms/gcn/gcn.h"
#include "datasets/datasets.h"
#include "train/train.h"

using namespace stackgrad;

int main(int argc, char** argv) {
  train::Cli cli("gcn", "Two-layer GCN (Kipf & Welling, ICLR 2017) for semi-supervised node classification.");
  auto& common = cli.common({.dataset = "cora", .datasets = {"cora", "citeseer", "pubmed", "csbm"}, .repeats = 10});
  algo::GcnConfig cfg;
  auto& app = cli.app();
  app.add_option("--epochs", cfg.epochs, "training epochs (default 200)")->check(train::positive());
  app.add_option("--hidden", cfg.hidden, "hidden units (default 16)")->check(train::positive());
  app.add_option("--lr", cfg.lr, "Adam learning rate (default 0.01)")->check(train::positive());
  app.add_option("--weight-decay", cfg.weight_decay, "L2 on the first layer (default 5e-4)")->check(train::non_negative());
  app.add_option("--dropout", cfg.dropout, "dropout probability (default 0.5)")->check(CLI::Range(0.0, 0.99));
  app.add_option("--early-stopping", cfg.early_stopping,
                 "stop when the validation loss exceeds the mean of the last N epochs (0: off; Kipf uses 10)")
      ->check(train::non_negative());
  app.add_flag("--bias", cfg.bias, "add biases to both layers (Kipf's default has none)");
  bool raw_features = false;
  app.add_flag("--raw-features", raw_features, "do not row-normalise the features (always raw for csbm)");
  cli.parse(argc, argv);
  return cli.run_main([&] {
    cfg.row_normalize = !raw_features && common.dataset != "csbm";
    data::GraphDataset ds;
    if (common.dataset == "csbm") {
      Generator g(common.seed + 1000003);
      ds = data::csbm(2000, 4, 64, 0.01, 0.002, 1.5, g);
    } else {
      ds = data::load_planetoid(common.dataset, common.data_dir);
    }
    std::printf("%s: %lld nodes, %lld features, %lld classes, %lld edges; %lld / %lld / %lld train/val/test\n",
                ds.name.c_str(), (long long)ds.num_nodes, (long long)ds.features_or_fail().size(1),
                (long long)ds.num_classes, (long long)ds.num_edges(), (long long)ds.train_idx.numel(),
                (long long)ds.val_idx.numel(), (long long)ds.test_idx.numel());
    train::MetricsWriter metrics(common.out);
    std::vector<double> accs, secs;
    for (int r = 0; r < common.repeats; ++r) {
      const uint64_t seed = common.seed + uint64_t(r);
      train::ProgressLine line("gcn seed " + std::to_string(seed), cfg.epochs, "epoch");
      algo::GcnResult res = algo::train_gcn(ds, cfg, seed, [&](const algo::GcnEpoch& e) {
        line.update(e.epoch + 1, {{"loss", e.train_loss}, {"val_acc", e.val_accuracy}});
        metrics.write({{"seed", seed}, {"epoch", e.epoch + 1}, {"train_loss", e.train_loss},
                       {"val_loss", e.val_loss}, {"val_accuracy", e.val_accuracy},
                       {"test_accuracy", e.test_accuracy}});
      });
      line.finish();
      accs.push_back(res.test_accuracy);
      secs.push_back(res.seconds);
      std::printf("seed %3llu  epochs %3lld  val acc %.4f  test acc %.4f  %.2f s\n", (unsigned long long)seed,
                  (long long)res.epochs_trained, res.val_accuracy, res.test_accuracy, res.seconds);
      std::fflush(stdout);
    }
    double mean = 0, var = 0, time = 0;
    for (double a : accs) mean += a / double(accs.size());
    for (double a : accs) var += (a - mean) * (a - mean) / double(accs.size());
    for (double s : secs) time += s / double(secs.size());
    std::printf("test accuracy %.2f ± %.2f %% over %d seeds; %.2f s per run of %lld epochs\n", 100 * mean,
                100 * std::sqrt(var), common.repeats, time, (long long)cfg.epochs);
    return 0;
  });
}
