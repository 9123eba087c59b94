// Checkpoint: everything needed to resume training, in one safetensors file. Resuming continues
// with bit-identical losses: the model's tensors, the optimiser's state (step counts, moments,
// per-group lrs), the schedule's epoch, the EMA's shadows and each registered random generator's
// seed and offset are all saved exactly.
//
//   nn::Checkpoint ck;
//   ck.model(net.get()).optimizer(&opt).scheduler(&sched).generator("dropout", &gen).set("epoch",
//   3); ck.save("run/last.safetensors");   // later, with freshly built objects: ck.load(path)
//
// File layout: tensors "model.<name>", "optim.<key>", "sched.<key>", "ema.<key>"; metadata
// "format" = "stackgrad.checkpoint.v1", "generator.<name>.seed" / ".offset" (decimal) and the
// caller's own key/values as "user.<key>".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim/ema.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/schedule.h"

namespace stackgrad::nn {

class Checkpoint {
 public:
  // The parts to save or restore (held by pointer: they must outlive the Checkpoint's use).
  Checkpoint& model(Module* model);
  Checkpoint& optimizer(Optimizer* optimizer);
  Checkpoint& scheduler(LRScheduler* scheduler);
  Checkpoint& ema(ModelEma* ema);
  Checkpoint& generator(const std::string& name, Generator* generator);

  // The caller's own values (epoch, step, best accuracy, ...), stored as metadata strings;
  // doubles keep all 17 significant digits so they read back exactly.
  Checkpoint& set(const std::string& key, const std::string& value);
  Checkpoint& set(const std::string& key, const char* value) {
    return set(key, std::string(value));
  }
  Checkpoint& set(const std::string& key, int64_t value);
  Checkpoint& set(const std::string& key, int value) {
    return set(key, static_cast<int64_t>(value));
  }
  Checkpoint& set(const std::string& key, double value);
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  // After load(): the stored values (an error names the key when it is missing or malformed).
  const std::string& get(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  const std::map<std::string, std::string>& values() const { return values_; }

  // Writes every registered part and value (atomically: a crash leaves the old file intact).
  void save(const std::string& path) const;
  // Restores every registered part from `path`; a part missing from the file is an error naming
  // it, found before anything changes. A part that does not fit (another model's tensors) is an
  // error too, but the parts restored before it stay restored. Values stored in the file
  // replace those set here.
  void load(const std::string& path);

 private:
  Module* model_ = nullptr;
  Optimizer* optimizer_ = nullptr;
  LRScheduler* scheduler_ = nullptr;
  ModelEma* ema_ = nullptr;
  std::map<std::string, Generator*> generators_;
  std::map<std::string, std::string> values_;
};

}  // namespace stackgrad::nn
