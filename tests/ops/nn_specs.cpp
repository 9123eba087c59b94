// OpSpecs of the nn family (losses).
#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Cases = std::vector<OpCase>;

// Class indices in [0, C), with every `ignore_every`-th entry (when > 0) set to `ignore`.
Tensor targets(std::mt19937_64& r, const Shape& shape, int64_t C, int ignore_every = 0,
               int64_t ignore = -100) {
  std::vector<int64_t> v = randint_t(r, shape, 0, C).to_vector<int64_t>();
  if (ignore_every > 0)
    for (size_t i = 0; i < v.size(); i += ignore_every) v[i] = ignore;
  return from_vector(v, shape, DType::i64);
}

// Probabilities along dim 1 ([C] inputs: dim 0).
Tensor probabilities(std::mt19937_64& r, const Shape& shape) {
  Tensor e = exp(randn_f64(r, shape));
  return e / sum(e, {shape.size() == 1 ? 0 : 1}, true);
}

Tensor log_probabilities(std::mt19937_64& r, const Shape& shape) {
  return log(probabilities(r, shape));
}

// The exact log-sum-exp of logits along the class dim.
Tensor lse_of(const Tensor& logits) { return log(sum(exp(logits), {logits.dim() == 1 ? 0 : 1})); }

void spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
          std::function<Cases(std::mt19937_64&)> cases, bool differentiable = true) {
  OpSpec s;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  register_op_spec(std::move(s));
}

// Class-index cases shared by cross_entropy and nll_loss; `make` draws the input values.
Cases index_cases(std::mt19937_64& r, Tensor (*make)(std::mt19937_64&, const Shape&),
                  int64_t ignore = -100) {
  return {
      {"[4, 5]", {make(r, {4, 5}), targets(r, {4}, 5)}},
      {"non-contiguous [6, 3]", {noncontiguous(make(r, {6, 3})), targets(r, {6}, 3)}},
      {"ignored targets", {make(r, {6, 4}), targets(r, {6}, 4, 3, ignore)}},
      {"spatial [2, 3, 4]", {make(r, {2, 3, 4}), targets(r, {2, 4}, 3, 5, ignore)}},
      {"spatial non-contiguous [2, 3, 2, 2]",
       {noncontiguous(make(r, {2, 3, 2, 2})), noncontiguous(targets(r, {2, 2, 2}, 3))}},
      {"unbatched [5]", {make(r, {5}), targets(r, {}, 5)}},
      {"zero-size [0, 5]", {make(r, {0, 5}), targets(r, {0}, 5)}},
      // C >= 8: the CPU kernels' 8-class vector chunks plus a tail, unit and strided classes.
      {"[3, 19]", {make(r, {3, 19}), targets(r, {3}, 19, 2, ignore)}},
      {"spatial [2, 19, 3]", {make(r, {2, 19, 3}), targets(r, {2, 3}, 19)}},
  };
}

Tensor normal(std::mt19937_64& r, const Shape& s) { return randn_f64(r, s); }

