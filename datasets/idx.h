// IDX files (the MNIST family) and the image datasets stored in them.
//
// An IDX file is a big-endian header (two zero bytes, a type byte, the number of dims, then one
// int32 per dim) followed by the elements in row-major order. Files may be gzip-compressed.
//
//   data::ImageDataset train = data::load_mnist(data::Split::train);   // f32 [60000, 1, 28, 28]
//   Tensor raw = data::load_idx("t10k-labels-idx1-ubyte.gz");           // u8 [10000]
//   std::cout << train.class_names[train.labels.to_vector<int64_t>()[0]];   // "5"
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace stackgrad::data {

enum class Split { train, test };

// Images with integer class labels, as returned by the MNIST, Omniglot and image-folder loaders.
struct ImageDataset {
  Tensor images;  // f32 [N, C, H, W], values in [0, 1]
  Tensor labels;  // i64 [N], 0..num_classes-1
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // num_classes entries
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// Parses IDX bytes (already decompressed). Element types: 0x08 u8 -> u8, 0x09 i8 and 0x0B i16
// -> i32, 0x0C i32 -> i32, 0x0D f32 -> f32, 0x0E f64 -> f64. `expected_magic` (e.g. 0x00000803
// for an image file), when nonzero, must match the first four bytes exactly. Errors start with
// `what` and name the problem: bad magic, unknown type byte, truncated header or data, trailing
// bytes, a shape whose size overflows.
Tensor parse_idx(const uint8_t* bytes, size_t size, const std::string& what,
                 uint32_t expected_magic = 0);

// Reads an IDX file, gunzipping it when it starts with the gzip magic.
Tensor load_idx(const std::string& path, uint32_t expected_magic = 0);

// MNIST from the folder "mnist" under the data roots (datasets/data_root.h): images f32
// [N, 1, 28, 28] scaled to [0, 1] (ink = 1), labels i64, class names "0".."9".
ImageDataset load_mnist(Split split, const std::string& data_dir = "");

// Fashion-MNIST (folder "fashion-mnist" or "fashion_mnist"; same file names and layout as MNIST),
// class names "T-shirt/top", "Trouser", ..., "Ankle boot".
ImageDataset load_fashion_mnist(Split split, const std::string& data_dir = "");

// Either of the two by name, "mnist" or "fashion-mnist", for executables that take --dataset.
ImageDataset load_mnist_family(const std::string& name, Split split, const std::string& data_dir = "");
// The mean and standard deviation of the training images' pixels in [0, 1] (what Normalize
// takes): MNIST 0.1307 / 0.3081, Fashion-MNIST 0.2860 / 0.3530.
struct PixelStats {
  double mean, stddev;
};
PixelStats mnist_family_stats(const std::string& name);

}  // namespace stackgrad::data
