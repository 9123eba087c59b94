#include "datasets/idx.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "datasets/data_root.h"
#include "engine/io/gzip.h"
#include "engine/io/raw_array.h"

namespace stackgrad::data {

namespace {

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

struct IdxType {
  DType dtype;  // what the tensor holds
  int bytes;    // bytes per stored element
  const char* name;
};

bool idx_type(uint8_t code, IdxType* out) {
  switch (code) {
    case 0x08:
      *out = {DType::u8, 1, "u8"};
      return true;
    case 0x09:
      *out = {DType::i32, 1, "i8"};
      return true;
    case 0x0B:
      *out = {DType::i32, 2, "i16"};
      return true;
    case 0x0C:
      *out = {DType::i32, 4, "i32"};
      return true;
    case 0x0D:
      *out = {DType::f32, 4, "f32"};
      return true;
    case 0x0E:
      *out = {DType::f64, 8, "f64"};
      return true;
    default:
      return false;
  }
}

// Big-endian elements of `bytes` bytes each into little-endian values of the tensor's dtype.
void decode_elements(const uint8_t* src, int64_t n, const IdxType& type, void* dst) {
  switch (type.bytes) {
    case 1:
      if (type.dtype == DType::u8) {
        std::memcpy(dst, src, static_cast<size_t>(n));
      } else {
        auto* out = static_cast<int32_t*>(dst);
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int8_t>(src[i]);
      }
      return;
    case 2: {
      auto* out = static_cast<int32_t*>(dst);
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<int16_t>(static_cast<uint16_t>((src[2 * i] << 8) | src[2 * i + 1]));
      return;
    }
    case 4: {
      auto* out = static_cast<uint32_t*>(dst);  // i32 and f32 share the bit pattern
      for (int64_t i = 0; i < n; ++i) out[i] = read_be32(src + 4 * i);
      return;
    }
    case 8: {
      auto* out = static_cast<uint64_t*>(dst);
      for (int64_t i = 0; i < n; ++i)
        out[i] = (uint64_t{read_be32(src + 8 * i)} << 32) | read_be32(src + 8 * i + 4);
      return;
    }
  }
}

}  // namespace

Tensor parse_idx(const uint8_t* bytes, size_t size, const std::string& what,
                 uint32_t expected_magic) {
  SG_CHECK(size >= 4, what, ": truncated header (", size, " bytes, an IDX file has at least 4)");
  const uint32_t magic = read_be32(bytes);
  if (expected_magic != 0) {
    SG_CHECK(magic == expected_magic, what, ": bad magic ", hex32(magic), " (expected ",
             hex32(expected_magic), ")");
  }
  IdxType type;
  const int ndim = bytes[3];
  SG_CHECK(bytes[0] == 0 && bytes[1] == 0 && idx_type(bytes[2], &type) && ndim >= 1, what,
           ": bad magic ", hex32(magic),
           " (expected 0x0000TTNN: two zero bytes, a type byte 08/09/0B/0C/0D/0E and the number "
           "of dims)");
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  SG_CHECK(size >= header, what, ": truncated header (", ndim, " dims need ", header,
           " bytes, the file has ", size, ")");
  std::vector<int64_t> shape(ndim);
  for (int d = 0; d < ndim; ++d) {
    const uint32_t dim = read_be32(bytes + 4 + 4 * d);
    SG_CHECK(dim <= 0x7FFFFFFFu, what, ": dim ", d, " is ", dim, " (larger than 2^31 - 1)");
    shape[d] = dim;
  }
  // The byte count of the stored elements, with overflow checked before anything is allocated.
  const int64_t numel = io::checked_numel(shape, what);
  const uint64_t need = static_cast<uint64_t>(numel);
  SG_CHECK(need <= (uint64_t{1} << 62) / static_cast<uint64_t>(type.bytes), what, ": shape ",
           io::shape_str(shape), " is too large");
  const uint64_t data_bytes = need * static_cast<uint64_t>(type.bytes);
  const uint64_t have = size - header;
  SG_CHECK(have >= data_bytes, what, ": truncated: header says ", io::shape_str(shape), " ",
           type.name, " = ", data_bytes, " bytes of data, the file has ", have);
  SG_CHECK(have == data_bytes, what, ": ", have - data_bytes, " trailing bytes after the ",
           io::shape_str(shape), " ", type.name, " data");
  Tensor out = empty(Shape(shape.begin(), shape.end()), type.dtype);
  if (numel > 0) decode_elements(bytes + header, numel, type, out.raw_data());
  return out;
}

Tensor load_idx(const std::string& path, uint32_t expected_magic) {
  std::vector<uint8_t> bytes = io::read_file_bytes(path, "load_idx");
  const std::string what = "load_idx: " + path;
  if (io::is_gzip(bytes.data(), bytes.size()))
    bytes = io::gunzip(bytes.data(), bytes.size(), io::kDefaultGunzipLimit, what);
  return parse_idx(bytes.data(), bytes.size(), what, expected_magic);
}

namespace {

ImageDataset load_mnist_like(const char* op, const std::vector<std::string>& folders, Split split,
                             const std::string& data_dir, std::vector<std::string> class_names) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images_file = prefix + "-images-idx3-ubyte.gz";
  const std::string labels_file = prefix + "-labels-idx1-ubyte.gz";
  const std::string dir = find_dataset(folders, {images_file, labels_file}, data_dir);
  Tensor images = load_idx(dir + "/" + images_file, 0x00000803);
  Tensor labels = load_idx(dir + "/" + labels_file, 0x00000801);
  SG_CHECK(images.dim() == 3 && labels.dim() == 1 && images.size(0) == labels.size(0), op, ": ",
           dir, ": images ", describe(images), " and labels ", describe(labels),
           " do not match (expected [N, H, W] and [N])");
  ImageDataset ds;
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2);
  // One pass over the bytes: u8 -> f32 in [0, 1] (a lookup table keeps it exact and fast).
  ds.images = empty({n, 1, h, w}, DType::f32);
  float table[256];
  for (int v = 0; v < 256; ++v) table[v] = static_cast<float>(v) / 255.0f;
  const uint8_t* src = images.data_ptr<uint8_t>();
  float* dst = ds.images.data_ptr<float>();
  for (int64_t i = 0, total = n * h * w; i < total; ++i) dst[i] = table[src[i]];
  ds.labels = empty({n}, DType::i64);
  const uint8_t* ls = labels.data_ptr<uint8_t>();
  int64_t* ld = ds.labels.data_ptr<int64_t>();
  const auto num_classes = static_cast<int64_t>(class_names.size());
  for (int64_t i = 0; i < n; ++i) {
    SG_CHECK(ls[i] < num_classes, op, ": ", dir, "/", labels_file, ": label ", int{ls[i]},
             " at row ", i, " is not below ", num_classes);
    ld[i] = ls[i];
  }
  ds.num_classes = num_classes;
  ds.class_names = std::move(class_names);
  return ds;
}

}  // namespace

ImageDataset load_mnist(Split split, const std::string& data_dir) {
  return load_mnist_like("load_mnist", {"mnist"}, split, data_dir,
                         {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
}

ImageDataset load_fashion_mnist(Split split, const std::string& data_dir) {
  return load_mnist_like("load_fashion_mnist", {"fashion-mnist", "fashion_mnist"}, split, data_dir,
                         {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                          "Sneaker", "Bag", "Ankle boot"});
}

ImageDataset load_mnist_family(const std::string& name, Split split, const std::string& data_dir) {
  if (name == "mnist") return load_mnist(split, data_dir);
  if (name == "fashion-mnist" || name == "fashion_mnist") return load_fashion_mnist(split, data_dir);
  fail("load_mnist_family: unknown dataset '", name, "' (expected mnist or fashion-mnist)");
}

PixelStats mnist_family_stats(const std::string& name) {
  if (name == "mnist") return {0.1307, 0.3081};
  if (name == "fashion-mnist" || name == "fashion_mnist") return {0.2860, 0.3530};
  fail("mnist_family_stats: unknown dataset '", name, "' (expected mnist or fashion-mnist)");
}

}  // namespace stackgrad::data
