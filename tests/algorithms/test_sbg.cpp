// SBG's pieces, small: sessions at gaps just below and above R, the item-session graph and Â and
// the jumping convolution against dense formulas, ZAM's zero-vector attention on hand-set
// vectors, the Amazon loader on hand-written files, candidates that never contain the true item,
// and a short synthetic run where ZAM and SBG beat popularity.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "algorithms/sbg/sbg.h"
#include "engine/stackgrad.h"

using namespace stackgrad;
using algo::PurchaseLog;

namespace {

std::string fixture(const std::string& name) {
  // $STACKGRAD_SOURCE_DIR (set by ctest), else this file's checkout (__FILE__ may be relative to
  // the build folder), else the current directory.
  std::vector<std::filesystem::path> roots;
  if (const char* env = std::getenv("STACKGRAD_SOURCE_DIR"); env != nullptr && *env != '\0')
    roots.push_back(env);
  roots.push_back(std::filesystem::path(__FILE__).parent_path().parent_path().parent_path());
  roots.push_back(std::filesystem::current_path());
  for (const auto& root : roots) {
    auto dir = root / "tests" / "fixtures" / "sbg";
    if (std::filesystem::exists(dir / "meta.json")) return (dir / name).string();
  }
  return (roots.front() / "tests" / "fixtures" / "sbg" / name).string();
}

// A log with one query word and empty item texts: purchases (user, item, time).
PurchaseLog tiny_log(int64_t users, int64_t items,
                     const std::vector<std::array<int64_t, 3>>& buys) {
  PurchaseLog log;
  log.name = "tiny";
  log.num_users = users;
  log.num_items = items;
  log.num_words = 1;
  log.queries = {{0}};
  log.item_words.assign(size_t(items), {0});
  for (auto [u, i, t] : buys) log.purchases.push_back({u, i, t, 0});
  algo::validate(log);
  return log;
}

std::vector<int64_t> all_purchases(const PurchaseLog& log) {
  std::vector<int64_t> idx(log.purchases.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = int64_t(i);
  return idx;
}

}  // namespace

TEST(SbgSessions, GapBelowRJoinsGapOfRSplitsAndUsersNeverShare) {
  const int64_t R = 100;
  PurchaseLog log =
      tiny_log(2, 5, {{0, 0, 0}, {0, 1, 99}, {0, 2, 199}, {0, 3, 250}, {1, 4, 260}, {1, 0, 361}});
  algo::Sessions s = algo::build_sessions(log, all_purchases(log), R);
  // 0 -> 99 (gap 99 < R: joins), 99 -> 199 (gap 100 = R: new), 199 -> 250 (joins),
  // user 1 starts a new one although 10 s later, 260 -> 361 (gap 101: new).
  EXPECT_EQ(s.session_of, (std::vector<int64_t>{0, 0, 1, 1, 2, 3}));
  EXPECT_EQ(s.count, 4);
  // Only the purchases listed count: leaving out the middle one splits by the larger gap.
  algo::Sessions t = algo::build_sessions(log, {0, 2}, 200);
  EXPECT_EQ(t.session_of, (std::vector<int64_t>{0, 0}));
  EXPECT_THROW(algo::build_sessions(log, {2, 0}, R), Error);
}

TEST(SbgGraph, ItemSessionAdjacencyAndNormalisationMatchTheDenseFormula) {
  // u0 buys items 0 and 1 together; u1 buys 1, then 2 a long time later (two sessions).
  PurchaseLog log = tiny_log(2, 3, {{0, 0, 0}, {0, 1, 10}, {1, 1, 0}, {1, 2, 1000}});
  algo::Sessions s = algo::build_sessions(log, all_purchases(log), 100);
  ASSERT_EQ(s.count, 3);
  Tensor A = algo::item_session_adjacency(log, all_purchases(log), s);
  ASSERT_EQ(A.shape(), (Shape{6, 6}));
  double dense[6][6] = {};
  const int64_t edges[4][2] = {{0, 3}, {1, 3}, {1, 4}, {2, 5}};  // item, 3 + session
  for (auto [i, j] : edges) dense[i][j] = dense[j][i] = 1;
  const auto got_a = to_dense(A).to_vector<float>();
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) EXPECT_EQ(got_a[size_t(i * 6 + j)], dense[i][j]) << i << "," << j;
  // Â = D̂^-1/2 (A + 5 I) D̂^-1/2.
  double deg[6];
  for (int i = 0; i < 6; ++i) {
    dense[i][i] += 5;
    deg[i] = 0;
    for (int j = 0; j < 6; ++j) deg[i] += dense[i][j];
  }
  const auto got = to_dense(algo::normalized_propagation(A, 5.0)).to_vector<float>();
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j)
      EXPECT_NEAR(got[size_t(i * 6 + j)], dense[i][j] / std::sqrt(deg[i] * deg[j]), 1e-6)
          << i << "," << j;
}

