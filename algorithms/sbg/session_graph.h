// SBG's successive behaviour graph and its parameter-free "jumping" graph convolution.
//
// A user's purchases less than R apart (each to the previous one) form a session. The graph is
// bipartite: item nodes 0..I-1 and session nodes I..I+S-1, an edge between a session and each
// item bought in it. Propagation uses Â = D̂^-1/2 (A + s I) D̂^-1/2 with s = 5 (heavy self-loops
// keep a node's own embedding dominant), and the convolution of free node embeddings e is
//   x1 = dropout(Â e),  x_{l+1} = Â (β e + (1 - β) x_l)  (l = 1..L-1),  out = a e + (1 - a) x_L,
// a jump back to e at every layer (as APPNP / GCNII) so deep stacks do not over-smooth.
//
//   algo::Sessions s = algo::build_sessions(log, split.train, 7 * 86400);
//   Tensor A_hat = algo::normalized_propagation(algo::item_session_adjacency(log, split.train, s));
//   Tensor table = algo::jumping_convolution(A_hat, e, {.layers = 4}, /*training=*/true, gen);
#pragma once

#include <cstdint>
#include <vector>

#include "algorithms/sbg/purchase_log.h"
#include "engine/core/tensor.h"

namespace stackgrad::algo {

struct Sessions {
  std::vector<int64_t> session_of;  // per listed purchase, in the order given
  int64_t count = 0;
};
// Sessions of the purchases log.purchases[purchases[k]] (indices ascending, so each user's
// purchases come in time order): a purchase joins its predecessor's session when both are the
// same user's and the gap is strictly below `max_gap_seconds` (R).
Sessions build_sessions(const PurchaseLog& log, const std::vector<int64_t>& purchases,
                        int64_t max_gap_seconds);

// The symmetric [I + S, I + S] item-session adjacency (weight 1 per distinct edge), CSR f32.
Tensor item_session_adjacency(const PurchaseLog& log, const std::vector<int64_t>& purchases,
                              const Sessions& s);

// D̂^-1/2 (A + self_loop I) D̂^-1/2, D̂ the row sums of A + self_loop I.
Tensor normalized_propagation(const Tensor& A, double self_loop = 5.0);

struct JumpingConfig {
  int64_t layers = 4;    // L; 0 returns e unchanged
  double beta = 0.1;     // weight of e fed into every layer after the first
  double alpha = 0.1;    // weight of e in the output
  double dropout = 0.5;  // on the first layer's output, in training only
};
Tensor jumping_convolution(const Tensor& A_hat, const Tensor& e, const JumpingConfig& cfg,
                           bool training, Generator& gen);

}  // namespace stackgrad::algo
