// Initialisers: fill a tensor in place with the distributions PyTorch's torch.nn.init uses, drawn
// from an explicit Generator so the same seed gives the same weights. They work under
// NoGradGuard, so they may be applied to parameters that require grad.
//
//   Generator gen(42);
//   nn::kaiming_uniform_(layer->weight, gen, std::sqrt(5.0));  // torch's Linear/Conv default
//   nn::zeros_(layer->bias);
#pragma once

#include <optional>

#include "engine/stackgrad.h"

namespace stackgrad::nn {

enum class Nonlinearity { linear, conv2d, sigmoid, tanh, relu, leaky_relu, selu };
enum class FanMode { fan_in, fan_out };

// The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): 1 for linear, conv
// and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope =
// param, 0.01 when absent), 3/4 for selu.
double calculate_gain(Nonlinearity nl, std::optional<double> param = std::nullopt);

// Fans of a weight shaped [out, in, k...]: fan_in = in * prod(k), fan_out = out * prod(k)
// (a conv weight [O, C, kh, kw] has fan_in C kh kw). Needs at least 2 dims.
struct Fans {
  int64_t fan_in = 0, fan_out = 0;
};
Fans fan_in_out(const Shape& shape);

// U(low, high) and N(mean, std).
void uniform_(Tensor& w, Generator& gen = default_generator(), double low = 0.0, double high = 1.0);
void normal_(Tensor& w, Generator& gen = default_generator(), double mean = 0.0, double std = 1.0);
void constant_(Tensor& w, double value);
void zeros_(Tensor& w);
void ones_(Tensor& w);

// He initialisation: std = gain / sqrt(fan), gain = calculate_gain(nl, a); uniform draws from
// U(-sqrt(3) std, sqrt(3) std).
void kaiming_uniform_(Tensor& w, Generator& gen = default_generator(), double a = 0.0,
                      FanMode mode = FanMode::fan_in, Nonlinearity nl = Nonlinearity::leaky_relu);
void kaiming_normal_(Tensor& w, Generator& gen = default_generator(), double a = 0.0,
                     FanMode mode = FanMode::fan_in, Nonlinearity nl = Nonlinearity::leaky_relu);

// Glorot initialisation: std = gain sqrt(2 / (fan_in + fan_out)); uniform bound sqrt(3) std.
void xavier_uniform_(Tensor& w, Generator& gen = default_generator(), double gain = 1.0);
void xavier_normal_(Tensor& w, Generator& gen = default_generator(), double gain = 1.0);

// A (semi-)orthogonal matrix times gain, from the QR factorisation of a Gaussian matrix with the
// signs of R's diagonal folded into Q (so Q is Haar-distributed). w is viewed as
// [size(0), numel / size(0)]; its rows are orthonormal when it is wide, its columns when tall.
void orthogonal_(Tensor& w, Generator& gen = default_generator(), double gain = 1.0);

}  // namespace stackgrad::nn
