// Containers: Sequential chains modules (each one's output is the next one's input) and
// ModuleList just holds them (its owner decides how to call them). Children are named "0",
// "1", ... as in torch, so their parameters are "0.weight", "2.bias", ...
//
//   auto mlp = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
//       std::make_shared<nn::Linear>(2, 8), std::make_shared<nn::ReLU>(),
//       std::make_shared<nn::Linear>(8, 1)});
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "nn/module.h"

namespace stackgrad::nn {

// Shared by Sequential and ModuleList: an ordered list of registered children.
class ModuleHolder : public Module {
 public:
  using Module::Module;
  // Appends under the name str(size()), or under `name`.
  void push_back(std::shared_ptr<Module> module);
  void push_back(const std::string& name, std::shared_ptr<Module> module);
  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // The i-th module (negative counts from the end); error when out of range.
  std::shared_ptr<Module> operator[](int64_t i) const;
  // The i-th module as M (error when it is not one).
  template <typename M>
  std::shared_ptr<M> at(int64_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    SG_CHECK(m != nullptr, type_name(), ": module ", i, " is a ", (*this)[i]->type_name(),
             ", not the requested type");
    return m;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

class Sequential : public ModuleHolder {
 public:
  Sequential() : ModuleHolder("Sequential") {}
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules)
      : Sequential(std::vector<std::shared_ptr<Module>>(modules)) {}
  // std::make_shared<Sequential>(std::make_shared<Linear>(2, 8), std::make_shared<ReLU>()).
  template <typename... M>
  explicit Sequential(std::shared_ptr<M>... modules) : ModuleHolder("Sequential") {
    (push_back(std::move(modules)), ...);
  }
  // forward(x) of each module in turn (x itself when empty).
  Tensor forward(const Tensor& x) override;
};

class ModuleList : public ModuleHolder {
 public:
  ModuleList() : ModuleHolder("ModuleList") {}
  explicit ModuleList(const std::vector<std::shared_ptr<Module>>& modules);
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules)
      : ModuleList(std::vector<std::shared_ptr<Module>>(modules)) {}
};

}  // namespace stackgrad::nn
