// Sessions, the item-session graph and the jumping convolution of session_graph.h.
#include "algorithms/sbg/session_graph.h"

#include "engine/stackgrad.h"

namespace stackgrad::algo {

Sessions build_sessions(const PurchaseLog& log, const std::vector<int64_t>& purchases,
                        int64_t max_gap_seconds) {
  SG_CHECK(max_gap_seconds >= 0, "build_sessions: R must be >= 0 seconds, got ", max_gap_seconds);
  Sessions s;
  s.session_of.reserve(purchases.size());
  for (size_t k = 0; k < purchases.size(); ++k) {
    const Purchase& p = log.purchases.at(size_t(purchases[k]));
    bool joins = false;
    if (k > 0) {
      SG_CHECK(purchases[k] > purchases[k - 1], "build_sessions: purchase indices must ascend");
      const Purchase& prev = log.purchases[size_t(purchases[k - 1])];
      joins = prev.user == p.user && p.time - prev.time < max_gap_seconds;
    }
    if (!joins) ++s.count;
    s.session_of.push_back(s.count - 1);
  }
  return s;
}

Tensor item_session_adjacency(const PurchaseLog& log, const std::vector<int64_t>& purchases,
                              const Sessions& s) {
  SG_CHECK(s.session_of.size() == purchases.size(), "item_session_adjacency: ", s.session_of.size(),
           " session ids for ", purchases.size(), " purchases");
  std::vector<int64_t> src, dst;
  for (size_t k = 0; k < purchases.size(); ++k) {
    src.push_back(log.purchases.at(size_t(purchases[k])).item);
    dst.push_back(log.num_items + s.session_of[k]);
  }
  return from_edge_list(from_vector(src), from_vector(dst), log.num_items + s.count, Tensor(),
                        /*symmetric=*/true);
}

Tensor normalized_propagation(const Tensor& A, double self_loop) {
  return sym_normalize(add_self_loops(A, self_loop));
}

Tensor jumping_convolution(const Tensor& A_hat, const Tensor& e, const JumpingConfig& cfg,
                           bool training, Generator& gen) {
  SG_CHECK(cfg.layers >= 0, "jumping_convolution: layers must be >= 0, got ", cfg.layers);
  if (cfg.layers == 0) return e;
  Tensor x = dropout(spmm(A_hat, e), cfg.dropout, training, gen);
  for (int64_t l = 1; l < cfg.layers; ++l) x = spmm(A_hat, cfg.beta * e + (1.0 - cfg.beta) * x);
  return cfg.alpha * e + (1.0 - cfg.alpha) * x;
}

}  // namespace stackgrad::algo