TEST(SbgGraph, JumpingConvolutionMatchesTheDenseRecurrence) {
  PurchaseLog log = tiny_log(2, 3, {{0, 0, 0}, {0, 1, 10}, {1, 1, 0}, {1, 2, 1000}});
  algo::Sessions s = algo::build_sessions(log, all_purchases(log), 100);
  Tensor A_hat =
      algo::normalized_propagation(algo::item_session_adjacency(log, all_purchases(log), s));
  Generator gen(3);
  Tensor e = randn({6, 4}, gen);
  const algo::JumpingConfig cfg{.layers = 4, .beta = 0.2, .alpha = 0.3, .dropout = 0.5};
  Tensor out = algo::jumping_convolution(A_hat, e, cfg, /*training=*/false, gen);
  // Dense: x1 = Â e; x_{l+1} = Â (β e + (1 - β) x_l); out = a e + (1 - a) x4.
  Tensor D = to_dense(A_hat);
  Tensor x = mm(D, e);
  for (int l = 1; l < 4; ++l) x = mm(D, 0.2 * e + 0.8 * x);
  Tensor want = 0.3 * e + 0.7 * x;
  const auto a = out.to_vector<float>(), b = want.to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5);
  // No layers: the free embeddings themselves.
  EXPECT_EQ(algo::jumping_convolution(A_hat, e, {.layers = 0}, false, gen).to_vector<float>(),
            e.to_vector<float>());
  // Training: the first layer's dropout zeroes some entries of x1 and scales the rest by 2, so
  // with one layer out - a e is either 0 or 2 (1 - a) (Â e).
  Tensor one =
      algo::jumping_convolution(A_hat, e, {.layers = 1, .alpha = 0.3, .dropout = 0.5}, true, gen);
  const auto drop = ((one - 0.3 * e) / 0.7).to_vector<float>(), full = mm(D, e).to_vector<float>();
  int zeros = 0;
  for (size_t i = 0; i < drop.size(); ++i) {
    if (std::abs(drop[i]) < 1e-6)
      ++zeros;
    else
      EXPECT_NEAR(drop[i], 2 * full[i], 1e-5);
  }
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, int(drop.size()));
}

TEST(SbgZam, AUserWhoseItemsAllScoreLowAttendsToTheZeroVector) {
  PurchaseLog log = tiny_log(1, 4, {{0, 0, 0}, {0, 1, 1}, {0, 2, 2}});
  algo::SbgConfig cfg;
  cfg.model = algo::SearchModel::zam;
  cfg.dim = 2;
  Generator gen(0);
  algo::ProductSearch model(log, all_purchases(log), cfg, gen);
  NoGradGuard no_grad;
  model.attention->weight = from_vector<float>({3, 0, 0, 3}, {2, 2});  // key = tanh(3 q)
  model.attention->bias = zeros({2});
  Tensor query = from_vector<float>({1, 0, 1, 0}, {2, 2});
  Tensor pad = from_vector<float>({0, 0, 0, 1}, {2, 2}) > 0.5;  // user 2's second slot is padding
  // User 1: both items point away from the query (logits ≈ -10, -8): h_u ≈ 0.
  // User 2: one item along the query (logit ≈ 10) and a padded slot that must be ignored.
  Tensor history = from_vector<float>({-10, 0, -8, 1, 10, 0, 50, 50}, {2, 2, 2});
  Tensor w;
  Tensor h = model.attend(history, pad, query, &w);
  const auto hv = h.to_vector<float>(), wv = w.to_vector<float>();
  EXPECT_NEAR(wv[2], 1.0, 1e-3);  // user 1: the zero vector takes all the weight
  EXPECT_NEAR(hv[0], 0.0, 1e-2);
  EXPECT_NEAR(hv[1], 0.0, 1e-3);
  EXPECT_NEAR(wv[3], 1.0, 1e-3);  // user 2: the item along the query
  EXPECT_NEAR(wv[4], 0.0, 1e-6);  // the padded slot
  EXPECT_NEAR(hv[2], 10.0, 1e-2);
  EXPECT_NEAR(hv[3], 0.0, 1e-3);
  // With tanh(W q) ≈ (1, 0), the weights are softmax(-10 * 0.995, -8 * 0.995, 0).
  const double k = std::tanh(3.0), z = std::exp(-10 * k) + std::exp(-8 * k) + 1;
  EXPECT_NEAR(wv[0], std::exp(-10 * k) / z, 1e-6);
  EXPECT_NEAR(wv[1], std::exp(-8 * k) / z, 1e-6);
}

