#include "nn/losses.h"

#include <cmath>
#include <limits>

namespace stackgrad::nn {

namespace {

Tensor reduce(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::none:
      return loss;
    case Reduction::sum:
      return sum(loss);
    case Reduction::mean:
      return mean(loss);
  }
  return loss;
}

void check_same_shape(const char* fn, const Tensor& a, const char* a_name, const Tensor& b,
                      const char* b_name) {
  check_defined(fn, a, a_name);
  check_defined(fn, b, b_name);
  SG_CHECK(a.shape() == b.shape(), fn, ": ", a_name, " and ", b_name,
           " must have the same shape, got ", shape_str(a.shape()), " and ", shape_str(b.shape()));
}

void check_floating(const char* fn, const Tensor& t, const char* name) {
  SG_CHECK(is_floating(t.dtype()), fn, ": ", name, " must be floating, got ", describe(t));
}

// Class scores [N, C, d...] (or [C]) laid out as rows [M, C] with the class dim last, and
// class-index targets [N, d...] (or []) as [M].
struct ClassRows {
  Tensor rows, target;
  Shape target_shape;
  int64_t classes = 0;
};

ClassRows class_rows(const char* fn, const Tensor& x, const Tensor& target) {
  check_defined(fn, x, "input");
  check_defined(fn, target, "target");
  SG_CHECK(x.dim() >= 1, fn, ": expected input [N, C, ...] or [C], got ", describe(x));
  SG_CHECK(target.dtype() == DType::i64, fn, ": class-index target must be i64, got ",
           describe(target));
  ClassRows out;
  out.classes = x.dim() == 1 ? x.size(0) : x.size(1);
  Shape expected = x.shape();
  expected.erase(expected.begin() + (x.dim() == 1 ? 0 : 1));
  SG_CHECK(target.shape() == expected, fn, ": expected target ", shape_str(expected), " for input ",
           shape_str(x.shape()), ", got ", shape_str(target.shape()));
  out.target_shape = target.shape();
  std::vector<int64_t> perm{0};
  for (int64_t d = 2; d < x.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  Tensor rows = x.dim() == 1 ? x : x.dim() == 2 ? x : x.permute(perm);
  const int64_t m = out.classes == 0 ? 0 : x.numel() / out.classes;
  out.rows = rows.reshape({m, out.classes});
  out.target = target.reshape({m});
  return out;
}

void check_class_range(const char* fn, const Tensor& target, int64_t classes,
                       int64_t ignore_index) {
  for (int64_t t : target.to(Device::cpu()).to_vector<int64_t>())
    SG_CHECK(t == ignore_index || (t >= 0 && t < classes), fn, ": target ", t,
             " is out of range [0, ", classes, ")");
}

Tensor checked_weight(const char* fn, const Tensor& weight, int64_t classes, const Tensor& like) {
  SG_CHECK(weight.dim() == 1 && weight.size(0) == classes, fn, ": expected weight [", classes,
           "] (one per class), got ", describe(weight));
  check_same_device(fn, weight, like);
  return weight.to(like.dtype());
}

// The weighted negative log-likelihood of each row: loss [M], the weight counted for each row
// [M] (0 where ignored) and the mask of counted rows (in the rows' dtype).
struct RowNll {
  Tensor loss, weight, valid;
};

RowNll row_nll(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
               int64_t ignore_index) {
  Tensor ignored = target == static_cast<double>(ignore_index);
  Tensor safe = masked_fill(target, ignored, 0.0);
  Tensor picked = gather(log_probs, 1, safe.unsqueeze(1)).squeeze(1);
  Tensor valid = logical_not(ignored).to(log_probs.dtype());
  Tensor w = weight.defined() ? index_select(weight, 0, safe) * valid : valid;
  return {-picked * w, w, valid};
}

// The p-norm along the last dim, for any p > 0.
Tensor norm_last(const Tensor& x, double p) {
  if (p == 1.0 || p == 2.0 || std::isinf(p)) return norm(x, p, {-1});
  return pow(sum(pow(abs(x), p), {-1}), 1.0 / p);
}

}  // namespace

// --- classification -------------------------------------------------------------------------

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& o) {
  if (!o.weight.defined())
    return stackgrad::nll_loss(log_probs, target, o.ignore_index, o.reduction);
  ClassRows r = class_rows("nll_loss", log_probs, target);
  check_class_range("nll_loss", r.target, r.classes, o.ignore_index);
  RowNll nll = row_nll(r.rows, r.target, checked_weight("nll_loss", o.weight, r.classes, log_probs),
                       o.ignore_index);
  switch (o.reduction) {
    case Reduction::none:
      return nll.loss.reshape(r.target_shape);
    case Reduction::sum:
      return sum(nll.loss);
    case Reduction::mean:
      return sum(nll.loss) / sum(nll.weight);
  }
  return nll.loss;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  const double eps = o.label_smoothing;
  SG_CHECK(eps >= 0 && eps <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ", eps);
  if (!o.weight.defined())
    return stackgrad::cross_entropy(logits, target, o.ignore_index, eps, o.reduction);
  check_defined("cross_entropy", logits, "logits");
  check_defined("cross_entropy", target, "target");
  check_floating("cross_entropy", logits, "logits");

  if (is_floating(target.dtype())) {
    // Class probabilities: -sum_c w_c t_c log softmax(x)_c, the mean over samples.
    check_same_shape("cross_entropy", logits, "logits", target, "probability target");
    const int64_t class_dim = logits.dim() == 1 ? 0 : 1;
    const int64_t classes = logits.size(class_dim);
    Shape wshape(logits.dim(), 1);
    wshape[class_dim] = classes;
    Tensor w = checked_weight("cross_entropy", o.weight, classes, logits).reshape(wshape);
    Tensor t = eps > 0 ? target * (1.0 - eps) + eps / static_cast<double>(classes) : target;
    return reduce(-sum(log_softmax(logits, class_dim) * t * w, {class_dim}), o.reduction);
  }

  ClassRows r = class_rows("cross_entropy", logits, target);
  check_class_range("cross_entropy", r.target, r.classes, o.ignore_index);
  Tensor w = checked_weight("cross_entropy", o.weight, r.classes, logits);
  Tensor log_probs = log_softmax(r.rows, 1);
  RowNll nll = row_nll(log_probs, r.target, w, o.ignore_index);
  Tensor loss = nll.loss;
  if (eps > 0) {
    // Label smoothing adds eps / C times the weighted sum of every class's -log p.
    Tensor smooth = -sum(log_probs * w, {1}) * nll.valid;
    loss = loss * (1.0 - eps) + smooth * (eps / static_cast<double>(r.classes));
  }
  switch (o.reduction) {
    case Reduction::none:
      return loss.reshape(r.target_shape);
    case Reduction::sum:
      return sum(loss);
    case Reduction::mean:
      return sum(loss) / sum(nll.weight);
  }
  return loss;
}

Tensor multi_margin_loss(const Tensor& input, const Tensor& target, const MultiMarginOptions& o) {
  SG_CHECK(o.p == 1 || o.p == 2, "multi_margin_loss: p must be 1 or 2, got ", o.p);
  check_defined("multi_margin_loss", input, "input");
  SG_CHECK(input.dim() == 1 || input.dim() == 2,
           "multi_margin_loss: expected input [N, C] or [C], got ", describe(input));
  check_floating("multi_margin_loss", input, "input");
  ClassRows r = class_rows("multi_margin_loss", input, target);
  check_class_range("multi_margin_loss", r.target, r.classes, std::numeric_limits<int64_t>::min());
  Tensor picked = gather(r.rows, 1, r.target.unsqueeze(1));  // x[y], [M, 1]
  Tensor z = relu(o.margin - picked + r.rows);
  if (o.p == 2) z = z * z;
  if (o.weight.defined())
    z = z *
        index_select(checked_weight("multi_margin_loss", o.weight, r.classes, input), 0, r.target)
            .unsqueeze(1);
  // The target's own term (always margin^p) is left out.
  Tensor others = 1.0 - one_hot(r.target, r.classes).to(input.dtype());
  Tensor loss = sum(z * others, {1}) / static_cast<double>(r.classes);
  return reduce(loss.reshape(r.target_shape), o.reduction);
}

// --- regression -----------------------------------------------------------------------------

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape("l1_loss", input, "input", target, "target");
  return reduce(abs(input - target), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, double beta, Reduction reduction) {
  check_same_shape("smooth_l1_loss", input, "input", target, "target");
  SG_CHECK(beta >= 0, "smooth_l1_loss: beta must be >= 0, got ", beta);
  if (beta == 0) return l1_loss(input, target, reduction);
  Tensor d = input - target, ad = abs(d);
  return reduce(where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, double delta, Reduction reduction) {
  check_same_shape("huber_loss", input, "input", target, "target");
  SG_CHECK(delta > 0, "huber_loss: delta must be > 0, got ", delta);
  Tensor d = input - target, ad = abs(d);
  return reduce(where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta), reduction);
}

// --- binary ---------------------------------------------------------------------------------

Tensor bce_loss(const Tensor& probs, const Tensor& target, const Tensor& weight,
                Reduction reduction) {
  check_same_shape("bce_loss", probs, "probs", target, "target");
  check_floating("bce_loss", probs, "probs");
  if (probs.numel() > 0) {
    double lo = min(probs).item(), hi = max(probs).item();
    SG_CHECK(lo >= 0 && hi <= 1, "bce_loss: probs must be in [0, 1], got values in [", lo, ", ", hi,
             "] (use bce_with_logits on raw scores)");
  }
  const double inf = std::numeric_limits<double>::infinity();
  Tensor log_p = clamp(log(probs), -100.0, inf), log_q = clamp(log(1.0 - probs), -100.0, inf);
  Tensor loss = -(target * log_p + (1.0 - target) * log_q);
  if (weight.defined()) loss = loss * weight.to(probs.dtype());
  return reduce(loss, reduction);
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target, const BceWithLogitsOptions& o) {
  if (!o.weight.defined())
    return binary_cross_entropy_with_logits(logits, target, o.pos_weight, o.reduction);
  Tensor loss = binary_cross_entropy_with_logits(logits, target, o.pos_weight, Reduction::none);
  return reduce(loss * o.weight.to(logits.dtype()), o.reduction);
}

// --- embeddings and ranking -----------------------------------------------------------------

Tensor margin_ranking_loss(const Tensor& x1, const Tensor& x2, const Tensor& target, double margin,
                           Reduction reduction) {
  check_same_shape("margin_ranking_loss", x1, "x1", x2, "x2");
  check_same_shape("margin_ranking_loss", x1, "x1", target, "target");
  return reduce(relu(-target * (x1 - x2) + margin), reduction);
}

Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin,
                            Reduction reduction) {
  check_same_shape("hinge_embedding_loss", input, "input", target, "target");
  Tensor zero = zeros_like(input);
  Tensor loss =
      where(target != 1.0, relu(margin - input), zero) + where(target != -1.0, input, zero);
  return reduce(loss, reduction);
}

Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           const TripletMarginOptions& o) {
  check_same_shape("triplet_margin_loss", anchor, "anchor", positive, "positive");
  check_same_shape("triplet_margin_loss", anchor, "anchor", negative, "negative");
  SG_CHECK(anchor.dim() == 1 || anchor.dim() == 2,
           "triplet_margin_loss: expected inputs [N, D] or [D], got ", describe(anchor));
  SG_CHECK(o.p > 0, "triplet_margin_loss: p must be > 0, got ", o.p);
  auto distance = [&](const Tensor& a, const Tensor& b) { return norm_last(a - b + o.eps, o.p); };
  Tensor d_pos = distance(anchor, positive), d_neg = distance(anchor, negative);
  if (o.swap) d_neg = minimum(d_neg, distance(positive, negative));
  return reduce(relu(d_pos - d_neg + o.margin), o.reduction);
}

