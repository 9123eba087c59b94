#include "nn/init.h"

#include <cmath>

namespace stackgrad::nn {

namespace {

Options options_of(const Tensor& w) { return Options(w.dtype(), w.device()); }

void check_floating(const char* fn, const Tensor& w) {
  SG_CHECK(w.defined(), fn, ": tensor is undefined");
  SG_CHECK(is_floating(w.dtype()), fn, ": expected a floating tensor, got ", describe(w));
}

// Overwrites w with `values` (same shape) without recording the write.
void assign(Tensor& w, const Tensor& values) {
  NoGradGuard no_grad;
  w.copy_(values);
}

double kaiming_std(const char* fn, const Tensor& w, double a, FanMode mode, Nonlinearity nl) {
  check_floating(fn, w);
  Fans f = fan_in_out(w.shape());
  int64_t fan = mode == FanMode::fan_in ? f.fan_in : f.fan_out;
  SG_CHECK(fan > 0, fn, ": fan is 0 for shape ", shape_str(w.shape()));
  return calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan));
}

double xavier_std(const char* fn, const Tensor& w, double gain) {
  check_floating(fn, w);
  Fans f = fan_in_out(w.shape());
  SG_CHECK(f.fan_in + f.fan_out > 0, fn, ": fans are 0 for shape ", shape_str(w.shape()));
  return gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
}

}  // namespace

double calculate_gain(Nonlinearity nl, std::optional<double> param) {
  switch (nl) {
    case Nonlinearity::linear:
    case Nonlinearity::conv2d:
    case Nonlinearity::sigmoid:
      return 1.0;
    case Nonlinearity::tanh:
      return 5.0 / 3.0;
    case Nonlinearity::relu:
      return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: {
      double slope = param.value_or(0.01);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::selu:
      return 0.75;
  }
  fail("calculate_gain: unknown nonlinearity");
}

Fans fan_in_out(const Shape& shape) {
  SG_CHECK(shape.size() >= 2, "fan_in_out: needs a tensor with at least 2 dims, got shape ",
           shape_str(shape));
  int64_t receptive = 1;
  for (size_t d = 2; d < shape.size(); ++d) receptive *= shape[d];
  return {shape[1] * receptive, shape[0] * receptive};
}

void uniform_(Tensor& w, Generator& gen, double low, double high) {
  check_floating("uniform_", w);
  SG_CHECK(low <= high, "uniform_: low ", low, " exceeds high ", high);
  assign(w, rand(w.shape(), gen, options_of(w), low, high));
}

void normal_(Tensor& w, Generator& gen, double mean, double std) {
  check_floating("normal_", w);
  SG_CHECK(std >= 0, "normal_: std must be >= 0, got ", std);
  assign(w, randn(w.shape(), gen, options_of(w), mean, std));
}

void constant_(Tensor& w, double value) {
  SG_CHECK(w.defined(), "constant_: tensor is undefined");
  NoGradGuard no_grad;
  w.fill_(value);
}
void zeros_(Tensor& w) { constant_(w, 0.0); }
void ones_(Tensor& w) { constant_(w, 1.0); }

void kaiming_uniform_(Tensor& w, Generator& gen, double a, FanMode mode, Nonlinearity nl) {
  double bound = std::sqrt(3.0) * kaiming_std("kaiming_uniform_", w, a, mode, nl);
  assign(w, rand(w.shape(), gen, options_of(w), -bound, bound));
}

void kaiming_normal_(Tensor& w, Generator& gen, double a, FanMode mode, Nonlinearity nl) {
  double std = kaiming_std("kaiming_normal_", w, a, mode, nl);
  assign(w, randn(w.shape(), gen, options_of(w), 0.0, std));
}

void xavier_uniform_(Tensor& w, Generator& gen, double gain) {
  double bound = std::sqrt(3.0) * xavier_std("xavier_uniform_", w, gain);
  assign(w, rand(w.shape(), gen, options_of(w), -bound, bound));
}

void xavier_normal_(Tensor& w, Generator& gen, double gain) {
  double std = xavier_std("xavier_normal_", w, gain);
  assign(w, randn(w.shape(), gen, options_of(w), 0.0, std));
}

void orthogonal_(Tensor& w, Generator& gen, double gain) {
  check_floating("orthogonal_", w);
  SG_CHECK(w.dim() >= 2, "orthogonal_: needs a tensor with at least 2 dims, got shape ",
           shape_str(w.shape()));
  NoGradGuard no_grad;
  int64_t rows = w.size(0), cols = w.numel() / rows;
  Tensor g = randn({rows, cols}, gen, options_of(w));
  // QR needs a tall matrix for Q to span the full space: factor the transpose when wide.
  if (rows < cols) g = g.t();
  QRResult qr_result = qr(g);
  // Fold sign(diag R) into Q's columns, so the result does not depend on the QR's sign
  // convention (the engine already returns diag(R) >= 0; this keeps the contract explicit).
  const Tensor& r = qr_result.R;
  Tensor d = r.contiguous().flatten().slice(0, 0, r.numel(), r.size(1) + 1);
  Tensor signs = where(d < 0.0, full_like(d, -1.0), full_like(d, 1.0));
  Tensor q = qr_result.Q * signs;
  if (rows < cols) q = q.t();
  w.copy_((q * gain).reshape(w.shape()));
}

}  // namespace stackgrad::nn
