#include "nn/activation.h"

namespace stackgrad::nn {

std::string LeakyReLU::extra_repr() const { return str_cat("negative_slope=", negative_slope); }
std::string ELU::extra_repr() const { return str_cat("alpha=", alpha); }
std::string GELU::extra_repr() const {
  return approximate == GeluApprox::tanh ? "approximate=tanh" : "approximate=none";
}
std::string Softplus::extra_repr() const {
  return str_cat("beta=", beta, ", threshold=", threshold);
}
std::string Softmax::extra_repr() const { return str_cat("dim=", dim); }
std::string LogSoftmax::extra_repr() const { return str_cat("dim=", dim); }

}  // namespace stackgrad::nn
