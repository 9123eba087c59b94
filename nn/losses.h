// Loss functions with PyTorch's definitions and defaults, as plain functions of tensors. The
// engine's fused losses (cross_entropy, nll_loss, mse_loss, binary_cross_entropy_with_logits in
// engine/ops/nn.h) do the common cases; these add the options they lack (class weights) and the
// other losses, composed from engine ops, so every one is differentiable in its inputs.
//
//   Tensor loss = nn::cross_entropy(logits, labels);                       // the engine's
//   Tensor smooth = nn::cross_entropy(logits, labels, {.weight = w, .label_smoothing = 0.1});
//   Tensor t = nn::triplet_margin_loss(a, p, n, {.margin = 0.5, .swap = true});
//
// Every function takes a Reduction (none: one loss per sample, mean, sum); the engine's
// cross_entropy / nll_loss / mse_loss are available here under the same names with their
// positional arguments, and the versions with an options struct take it as the third argument
// (pass at least one option: an empty `{}` would select the engine's ignore_index argument).
#pragma once

#include <cstdint>

#include "engine/stackgrad.h"

namespace stackgrad::nn {

using stackgrad::cross_entropy;
using stackgrad::mse_loss;
using stackgrad::nll_loss;
using stackgrad::Reduction;

// --- classification -------------------------------------------------------------------------

struct CrossEntropyOptions {
  Tensor weight{};  // [C] per-class weights (optional)
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::mean;
};
// Logits [N, C, d...] (or [C]) against class indices i64 [N, d...] or class probabilities
// shaped like the logits. With a weight, the mean over class indices divides by the summed
// weights of the counted samples (PyTorch's convention); over probabilities, by the count.
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options);

struct NllLossOptions {
  Tensor weight{};  // [C] (optional)
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};
// -weight[t] * log_probs[n, t] at class indices t; the mean divides by the summed weights.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& options);

struct MultiMarginOptions {
  int p = 1;  // 1 or 2
  double margin = 1.0;
  Tensor weight{};  // [C] (optional), weighs by the target class
  Reduction reduction = Reduction::mean;
};
// Multi-class hinge loss of scores [N, C] (or [C]) at class indices [N]:
// sum over i != y of weight[y] max(0, margin - x[y] + x[i])^p, divided by C.
Tensor multi_margin_loss(const Tensor& input, const Tensor& target,
                         const MultiMarginOptions& options = {});

// --- regression -----------------------------------------------------------------------------

// |input - target|.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
// 0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0 is L1.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta = 1.0,
                      Reduction reduction = Reduction::mean);
// 0.5 d² where |d| <= delta, else delta (|d| - 0.5 delta): smooth_l1 scaled by delta.
Tensor huber_loss(const Tensor& input, const Tensor& target, double delta = 1.0,
                  Reduction reduction = Reduction::mean);

// --- binary ---------------------------------------------------------------------------------

// -weight (y log p + (1 - y) log(1 - p)) on probabilities p, each log clamped at -100 (so p = 0
// or 1 gives a finite loss, as in PyTorch). weight (optional) broadcasts against p.
Tensor bce_loss(const Tensor& probs, const Tensor& target, const Tensor& weight = Tensor(),
                Reduction reduction = Reduction::mean);

struct BceWithLogitsOptions {
  Tensor weight{};      // broadcasts against the logits (optional)
  Tensor pos_weight{};  // weighs the positive term, usually [C] (optional)
  Reduction reduction = Reduction::mean;
};
// Sigmoid + binary cross-entropy in one stable expression (the engine's kernel), times weight.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target,
                       const BceWithLogitsOptions& options = {});

// --- embeddings and ranking -----------------------------------------------------------------

// max(0, -y (x1 - x2) + margin) with y = +1 or -1.
Tensor margin_ranking_loss(const Tensor& x1, const Tensor& x2, const Tensor& target,
                           double margin = 0.0, Reduction reduction = Reduction::mean);
// x where y = 1, max(0, margin - x) where y = -1 (x is usually a distance).
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin = 1.0,
                            Reduction reduction = Reduction::mean);

struct TripletMarginOptions {
  double margin = 1.0;
  double p = 2.0;     // the norm of the distances
  double eps = 1e-6;  // added to the differences, as in pairwise_distance
  bool swap = false;  // use min(d(a, n), d(p, n)) as the negative distance (Balntas et al.)
  Reduction reduction = Reduction::mean;
};
// max(d(a, p) - d(a, n) + margin, 0) over rows of [N, D] (or [D]) with d the p-norm distance.
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           const TripletMarginOptions& options = {});

// 1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1; rows of [N, D].
Tensor cosine_embedding_loss(const Tensor& x1, const Tensor& x2, const Tensor& target,
                             double margin = 0.0, Reduction reduction = Reduction::mean);

// --- distributions --------------------------------------------------------------------------

// batchmean (sum / batch size) is the true KL divergence per sample; mean averages over every
// element, as PyTorch's 'mean' does.
enum class KlDivReduction { none, mean, sum, batchmean };
// KL(target || input) pointwise, with `input` log-probabilities: target (log target - input),
// 0 where target = 0; with log_target, target holds log-probabilities too.
Tensor kl_div(const Tensor& input, const Tensor& target,
              KlDivReduction reduction = KlDivReduction::mean, bool log_target = false);

}  // namespace stackgrad::nn