Tensor cosine_embedding_loss(const Tensor& x1, const Tensor& x2, const Tensor& target,
                             double margin, Reduction reduction) {
  check_same_shape("cosine_embedding_loss", x1, "x1", x2, "x2");
  SG_CHECK(x1.dim() == 1 || x1.dim() == 2,
           "cosine_embedding_loss: expected inputs [N, D] or [D], got ", describe(x1));
  Shape expected = x1.dim() == 2 ? Shape{x1.size(0)} : Shape{};
  SG_CHECK(target.shape() == expected, "cosine_embedding_loss: expected target ",
           shape_str(expected), ", got ", shape_str(target.shape()));
  constexpr double kEps = 1e-12;  // PyTorch's, keeps zero vectors finite
  Tensor dot = sum(x1 * x2, {-1});
  Tensor cos = dot / sqrt((sum(x1 * x1, {-1}) + kEps) * (sum(x2 * x2, {-1}) + kEps));
  Tensor zero = zeros_like(cos);
  Tensor loss =
      where(target == 1.0, 1.0 - cos, zero) + where(target == -1.0, relu(cos - margin), zero);
  return reduce(loss, reduction);
}

// --- distributions --------------------------------------------------------------------------

Tensor kl_div(const Tensor& input, const Tensor& target, KlDivReduction reduction,
              bool log_target) {
  check_same_shape("kl_div", input, "input", target, "target");
  check_floating("kl_div", input, "input");
  Tensor loss;
  if (log_target) {
    loss = exp(target) * (target - input);
  } else {
    // target log target with 0 log 0 = 0; the log's argument is 1 there so no -inf (or NaN
    // gradient) appears.
    Tensor positive = target > 0.0;
    loss = target * log(where(positive, target, ones_like(target))) - target * input;
  }
  switch (reduction) {
    case KlDivReduction::none:
      return loss;
    case KlDivReduction::mean:
      return mean(loss);
    case KlDivReduction::sum:
      return sum(loss);
    case KlDivReduction::batchmean:
      return sum(loss) / static_cast<double>(input.dim() == 0 ? 1 : input.size(0));
  }
  return loss;
}

}  // namespace stackgrad::nn
