// ModelEma: an exponential moving average of a model's weights (Polyak averaging), kept as
// shadow copies of every parameter and persistent buffer. Evaluating with the average often
// beats the last weights; training never sees it.
//
//   nn::ModelEma ema(*net, 0.999, {.warmup = true});
//   for (...) { ...; opt.step(); ema.update(); }
//   ema.store(); ema.apply_to(*net); evaluate(*net); ema.restore();
#pragma once

#include <cstdint>

#include "nn/module.h"

namespace stackgrad::nn {

struct EmaOptions {
  // Ramp the decay up at the start: update n (from 0) uses min(decay, (1 + n) / (10 + n)), so
  // the average forgets the initial weights quickly (TensorFlow's ExponentialMovingAverage).
  bool warmup = false;
};

class ModelEma {
 public:
  // Starts the shadows as copies of `model`'s weights; `model` must outlive this object.
  ModelEma(Module& model, double decay, EmaOptions options = {});

  // shadow = d shadow + (1 - d) weight for floating tensors; integer buffers are copied.
  void update();
  // The decay the next update() will use.
  double current_decay() const;
  int64_t num_updates() const { return num_updates_; }

  // Copies the shadows into `target` (the tracked model or another of the same structure).
  void apply_to(Module& target) const;
  // Saves the tracked model's current weights; restore() copies them back (after apply_to).
  void store();
  void restore();

  const StateDict& shadow() const { return shadow_; }
  // "shadow.<name>" tensors and "num_updates" (i64 scalar).
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& state);

 private:
  Module& model_;
  double decay_;
  EmaOptions options_;
  int64_t num_updates_ = 0;
  StateDict shadow_;
  StateDict stored_;
};

}  // namespace stackgrad::nn
