#include "nn/sequential.h"

namespace stackgrad::nn {

void ModuleHolder::push_back(std::shared_ptr<Module> module) {
  push_back(std::to_string(modules_.size()), std::move(module));
}

void ModuleHolder::push_back(const std::string& name, std::shared_ptr<Module> module) {
  add_child(name, module);
  modules_.push_back(std::move(module));
}

std::shared_ptr<Module> ModuleHolder::operator[](int64_t i) const {
  auto n = static_cast<int64_t>(modules_.size());
  SG_CHECK(i >= -n && i < n, type_name(), ": index ", i, " out of range for ", n, " modules");
  return modules_[static_cast<size_t>(i < 0 ? i + n : i)];
}

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules)
    : ModuleHolder("Sequential") {
  for (const auto& m : modules) push_back(m);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& m : *this) y = m->forward(y);
  return y;
}

ModuleList::ModuleList(const std::vector<std::shared_ptr<Module>>& modules)
    : ModuleHolder("ModuleList") {
  for (const auto& m : modules) push_back(m);
}

}  // namespace stackgrad::nn
