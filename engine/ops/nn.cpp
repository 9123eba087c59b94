// Losses: shape rules, kernel calls and backward formulas side by side. cross_entropy is a
// fused kernel with a dedicated backward kernel; the others are written with engine ops.
#include "engine/ops/nn.h"

#include <numeric>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace stackgrad {
namespace {

using Grads = std::vector<Tensor>;

Tensor reduce_loss(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::none:
      return loss;
    case Reduction::sum:
      return sum(loss);
    case Reduction::mean:
      return mean(loss);
  }
  fail("loss: unknown reduction");
}

// Class-index losses over the valid samples: sum / count for mean (PyTorch divides by the
// number of non-ignored targets; 0 / 0 is NaN when all are ignored).
Tensor reduce_indexed_loss(const Tensor& loss, const Tensor& target, int64_t ignore_index,
                           Reduction reduction) {
  if (reduction != Reduction::mean) return reduce_loss(loss, reduction);
  Tensor valid = (target != scalar_tensor(static_cast<double>(ignore_index),
                                          Options(DType::i64, target.device())));
  return sum(loss) / sum(valid.to(loss.dtype()));
}

// The permutation that moves dim 1 (classes) last: [N, C, d...] -> [N, d..., C].
std::vector<int64_t> classes_last(int64_t ndim) {
  std::vector<int64_t> p(ndim);
  std::iota(p.begin(), p.end(), 0);
  if (ndim > 2) std::rotate(p.begin() + 1, p.begin() + 2, p.end());
  return p;
}

Shape without_classes(const Shape& s) {
  Shape out = s;
  out.erase(out.begin() + 1);
  return out;
}

// Logits and target of a class-index loss, checked, with a leading batch dim of 1 added to an
// unbatched ([C] and []) pair.
struct ClassProblem {
  Tensor x, target;
  bool probs = false, unbatched = false;
  int64_t classes = 0;
};

void check_indices(const char* op, const Tensor& target, int64_t classes, int64_t ignore_index) {
  // Read on the host: an out-of-range index must be an error, never a read out of bounds.
  Tensor host = target.device().is_cuda() ? target.to(Device::cpu()) : target;
  for (int64_t v : host.to_vector<int64_t>())
    SG_CHECK(v == ignore_index || (v >= 0 && v < classes), op, ": target value ", v,
             " is out of range for ", classes, " classes (expected 0 <= target < ", classes,
             ", or ignore_index ", ignore_index, ")");
}

ClassProblem check_class_problem(const char* op, const Tensor& x, const Tensor& target,
                                 int64_t ignore_index, bool allow_probs) {
  check_defined(op, x, "input");
  check_defined(op, target, "target");
  check_strided(op, x, "input");
  check_strided(op, target, "target");
  check_same_device(op, x, target);
  SG_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", describe(x));
  SG_CHECK(x.dim() >= 1, op, ": expected input [N, C, d1, ...] or [C], got ", describe(x));
  ClassProblem p;
  p.unbatched = x.dim() == 1;
  p.x = p.unbatched ? x.unsqueeze(0) : x;
  p.classes = p.x.shape()[1];
  SG_CHECK(p.classes > 0, op, ": the input has no classes (C = 0): ", describe(x));
  p.probs = allow_probs && is_floating(target.dtype());
  if (p.probs) {
    SG_CHECK(target.shape() == x.shape(), op, ": a probability target must have the input's shape ",
             shape_str(x.shape()), ", got ", describe(target));
    check_same_dtype(op, x, target);
  } else {
    SG_CHECK(target.dtype() == DType::i64, op, ": expected a target of class indices (i64)",
             allow_probs ? " or of probabilities (floating, shaped like the input)" : "", ", got ",
             describe(target));
    Shape expected = without_classes(p.x.shape());
    if (p.unbatched) expected.clear();
    SG_CHECK(target.shape() == expected, op, ": target shape ", shape_str(target.shape()),
             " does not match input ", shape_str(x.shape()), " (expected ", shape_str(expected),
             ")");
    check_indices(op, target, p.classes, ignore_index);
  }
  p.target = p.unbatched ? target.unsqueeze(0) : target;
  return p;
}

OpAttrs cross_entropy_attrs(bool probs, int64_t ignore_index, double label_smoothing) {
  OpAttrs attrs;
  attrs.mode = probs ? 1 : 0;
  attrs.k = ignore_index;
  attrs.alpha = label_smoothing;
  return attrs;
}