TEST(SbgData, AmazonLoaderReadsTheHandWrittenFiles) {
  PurchaseLog log = algo::load_amazon(fixture("reviews.json"), fixture("meta.json"));
  // U3 has one review and B004 no category: left out.
  EXPECT_EQ(log.num_users, 2);
  EXPECT_EQ(log.num_items, 4);
  ASSERT_EQ(log.purchases.size(), 6u);
  auto query_text = [&](const algo::Purchase& p) {
    std::string s;
    for (int64_t w : log.queries[size_t(p.query)])
      s += (s.empty() ? "" : " ") + log.words[size_t(w)];
    return s;
  };
  // U1 in time order: B001 (2011), B002, B003 (the 2014 "categories" form: first path).
  EXPECT_EQ(log.purchases[0].time, 1300000000);
  EXPECT_EQ(query_text(log.purchases[0]), "electronics cables adapters");
  EXPECT_EQ(query_text(log.purchases[1]), "electronics computer accessories");
  EXPECT_EQ(query_text(log.purchases[2]), "electronics computer accessories");
  EXPECT_EQ(log.purchases[1].query, log.purchases[2].query);  // one id per distinct query
  EXPECT_EQ(log.queries.size(), 3u);
  EXPECT_EQ(query_text(log.purchases[4]), "home cables adapters");
  EXPECT_EQ(log.purchases[3].item, log.purchases[0].item);  // both bought B001
  std::string title;
  for (int64_t w : log.item_words[size_t(log.purchases[0].item)])
    title += log.words[size_t(w)] + " ";
  EXPECT_EQ(title, "usb c cable 2m ");
  algo::SearchSplit split = algo::split_last_queries(log);
  EXPECT_EQ(split.train, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(split.val, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(split.test, (std::vector<int64_t>{2, 5}));
}

TEST(SbgData, AmazonLoaderNamesTheMalformedLine) {
  try {
    algo::load_amazon(fixture("bad_reviews.json"), fixture("meta.json"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_reviews.json:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Python dict"), std::string::npos) << e.what();
  }
  EXPECT_THROW(algo::load_amazon(fixture("missing.json"), fixture("meta.json")), Error);
}

TEST(SbgEval, CandidatesNeverContainTheTrueItemTwiceAndMetricsRankColumnZero) {
  PurchaseLog log = tiny_log(1, 50, {{0, 7, 0}, {0, 3, 1}, {0, 49, 2}});
  Generator gen(1);
  auto c = algo::sample_candidates(log, {0, 1, 2}, 20, gen);
  for (size_t q = 0; q < 3; ++q) {
    ASSERT_EQ(c[q].size(), 20u);
    EXPECT_EQ(c[q][0], log.purchases[q].item);
    std::set<int64_t> distinct(c[q].begin(), c[q].end());
    EXPECT_EQ(distinct.size(), 20u);  // so the true item appears once, as the first
  }
  auto all = algo::sample_candidates(log, {2}, 1000, gen);  // more than the catalogue
  ASSERT_EQ(all[0].size(), 50u);
  EXPECT_EQ(std::count(all[0].begin(), all[0].end(), 49), 1);
  // Ranks 1, 3 and 12 (a tie with the true item counts against it).
  std::vector<float> s(3 * 15, 0.0f);
  s[0] = 1;
  s[15] = 0.5f, s[16] = 0.9f, s[17] = 0.7f;
  for (int j = 0; j < 11; ++j) s[size_t(30 + 1 + j)] = 1;
  s[30] = 1;
  algo::RankingMetrics m = algo::rank_first_column(from_vector(s, {3, 15}));
  EXPECT_NEAR(m.hr[0], 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.mrr[0], (1 + 1.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(m.ndcg[1], (1 + 1 / std::log2(4.0) + 1 / std::log2(13.0)) / 3, 1e-12);
}

TEST(SbgSynthetic, SessionsComeFromOneBundleOnlyWithSignal) {
  algo::SyntheticConfig cfg{.users = 200};
  for (bool signal : {true, false}) {
    cfg.session_signal = signal;
    Generator gen(5);
    PurchaseLog log = algo::synthetic_purchases(cfg, gen);
    algo::Sessions s = algo::build_sessions(log, all_purchases(log), 7 * 86400);
    int same = 0, pairs = 0;
    for (size_t i = 1; i < log.purchases.size(); ++i) {
      if (s.session_of[i] != s.session_of[i - 1]) continue;
      ++pairs;
      same += log.purchases[i].item / cfg.items_per_bundle ==
              log.purchases[i - 1].item / cfg.items_per_bundle;
    }
    EXPECT_GT(pairs, 1000);
    if (signal)
      EXPECT_EQ(same, pairs);
    else
      EXPECT_LT(same, pairs / 4);
  }
}

TEST(SbgTraining, ZamAndSbgBeatPopularityOnSyntheticShoppers) {
  algo::SyntheticConfig syn{
      .users = 400, .categories = 8, .bundles_per_category = 5, .items_per_bundle = 10};
  Generator gen(0);
  PurchaseLog log = algo::synthetic_purchases(syn, gen);
  algo::SearchSplit split = algo::split_last_queries(log);
  algo::SbgConfig cfg;
  cfg.dim = 16;
  cfg.epochs = 5;
  cfg.batch = 256;
  cfg.lr = 5e-3;
  cfg.candidates = 100;
  auto cands = algo::make_eval_candidates(log, split, cfg.candidates, 0);
  const algo::RankingMetrics pop = algo::popularity_baseline(log, split, split.test, cands.test);
  for (auto m : {algo::SearchModel::zam, algo::SearchModel::sbg}) {
    cfg.model = m;
    algo::SearchResult r = algo::train_search(log, split, cfg, 0);
    EXPECT_GT(r.test.ndcg[0], pop.ndcg[0] + 0.15)
        << algo::search_model_name(m) << " vs popularity " << pop.ndcg[0];
  }
}
