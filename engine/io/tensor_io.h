// Tensors to and from files: .npy (optionally gzip-compressed) and safetensors. The parsers
// underneath (engine/io/npy.h, engine/io/safetensors.h) treat files as untrusted input.
#pragma once

#include <map>
#include <string>

#include "engine/core/tensor.h"

namespace stackgrad {

// Loads a .npy or .npy.gz file as a CPU tensor (dtypes f32, f64, i32, i64, u8, bool).
Tensor load_npy(const std::string& path);
// Saves a CPU tensor in C order; gzip-compresses when `gzip` is true (or the path ends in .gz).
void save_npy(const std::string& path, const Tensor& t, bool gzip = false);

using NamedTensors = std::map<std::string, Tensor>;

// Loads every tensor of a safetensors file; fills `metadata` when given.
NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata = nullptr);
// Saves named CPU tensors (written in name order) with optional string metadata.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace stackgrad
