// Uncertain data for clustering: every object is a distribution, given by a set of equally
// weighted samples. The standard protocol turns certain data into uncertain data: around each
// true value x_ij an uncertainty region whose width is a fraction (the level) of attribute j's
// range, and the object's samples drawn from it. Also the two divergences and distances the
// clustering methods build on: the discrete Jensen–Shannon divergence and UK-means's expected
// squared distance.
//
//   Generator gen(0);
//   algo::UncertainDataset u = algo::make_uncertain(data::load_uci("iris"), 0.2, 50, {}, gen);
//   double js = algo::js_divergence(p, q);  // natural log, in [0, ln 2]
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "datasets/csv.h"
#include "engine/core/tensor.h"
#include "engine/runtime/generator.h"

namespace stackgrad::algo {

enum class UncertaintyShape {
  uniform,  // U[x − w/2, x + w/2]
  normal,   // N(x, w²/12): the same variance as the uniform region of width w
};
UncertaintyShape parse_uncertainty_shape(const std::string& name);  // "uniform" or "normal"

struct UncertaintyOptions {
  int64_t samples = 50;  // samples per object
  UncertaintyShape shape = UncertaintyShape::uniform;
};

struct UncertainDataset {
  std::string name;  // for messages (make_uncertain leaves it empty)
  Tensor samples;    // f64 [N, S, D]: the S equally weighted samples of each object
  Tensor truth;      // f64 [N, D]: the certain values the regions are centred on
  Tensor widths;     // f64 [D]: w_j = level · (max_j − min_j), the region width of attribute j
  Tensor labels;     // i64 [N]
  int64_t num_classes = 0;
  double level = 0;
  int64_t size() const { return samples.size(0); }
  int64_t num_samples() const { return samples.size(1); }
  int64_t dim() const { return samples.size(2); }
  // The sample mean of every object, f64 [N, D].
  Tensor means() const;
  // The total sample variance tr Σ̂_i of every object (population form, 1/S), f64 [N].
  Tensor total_variances() const;
};

// Draws `options.samples` samples per object around certain.features [N, D] (the features are
// used as they are: standardise them first if the attributes have different units). level >= 0;
// level 0 gives S copies of the true value.
UncertainDataset make_uncertain(const data::TableDataset& certain, double level,
                                const UncertaintyOptions& options, Generator& gen);

// JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = (p + q) / 2, natural log (so 0 <= JS <= ln 2),
// 0 log 0 = 0. p and q are non-negative weights of the same length; each is normalised to sum 1
// first (an all-zero vector is an error).
double js_divergence(std::span<const double> p, std::span<const double> q);

// E‖x − c‖² over the object's samples x (rows of samples_i [S, D]) by direct averaging, and the
// same by the identity ‖μ − c‖² + tr Σ (μ the sample mean, Σ the population covariance), which
// is why UK-means assigns exactly as k-means on the means does (Lee, Kao and Cheng 2007).
double expected_squared_distance(const Tensor& samples_i, std::span<const double> c);
double expected_squared_distance_by_moments(const Tensor& samples_i, std::span<const double> c);

}  // namespace stackgrad::algo