const bool registered = [] {
  // cross_entropy with class indices, each reduction, ignore_index and label smoothing.
  spec(
      "cross_entropy",
      [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.0, Reduction::none); },
      [](std::mt19937_64& r) {
        Cases c = index_cases(r, normal);
        // Large logits: exp would overflow without the max subtracted.
        c.push_back({"large logits", {randn_f64(r, {3, 4}) * 40.0 + 100.0, targets(r, {3}, 4)}});
        c.push_back(
            {"large logits, C = 20", {randn_f64(r, {3, 20}) * 40.0 - 100.0, targets(r, {3}, 20)}});
        return c;
      });
  spec(
      "cross_entropy",
      [](const Inputs& x) { return cross_entropy(x[0], x[1], 2, 0.1, Reduction::mean); },
      [](std::mt19937_64& r) { return index_cases(r, normal, 2); });
  spec(
      "cross_entropy",
      [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.25, Reduction::sum); },
      [](std::mt19937_64& r) { return index_cases(r, normal); });
  // Probability targets (differentiable in the target too).
  auto prob_cases = [](std::mt19937_64& r) {
    return Cases{
        {"[4, 5]", {randn_f64(r, {4, 5}), probabilities(r, {4, 5})}},
        {"spatial non-contiguous [2, 3, 4]",
         {noncontiguous(randn_f64(r, {2, 3, 4})), probabilities(r, {2, 3, 4})}},
        {"unbatched [5]", {randn_f64(r, {5}), probabilities(r, {5})}},
        {"zero-size [0, 3]", {randn_f64(r, {0, 3}), probabilities(r, {0, 3})}},
        {"[3, 21]", {randn_f64(r, {3, 21}), probabilities(r, {3, 21})}},
        {"spatial [2, 17, 2]", {randn_f64(r, {2, 17, 2}), probabilities(r, {2, 17, 2})}},
    };
  };
  spec(
      "cross_entropy",
      [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.0, Reduction::none); },
      prob_cases);
  spec(
      "cross_entropy",
      [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.2, Reduction::mean); },
      prob_cases);

  // 1500 classes: the CUDA kernels' block-per-row version (forward only, to keep it quick).
  spec(
      "cross_entropy",
      [](const Inputs& x) { return cross_entropy(x[0], x[1], 1, 0.1, Reduction::none); },
      [](std::mt19937_64& r) {
        return Cases{
            {"[3, 1500]", {randn_f64(r, {3, 1500}) * 3.0, targets(r, {3}, 1500)}},
            {"spatial [2, 1500, 2]", {randn_f64(r, {2, 1500, 2}), targets(r, {2, 2}, 1500, 3, 1)}},
        };
      },
      false);
  spec(
      "cross_entropy",
      [](const Inputs& x) { return cross_entropy(x[0], x[1], -100, 0.2, Reduction::none); },
      [](std::mt19937_64& r) {
        return Cases{
            {"probabilities [3, 1500]", {randn_f64(r, {3, 1500}), probabilities(r, {3, 1500})}}};
      },
      false);
  spec(
      "cross_entropy_backward",
      [](const Inputs& x) { return cross_entropy_backward(x[0], x[1], x[2], x[3], -100, 0.1); },
      [](std::mt19937_64& r) {
        Tensor a = randn_f64(r, {3, 1500}), b = randn_f64(r, {2, 1500});
        return Cases{
            {"[3, 1500]", {a, targets(r, {3}, 1500), lse_of(a), randn_f64(r, {3})}},
            {"probabilities [2, 1500]",
             {b, probabilities(r, {2, 1500}), lse_of(b), randn_f64(r, {2})}},
        };
      },
      false);

  // The backward kernel on its own (forward-only against the reference).
  spec(
      "cross_entropy_backward",
      [](const Inputs& x) { return cross_entropy_backward(x[0], x[1], x[2], x[3], 1, 0.1); },
      [](std::mt19937_64& r) {
        Tensor a = randn_f64(r, {4, 5}), b = noncontiguous(randn_f64(r, {2, 3, 4})),
               c = randn_f64(r, {5}), d = randn_f64(r, {3, 19}), e = randn_f64(r, {2, 18, 3});
        return Cases{
            {"[3, 19]", {d, targets(r, {3}, 19), lse_of(d), randn_f64(r, {3})}},
            {"spatial [2, 18, 3]",
             {e, targets(r, {2, 3}, 18, 4, 1), lse_of(e), randn_f64(r, {2, 3})}},
            {"[4, 5]", {a, targets(r, {4}, 5, 3, 1), lse_of(a), randn_f64(r, {4})}},
            {"spatial non-contiguous",
             {b, targets(r, {2, 4}, 3, 3, 1), lse_of(b), noncontiguous(randn_f64(r, {4, 2})).t()}},
            {"unbatched", {c, targets(r, {}, 5), lse_of(c), randn_f64(r, {})}},
            {"zero-size",
             {randn_f64(r, {0, 5}), targets(r, {0}, 5), randn_f64(r, {0}), randn_f64(r, {0})}},
        };
      },
      false);
  spec(
      "cross_entropy_backward",
      [](const Inputs& x) { return cross_entropy_backward(x[0], x[1], x[2], x[3], -100, 0.2); },
      [](std::mt19937_64& r) {
        Tensor a = randn_f64(r, {4, 5}), b = noncontiguous(randn_f64(r, {2, 3, 4}));
        Tensor d = randn_f64(r, {3, 19}), e = noncontiguous(randn_f64(r, {2, 18, 3}));
        return Cases{
            {"probabilities [3, 19]", {d, probabilities(r, {3, 19}), lse_of(d), randn_f64(r, {3})}},
            {"probabilities spatial [2, 18, 3]",
             {e, probabilities(r, {2, 18, 3}), lse_of(e), randn_f64(r, {2, 3})}},
            {"probabilities [4, 5]", {a, probabilities(r, {4, 5}), lse_of(a), randn_f64(r, {4})}},
            {"probabilities spatial",
             {b, probabilities(r, {2, 3, 4}), lse_of(b), randn_f64(r, {2, 4})}},
        };
      },
      false);

  spec(
      "nll_loss", [](const Inputs& x) { return nll_loss(x[0], x[1], -100, Reduction::none); },
      [](std::mt19937_64& r) { return index_cases(r, log_probabilities); });
  spec(
      "nll_loss", [](const Inputs& x) { return nll_loss(x[0], x[1], -100, Reduction::mean); },
      [](std::mt19937_64& r) { return index_cases(r, log_probabilities); });
  // ignore_index 0 is also a valid class: the mask must drop it.
  spec(
      "nll_loss", [](const Inputs& x) { return nll_loss(x[0], x[1], 0, Reduction::sum); },
      [](std::mt19937_64& r) { return index_cases(r, log_probabilities, 0); });

  auto pair_cases = [](std::mt19937_64& r) {
    return Cases{
        {"[3, 4]", {randn_f64(r, {3, 4}), randn_f64(r, {3, 4})}},
        {"non-contiguous", {noncontiguous(randn_f64(r, {4, 3})), randn_f64(r, {4, 3})}},
        {"3-D", {randn_f64(r, {2, 3, 2}), noncontiguous(randn_f64(r, {2, 3, 2}))}},
        {"0-dim", {randn_f64(r, {}), randn_f64(r, {})}},
        {"zero-size", {randn_f64(r, {0, 3}), randn_f64(r, {0, 3})}},
    };
  };
  spec(
      "mse_loss", [](const Inputs& x) { return mse_loss(x[0], x[1], Reduction::none); },
      pair_cases);
  spec(
      "mse_loss", [](const Inputs& x) { return mse_loss(x[0], x[1], Reduction::mean); },
      pair_cases);
  spec(
      "mse_loss", [](const Inputs& x) { return mse_loss(x[0], x[1], Reduction::sum); }, pair_cases);

  auto bce_cases = [](std::mt19937_64& r) {
    return Cases{
        {"[3, 4]", {randn_f64(r, {3, 4}) * 3.0, uniform_f64(r, {3, 4}, 0, 1)}},
        {"non-contiguous",
         {noncontiguous(randn_f64(r, {4, 3}) * 3.0), uniform_f64(r, {4, 3}, 0, 1)}},
        {"0-dim", {randn_f64(r, {}), uniform_f64(r, {}, 0, 1)}},
        {"zero-size", {randn_f64(r, {0, 3}), uniform_f64(r, {0, 3}, 0, 1)}},
        {"large logits", {randn_f64(r, {2, 3}) * 60.0, uniform_f64(r, {2, 3}, 0, 1)}},
    };
  };
  spec(
      "binary_cross_entropy_with_logits",
      [](const Inputs& x) {
        return binary_cross_entropy_with_logits(x[0], x[1], Tensor(), Reduction::none);
      },
      bce_cases);
  spec(
      "binary_cross_entropy_with_logits",
      [](const Inputs& x) {
        return binary_cross_entropy_with_logits(x[0], x[1], Tensor(), Reduction::mean);
      },
      bce_cases);
  spec(
      "binary_cross_entropy_with_logits",
      [](const Inputs& x) {
        return binary_cross_entropy_with_logits(x[0], x[1], x[2], Reduction::sum);
      },
      [](std::mt19937_64& r) {
        return Cases{
            {"pos_weight [4]",
             {randn_f64(r, {3, 4}) * 3.0, uniform_f64(r, {3, 4}, 0, 1),
              uniform_f64(r, {4}, 0.5, 3)}},
            {"pos_weight 0-dim, 3-D",
             {randn_f64(r, {2, 2, 3}), uniform_f64(r, {2, 2, 3}, 0, 1),
              uniform_f64(r, {}, 0.5, 3)}},
            {"zero-size",
             {randn_f64(r, {0, 4}), uniform_f64(r, {0, 4}, 0, 1), uniform_f64(r, {4}, 0.5, 3)}},
        };
      });
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
