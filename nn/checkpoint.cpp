#include "nn/checkpoint.h"

#include <cstdio>
#include <limits>

namespace stackgrad::nn {

namespace {

constexpr const char* kFormat = "stackgrad.checkpoint.v1";

void add_with_prefix(NamedTensors& out, const std::string& prefix, const NamedTensors& part) {
  for (auto& [name, t] : part) out[prefix + name] = t.device().is_cpu() ? t : t.to(Device::cpu());
}

// The tensors under `prefix` with the prefix removed.
NamedTensors take_prefix(const NamedTensors& all, const std::string& prefix) {
  NamedTensors out;
  for (auto it = all.lower_bound(prefix); it != all.end() && it->first.rfind(prefix, 0) == 0; ++it)
    out[it->first.substr(prefix.size())] = it->second;
  return out;
}

uint64_t parse_u64(const std::string& path, const std::string& key, const std::string& text) {
  size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SG_CHECK(used == text.size() && !text.empty() && text[0] != '-', "Checkpoint.load: ", path,
           ": metadata '", key, "' = '", text, "' is not an unsigned integer");
  return v;
}

}  // namespace

Checkpoint& Checkpoint::model(Module* model) {
  model_ = model;
  return *this;
}
Checkpoint& Checkpoint::optimizer(Optimizer* optimizer) {
  optimizer_ = optimizer;
  return *this;
}
Checkpoint& Checkpoint::scheduler(LRScheduler* scheduler) {
  scheduler_ = scheduler;
  return *this;
}
Checkpoint& Checkpoint::ema(ModelEma* ema) {
  ema_ = ema;
  return *this;
}
Checkpoint& Checkpoint::generator(const std::string& name, Generator* generator) {
  SG_CHECK(!name.empty() && name.find('.') == std::string::npos,
           "Checkpoint.generator: invalid name '", name, "' (non-empty, no '.')");
  SG_CHECK(generator != nullptr, "Checkpoint.generator: generator '", name, "' is null");
  generators_[name] = generator;
  return *this;
}

Checkpoint& Checkpoint::set(const std::string& key, const std::string& value) {
  SG_CHECK(!key.empty(), "Checkpoint.set: empty key");
  values_[key] = value;
  return *this;
}
Checkpoint& Checkpoint::set(const std::string& key, int64_t value) {
  return set(key, std::to_string(value));
}
Checkpoint& Checkpoint::set(const std::string& key, double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return set(key, std::string(buf));
}

const std::string& Checkpoint::get(const std::string& key) const {
  auto it = values_.find(key);
  SG_CHECK(it != values_.end(), "Checkpoint.get: no value '", key, "'");
  return it->second;
}

int64_t Checkpoint::get_int(const std::string& key) const {
  const std::string& text = get(key);
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SG_CHECK(used == text.size() && used > 0, "Checkpoint.get_int: '", key, "' = '", text,
           "' is not an integer");
  return v;
}

double Checkpoint::get_double(const std::string& key) const {
  const std::string& text = get(key);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SG_CHECK(used == text.size() && used > 0, "Checkpoint.get_double: '", key, "' = '", text,
           "' is not a number");
  return v;
}

void Checkpoint::save(const std::string& path) const {
  SG_CHECK(model_ || optimizer_ || scheduler_ || ema_ || !generators_.empty() || !values_.empty(),
           "Checkpoint.save: ", path, ": nothing registered to save");
  NamedTensors tensors;
  if (model_) add_with_prefix(tensors, "model.", model_->state_dict());
  if (optimizer_) add_with_prefix(tensors, "optim.", optimizer_->state_dict());
  if (scheduler_) add_with_prefix(tensors, "sched.", scheduler_->state_dict());
  if (ema_) add_with_prefix(tensors, "ema.", ema_->state_dict());
  std::map<std::string, std::string> meta{{"format", kFormat}};
  for (auto& [name, gen] : generators_) {
    meta["generator." + name + ".seed"] = std::to_string(gen->seed());
    meta["generator." + name + ".offset"] = std::to_string(gen->offset());
  }
  for (auto& [key, value] : values_) meta["user." + key] = value;
  save_safetensors(path, tensors, meta);
}

void Checkpoint::load(const std::string& path) {
  std::map<std::string, std::string> meta;
  NamedTensors tensors = load_safetensors(path, &meta);
  auto format = meta.find("format");
  SG_CHECK(format != meta.end() && format->second == kFormat, "Checkpoint.load: ", path,
           " is not a stackgrad checkpoint (metadata 'format' is ",
           format == meta.end() ? "missing" : "'" + format->second + "'", ", expected '", kFormat,
           "')");
  // Every registered part must be present before anything is changed.
  auto part = [&](const char* prefix, const char* what) {
    NamedTensors t = take_prefix(tensors, prefix);
    SG_CHECK(!t.empty(), "Checkpoint.load: ", path, " has no ", what, " state ('", prefix,
             "*' tensors)");
    return t;
  };
  NamedTensors model, optim, sched, ema;
  if (model_) model = part("model.", "model");
  if (optimizer_) optim = part("optim.", "optimizer");
  if (scheduler_) sched = part("sched.", "scheduler");
  if (ema_) ema = part("ema.", "EMA");
  std::map<std::string, std::pair<uint64_t, uint64_t>> gens;
  for (auto& [name, gen] : generators_) {
    std::string seed_key = "generator." + name + ".seed",
                offset_key = "generator." + name + ".offset";
    SG_CHECK(meta.count(seed_key) && meta.count(offset_key), "Checkpoint.load: ", path,
             " has no state for generator '", name, "'");
    gens[name] = {parse_u64(path, seed_key, meta[seed_key]),
                  parse_u64(path, offset_key, meta[offset_key])};
  }

  // Each part checks everything before it changes anything; the path goes into its message.
  try {
    if (model_) model_->load_state_dict(model);
    if (optimizer_) optimizer_->load_state_dict(optim);
    if (scheduler_) scheduler_->load_state_dict(sched);
    if (ema_) ema_->load_state_dict(ema);
  } catch (const Error& e) {
    fail("Checkpoint.load: ", path, ": ", e.what());
  }
  for (auto& [name, gen] : generators_) {
    auto [seed, offset] = gens[name];
    gen->manual_seed(seed);
    gen->advance(offset);
  }
  for (auto& [key, value] : meta)
    if (key.rfind("user.", 0) == 0) values_[key.substr(5)] = value;
}

}  // namespace stackgrad::nn
