#include "nn/linear.h"

#include <cmath>

#include "nn/init.h"

namespace stackgrad::nn {

namespace {

const char* bool_str(bool b) { return b ? "true" : "false"; }

// Everything but the last dim, flattened: the row count of a [..., features] input.
int64_t leading_rows(const Tensor& x) { return x.numel() / x.size(-1); }

Shape with_last(Shape shape, int64_t last) {
  shape.back() = last;
  return shape;
}

}  // namespace

// --- Linear ---------------------------------------------------------------------------------

Linear::Linear(int64_t in_features, int64_t out_features, LinearOptions opts, Generator& gen)
    : AdaptableLayer("Linear"), in_features(in_features), out_features(out_features) {
  SG_CHECK(in_features > 0 && out_features > 0,
           "Linear: features must be positive, got in=", in_features, ", out=", out_features);
  register_parameter("weight", weight, empty({out_features, in_features}));
  if (opts.bias) register_parameter("bias", bias, empty({out_features}));
  reset_parameters(gen);
}

void Linear::reset_parameters(Generator& gen) {
  // kaiming_uniform with a = sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch's default.
  kaiming_uniform_(weight, gen, std::sqrt(5.0));
  double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  if (bias.defined()) uniform_(bias, gen, -bound, bound);
}

Tensor Linear::base_forward(const Tensor& x) {
  SG_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear: expected input [..., ", in_features,
           "], got ", shape_str(x.shape()));
  // One matrix product over all leading positions: [rows, in] x [in, out].
  Tensor rows = x.dim() == 2 ? x : x.reshape({leading_rows(x), in_features});
  Tensor y = mm(rows, weight.t());
  if (bias.defined()) y = y + bias;
  return x.dim() == 2 ? y : y.reshape(with_last(x.shape(), out_features));
}

std::string Linear::extra_repr() const {
  return str_cat("in=", in_features, ", out=", out_features, ", bias=", bool_str(bias.defined()));
}

// --- Bilinear -------------------------------------------------------------------------------

Bilinear::Bilinear(int64_t in1_features, int64_t in2_features, int64_t out_features,
                   BilinearOptions opts, Generator& gen)
    : Module("Bilinear"),
      in1_features(in1_features),
      in2_features(in2_features),
      out_features(out_features) {
  SG_CHECK(in1_features > 0 && in2_features > 0 && out_features > 0,
           "Bilinear: features must be positive, got in1=", in1_features, ", in2=", in2_features,
           ", out=", out_features);
  double bound = 1.0 / std::sqrt(static_cast<double>(in1_features));
  register_parameter("weight", weight, empty({out_features, in1_features, in2_features}));
  uniform_(weight, gen, -bound, bound);
  if (opts.bias) {
    register_parameter("bias", bias, empty({out_features}));
    uniform_(bias, gen, -bound, bound);
  }
}

Tensor Bilinear::forward(const Tensor& x1, const Tensor& x2) {
  SG_CHECK(x1.dim() >= 1 && x1.size(-1) == in1_features, "Bilinear: expected x1 [..., ",
           in1_features, "], got ", shape_str(x1.shape()));
  SG_CHECK(x2.dim() >= 1 && x2.size(-1) == in2_features, "Bilinear: expected x2 [..., ",
           in2_features, "], got ", shape_str(x2.shape()));
  SG_CHECK(x1.dim() == x2.dim() && Shape(x1.shape().begin(), x1.shape().end() - 1) ==
                                       Shape(x2.shape().begin(), x2.shape().end() - 1),
           "Bilinear: x1 and x2 must have the same leading dims, got ", shape_str(x1.shape()),
           " and ", shape_str(x2.shape()));
  int64_t rows = leading_rows(x1);
  Tensor a = x1.reshape({rows, in1_features});
  Tensor b = x2.reshape({rows, in2_features});
  // t[r, o, j] = sum_i a[r, i] W[o, i, j]: one product against W laid out [in1, out * in2].
  Tensor w = weight.permute({1, 0, 2}).reshape({in1_features, out_features * in2_features});
  Tensor t = mm(a, w).reshape({rows, out_features, in2_features});
  // y[r, o] = sum_j t[r, o, j] b[r, j].
  Tensor y = bmm(t, b.unsqueeze(2)).squeeze(2);
  if (bias.defined()) y = y + bias;
  return y.reshape(with_last(x1.shape(), out_features));
}

std::string Bilinear::extra_repr() const {
  return str_cat("in1=", in1_features, ", in2=", in2_features, ", out=", out_features,
                 ", bias=", bool_str(bias.defined()));
}

std::string Flatten::extra_repr() const {
  return str_cat("start_dim=", start_dim, ", end_dim=", end_dim);
}

}  // namespace stackgrad::nn