// dL/dx from the backward kernel: x [N, C, d...], lse and g [N, d...].
Tensor cross_entropy_grad(const Tensor& x, const Tensor& target, bool probs, const Tensor& lse,
                          const Tensor& g, int64_t ignore_index, double label_smoothing) {
  NoGradGuard no_grad;
  const auto perm = classes_last(x.dim());
  Tensor dx = empty(x.shape(), Options(x.dtype(), x.device()));
  run_kernel(OpId::cross_entropy_backward,
             {x.permute(perm), probs ? target.permute(perm) : target, lse, g}, {dx.permute(perm)},
             cross_entropy_attrs(probs, ignore_index, label_smoothing));
  return dx;
}

void check_label_smoothing(const char* op, double label_smoothing) {
  SG_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op,
           ": label_smoothing must be in [0, 1], got ", label_smoothing);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                     double label_smoothing, Reduction reduction) {
  check_label_smoothing("cross_entropy", label_smoothing);
  ClassProblem p = check_class_problem("cross_entropy", logits, target, ignore_index, true);
  const Shape sample_shape = without_classes(p.x.shape());
  const Options opts(p.x.dtype(), p.x.device());
  Tensor loss = empty(sample_shape, opts), lse = empty(sample_shape, opts);
  {
    NoGradGuard no_grad;
    const auto perm = classes_last(p.x.dim());
    run_kernel(OpId::cross_entropy,
               {p.x.permute(perm), p.probs ? p.target.permute(perm) : p.target}, {loss, lse},
               cross_entropy_attrs(p.probs, ignore_index, label_smoothing));
  }
  const bool gx = p.x.requires_grad(), gt = p.target.requires_grad();
  record("cross_entropy", {p.x, p.target}, {loss},
         [sx = SavedTensor(p.x, "cross_entropy"), st = SavedTensor(p.target, "cross_entropy"),
          slse = SavedTensor(lse, "cross_entropy"), probs = p.probs, gx, gt, ignore_index,
          label_smoothing](const Grads& g) {
           Tensor x = sx.get(), t = st.get(), l = slse.get();
           Tensor dx = gx ? cross_entropy_grad(x, t, probs, l, g[0], ignore_index, label_smoothing)
                          : Tensor();
           Tensor dt;
           if (gt) {
             // dL/dy_k = -(1 - ε) g log_softmax(x)_k (probability targets only).
             Tensor log_softmax = x - l.unsqueeze(1);
             dt = log_softmax * (g[0].unsqueeze(1) * -(1.0 - label_smoothing));
           }
           return Grads{dx, dt};
         });
  if (p.unbatched) loss = loss.squeeze(0);
  if (p.probs) return reduce_loss(loss, reduction);
  return reduce_indexed_loss(loss, target, ignore_index, reduction);
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse,
                              const Tensor& grad, int64_t ignore_index, double label_smoothing) {
  const char* op = "cross_entropy_backward";
  check_label_smoothing(op, label_smoothing);
  ClassProblem p = check_class_problem(op, logits, target, ignore_index, true);
  Shape sample_shape = p.unbatched ? Shape{} : without_classes(p.x.shape());
  for (const auto& [t, name] : {std::pair{lse, "lse"}, std::pair{grad, "grad"}}) {
    check_defined(op, t, name);
    check_strided(op, t, name);
    check_same_device(op, logits, t);
    check_same_dtype(op, logits, t);
    SG_CHECK(t.shape() == sample_shape, op, ": ", name, " must have shape ",
             shape_str(sample_shape), ", got ", describe(t));
  }
  Tensor l = p.unbatched ? lse.unsqueeze(0) : lse, g = p.unbatched ? grad.unsqueeze(0) : grad;
  Tensor dx = cross_entropy_grad(p.x, p.target, p.probs, l, g, ignore_index, label_smoothing);
  return p.unbatched ? dx.squeeze(0) : dx;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                Reduction reduction) {
  ClassProblem p = check_class_problem("nll_loss", log_probs, target, ignore_index, false);
  // Select log_probs[n, target[n]] with a one-hot mask: `where` (not a product with the mask),
  // so a -inf log-probability of another class cannot turn into NaN.
  Shape class_shape(p.x.dim(), 1);
  class_shape[1] = p.classes;
  Tensor classes = arange(p.classes, Options(DType::i64, p.x.device())).view(class_shape);
  Tensor t = p.target.unsqueeze(1);
  Tensor ignore = scalar_tensor(static_cast<double>(ignore_index), Options(DType::i64, t.device()));
  Tensor hit = (t == classes) & (t != ignore);
  Tensor picked = where(hit, p.x, scalar_like(0.0, p.x));
  Tensor loss = neg(sum(picked, {1}));
  if (p.unbatched) loss = loss.squeeze(0);
  return reduce_indexed_loss(loss, target, ignore_index, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_defined("mse_loss", input, "input");
  check_defined("mse_loss", target, "target");
  SG_CHECK(is_floating(input.dtype()), "mse_loss: expected a floating input, got ",
           describe(input));
  check_same_dtype("mse_loss", input, target);
  check_same_device("mse_loss", input, target);
  SG_CHECK(input.shape() == target.shape(), "mse_loss: input ", shape_str(input.shape()),
           " and target ", shape_str(target.shape()), " must have the same shape");
  Tensor d = input - target;
  return reduce_loss(d * d, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const Tensor& pos_weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_defined(op, logits, "logits");
  check_defined(op, target, "target");
  SG_CHECK(is_floating(logits.dtype()), op, ": expected floating logits, got ", describe(logits));
  check_same_dtype(op, logits, target);
  check_same_device(op, logits, target);
  SG_CHECK(logits.shape() == target.shape(), op, ": logits ", shape_str(logits.shape()),
           " and target ", shape_str(target.shape()), " must have the same shape");
  const bool weighted = pos_weight.defined();
  if (weighted) {
    check_same_dtype(op, logits, pos_weight);
    check_same_device(op, logits, pos_weight);
    const Shape &x = logits.shape(), &p = pos_weight.shape();
    bool fits = p.size() <= x.size();
    for (size_t i = 0; fits && i < p.size(); ++i) {
      const int64_t have = p[p.size() - 1 - i];
      fits = have == 1 || have == x[x.size() - 1 - i];
    }
    SG_CHECK(fits, op, ": pos_weight ", shape_str(p), " does not broadcast to the logits ",
             shape_str(x));
  }
  // loss = (1 - y) x + w softplus(-x), w = 1 + (p - 1) y, with softplus(-x) split into
  // max(-x, 0) + log1p(e^-|x|) and the exact terms added first: for y = 0 and x << 0 the
  // tiny loss survives instead of cancelling in x + softplus(-x).
  Tensor loss;
  {
    NoGradGuard no_grad;
    Tensor x = logits, y = target;
    Tensor tail = log1p(exp(neg(abs(x))));
    Tensor lin = (1.0 - y) * x;
    if (weighted) {
      Tensor w = 1.0 + (pos_weight - 1.0) * y;
      loss = (lin + w * relu(neg(x))) + w * tail;
    } else {
      loss = (lin + relu(neg(x))) + tail;
    }
  }
  // The gradients come from the smooth form (the max and |x| pieces have kinks at x = 0, where
  // a zero-initialised output layer starts):
  //   dL/dx = w sigmoid(x) - p y,  dL/dy = -x + (p - 1) softplus(-x),  dL/dp = y softplus(-x).
  std::vector<Tensor> inputs{logits, target};
  if (weighted) inputs.push_back(pos_weight);
  record(
      op, inputs, {loss},
      [sx = SavedTensor(logits, op), sy = SavedTensor(target, op), sp = SavedTensor(pos_weight, op),
       weighted, gx = logits.requires_grad(), gy = target.requires_grad(),
       gp = weighted && pos_weight.requires_grad()](const Grads& g) {
        Tensor x = sx.get(), y = sy.get();
        Tensor p = weighted ? sp.get() : Tensor();
        Tensor softplus_neg = (gy || gp) ? relu(neg(x)) + log1p(exp(neg(abs(x)))) : Tensor();
        Grads grads(weighted ? 3 : 2);
        if (gx) {
          grads[0] = weighted ? g[0] * ((1.0 + (p - 1.0) * y) * sigmoid(x) - p * y)
                              : g[0] * (sigmoid(x) - y);
        }
        if (gy) {
          grads[1] = weighted ? g[0] * ((p - 1.0) * softplus_neg - x) : g[0] * neg(x);
        }
        if (gp) grads[2] = sum_to(g[0] * y * softplus_neg, p.shape());
        return grads;
      });
  return reduce_loss(loss, reduction);
}

}  // namespace stackgrad
