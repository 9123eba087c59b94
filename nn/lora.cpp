#include "nn/lora.h"

#include <cmath>
#include <sstream>

namespace stackgrad::nn {

namespace {

// peft's kaiming_uniform_(a = √5): bound = √(6 / (1 + a²)) / √fan_in = 1 / √fan_in.
Tensor kaiming_uniform_a_sqrt5(const Shape& shape, int64_t fan_in, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return rand(shape, gen, DType::f32, -bound, bound);
}

}  // namespace

// --- LoraAdapter ------------------------------------------------------------------------------

LoraAdapter::LoraAdapter(std::string type_name, int64_t rank, double alpha)
    : Module(std::move(type_name)), rank_(rank), alpha_(alpha) {
  SG_CHECK(rank > 0, this->type_name(), ": rank must be positive, got ", rank);
}

Tensor LoraAdapter::forward(const Tensor& x) {
  check_defined(type_name().c_str(), x, "x");
  const Shape out = output_shape(x);
  // Merged: the base weight already holds s·B A, so the branch must add nothing.
  if (merged_) return zeros(out, Options(x.dtype(), x.device()));
  return branch(x);
}

void LoraAdapter::apply_delta(Tensor& weight, double sign, const char* what) {
  check_defined(what, weight, "weight");
  NoGradGuard no_grad;
  Tensor delta = delta_weight();
  SG_CHECK(weight.shape() == delta.shape(), type_name(), ".", what, ": expected weight ",
           shape_str(delta.shape()), ", got ", shape_str(weight.shape()));
  weight.add_(delta.to(weight.dtype()), sign);
}

void LoraAdapter::merge(Tensor& weight) {
  if (merged_) return;
  apply_delta(weight, 1.0, "merge");
  merged_ = true;
}

void LoraAdapter::unmerge(Tensor& weight) {
  if (!merged_) return;
  apply_delta(weight, -1.0, "unmerge");
  merged_ = false;
}

std::string LoraAdapter::extra_repr() const {
  std::ostringstream s;
  s << "rank=" << rank_ << ", alpha=" << alpha_ << ", merged=" << (merged_ ? "true" : "false");
  return s.str();
}

// --- LoraLinear -------------------------------------------------------------------------------

LoraLinear::LoraLinear(int64_t in_features, int64_t out_features, int64_t rank, double alpha,
                       Generator& gen)
    : LoraAdapter("LoraLinear", rank, alpha), in_(in_features), out_(out_features) {
  SG_CHECK(in_features > 0 && out_features > 0,
           "LoraLinear: expected positive sizes, got in=", in_features, ", out=", out_features);
  register_parameter("lora_A", lora_A,
                     kaiming_uniform_a_sqrt5({rank, in_features}, in_features, gen));
  register_parameter("lora_B", lora_B, zeros({out_features, rank}));
}

Shape LoraLinear::output_shape(const Tensor& x) const {
  SG_CHECK(x.dim() >= 1 && x.shape().back() == in_, "LoraLinear: expected input [..., ", in_,
           "], got ", shape_str(x.shape()));
  Shape out = x.shape();
  out.back() = out_;
  return out;
}

Tensor LoraLinear::branch(const Tensor& x) {
  return matmul(matmul(x, lora_A.t()), lora_B.t()) * scale();
}

Tensor LoraLinear::delta_weight() const { return mm(lora_B, lora_A) * scale(); }

// --- LoraConv2d -------------------------------------------------------------------------------

LoraConv2d::LoraConv2d(int64_t in_channels, int64_t out_channels, LoraConvGeometry geometry,
                       int64_t rank, double alpha, Generator& gen)
    : LoraAdapter("LoraConv2d", rank, alpha), in_(in_channels), out_(out_channels), g_(geometry) {
  const int64_t G = geometry.groups;
  SG_CHECK(G > 0 && in_channels % G == 0 && out_channels % G == 0 && rank % G == 0,
           "LoraConv2d: in_channels, out_channels and rank must be multiples of groups, got in=",
           in_channels, ", out=", out_channels, ", rank=", rank, ", groups=", G);
  const auto [kh, kw] = geometry.kernel_size;
  SG_CHECK(kh > 0 && kw > 0, "LoraConv2d: expected a positive kernel size, got [", kh, ", ", kw,
           "]");
  register_parameter(
      "lora_A", lora_A,
      kaiming_uniform_a_sqrt5({rank, in_channels / G, kh, kw}, in_channels / G * kh * kw, gen));
  register_parameter("lora_B", lora_B, zeros({out_channels, rank / G, 1, 1}));
}

Shape LoraConv2d::output_shape(const Tensor& x) const {
  SG_CHECK(x.dim() == 4 && x.size(1) == in_, "LoraConv2d: expected input [N, ", in_,
           ", H, W], got ", shape_str(x.shape()));
  Shape out{x.size(0), out_, 0, 0};
  for (int d = 0; d < 2; ++d) {
    const int64_t span = g_.dilation[d] * (g_.kernel_size[d] - 1) + 1;
    out[2 + d] = (x.size(2 + d) + 2 * g_.padding[d] - span) / g_.stride[d] + 1;
    SG_CHECK(out[2 + d] > 0, "LoraConv2d: input ", shape_str(x.shape()),
             " is smaller than the kernel");
  }
  return out;
}

Tensor LoraConv2d::branch(const Tensor& x) {
  Tensor down = conv2d(x, lora_A, Tensor(), g_.stride, g_.padding, g_.dilation, g_.groups);
  return conv2d(down, lora_B, Tensor(), {1, 1}, {0, 0}, {1, 1}, g_.groups) * scale();
}

// Group j of the output uses A's group-j channels only: ΔW_j = B_j A_j per group, one bmm.
Tensor LoraConv2d::delta_weight() const {
  const int64_t G = g_.groups, r = rank() / G, k = lora_A.numel() / rank();
  Tensor A = lora_A.reshape({G, r, k}), B = lora_B.reshape({G, out_ / G, r});
  return bmm(B, A).reshape({out_, in_ / G, g_.kernel_size[0], g_.kernel_size[1]}) * scale();
}

// --- the tree ---------------------------------------------------------------------------------

std::vector<Tensor> lora_parameters(const Module& root) {
  std::vector<Tensor> out;
  auto take = [&](const Module& m) {
    if (dynamic_cast<const LoraAdapter*>(&m) == nullptr) return;
    for (const Tensor& p : m.parameters(/*recurse=*/false)) out.push_back(p);
  };
  take(root);
  for (const auto& [name, m] : root.named_modules()) take(*m);
  return out;
}

void mark_only_lora_as_trainable(Module& root) {
  root.set_frozen(true);
  for (Tensor p : lora_parameters(root)) p.requires_grad_(true);
}

}  // namespace stackgrad::nn
