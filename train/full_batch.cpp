#include "train/full_batch.h"

#include <cmath>
#include <limits>

#include "engine/stackgrad.h"
#include "train/metrics.h"

namespace stackgrad::train {

namespace {

bool empty(const Tensor& idx) { return !idx.defined() || idx.numel() == 0; }

// (loss, accuracy) of logits on rows idx against targets (i64 [|idx|]); NaN for no rows.
std::pair<double, double> evaluate(const Tensor& logits, const Tensor& idx, const Tensor& targets) {
  if (empty(idx)) return {std::nan(""), std::nan("")};
  Tensor rows = index_select(logits, 0, idx);
  return {cross_entropy(rows, targets).item(), accuracy(rows, targets)};
}

}  // namespace

std::vector<EpochRecord> fit_full_batch(nn::Module& model, const std::function<Tensor()>& forward,
                                        nn::Optimizer& optimizer, const NodeTask& task,
                                        const FullBatchOptions& options) {
  SG_CHECK(task.labels.defined() && task.labels.dim() == 1 && task.labels.dtype() == DType::i64,
           "fit_full_batch: labels must be i64 [N]",
           task.labels.defined() ? ", got " + std::string(dtype_name(task.labels.dtype())) + " " + shape_str(task.labels.shape()) : "");
  SG_CHECK(!empty(task.train_idx), "fit_full_batch: no training nodes");
  const Tensor targets =
      task.train_targets.defined() ? task.train_targets : index_select(task.labels, 0, task.train_idx);
  SG_CHECK(targets.dtype() == DType::i64 && targets.dim() == 1 && targets.numel() == task.train_idx.numel(),
           "fit_full_batch: train_targets must be i64 [", task.train_idx.numel(), "] like train_idx, got ",
           dtype_name(targets.dtype()), " ", shape_str(targets.shape()));
  const Tensor val_y = empty(task.val_idx) ? Tensor() : index_select(task.labels, 0, task.val_idx);
  const Tensor test_y = empty(task.test_idx) ? Tensor() : index_select(task.labels, 0, task.test_idx);

  std::vector<EpochRecord> trace;
  trace.reserve(size_t(options.epochs));
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    model.train();
    Tensor logits = forward();
    SG_CHECK(logits.dim() == 2 && logits.size(0) == task.labels.size(0), "fit_full_batch: forward must return [",
             task.labels.size(0), ", classes] logits, got ", shape_str(logits.shape()));
    Tensor loss = cross_entropy(index_select(logits, 0, task.train_idx), targets);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();

    EpochRecord r;
    r.epoch = epoch;
    r.step_loss = loss.item();
    model.eval();
    {
      NoGradGuard no_grad;
      Tensor eval_logits = forward();
      std::tie(r.train_loss, r.train_accuracy) = evaluate(eval_logits, task.train_idx, targets);
      std::tie(r.val_loss, r.val_accuracy) = evaluate(eval_logits, task.val_idx, val_y);
      r.test_accuracy = evaluate(eval_logits, task.test_idx, test_y).second;
    }
    trace.push_back(r);
    if (options.on_epoch && !options.on_epoch(r)) break;
  }
  return trace;
}

namespace {

// The first record that no later one beats under `better(a, b)` ("a is strictly better than b").
template <class Better>
EpochRecord select(const std::vector<EpochRecord>& trace, const char* who, Better better) {
  SG_CHECK(!trace.empty(), who, ": empty trace");
  const EpochRecord* best = &trace.front();
  for (const EpochRecord& r : trace)
    if (better(r, *best)) best = &r;
  return *best;
}

// NaN compares as the worst value, so a trace without a validation set selects epoch 0
// rather than an arbitrary one.
bool greater(double a, double b) { return !std::isnan(a) && (std::isnan(b) || a > b); }
bool less(double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); }

}  // namespace

EpochRecord select_best_validation(const std::vector<EpochRecord>& trace) {
  return select(trace, "select_best_validation", [](const EpochRecord& a, const EpochRecord& b) {
    return greater(a.val_accuracy, b.val_accuracy) || (a.val_accuracy == b.val_accuracy && less(a.val_loss, b.val_loss));
  });
}

EpochRecord select_highest_train_accuracy(const std::vector<EpochRecord>& trace) {
  return select(trace, "select_highest_train_accuracy", [](const EpochRecord& a, const EpochRecord& b) {
    return greater(a.train_accuracy, b.train_accuracy) ||
           (a.train_accuracy == b.train_accuracy && less(a.train_loss, b.train_loss));
  });
}

EpochRecord select_lowest_train_loss(const std::vector<EpochRecord>& trace, int64_t every, double last_fraction) {
  SG_CHECK(every >= 1, "select_lowest_train_loss: every must be >= 1, got ", every);
  SG_CHECK(last_fraction >= 0 && last_fraction <= 1, "select_lowest_train_loss: last_fraction must be in [0, 1], got ",
           last_fraction);
  SG_CHECK(!trace.empty(), "select_lowest_train_loss: empty trace");
  const int64_t n = int64_t(trace.size());
  const int64_t tail_start = n - int64_t(std::ceil(last_fraction * double(n)));
  std::vector<EpochRecord> checked;
  for (int64_t i = 0; i < n; ++i)
    if ((i + 1) % every == 0 || i >= tail_start) checked.push_back(trace[size_t(i)]);
  if (checked.empty()) checked.push_back(trace.back());
  return select(checked, "select_lowest_train_loss",
                [](const EpochRecord& a, const EpochRecord& b) { return less(a.train_loss, b.train_loss); });
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd s;
  s.count = int64_t(values.size());
  if (values.empty()) return {std::nan(""), std::nan(""), 0};
  for (double v : values) s.mean += v / double(values.size());
  double var = 0;
  for (double v : values) var += (v - s.mean) * (v - s.mean) / double(values.size());
  s.std = std::sqrt(var);
  return s;
}

}  // namespace stackgrad::train
