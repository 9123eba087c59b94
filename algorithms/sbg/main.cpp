// sbg: personalised product search with a successive behaviour graph (Fan, Li, Liu et al., WWW
// 2022) against ZAM, a HEM-style model and popularity, on synthetic shoppers (default, no files) or
// on Amazon review + metadata JSON lines.
//   ./build/sbg --repeats 3                                    # synthetic, sessions carry signal
//   ./build/sbg --dataset synthetic-random                     # sessions carry no extra signal
//   ./build/sbg --dataset amazon --reviews r.json --meta m.json
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "algorithms/sbg/sbg.h"
#include "train/train.h"

using namespace stackgrad;

namespace {

std::string cell(const std::vector<double>& xs) {
  double mean = 0, var = 0;
  for (double x : xs) mean += x / double(xs.size());
  for (double x : xs) var += (x - mean) * (x - mean) / double(xs.size());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f", 100 * mean, 100 * std::sqrt(var));
  return buf;
}

void add_metrics(std::vector<train::JsonField>& row, const std::string& split,
                 const algo::RankingMetrics& m) {
  for (size_t j = 0; j < m.ks.size(); ++j) {
    const std::string k = std::to_string(m.ks[j]);
    row.push_back({split + "_hr@" + k, m.hr[j]});
    row.push_back({split + "_mrr@" + k, m.mrr[j]});
    row.push_back({split + "_ndcg@" + k, m.ndcg[j]});
  }
}

}  // namespace

