// Dropout layers. In training mode each element (Dropout) or each whole channel (Dropout2d) is
// zeroed with probability p and the survivors scaled by 1 / (1 - p); in eval mode they return
// their input. Each layer owns its Generator, seeded from the constructor's generator, so two
// runs from the same seed drop the same elements.
//
//   nn::Dropout drop(0.5, gen);
//   Tensor y = drop(x);                      // masked in training
//   drop.eval(); Tensor same = drop(x);      // identity
#pragma once

#include "nn/module.h"

namespace stackgrad::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  // Replaces the generator the masks are drawn from (to reseed, or to share a stream).
  void set_generator(Generator gen) { gen_ = gen; }
  Generator& generator() { return gen_; }
  double p;

 private:
  Generator gen_;
};

// Zeroes whole channels of x [N, C, ...] (one draw per (sample, channel)).
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void set_generator(Generator gen) { gen_ = gen; }
  Generator& generator() { return gen_; }
  double p;

 private:
  Generator gen_;
};

}  // namespace stackgrad::nn
