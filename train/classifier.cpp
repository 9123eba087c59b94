#include "train/classifier.h"

#include <chrono>
#include <cstdio>
#include <cmath>
#include <limits>

#include "nn/checkpoint.h"
#include "nn/dropout.h"
#include "train/progress.h"

namespace stackgrad::train {

namespace {

// Every Dropout's generator, named by the module's path, so a checkpoint restores the masks.
void register_generators(nn::Module& model, nn::Checkpoint& ck) {
  for (auto& [name, m] : model.named_modules()) {
    if (auto* d = dynamic_cast<nn::Dropout*>(m.get())) ck.generator(name, &d->generator());
    else if (auto* d2 = dynamic_cast<nn::Dropout2d*>(m.get())) ck.generator(name, &d2->generator());
  }
}

nn::Checkpoint make_checkpoint(ClassifierRun& run) {
  nn::Checkpoint ck;
  ck.model(run.model.get()).optimizer(run.optimizer);
  if (run.scheduler) ck.scheduler(run.scheduler);
  register_generators(*run.model, ck);
  return ck;
}

}  // namespace

double evaluate_accuracy(nn::Module& model, const Tensor& x, const Tensor& y, int64_t batch) {
  SG_CHECK(x.defined() && y.defined() && x.size(0) == y.size(0), "evaluate_accuracy: expected ",
           "inputs and labels with the same first dim, got ", describe(x), " and ", describe(y));
  SG_CHECK(batch > 0, "evaluate_accuracy: batch must be positive, got ", batch);
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  int64_t correct = 0, n = x.size(0);
  for (int64_t i = 0; i < n; i += batch) {
    int64_t len = std::min(batch, n - i);
    Tensor logits = model(x.narrow(0, i, len));
    correct += static_cast<int64_t>(sum((argmax(logits, 1) == y.narrow(0, i, len)).to(DType::i64)).item());
  }
  model.train(was_training);
  return n == 0 ? std::nan("") : double(correct) / double(n);
}

FitResult fit_classifier(ClassifierRun& run) {
  SG_CHECK(run.model && run.optimizer && run.loader, "fit_classifier: model, optimizer and loader ",
           "are required");
  SG_CHECK(run.epochs >= 0 && run.start_epoch >= 0, "fit_classifier: bad epochs ", run.epochs,
           " / start_epoch ", run.start_epoch);
  nn::Module& model = *run.model;
  FitResult result;
  const auto start = std::chrono::steady_clock::now();
  ProgressLine line(run.label, run.loader->size());
  for (int64_t epoch = run.start_epoch; epoch < run.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    model.train();
    line.reset(run.loader->size());
    line.set_prefix("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(run.epochs));
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, step = 0;
    for (const data::Batch& b : run.loader->epoch(epoch)) {
      Tensor logits = model(b.x);
      Tensor loss = cross_entropy(logits, b.y);
      run.optimizer->zero_grad();
      loss.backward();
      run.optimizer->step();
      if (run.scheduler) run.scheduler->step();
      const double l = loss.item();
      {
        NoGradGuard no_grad;
        correct += static_cast<int64_t>(sum((argmax(logits, 1) == b.y).to(DType::i64)).item());
      }
      seen += b.y.size(0);
      loss_sum += l;
      if (run.on_step) run.on_step(epoch, step, l);
      ++step;
      line.update(step, {{"loss", loss_sum / double(step)}, {"acc", double(correct) / double(seen)}});
    }
    line.finish();
    EpochResult& r = result.last;
    r.epoch = epoch;
    r.train_loss = step ? loss_sum / double(step) : std::nan("");
    r.train_accuracy = seen ? double(correct) / double(seen) : std::nan("");
    r.test_accuracy = run.test_x.defined()
                          ? evaluate_accuracy(model, run.test_x, run.test_y, run.eval_batch)
                          : std::nan("");
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    ++result.epochs_run;
    if (!run.checkpoint_path.empty()) {
      nn::Checkpoint ck = make_checkpoint(run);
      ck.set("epoch", epoch).set("test_accuracy", r.test_accuracy).save(run.checkpoint_path);
    }
    if (run.metrics)
      run.metrics->write({{"epoch", epoch + 1},
                          {"train_loss", r.train_loss},
                          {"train_accuracy", r.train_accuracy},
                          {"test_accuracy", r.test_accuracy},
                          {"seconds", r.seconds}});
    if (run.on_epoch) run.on_epoch(r);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void print_epoch(const EpochResult& e) {
  std::printf("epoch %3lld  train loss %.4f  train acc %.4f  test acc %.4f  %.1f s\n",
              static_cast<long long>(e.epoch + 1), e.train_loss, e.train_accuracy, e.test_accuracy,
              e.seconds);
  std::fflush(stdout);
}

void resume_classifier(ClassifierRun& run, const std::string& path) {
  SG_CHECK(run.model && run.optimizer, "resume_classifier: model and optimizer are required");
  nn::Checkpoint ck = make_checkpoint(run);
  ck.load(path);
  run.start_epoch = ck.get_int("epoch") + 1;
}

}  // namespace stackgrad::train
