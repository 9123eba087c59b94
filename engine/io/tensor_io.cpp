#include "engine/io/tensor_io.h"

#include <cstring>
#include <memory>

#include "engine/autograd/grad_mode.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"

namespace stackgrad {

namespace {

// Takes ownership of the parsed bytes: the tensor wraps them without a copy.
Tensor tensor_from_raw(io::RawArray&& raw) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(raw.data));
  return from_blob(bytes->data(), raw.shape, raw.dtype, bytes);
}

io::RawArray raw_from_tensor(const char* op, const Tensor& t) {
  check_strided(op, t, "tensor");
  SG_CHECK(t.device().is_cpu(), op, ": expected a cpu tensor, got ", describe(t),
           " (move it with .to(Device::cpu()))");
  NoGradGuard no_grad;
  Tensor c = t.contiguous();
  io::RawArray raw;
  raw.dtype = c.dtype();
  raw.shape = c.shape();
  raw.data.resize(static_cast<size_t>(c.numel()) * c.element_size());
  if (!raw.data.empty()) std::memcpy(raw.data.data(), c.raw_data(), raw.data.size());
  return raw;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Tensor load_npy(const std::string& path) { return tensor_from_raw(io::read_npy(path)); }

void save_npy(const std::string& path, const Tensor& t, bool gzip) {
  io::write_npy(path, raw_from_tensor("save_npy", t), gzip || ends_with(path, ".gz"));
}

NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  io::SafetensorsFile file = io::read_safetensors(path);
  NamedTensors out;
  for (auto& [name, raw] : file.tensors) out.emplace(name, tensor_from_raw(std::move(raw)));
  if (metadata) *metadata = std::move(file.metadata);
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  io::SafetensorsFile file;
  for (const auto& [name, t] : tensors) file.tensors.emplace_back(name, raw_from_tensor("save_safetensors", t));
  file.metadata = metadata;
  io::write_safetensors(path, file);
}

}  // namespace stackgrad
