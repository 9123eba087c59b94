// nn::UNet: a small denoising UNet (the DDPM layout at a small scale) that predicts the noise in
// x_t [N, in, H, W] given the diffusion step t [N]. It is the model of the diffusion work and
// the whole-model GPU benchmark (bench/bench_cuda_unet.cpp against the same model in PyTorch,
// bench/peers/unet_torch.py, whose parameter names and shapes are the same, key for key).
//
//   t -> sinusoidal embedding (base) -> time_fc1 -> SiLU -> time_fc2         (temb, 4 base)
//   x -> conv_in (3x3, base)
//     down.{l}: ResBlock(-> base * mult_l) [+ AttentionBlock at attention levels], saved as the
//               skip of level l; then a stride-2 3x3 conv down.{l}.down except at the last level
//     mid: ResBlock, AttentionBlock, ResBlock
//     up.{l} (l from last to 0): cat(h, skip_l) -> ResBlock(-> base * mult_l) [+ attention];
//               then nearest x2 upsampling and a 3x3 conv up.{l}.up except at level 0
//   -> norm_out (GroupNorm) -> SiLU -> conv_out (3x3, out)
//
// ResBlock(in, out): h = conv1(SiLU(norm1(x))) + time_proj(SiLU(temb))[:, :, None, None];
// h = conv2(SiLU(norm2(h))); return h + skip(x), skip a 1x1 conv when in != out, else identity.
// AttentionBlock(c): x + attn(norm(x) as [N, H*W, c] tokens) with nn::MultiheadAttention.
// H and W must be divisible by 2^(levels - 1).
#pragma once

#include <memory>
#include <vector>

#include "nn/attention.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/sequential.h"

namespace stackgrad::nn {

struct UNetOptions {
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  int64_t base_channels = 64;
  std::vector<int64_t> channel_mults = {1, 2, 2};
  std::vector<int64_t> attention_levels = {2};  // levels (indices into channel_mults)
  int64_t groups = 8;                           // GroupNorm groups; divides every width
  int64_t heads = 4;                            // attention heads; divides every width
};

// Sinusoidal embedding of the steps t [N] into [N, dim] (dim even): [sin(t f_i), cos(t f_i)]
// with f_i = exp(-ln(10000) i / (dim / 2)), i < dim / 2.
Tensor timestep_embedding(const Tensor& t, int64_t dim);

class UNetResBlock : public Module {
 public:
  UNetResBlock(int64_t in, int64_t out, int64_t time_dim, int64_t groups, Generator& gen);
  Tensor forward(const Tensor& x, const Tensor& temb);

  std::shared_ptr<GroupNorm> norm1, norm2;
  std::shared_ptr<Conv2d> conv1, conv2, skip;  // skip: null when in == out
  std::shared_ptr<Linear> time_proj;
};

class UNetAttentionBlock : public Module {
 public:
  UNetAttentionBlock(int64_t channels, int64_t groups, int64_t heads, Generator& gen);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<GroupNorm> norm;
  std::shared_ptr<MultiheadAttention> attn;
};

// One level of the down or the up path (torch names: res, attn, resample).
class UNetLevel : public Module {
 public:
  UNetLevel(std::shared_ptr<UNetResBlock> res_block, std::shared_ptr<UNetAttentionBlock> attention,
            std::shared_ptr<Conv2d> resampler);
  std::shared_ptr<UNetResBlock> res;
  std::shared_ptr<UNetAttentionBlock> attn;  // null where the level has none
  std::shared_ptr<Conv2d> resample;  // down: stride-2 conv; up: conv after upsampling; or null
};

class UNet : public Module {
 public:
  explicit UNet(UNetOptions options = {}, Generator& gen = default_generator());
  // x [N, in, H, W], t [N] (any real dtype; cast to x's) -> predicted noise [N, out, H, W].
  Tensor forward(const Tensor& x, const Tensor& t);
  std::string extra_repr() const override;

  UNetOptions options;
  std::shared_ptr<Linear> time_fc1, time_fc2;
  std::shared_ptr<Conv2d> conv_in, conv_out;
  std::shared_ptr<GroupNorm> norm_out;
  std::shared_ptr<ModuleList> down, up;  // of UNetLevel; up[l] is level l
  std::shared_ptr<UNetResBlock> mid_res1, mid_res2;
  std::shared_ptr<UNetAttentionBlock> mid_attn;
};

}  // namespace stackgrad::nn
