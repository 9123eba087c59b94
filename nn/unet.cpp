#include "nn/unet.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace stackgrad::nn {

Tensor timestep_embedding(const Tensor& t, int64_t dim) {
  SG_CHECK(t.dim() == 1, "timestep_embedding: expected steps of shape [N], got ",
           shape_str(t.shape()));
  SG_CHECK(dim > 0 && dim % 2 == 0, "timestep_embedding: dim must be even and positive, got ", dim);
  const int64_t half = dim / 2;
  const DType dt = is_floating(t.dtype()) ? t.dtype() : DType::f32;
  Tensor i = arange(0.0, static_cast<double>(half), 1.0, Options(dt, t.device()));
  Tensor freqs = exp(i * (-std::log(10000.0) / static_cast<double>(half)));
  Tensor args = t.to(dt).unsqueeze(1) * freqs.unsqueeze(0);  // [N, half]
  return cat({sin(args), cos(args)}, 1);
}

UNetResBlock::UNetResBlock(int64_t in, int64_t out, int64_t time_dim, int64_t groups,
                           Generator& gen)
    : Module("UNetResBlock") {
  const Conv2dOptions same{.padding = 1};
  norm1 = register_module("norm1", std::make_shared<GroupNorm>(groups, in));
  conv1 = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, same, gen));
  time_proj =
      register_module("time_proj", std::make_shared<Linear>(time_dim, out, LinearOptions{}, gen));
  norm2 = register_module("norm2", std::make_shared<GroupNorm>(groups, out));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, same, gen));
  if (in != out)
    skip = register_module("skip", std::make_shared<Conv2d>(in, out, 1, Conv2dOptions{}, gen));
}

Tensor UNetResBlock::forward(const Tensor& x, const Tensor& temb) {
  Tensor h = (*conv1)(norm1->forward_silu(x));  // silu(norm1(x)) in one kernel
  h = h + (*time_proj)(silu(temb)).unsqueeze(2).unsqueeze(3);
  h = (*conv2)(norm2->forward_silu(h));
  return h + (skip ? (*skip)(x) : x);
}

UNetAttentionBlock::UNetAttentionBlock(int64_t channels, int64_t groups, int64_t heads,
                                       Generator& gen)
    : Module("UNetAttentionBlock") {
  norm = register_module("norm", std::make_shared<GroupNorm>(groups, channels));
  attn = register_module("attn",
                         std::make_shared<MultiheadAttention>(
                             channels, heads, MultiheadAttentionOptions{.batch_first = true}, gen));
}

Tensor UNetAttentionBlock::forward(const Tensor& x) {
  SG_CHECK(x.dim() == 4, "UNetAttentionBlock: expected [N, C, H, W], got ", shape_str(x.shape()));
  const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  Tensor tokens = (*norm)(x).reshape({n, c, h * w}).transpose(1, 2);  // [N, HW, C]
  Tensor y = attn->forward(tokens, tokens, tokens).output;            // [N, HW, C]
  return x + y.transpose(1, 2).reshape({n, c, h, w});
}

UNetLevel::UNetLevel(std::shared_ptr<UNetResBlock> res_block,
                     std::shared_ptr<UNetAttentionBlock> attention,
                     std::shared_ptr<Conv2d> resampler)
    : Module("UNetLevel") {
  res = register_module("res", std::move(res_block));
  if (attention) attn = register_module("attn", std::move(attention));
  if (resampler) resample = register_module("resample", std::move(resampler));
}

