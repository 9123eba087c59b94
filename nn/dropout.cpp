#include "nn/dropout.h"

#include <limits>

namespace stackgrad::nn {

namespace {

void check_p(const char* layer, double p) {
  SG_CHECK(p >= 0.0 && p <= 1.0, layer, ": p must be in [0, 1], got ", p);
}

// A seed for the layer's own generator, drawn from `gen` (so it advances `gen` like any other
// draw and the layer's masks follow from the caller's seed).
Generator derived_generator(Generator& gen) {
  Tensor seed = randint(0, std::numeric_limits<int64_t>::max(), {1}, gen);
  return Generator(static_cast<uint64_t>(seed.item<int64_t>()));
}

}  // namespace

Dropout::Dropout(double p, Generator& gen) : Module("Dropout"), p(p), gen_(derived_generator(gen)) {
  check_p("Dropout", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }

std::string Dropout::extra_repr() const { return str_cat("p=", p); }

Dropout2d::Dropout2d(double p, Generator& gen)
    : Module("Dropout2d"), p(p), gen_(derived_generator(gen)) {
  check_p("Dropout2d", p);
}

Tensor Dropout2d::forward(const Tensor& x) {
  SG_CHECK(x.dim() >= 2, "Dropout2d: expected input [N, C, ...], got ", shape_str(x.shape()));
  if (!is_training() || p == 0.0) return x;
  if (p == 1.0) return x * 0.0;
  // One keep/drop draw per (sample, channel), broadcast over the spatial dims.
  Shape mask_shape(x.dim(), 1);
  mask_shape[0] = x.size(0);
  mask_shape[1] = x.size(1);
  Tensor keep = bernoulli(mask_shape, 1.0 - p, gen_, Options(x.dtype(), x.device()));
  return x * (keep / (1.0 - p));
}

std::string Dropout2d::extra_repr() const { return str_cat("p=", p); }

}  // namespace stackgrad::nn
