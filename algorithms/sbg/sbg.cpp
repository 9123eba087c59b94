// HEM, ZAM and SBG of sbg.h: the model, its loss, candidate ranking and the training loop.
#include "algorithms/sbg/sbg.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_set>

#include "datasets/uniforms.h"
#include "engine/stackgrad.h"
#include "nn/optim/adam.h"
#include "train/metrics.h"

namespace stackgrad::algo {

SearchModel parse_search_model(const std::string& name) {
  if (name == "hem") return SearchModel::hem;
  if (name == "zam") return SearchModel::zam;
  if (name == "sbg") return SearchModel::sbg;
  throw Error("--models: expected pop, hem, zam or sbg, got '" + name + "'");
}

const char* search_model_name(SearchModel m) {
  return m == SearchModel::hem ? "hem" : m == SearchModel::zam ? "zam" : "sbg";
}

RankingMetrics rank_first_column(const Tensor& candidate_scores) {
  const int64_t Q = candidate_scores.size(0);
  SG_CHECK(Q > 0, "rank_first_column: no queries");
  const auto ranks = train::relevant_ranks(candidate_scores, zeros({Q}, DType::i64));
  RankingMetrics m;
  m.queries = Q;
  for (size_t j = 0; j < m.ks.size(); ++j) {
    for (int64_t r : ranks) {
      if (r > m.ks[j]) continue;
      m.hr[j] += 1.0 / double(Q);
      m.mrr[j] += 1.0 / double(r) / double(Q);
      m.ndcg[j] += 1.0 / std::log2(double(r) + 1) / double(Q);
    }
  }
  return m;
}

std::vector<std::vector<int64_t>> sample_candidates(const PurchaseLog& log,
                                                    const std::vector<int64_t>& purchases,
                                                    int64_t candidates, Generator& gen) {
  SG_CHECK(candidates >= 1, "sample_candidates: candidates must be >= 1, got ", candidates);
  data::Uniforms u(gen);
  const int64_t C = std::min(candidates, log.num_items);
  std::vector<std::vector<int64_t>> out;
  for (int64_t p : purchases) {
    const int64_t truth = log.purchases.at(size_t(p)).item;
    std::vector<int64_t> list{truth};
    if (C == log.num_items) {
      for (int64_t i = 0; i < log.num_items; ++i)
        if (i != truth) list.push_back(i);
    } else {
      std::unordered_set<int64_t> seen{truth};
      while (int64_t(list.size()) < C) {
        const int64_t i = u.below(log.num_items);
        if (seen.insert(i).second) list.push_back(i);
      }
    }
    out.push_back(std::move(list));
  }
  return out;
}

EvalCandidates make_eval_candidates(const PurchaseLog& log, const SearchSplit& split,
                                    int64_t candidates, uint64_t seed) {
  Generator gen(seed + 0x9E3779B97F4A7C15ULL);
  EvalCandidates c;
  c.val = sample_candidates(log, split.val, candidates, gen);
  c.test = sample_candidates(log, split.test, candidates, gen);
  return c;
}

ProductSearch::ProductSearch(const PurchaseLog& l, const std::vector<int64_t>& train_purchases,
                             const SbgConfig& c, Generator& gen)
    : nn::Module("ProductSearch"), log(l), cfg(c) {
  SG_CHECK(c.dim > 0 && c.history > 0 && c.negatives >= 1 && c.word_negatives >= 1,
           "ProductSearch: bad sizes");
  SG_CHECK(c.lambda >= 0 && c.lambda <= 1, "--lambda: must lie in [0, 1], got ", c.lambda);
  const int64_t d = c.dim;
  register_parameter("item_emb", item_emb, randn({log.num_items, d}, gen) * c.init_std);
  register_parameter("word_emb", word_emb, randn({log.num_words, d}, gen) * c.init_std);
  if (c.model == SearchModel::hem) {
    register_parameter("user_emb", user_emb, randn({log.num_users, d}, gen) * c.init_std);
  } else {
    attention =
        register_module("attention", std::make_shared<nn::Linear>(d, d, nn::LinearOptions{}, gen));
  }
  if (c.model == SearchModel::sbg) {
    Sessions s = build_sessions(log, train_purchases, c.session_gap);
    num_sessions = s.count;
    register_buffer(
        "a_hat", a_hat,
        normalized_propagation(item_session_adjacency(log, train_purchases, s), c.self_loop),
        /*persistent=*/false);
    register_parameter("session_emb", session_emb, randn({num_sessions, d}, gen) * c.init_std);
  }
  // Query q = mean of its word vectors = (row-normalised query-word matrix) · word_emb.
  std::vector<int64_t> rows, cols;
  std::vector<float> vals;
  for (size_t q = 0; q < log.queries.size(); ++q)
    for (int64_t w : log.queries[q]) {
      rows.push_back(int64_t(q));
      cols.push_back(w);
      vals.push_back(1.0f / float(log.queries[q].size()));
    }
  query_matrix = sparse_csr_from_coo(from_vector(rows), from_vector(cols), from_vector(vals),
                                     {int64_t(log.queries.size()), log.num_words});
  user_start_.resize(log.purchases.size());
  for (size_t i = 0; i < log.purchases.size(); ++i)
    user_start_[i] = (i > 0 && log.purchases[i - 1].user == log.purchases[i].user)
                         ? user_start_[i - 1]
                         : int64_t(i);
  std::vector<double> count(size_t(log.num_words), 0.0);
  for (const auto& text : log.item_words)
    for (int64_t w : text) count[size_t(w)] += 1;
  double total = 0;
  for (double n : count) word_cdf_.push_back(total += std::pow(n, 0.75));
}

Tensor ProductSearch::history_table(Generator& gen) {
  if (cfg.model != SearchModel::sbg) return item_emb;
  Tensor e = cat({item_emb, session_emb}, 0);
  return jumping_convolution(a_hat, e, cfg.conv, is_training(), gen).narrow(0, 0, log.num_items);
}

Tensor ProductSearch::attend(const Tensor& history, const Tensor& pad, const Tensor& query,
                             Tensor* weights) {
  const int64_t B = history.size(0), L = history.size(1), d = history.size(2);
  Tensor key = tanh((*attention)(query));
  // Row-wise dot products as multiply-and-sum: cheaper than a batched matmul with one column.
  Tensor logits = sum(history * key.reshape({B, 1, d}), {2});
  logits = masked_fill(logits, pad, -1e9);
  // The zero vector: one more "item" whose vector and logit are 0.
  Tensor w = softmax(cat({logits, zeros({B, 1}, logits.dtype())}, 1), 1);
  if (weights) *weights = w;
  // The zero vector adds nothing to the weighted sum: only the item columns are used.
  return sum(w.narrow(1, 0, L).reshape({B, L, 1}) * history, {1});
}

Tensor ProductSearch::user_query(const std::vector<int64_t>& idx, Generator& gen) {
  const int64_t B = int64_t(idx.size()), d = cfg.dim;
  std::vector<int64_t> qids, users;
  for (int64_t p : idx) {
    qids.push_back(log.purchases.at(size_t(p)).query);
    users.push_back(log.purchases[size_t(p)].user);
  }
  Tensor q = index_select(spmm(query_matrix, word_emb), 0, from_vector(qids));
  Tensor h;
  if (cfg.model == SearchModel::hem) {
    h = index_select(user_emb, 0, from_vector(users));
  } else {
    int64_t L = 1;
    for (int64_t p : idx) L = std::max(L, std::min(cfg.history, p - user_start_[size_t(p)]));
    std::vector<int64_t> items(size_t(B * L), 0);
    std::vector<float> pad(size_t(B * L), 1.0f);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t p = idx[size_t(b)], first = std::max(user_start_[size_t(p)], p - cfg.history);
      for (int64_t j = first; j < p; ++j) {
        items[size_t(b * L + (j - first))] = log.purchases[size_t(j)].item;
        pad[size_t(b * L + (j - first))] = 0.0f;
      }
    }
    Tensor history = index_select(history_table(gen), 0, from_vector(items)).reshape({B, L, d});
    h = attend(history, from_vector(pad, {B, L}) > 0.5, q);
  }
  return cfg.lambda * q + (1.0 - cfg.lambda) * h;
}

