// Image transforms for data augmentation and input scaling. Each works on one image f32/f64
// [C, H, W] or a batch [N, C, H, W] (random choices are then made per image) and is called as
// t(x, gen): the random ones draw only from `gen`, so a DataLoader that seeds gen per (epoch,
// batch) gives reproducible augmentation. They return new tensors and record no autograd history.
//
//   data::Compose augment({data::RandomCrop(32, 4), data::RandomHorizontalFlip(0.5),
//                          data::Normalize({0.4914, 0.4822, 0.4465}, {0.247, 0.243, 0.261})});
//   data::DataLoader loader(x, y, {.batch_size = 128, .transform = augment});
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/runtime/generator.h"

namespace stackgrad::data {

// (x - mean[c]) / std[c] per channel; one value each broadcasts to every channel.
struct Normalize {
  std::vector<double> mean, stddev;
  Normalize(std::vector<double> mean, std::vector<double> stddev);
  Tensor operator()(const Tensor& x) const;
  Tensor operator()(const Tensor& x, Generator&) const { return (*this)(x); }
};

// Pads every side with `padding` zeros, then cuts a random size x size window (height x width
// when given both).
struct RandomCrop {
  int64_t height, width, padding;
  RandomCrop(int64_t size, int64_t padding = 0) : RandomCrop(size, size, padding) {}
  RandomCrop(int64_t height, int64_t width, int64_t padding);
  Tensor operator()(const Tensor& x, Generator& gen) const;
};

// Mirrors left-right with probability p.
struct RandomHorizontalFlip {
  double p = 0.5;
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& x, Generator& gen) const;
};

// Rotates counter-clockwise by 0, 90, 180 or 270 degrees, each equally likely (square images).
struct RandomRotate90 {
  Tensor operator()(const Tensor& x, Generator& gen) const;
};

// Rotates counter-clockwise by k * 90 degrees (what RandomRotate90 applies per image).
Tensor rotate90(const Tensor& x, int64_t k);

// Applies transforms in order, all drawing from the same generator.
struct Compose {
  std::vector<std::function<Tensor(const Tensor&, Generator&)>> transforms;
  explicit Compose(std::vector<std::function<Tensor(const Tensor&, Generator&)>> transforms)
      : transforms(std::move(transforms)) {}
  Tensor operator()(const Tensor& x, Generator& gen) const;
};

}  // namespace stackgrad::data
