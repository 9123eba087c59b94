// Fully connected layers with PyTorch's parameter names, layouts and default initialisation, so
// a torch state_dict loads as-is: Linear (y = x Wᵀ + b), Bilinear (y = x1ᵀ W x2 + b), and the
// parameter-free Identity and Flatten.
//
//   auto fc = std::make_shared<nn::Linear>(784, 256);            // weight [256, 784], bias [256]
//   auto head = std::make_shared<nn::Linear>(256, 10, nn::LinearOptions{.bias = false});
//   Tensor y = (*fc)(x);                                          // x [..., 784] -> [..., 256]
#pragma once

#include "nn/layer_adapter.h"

namespace stackgrad::nn {

struct LinearOptions {
  bool bias = true;
};

// y = x Wᵀ + b on x [..., in] (any leading dims). Default init as torch: weight
// kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and bias the same bound.
// Accepts an adapter (see layer_adapter.h).
class Linear : public AdaptableLayer {
 public:
  Linear(int64_t in_features, int64_t out_features, LinearOptions opts = {},
         Generator& gen = default_generator());
  Tensor base_forward(const Tensor& x) override;
  std::string extra_repr() const override;
  // Redraws weight and bias as the constructor does.
  void reset_parameters(Generator& gen = default_generator());

  int64_t in_features, out_features;
  Tensor weight;  // [out, in]
  Tensor bias;    // [out], undefined without bias
};

struct BilinearOptions {
  bool bias = true;
};

// y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o] on x1 [..., in1], x2 [..., in2]
// with the same leading dims. Init as torch: weight and bias U(-1/sqrt(in1), 1/sqrt(in1)).
class Bilinear : public Module {
 public:
  Bilinear(int64_t in1_features, int64_t in2_features, int64_t out_features,
           BilinearOptions opts = {}, Generator& gen = default_generator());
  using Module::forward;  // the one-tensor forward fails: Bilinear needs two inputs
  Tensor forward(const Tensor& x1, const Tensor& x2);
  Tensor operator()(const Tensor& x1, const Tensor& x2) { return forward(x1, x2); }
  std::string extra_repr() const override;

  int64_t in1_features, in2_features, out_features;
  Tensor weight;  // [out, in1, in2]
  Tensor bias;    // [out], undefined without bias
};

// Returns its input (a placeholder where a model's slot takes no layer).
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// Flattens dims start_dim..end_dim into one (default: everything but the batch dim).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : Module("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

}  // namespace stackgrad::nn