Tensor ProductSearch::loss(const std::vector<int64_t>& idx, Generator& gen) {
  const int64_t B = int64_t(idx.size()), d = cfg.dim, k = cfg.negatives, kw = cfg.word_negatives;
  Tensor uq = user_query(idx, gen);
  data::Uniforms u(gen);
  std::vector<int64_t> items;
  std::vector<float> target;
  std::vector<int64_t> lm_items, lm_words;
  std::vector<float> lm_target;
  for (int64_t p : idx) {
    const int64_t pos = log.purchases[size_t(p)].item;
    items.push_back(pos);
    target.push_back(1.0f);
    for (int64_t j = 0; j < k; ++j) {
      int64_t neg = u.below(log.num_items);
      while (neg == pos && log.num_items > 1) neg = u.below(log.num_items);
      items.push_back(neg);
      target.push_back(0.0f);
    }
    const auto& text = log.item_words[size_t(pos)];
    if (text.empty()) continue;
    lm_items.push_back(pos);
    lm_words.push_back(text[size_t(u.below(int64_t(text.size())))]);
    lm_target.push_back(1.0f);
    for (int64_t j = 0; j < kw; ++j) {
      const double r = u.next() * word_cdf_.back();
      lm_words.push_back(
          int64_t(std::lower_bound(word_cdf_.begin(), word_cdf_.end(), r) - word_cdf_.begin()));
      lm_target.push_back(0.0f);
    }
  }
  Tensor emb = index_select(item_emb, 0, from_vector(items)).reshape({B, k + 1, d});
  Tensor logits = sum(emb * uq.reshape({B, 1, d}), {2});
  // Summed over the positive and its negatives, averaged over purchases (word2vec's weighting).
  Tensor total = binary_cross_entropy_with_logits(logits, from_vector(target, {B, k + 1}), Tensor(),
                                                  Reduction::sum) /
                 double(B);
  if (!lm_items.empty() && cfg.lm_weight > 0) {
    const int64_t M = int64_t(lm_items.size());
    Tensor iv = index_select(item_emb, 0, from_vector(lm_items));
    Tensor wv = index_select(word_emb, 0, from_vector(lm_words)).reshape({M, kw + 1, d});
    Tensor lm_logits = sum(wv * iv.reshape({M, 1, d}), {2});
    total =
        total + cfg.lm_weight *
                    binary_cross_entropy_with_logits(lm_logits, from_vector(lm_target, {M, kw + 1}),
                                                     Tensor(), Reduction::sum) /
                    double(M);
  }
  return total;
}