UNet::UNet(UNetOptions opts, Generator& gen) : Module("UNet"), options(std::move(opts)) {
  const auto& o = options;
  const int64_t levels = static_cast<int64_t>(o.channel_mults.size());
  SG_CHECK(levels > 0, "UNet: channel_mults is empty");
  SG_CHECK(o.base_channels > 0 && o.base_channels % 2 == 0,
           "UNet: base_channels must be even and positive, got ", o.base_channels);
  for (int64_t l : o.attention_levels)
    SG_CHECK(l >= 0 && l < levels, "UNet: attention level ", l, " is not one of the ", levels,
             " levels");
  auto width = [&](int64_t l) { return o.base_channels * o.channel_mults[l]; };
  for (int64_t l = 0; l < levels; ++l)
    SG_CHECK(o.channel_mults[l] > 0 && width(l) % o.groups == 0 && width(l) % o.heads == 0,
             "UNet: width ", width(l), " of level ", l,
             " must be positive and divisible by groups (", o.groups, ") and heads (", o.heads,
             ")");
  auto attends = [&](int64_t l) {
    return std::find(o.attention_levels.begin(), o.attention_levels.end(), l) !=
           o.attention_levels.end();
  };
  const int64_t tdim = 4 * o.base_channels;
  const Conv2dOptions same{.padding = 1};
  time_fc1 = register_module("time_fc1",
                             std::make_shared<Linear>(o.base_channels, tdim, LinearOptions{}, gen));
  time_fc2 =
      register_module("time_fc2", std::make_shared<Linear>(tdim, tdim, LinearOptions{}, gen));
  conv_in = register_module("conv_in",
                            std::make_shared<Conv2d>(o.in_channels, o.base_channels, 3, same, gen));
  down = register_module("down", std::make_shared<ModuleList>());
  int64_t ch = o.base_channels;
  for (int64_t l = 0; l < levels; ++l) {
    auto res = std::make_shared<UNetResBlock>(ch, width(l), tdim, o.groups, gen);
    ch = width(l);
    auto attn =
        attends(l) ? std::make_shared<UNetAttentionBlock>(ch, o.groups, o.heads, gen) : nullptr;
    auto resample = l + 1 < levels ? std::make_shared<Conv2d>(
                                         ch, ch, 3, Conv2dOptions{.stride = 2, .padding = 1}, gen)
                                   : nullptr;
    down->push_back(std::make_shared<UNetLevel>(res, attn, resample));
  }
  mid_res1 =
      register_module("mid_res1", std::make_shared<UNetResBlock>(ch, ch, tdim, o.groups, gen));
  mid_attn =
      register_module("mid_attn", std::make_shared<UNetAttentionBlock>(ch, o.groups, o.heads, gen));
  mid_res2 =
      register_module("mid_res2", std::make_shared<UNetResBlock>(ch, ch, tdim, o.groups, gen));
  // up[l] is level l; built from the last level down (as the data flows), registered in index
  // order.
  std::vector<std::shared_ptr<UNetLevel>> ups(levels);
  for (int64_t l = levels - 1; l >= 0; --l) {
    auto res = std::make_shared<UNetResBlock>(ch + width(l), width(l), tdim, o.groups, gen);
    ch = width(l);
    auto attn =
        attends(l) ? std::make_shared<UNetAttentionBlock>(ch, o.groups, o.heads, gen) : nullptr;
    auto resample = l > 0 ? std::make_shared<Conv2d>(ch, ch, 3, same, gen) : nullptr;
    ups[l] = std::make_shared<UNetLevel>(res, attn, resample);
  }
  up = register_module("up", std::make_shared<ModuleList>());
  for (auto& level : ups) up->push_back(level);
  norm_out = register_module("norm_out", std::make_shared<GroupNorm>(o.groups, o.base_channels));
  conv_out = register_module(
      "conv_out", std::make_shared<Conv2d>(o.base_channels, o.out_channels, 3, same, gen));
}

Tensor UNet::forward(const Tensor& x, const Tensor& t) {
  const int64_t levels = static_cast<int64_t>(options.channel_mults.size());
  SG_CHECK(x.dim() == 4 && x.shape()[1] == options.in_channels, "UNet: expected x [N, ",
           options.in_channels, ", H, W], got ", shape_str(x.shape()));
  SG_CHECK(t.dim() == 1 && t.shape()[0] == x.shape()[0], "UNet: expected steps t [", x.shape()[0],
           "], got ", shape_str(t.shape()));
  const int64_t factor = int64_t{1} << (levels - 1);
  SG_CHECK(x.shape()[2] % factor == 0 && x.shape()[3] % factor == 0,
           "UNet: height and width must be divisible by ", factor, " (", levels, " levels), got ",
           shape_str(x.shape()));
  Tensor temb =
      (*time_fc2)(silu((*time_fc1)(timestep_embedding(t.to(x.dtype()), options.base_channels))));
  Tensor h = (*conv_in)(x);
  std::vector<Tensor> skips;
  for (int64_t l = 0; l < levels; ++l) {
    auto level = down->at<UNetLevel>(l);
    h = level->res->forward(h, temb);
    if (level->attn) h = (*level->attn)(h);
    skips.push_back(h);
    if (level->resample) h = (*level->resample)(h);
  }
  h = mid_res2->forward((*mid_attn)(mid_res1->forward(h, temb)), temb);
  for (int64_t l = levels - 1; l >= 0; --l) {
    auto level = up->at<UNetLevel>(l);
    h = level->res->forward(cat({h, skips[l]}, 1), temb);
    if (level->attn) h = (*level->attn)(h);
    if (level->resample) h = (*level->resample)(upsample(h, 2.0, UpsampleMode::nearest));
  }
  return (*conv_out)(norm_out->forward_silu(h));
}

std::string UNet::extra_repr() const {
  std::ostringstream s;
  s << "in=" << options.in_channels << ", out=" << options.out_channels
    << ", base=" << options.base_channels << ", mults=[";
  for (size_t i = 0; i < options.channel_mults.size(); ++i)
    s << (i ? ", " : "") << options.channel_mults[i];
  s << "], attention=[";
  for (size_t i = 0; i < options.attention_levels.size(); ++i)
    s << (i ? ", " : "") << options.attention_levels[i];
  s << "], groups=" << options.groups << ", heads=" << options.heads;
  return s.str();
}

}  // namespace stackgrad::nn