int main(int argc, char** argv) {
  train::Cli cli("sbg", "Personalised product search: SBG (WWW 2022) vs ZAM, HEM and popularity.");
  auto& common =
      cli.common({.dataset = "synthetic", .datasets = {"synthetic", "synthetic-random", "amazon"}});
  algo::SbgConfig cfg;
  algo::SyntheticConfig syn;
  auto& app = cli.app();
  std::string models = "pop,hem,zam,sbg", reviews, meta;
  double gap_days = 7;
  app.add_option("--models", models,
                 "comma-separated models to run: pop, hem, zam, sbg (default all)");
  app.add_option("--reviews", reviews,
                 "amazon: the reviews JSON-lines file (reviewerID, asin, unixReviewTime)");
  app.add_option("--meta", meta,
                 "amazon: the metadata JSON-lines file (asin, title, category or categories)");
  app.add_option("--dim", cfg.dim, "embedding size d (default 64)")->check(train::positive());
  app.add_option("--lambda", cfg.lambda, "uq = λ q + (1 - λ) h_u (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--negatives", cfg.negatives, "random negative items per purchase (default 2)")
      ->check(train::positive());
  app.add_option("--word-negatives", cfg.word_negatives,
                 "language-model negative words (default 5)")
      ->check(train::positive());
  app.add_option("--lm-weight", cfg.lm_weight, "weight of the item language-model loss (default 1)")
      ->check(train::non_negative());
  app.add_option("--lr", cfg.lr, "Adam learning rate (default 1e-3)")->check(train::positive());
  app.add_option("--batch", cfg.batch, "purchases per step (default 1024)")
      ->check(train::positive());
  app.add_option("--epochs", cfg.epochs, "training epochs (default 20)")->check(train::positive());
  app.add_option("--history", cfg.history, "most recent purchases the attention sees (default 20)")
      ->check(train::positive());
  app.add_option("--session-gap-days", gap_days,
                 "R: purchases closer than this form a session (default 7 days)")
      ->check(train::non_negative());
  app.add_option("--layers", cfg.conv.layers, "SBG convolution layers (default 4; 0 = ZAM)")
      ->check(train::non_negative());
  app.add_option("--beta", cfg.conv.beta, "SBG: weight of e fed into each layer (default 0.1)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--alpha", cfg.conv.alpha, "SBG: weight of e in the output (default 0.1)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--conv-dropout", cfg.conv.dropout,
                 "SBG: dropout after the first layer (default 0.5)")
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--self-loop", cfg.self_loop, "SBG: self-loop weight in Â (default 5)")
      ->check(train::non_negative());
  app.add_option("--candidates", cfg.candidates,
                 "items ranked per test query, the true one included (default 1000)")
      ->check(train::positive());
  app.add_option("--users", syn.users, "synthetic: users (default 2000)")->check(train::positive());
  app.add_option("--categories", syn.categories, "synthetic: categories (default 20)")
      ->check(train::positive());
  app.add_option("--bundles", syn.bundles_per_category,
                 "synthetic: bundles per category (default 10)")
      ->check(train::positive());
  app.add_option("--bundle-items", syn.items_per_bundle, "synthetic: items per bundle (default 15)")
      ->check(train::positive());
  cli.parse(argc, argv);
  return cli.run_main([&] {
    SG_CHECK(common.device.is_cpu(), "--device: sbg runs on the CPU only, got ",
             common.device.str());
    cfg.session_gap = int64_t(std::llround(gap_days * 86400));
    std::vector<std::string> run;
    std::stringstream ss(models);
    for (std::string m; std::getline(ss, m, ',');) {
      if (m != "pop") algo::parse_search_model(m);  // validates
      run.push_back(m);
    }
    algo::PurchaseLog log;
    if (common.dataset == "amazon") {
      SG_CHECK(!reviews.empty() && !meta.empty(), "--dataset amazon needs --reviews and --meta");
      log = algo::load_amazon(reviews, meta);
    } else {
      syn.session_signal = common.dataset == "synthetic";
      Generator g(common.seed + 1000003);
      log = algo::synthetic_purchases(syn, g);
    }
    const algo::SearchSplit split = algo::split_last_queries(log);
    std::printf(
        "%s: %lld users, %lld items, %lld words, %zu queries, %zu purchases (%zu / %zu / %zu "
        "train/val/test)\n",
        log.name.c_str(), (long long)log.num_users, (long long)log.num_items,
        (long long)log.num_words, log.queries.size(), log.purchases.size(), split.train.size(),
        split.val.size(), split.test.size());
    {
      algo::Sessions s = algo::build_sessions(log, split.train, cfg.session_gap);
      std::printf("R = %g days: %lld sessions over the training purchases (%.2f purchases each)\n",
                  gap_days, (long long)s.count, double(split.train.size()) / double(s.count));
    }
    train::MetricsWriter out(common.out);
    std::map<std::string, std::vector<algo::RankingMetrics>> results;
    for (const std::string& m : run) {
      for (int r = 0; r < common.repeats; ++r) {
        const uint64_t seed = common.seed + uint64_t(r);
        std::vector<train::JsonField> row{{"dataset", log.name}, {"model", m}, {"seed", seed}};
        if (m == "pop") {
          const algo::EvalCandidates c =
              algo::make_eval_candidates(log, split, cfg.candidates, seed);
          results[m].push_back(algo::popularity_baseline(log, split, split.test, c.test));
        } else {
          algo::SbgConfig c = cfg;
          c.model = algo::parse_search_model(m);
          train::ProgressLine line(m + " seed " + std::to_string(seed), c.epochs, "epoch");
          algo::SearchResult res =
              algo::train_search(log, split, c, seed, [&](const algo::EpochReport& e) {
                line.update(e.epoch, {{"loss", e.loss}, {"val_ndcg@10", e.val.ndcg[0]}});
                std::vector<train::JsonField> erow = row;
                erow.push_back({"epoch", e.epoch});
                erow.push_back({"loss", e.loss});
                erow.push_back({"seconds", e.seconds});
                add_metrics(erow, "val", e.val);
                add_metrics(erow, "test", e.test);
                out.write(train::JsonRecord{erow});
              });
          line.finish();
          results[m].push_back(res.test);
          row.push_back({"best_epoch", res.best_epoch});
          row.push_back({"seconds", res.seconds});
          std::printf("%-4s seed %llu: best epoch %lld, test NDCG@10 %.4f, HR@10 %.4f, %.1f s\n",
                      m.c_str(), (unsigned long long)seed, (long long)res.best_epoch,
                      res.test.ndcg[0], res.test.hr[0], res.seconds);
          std::fflush(stdout);
        }
        row.push_back({"final", true});
        add_metrics(row, "test", results[m].back());
        out.write(train::JsonRecord{row});
      }
    }
    std::printf("\ntest, %%, mean ± std over %d seed(s); %lld candidates per query\n\n| model |",
                common.repeats, (long long)cfg.candidates);
    const char* names[] = {"HR", "MRR", "NDCG"};
    for (const char* n : names)
      for (int64_t k : algo::RankingMetrics::ks) std::printf(" %s@%lld |", n, (long long)k);
    std::printf("\n|---|");
    for (int i = 0; i < 12; ++i) std::printf("---|");
    std::printf("\n");
    for (const std::string& m : run) {
      std::printf("| %s |", m.c_str());
      for (int metric = 0; metric < 3; ++metric)
        for (size_t j = 0; j < algo::RankingMetrics::ks.size(); ++j) {
          std::vector<double> xs;
          for (const auto& r : results[m])
            xs.push_back(metric == 0 ? r.hr[j] : metric == 1 ? r.mrr[j] : r.ndcg[j]);
          std::printf(" %s |", cell(xs).c_str());
        }
      std::printf("\n");
    }
    return 0;
  });
}