Tensor ProductSearch::score_candidates(const std::vector<int64_t>& idx,
                                       const std::vector<std::vector<int64_t>>& cands) {
  SG_CHECK(idx.size() == cands.size() && !idx.empty(), "score_candidates: ", idx.size(),
           " purchases, ", cands.size(), " candidate lists");
  NoGradGuard no_grad;
  Generator unused(0);  // eval mode: the convolution draws no dropout mask
  const int64_t C = int64_t(cands[0].size());
  std::vector<Tensor> parts;
  for (size_t begin = 0; begin < idx.size(); begin += 1024) {
    const size_t end = std::min(idx.size(), begin + 1024);
    std::vector<int64_t> chunk(idx.begin() + int64_t(begin), idx.begin() + int64_t(end)), flat;
    for (size_t i = begin; i < end; ++i) flat.insert(flat.end(), cands[i].begin(), cands[i].end());
    Tensor all = mm(user_query(chunk, unused), item_emb.t());  // [b, items]
    parts.push_back(gather(all, 1, from_vector(flat, {int64_t(end - begin), C})));
  }
  return cat(parts, 0);
}

RankingMetrics popularity_baseline(const PurchaseLog& log, const SearchSplit& split,
                                   const std::vector<int64_t>& eval,
                                   const std::vector<std::vector<int64_t>>& cands) {
  SG_CHECK(eval.size() == cands.size() && !eval.empty(),
           "popularity_baseline: bad candidate lists");
  std::vector<float> count(size_t(log.num_items), 0.0f);
  for (int64_t p : split.train) count[size_t(log.purchases[size_t(p)].item)] += 1;
  const int64_t C = int64_t(cands[0].size());
  std::vector<float> scores;
  for (const auto& list : cands)
    for (int64_t i : list) scores.push_back(count[size_t(i)]);
  return rank_first_column(from_vector(scores, {int64_t(cands.size()), C}));
}

SearchResult train_search(const PurchaseLog& log, const SearchSplit& split, const SbgConfig& cfg,
                          uint64_t seed, const std::function<void(const EpochReport&)>& on_epoch) {
  SG_CHECK(!split.train.empty() && !split.val.empty() && !split.test.empty(),
           "train_search: empty split of ", log.name);
  SG_CHECK(cfg.batch > 0 && cfg.epochs > 0, "train_search: batch and epochs must be positive");
  const auto start = std::chrono::steady_clock::now();
  Generator gen(seed);
  ProductSearch model(log, split.train, cfg, gen);
  nn::Adam opt(model.parameters(), {.lr = cfg.lr});
  const EvalCandidates cands = make_eval_candidates(log, split, cfg.candidates, seed);
  SearchResult best;
  double best_ndcg = -1;
  const int64_t n = int64_t(split.train.size());
  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    model.train();
    const auto perm = randperm(n, gen).to_vector<int64_t>();
    double loss_sum = 0;
    int64_t steps = 0;
    for (int64_t b = 0; b < n; b += cfg.batch) {
      std::vector<int64_t> idx;
      for (int64_t j = b; j < std::min(n, b + cfg.batch); ++j)
        idx.push_back(split.train[size_t(perm[size_t(j)])]);
      opt.zero_grad();
      Tensor loss = model.loss(idx, gen);
      loss.backward();
      opt.step();
      loss_sum += loss.item();
      ++steps;
    }
    model.eval();
    EpochReport rep{epoch, loss_sum / double(steps), 0,
                    rank_first_column(model.score_candidates(split.val, cands.val)),
                    rank_first_column(model.score_candidates(split.test, cands.test))};
    rep.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    if (rep.val.ndcg[0] > best_ndcg) {
      best_ndcg = rep.val.ndcg[0];
      best.val = rep.val;
      best.test = rep.test;
      best.best_epoch = epoch;
    }
    if (on_epoch) on_epoch(rep);
  }
  best.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return best;
}

}  // namespace stackgrad::algo
