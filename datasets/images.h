// Image files (PNG, JPEG, BMP, GIF, ... through stb_image) as tensors, and a folder of class
// subfolders as an ImageDataset.
//
//   Tensor img = data::load_image("cat.png", 3);                  // u8 [3, H, W]
//   Tensor f = data::load_image("cat.png", 1, DType::f32);        // f32 [1, H, W] in [0, 1]
//   data::ImageDataset ds = data::load_image_folder("pets/train");  // pets/train/<class>/*.png
#pragma once

#include <string>

#include "datasets/idx.h"
#include "engine/core/tensor.h"

namespace stackgrad::data {

// Decodes an image file into [C, H, W]. channels: 0 keeps the file's own count (1 grey, 2 grey +
// alpha, 3 RGB, 4 RGBA); 1..4 converts to that many. dtype u8 keeps 0..255; f32 scales to [0, 1].
Tensor load_image(const std::string& path, int channels = 0, DType dtype = DType::u8);

// Same from bytes in memory; `what` names them in errors.
Tensor decode_image(const uint8_t* bytes, size_t size, const std::string& what, int channels = 0,
                    DType dtype = DType::u8);

// root/<class>/<image> for every class folder (sorted by name; the class index is its position)
// and every .png/.jpg/.jpeg/.bmp file in it (sorted by name). Images f32 [N, C, H, W] in [0, 1];
// all must share one size (an error names the first that differs). channels as in load_image,
// except that 0 takes the first image's count for all.
ImageDataset load_image_folder(const std::string& root, int channels = 0);

}  // namespace stackgrad::data
