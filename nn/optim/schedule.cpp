#include "nn/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace stackgrad::nn {

LRScheduler::LRScheduler(std::string name, Optimizer& optimizer)
    : optimizer_(optimizer), name_(std::move(name)) {
  for (size_t g = 0; g < optimizer.num_param_groups(); ++g) base_lrs_.push_back(optimizer.lr(g));
}

void LRScheduler::apply() {
  SG_CHECK(optimizer_.num_param_groups() == base_lrs_.size(), name_, ": the optimizer has ",
           optimizer_.num_param_groups(), " param groups but the scheduler knows ",
           base_lrs_.size());
  for (size_t g = 0; g < base_lrs_.size(); ++g)
    optimizer_.set_lr(g, lr_at(last_epoch_, base_lrs_[g]));
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> out;
  for (double base : base_lrs_) out.push_back(lr_at(last_epoch_, base));
  return out;
}

NamedTensors LRScheduler::state_dict() const {
  return {{"last_epoch", scalar_tensor(static_cast<double>(last_epoch_), DType::i64)},
          {"base_lrs", from_vector(base_lrs_)}};
}

void LRScheduler::load_state_dict(const NamedTensors& state) {
  auto epoch = state.find("last_epoch");
  auto bases = state.find("base_lrs");
  SG_CHECK(epoch != state.end() && bases != state.end(), name_,
           ".load_state_dict: expected keys 'last_epoch' and 'base_lrs', got ", state.size(),
           " key(s)", state.empty() ? "" : str_cat(" starting with '", state.begin()->first, "'"));
  for (auto& [key, t] : state)
    SG_CHECK(key == "last_epoch" || key == "base_lrs", name_, ".load_state_dict: unexpected key '",
             key, "'");
  SG_CHECK(epoch->second.numel() == 1 && epoch->second.item() >= 0, name_,
           ".load_state_dict: 'last_epoch' should be a scalar >= 0, got ", describe(epoch->second));
  SG_CHECK(
      bases->second.dim() == 1 && static_cast<size_t>(bases->second.numel()) == base_lrs_.size(),
      name_, ".load_state_dict: 'base_lrs' is ", describe(bases->second), " but the optimizer has ",
      base_lrs_.size(), " param group(s)");
  last_epoch_ = static_cast<int64_t>(epoch->second.item());
  base_lrs_ = bases->second.to(DType::f64).to_vector<double>();
  apply();
}

// --- schedules ------------------------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler("StepLR", optimizer), step_size_(step_size), gamma_(gamma) {
  SG_CHECK(step_size > 0, "StepLR: step_size must be > 0, got ", step_size);
  apply();
}

double StepLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler("MultiStepLR", optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  apply();
}

double MultiStepLR::lr_at(int64_t epoch, double base_lr) const {
  auto passed =
      std::count_if(milestones_.begin(), milestones_.end(), [&](int64_t m) { return m <= epoch; });
  return base_lr * std::pow(gamma_, static_cast<double>(passed));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min)
    : LRScheduler("CosineAnnealingLR", optimizer), t_max_(t_max), eta_min_(eta_min) {
  SG_CHECK(t_max > 0, "CosineAnnealingLR: t_max must be > 0, got ", t_max);
  apply();
}

double CosineAnnealingLR::lr_at(int64_t epoch, double base_lr) const {
  double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t t_0,
                                                         int64_t t_mult, double eta_min)
    : LRScheduler("CosineAnnealingWarmRestarts", optimizer),
      t_0_(t_0),
      t_mult_(t_mult),
      eta_min_(eta_min) {
  SG_CHECK(t_0 > 0, "CosineAnnealingWarmRestarts: t_0 must be > 0, got ", t_0);
  SG_CHECK(t_mult >= 1, "CosineAnnealingWarmRestarts: t_mult must be >= 1, got ", t_mult);
  apply();
}

double CosineAnnealingWarmRestarts::lr_at(int64_t epoch, double base_lr) const {
  // Walk the periods in integers: t_cur is the epoch within the current period of length t_i.
  int64_t t_cur = epoch, t_i = t_0_;
  if (t_mult_ == 1) {
    t_cur = epoch % t_0_;
  } else {
    while (t_cur >= t_i) {
      t_cur -= t_i;
      t_i *= t_mult_;
    }
  }
  double phase = std::numbers::pi * static_cast<double>(t_cur) / static_cast<double>(t_i);
  return eta_min_ + (base_lr - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> factor)
    : LRScheduler("LambdaLR", optimizer), factor_(std::move(factor)) {
  SG_CHECK(factor_ != nullptr, "LambdaLR: the factor function is empty");
  apply();
}

double LambdaLR::lr_at(int64_t epoch, double base_lr) const { return base_lr * factor_(epoch); }

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup, std::unique_ptr<LRScheduler> after,
                           double start_factor)
    : LRScheduler("LinearWarmup", optimizer),
      warmup_(warmup),
      after_(std::move(after)),
      start_factor_(start_factor) {
  SG_CHECK(warmup >= 0, "LinearWarmup: warmup must be >= 0, got ", warmup);
  SG_CHECK(start_factor >= 0 && start_factor <= 1,
           "LinearWarmup: start_factor must be in [0, 1], got ", start_factor);
  SG_CHECK(after_ != nullptr, "LinearWarmup: the schedule after the warmup is null");
  SG_CHECK(&after_->optimizer() == &optimizer, "LinearWarmup: the schedule after the warmup (",
           after_->name(), ") drives another optimizer");
  // The base lrs are the ones `after` saw: its constructor may already have changed the lrs.
  base_lrs_ = after_->base_lrs();
  apply();
}

double LinearWarmup::lr_at(int64_t epoch, double base_lr) const {
  if (epoch >= warmup_) return after_->lr_at(epoch - warmup_, base_lr);
  double fraction = static_cast<double>(epoch) / static_cast<double>(warmup_);
  return base_lr * (start_factor_ + (1.0 - start_factor_) * fraction);
}

}  // namespace stackgrad::nn
