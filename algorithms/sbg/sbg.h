// Personalised product search with a successive behaviour graph: SBG (Lu Fan, Qimai Li, Bo Liu et
// al., "Modeling User Behavior with Graph Convolution for Personalized Product Search", WWW 2022)
// on top of ZAM (Ai et al., "A Zero Attention Model for Personalized Product Search", CIKM 2019),
// and a HEM-style model (Ai et al., SIGIR 2017) whose user is a free embedding.
//
// Users, items and words share one d-dimensional space. A query is the mean of its word vectors q.
//   HEM:  h_u = a free user vector.
//   ZAM:  h_u = Σ_i w_i i over the user's previous purchases plus a zero vector, with
//         w = softmax([⟨i, tanh(W q + b)⟩ ..., 0]) — the zero vector's logit is 0, so a user whose
//         items all score low for this query attends to nothing and h_u → 0.
//   SBG:  ZAM whose history vectors i come from the jumping convolution of free item and session
//         embeddings over the item-session graph (session_graph.h) instead of the free item table.
// uq = λ q + (1 - λ) h_u, and P(buy item | u, q) = σ(⟨uq, item⟩) with the free item vector. The
// loss is binary cross-entropy against `negatives` random items per purchase plus a
// paragraph-vector language model: each purchased item predicts one of its words against
// `word_negatives` words drawn by unigram^0.75.
//
//   algo::SbgConfig cfg;                      // model sbg, d 64, λ 0.5, Adam 1e-3, batch 1024
//   algo::SearchResult r = algo::train_search(log, split, cfg, /*seed=*/0);
//   std::printf("test NDCG@10 %.4f\n", r.test.ndcg[0]);
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "algorithms/sbg/purchase_log.h"
#include "algorithms/sbg/session_graph.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace stackgrad::algo {

enum class SearchModel { hem, zam, sbg };
SearchModel parse_search_model(const std::string& name);  // "hem", "zam", "sbg"
const char* search_model_name(SearchModel m);

struct SbgConfig {
  SearchModel model = SearchModel::sbg;
  int64_t dim = 64;
  double lambda = 0.5;         // uq = λ q + (1 - λ) h_u
  int64_t negatives = 2;       // random items per purchase
  int64_t word_negatives = 5;  // language-model negatives per item word
  double lm_weight = 1.0;
  double lr = 1e-3;
  int64_t batch = 1024;
  int64_t epochs = 20;
  int64_t history = 20;             // the user's most recent purchases the attention sees
  int64_t session_gap = 7 * 86400;  // R in seconds
  double self_loop = 5.0;           // Â = D̂^-1/2 (A + self_loop I) D̂^-1/2
  JumpingConfig conv;               // layers 4, β 0.1, a 0.1, dropout 0.5
  double init_std = 0.1;            // N(0, init_std²) for every embedding
  int64_t candidates = 1000;        // ranked per query: the true item and candidates - 1 others
};

// Hit rate, MRR and NDCG at each cutoff.
struct RankingMetrics {
  static constexpr std::array<int64_t, 4> ks = {10, 20, 50, 100};
  std::array<double, 4> hr{}, mrr{}, ndcg{};
  int64_t queries = 0;
};
// Metrics of candidate scores [Q, C] whose column 0 holds each query's true item.
RankingMetrics rank_first_column(const Tensor& candidate_scores);

// Per evaluated purchase: the true item first, then candidates - 1 distinct other items drawn
// uniformly (never the true item). Capped at the catalogue size.
std::vector<std::vector<int64_t>> sample_candidates(const PurchaseLog& log,
                                                    const std::vector<int64_t>& purchases,
                                                    int64_t candidates, Generator& gen);

class ProductSearch : public nn::Module {
 public:
  // `train_purchases` builds SBG's graph (sessions from training purchases only).
  ProductSearch(const PurchaseLog& log, const std::vector<int64_t>& train_purchases,
                const SbgConfig& cfg, Generator& gen);
  // The uq vectors [B, d] of purchases log.purchases[idx[b]] (history: the user's earlier
  // purchases).
  Tensor user_query(const std::vector<int64_t>& idx, Generator& gen);
  // The attention half of ZAM on explicit inputs: history [B, L, d], pad mask [B, L] (true = pad),
  // query [B, d]; returns h_u [B, d] and, when weights != nullptr, the [B, L + 1] attention (last
  // column: the zero vector).
  Tensor attend(const Tensor& history, const Tensor& pad, const Tensor& query,
                Tensor* weights = nullptr);
  // The training loss of a batch of purchases.
  Tensor loss(const std::vector<int64_t>& idx, Generator& gen);
  // Scores [Q, C] of candidate lists for the purchases idx (eval mode, no gradients).
  Tensor score_candidates(const std::vector<int64_t>& idx,
                          const std::vector<std::vector<int64_t>>& cands);
  // The table history vectors come from: free items (ZAM), convolved items (SBG).
  Tensor history_table(Generator& gen);

  const PurchaseLog& log;
  SbgConfig cfg;
  int64_t num_sessions = 0;
  Tensor item_emb, word_emb, user_emb, session_emb;  // user_emb: HEM only; session_emb: SBG only
  std::shared_ptr<nn::Linear> attention;             // tanh(W q + b)
  Tensor query_matrix, a_hat;                        // CSR [queries, words] of 1/len; SBG's Â

 private:
  std::vector<int64_t> user_start_;  // per purchase: index of the user's first purchase
  std::vector<double> word_cdf_;     // unigram^0.75 over item words
};

struct EpochReport {
  int64_t epoch;
  double loss, seconds;
  RankingMetrics val, test;
};
struct SearchResult {
  RankingMetrics val, test;  // at the epoch of best validation NDCG@10 (the first on ties)
  int64_t best_epoch = 0;
  double seconds = 0;
};
SearchResult train_search(const PurchaseLog& log, const SearchSplit& split, const SbgConfig& cfg,
                          uint64_t seed,
                          const std::function<void(const EpochReport&)>& on_epoch = {});

// The candidate lists every model of one seed is evaluated on (drawn from their own generator, so
// they do not depend on the model or on training).
struct EvalCandidates {
  std::vector<std::vector<int64_t>> val, test;
};
EvalCandidates make_eval_candidates(const PurchaseLog& log, const SearchSplit& split,
                                    int64_t candidates, uint64_t seed);

// The popularity baseline: items scored by their number of training purchases.
RankingMetrics popularity_baseline(const PurchaseLog& log, const SearchSplit& split,
                                   const std::vector<int64_t>& eval,
                                   const std::vector<std::vector<int64_t>>& cands);

}  // namespace stackgrad::algo
