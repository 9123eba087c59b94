// Learning-rate schedules. A scheduler remembers each group's base lr (its lr when the scheduler
// was made) and an epoch counter; step() advances the counter and sets every group's lr to the
// schedule's closed form at that epoch, so a schedule resumed from a checkpoint (state_dict:
// last_epoch and base_lrs) continues exactly. The values match PyTorch's schedulers of the same
// names (their recursive forms agree with these closed forms when nothing else changes the lr).
//
//   nn::SGD opt(net->parameters(), {.lr = 0.1});
//   nn::LinearWarmup sched(opt, 5, std::make_unique<nn::CosineAnnealingLR>(opt, 95));
//   for (int epoch = 0; epoch < 100; ++epoch) { train_one_epoch(); sched.step(); }
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/optim/optimizer.h"

namespace stackgrad::nn {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  const std::string& name() const { return name_; }
  // Advances one epoch (or one iteration, for per-iteration schedules) and sets the lrs.
  void step();
  // The lrs this scheduler set last, one per group.
  std::vector<double> get_last_lr() const;
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return optimizer_; }

  // The lr of a group whose base lr is `base_lr`, at `epoch` >= 0.
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;

  // "last_epoch" (i64 scalar) and "base_lrs" (f64 [groups]); load sets the lrs for last_epoch.
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& state);

 protected:
  // Records the base lrs; each concrete scheduler calls apply() at the end of its constructor
  // (the lr at epoch 0 is the schedule's, which the base cannot compute before then).
  LRScheduler(std::string name, Optimizer& optimizer);
  void apply();

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;

 private:
  std::string name_;
  int64_t last_epoch_ = 0;
};

// base_lr * gamma^(epoch / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// base_lr * gamma^(number of milestones <= epoch).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// eta_min + (base_lr - eta_min) (1 + cos(pi epoch / t_max)) / 2 (rising again after t_max).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0.0);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// SGDR (Loshchilov & Hutter): cosine from base_lr to eta_min over t_0 epochs, then restarts;
// each period is t_mult times longer than the previous one.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t t_0, int64_t t_mult = 1,
                              double eta_min = 0.0);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t t_0_, t_mult_;
  double eta_min_;
};

// base_lr * factor(epoch), for any factor.
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> factor);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  std::function<double(int64_t)> factor_;
};

// A linear warmup from start_factor * base_lr to base_lr over `warmup` epochs, then `after`
// (built on the same optimiser) from its epoch 0. PyTorch: SequentialLR(LinearLR(start_factor,
// total_iters=warmup), after, milestones=[warmup]); the default start_factor is LinearLR's.
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup, std::unique_ptr<LRScheduler> after,
               double start_factor = 1.0 / 3.0);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t warmup_;
  std::unique_ptr<LRScheduler> after_;
  double start_factor_;
};

}  // namespace stackgrad::nn
