// The byte-level file parsers: .npy (+ gzip), safetensors and the JSON reader under them.
// Files written by real NumPy and safetensors live in tests/fixtures/io (make_fixtures.py).
#include <gtest/gtest.h>

// GCC 12 reports -Wstringop-overflow / -Wrestrict false positives on the std::string and
// std::vector building below (GCC bugs 105329, 105651); the code is checked by ASan instead.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/io/gzip.h"
#include "engine/io/json_min.h"
#include "engine/io/npy.h"
#include "engine/io/raw_array.h"
#include "engine/io/safetensors.h"

namespace sg_io = stackgrad::io;
using sg_io::RawArray;
using stackgrad::DType;
using Bytes = std::vector<uint8_t>;

// Runs `statement`, which must throw stackgrad::Error whose message contains `needle`.
#define EXPECT_ERROR(statement, needle)                                               \
  do {                                                                                \
    try {                                                                             \
      statement;                                                                      \
      ADD_FAILURE() << "expected stackgrad::Error containing \"" << (needle) << "\""; \
    } catch (const stackgrad::Error& e) {                                             \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)                \
          << "message: " << e.what() << "\nexpected to contain: " << (needle);        \
    }                                                                                 \
  } while (0)

namespace {

std::filesystem::path source_dir() {
  if (const char* env = std::getenv("STACKGRAD_SOURCE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

std::string fixture(const std::string& name) {
  return (source_dir() / "tests" / "fixtures" / "io" / name).string();
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

template <typename T>
RawArray make_array(std::vector<int64_t> shape, const std::vector<T>& values) {
  RawArray array{stackgrad::dtype_v<T>, std::move(shape), Bytes(values.size() * sizeof(T))};
  if (!values.empty()) std::memcpy(array.data.data(), values.data(), array.data.size());
  return array;
}

template <typename T>
std::vector<T> values_of(const RawArray& array) {
  EXPECT_EQ(array.dtype, stackgrad::dtype_v<T>);
  std::vector<T> out(array.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), array.data.data(), array.data.size());
  return out;
}

// An array of any dtype and shape with distinct bytes (0/1 for bool).
RawArray patterned(DType dtype, const std::vector<int64_t>& shape) {
  const size_t n = sg_io::checked_nbytes(dtype, shape, "test");
  RawArray array{dtype, shape, Bytes(n)};
  for (size_t i = 0; i < n; ++i) {
    array.data[i] = dtype == DType::boolean ? (i % 3 == 0) : static_cast<uint8_t>(i * 37 + 11);
  }
  return array;
}

constexpr DType kAllDTypes[] = {DType::f32, DType::f64,     DType::i32,  DType::i64,
                                DType::u8,  DType::boolean, DType::bf16, DType::f16};

// A version 1.0 .npy file with the given header dict text (padded like NumPy) and data.
Bytes npy_with_header(const std::string& dict, const Bytes& data = {}, int major = 1) {
  const size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  const size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
  header.resize(total - preamble - 1, ' ');
  header += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  for (size_t i = 0; i < preamble - 8; ++i) out.push_back((header.size() >> (8 * i)) & 0xff);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

RawArray parse_npy(const Bytes& bytes, const std::string& what = "test.npy") {
  return sg_io::parse_npy(bytes.data(), bytes.size(), what);
}

// A safetensors file from a header text (written as is, no padding) and a data buffer.
Bytes st_file(const std::string& header, const Bytes& data = {}) {
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back((uint64_t{header.size()} >> (8 * i)) & 0xff);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

sg_io::SafetensorsFile parse_st(const Bytes& bytes, const std::string& what = "test.safetensors") {
  return sg_io::parse_safetensors(bytes.data(), bytes.size(), what);
}

// A fresh empty folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sg_io_XXXXXX").string();
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

// Every strict prefix of a valid file must be rejected with an Error, never crash. Each prefix
// is copied into an allocation of exactly its size so AddressSanitizer sees any over-read.
template <typename Parse>
void expect_every_prefix_rejected(const Bytes& file, Parse parse) {
  for (size_t n = 0; n < file.size(); ++n) {
    const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      parse(prefix);
      ADD_FAILURE() << "prefix of " << n << " of " << file.size() << " bytes was accepted";
    } catch (const stackgrad::Error&) {
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// .npy

TEST(Npy, RoundTripsEveryDtypeAndShape) {
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {3}, {2, 3, 4}, {0, 5}};
  for (DType dtype : kAllDTypes) {
    if (dtype == DType::bf16) {  // NumPy has no bfloat16
      EXPECT_ERROR(sg_io::encode_npy(patterned(dtype, {3})), "dtype bf16 has no .npy type code");
      continue;
    }
    for (const auto& shape : shapes) {
      SCOPED_TRACE(std::string(stackgrad::dtype_name(dtype)) + " " + sg_io::shape_str(shape));
      const RawArray array = patterned(dtype, shape);
      const Bytes encoded = sg_io::encode_npy(array);
      ASSERT_GE(encoded.size(), 10u);
      EXPECT_EQ(encoded[6], 1);  // version 1.0
      EXPECT_EQ(encoded[7], 0);
      EXPECT_EQ((encoded.size() - array.data.size()) % 64, 0u);  // data aligned like NumPy
      EXPECT_EQ(parse_npy(encoded), array);
    }
  }
}

TEST(Npy, HeaderTextMatchesNumpy) {
  auto header_of = [](const RawArray& array) {
    const Bytes encoded = sg_io::encode_npy(array);
    const size_t length = encoded[8] | (encoded[9] << 8);
    std::string text(encoded.begin() + 10, encoded.begin() + 10 + length);
    EXPECT_EQ(text.back(), '\n');
    return text.substr(0, text.find_last_not_of(" \n") + 1);
  };
  EXPECT_EQ(header_of(patterned(DType::f32, {2, 3})),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(header_of(patterned(DType::u8, {3})),
            "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }");
  EXPECT_EQ(header_of(patterned(DType::boolean, {})),
            "{'descr': '|b1', 'fortran_order': False, 'shape': (), }");
  EXPECT_EQ(header_of(patterned(DType::i64, {0, 5})),
            "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 5), }");
}

TEST(Npy, ParsesVersion2And3Headers) {
  const RawArray array = make_array<int32_t>({2, 2}, {1, -2, 3, -4});
  const std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }";
  for (int major : {2, 3}) {
    EXPECT_EQ(parse_npy(npy_with_header(dict, array.data, major)), array) << major;
  }
  EXPECT_ERROR(parse_npy(npy_with_header(dict, array.data, 4)),
               "unsupported .npy format version 4.0");
}

TEST(Npy, AcceptsNumpySpellingVariants) {
  const Bytes four = {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0};
  // Python 2 long literals, double quotes, keys in another order, no trailing comma.
  EXPECT_EQ(
      parse_npy(npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (3L,), }", four))
          .shape,
      std::vector<int64_t>({3}));
  EXPECT_EQ(parse_npy(npy_with_header("{\"shape\": (1, 3), \"fortran_order\": False, "
                                      "\"descr\": \"<i4\"}",
                                      four))
                .shape,
            std::vector<int64_t>({1, 3}));
  // Fortran order is accepted where it is the same bytes as C order.
  EXPECT_EQ(
      parse_npy(npy_with_header("{'descr': '<i4', 'fortran_order': True, 'shape': (3, 1), }", four))
          .shape,
      std::vector<int64_t>({3, 1}));
}

TEST(Npy, BigEndianIsByteSwapped) {
  const Bytes be = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0};  // 1.0, -2.0
  const RawArray array =
      parse_npy(npy_with_header("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be));
  EXPECT_EQ(values_of<double>(array), std::vector<double>({1.0, -2.0}));
}

TEST(Npy, BoolBytesAreNormalized) {
  const RawArray array = parse_npy(
      npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", {0, 2, 255}));
  EXPECT_EQ(array.data, Bytes({0, 1, 1}));
}

TEST(Npy, ReadsFilesWrittenByNumpy) {
  EXPECT_EQ(sg_io::read_npy(fixture("f32_2x3.npy")),
            make_array<float>({2, 3}, {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));
  EXPECT_EQ(sg_io::read_npy(fixture("f64_4.npy")), make_array<double>({4}, {0.0, 0.25, 0.5, 0.75}));
  const RawArray i32 = make_array<int32_t>({5}, {-2, -1, 0, 1, 2});
  EXPECT_EQ(sg_io::read_npy(fixture("i32_5.npy")), i32);
  EXPECT_EQ(sg_io::read_npy(fixture("v2_i32_5.npy")), i32);
  EXPECT_EQ(sg_io::read_npy(fixture("v3_i32_5.npy")), i32);
  EXPECT_EQ(sg_io::read_npy(fixture("i64_2x2.npy")),
            make_array<int64_t>({2, 2}, {int64_t{1} << 40, -(int64_t{1} << 40), 7, -7}));
  EXPECT_EQ(sg_io::read_npy(fixture("u8_4.npy")), make_array<uint8_t>({4}, {0, 1, 127, 255}));
  EXPECT_EQ(sg_io::read_npy(fixture("bool_3.npy")),
            (RawArray{DType::boolean, {3}, Bytes({1, 0, 1})}));
  EXPECT_EQ(sg_io::read_npy(fixture("scalar_f64.npy")), make_array<double>({}, {3.25}));
  EXPECT_EQ(sg_io::read_npy(fixture("empty_0x5_f32.npy")), make_array<float>({0, 5}, {}));
  EXPECT_EQ(sg_io::read_npy(fixture("bigendian_f8_3.npy")),
            make_array<double>({3}, {0.5, 1.5, 2.5}));
  EXPECT_EQ(sg_io::read_npy(fixture("f32_2x3.npy.gz")), sg_io::read_npy(fixture("f32_2x3.npy")));
}

TEST(Npy, RejectsNumpyFilesItCannotRepresent) {
  EXPECT_ERROR(sg_io::read_npy(fixture("fortran_f32_2x3.npy")),
               "Fortran order is not supported; save with np.ascontiguousarray");
  EXPECT_ERROR(sg_io::read_npy(fixture("fortran_f32_2x3.npy")), "fortran_f32_2x3.npy");
  EXPECT_ERROR(sg_io::read_npy(fixture("complex64_2.npy")), "unsupported dtype '<c8' (complex64)");
}

TEST(Npy, ErrorsNameTheFileAndTheProblem) {
  const Bytes f4x2(8, 0);
  auto with = [&](const std::string& dict, const Bytes& data) {
    return npy_with_header(dict, data);
  };
  const std::string ok_tail = "'fortran_order': False, 'shape': (2,), }";

  EXPECT_ERROR(parse_npy(to_bytes("PK\x03\x04 not numpy"), "weights.npy"),
               "weights.npy: not a .npy file (bad magic");
  EXPECT_ERROR(parse_npy(Bytes{}), "empty file");
  Bytes short_header = with("{'descr': '<f4', " + ok_tail, f4x2);
  short_header[8] = 0xff;  // declares a 255+ byte header that the file does not hold
  short_header[9] = 0x7f;
  EXPECT_ERROR(parse_npy(short_header), "truncated header (it declares 32767 bytes");

  const std::string not_dict = "the header is not a Python dict literal";
  EXPECT_ERROR(parse_npy(with("['descr', '<f4']", f4x2)), not_dict);
  EXPECT_ERROR(parse_npy(with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", f4x2)),
               not_dict);
  EXPECT_ERROR(parse_npy(with("{'descr': '<f4', 'fortran_order': False}", f4x2)),
               "missing key 'shape'");
  EXPECT_ERROR(parse_npy(with("{'descr': '<f4', 'extra': 1, " + ok_tail, f4x2)),
               "unexpected key 'extra'");
  EXPECT_ERROR(parse_npy(with("{'descr': '<f4', 'descr': '<f4', " + ok_tail, f4x2)),
               "duplicate key 'descr'");
  EXPECT_ERROR(parse_npy(with("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", f4x2)),
               "fortran_order must be True or False");
  EXPECT_ERROR(parse_npy(with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", f4x2)),
               "unexpected bytes after the closing '}'");

  EXPECT_ERROR(
      parse_npy(with("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", Bytes(16))),
      "Fortran order is not supported; save with np.ascontiguousarray");

  EXPECT_ERROR(parse_npy(with("{'descr': '<c8', " + ok_tail, Bytes(16))),
               "unsupported dtype '<c8' (complex64)");
  EXPECT_ERROR(parse_npy(with("{'descr': '|O', " + ok_tail, Bytes(16))),
               "unsupported dtype '|O' (Python objects)");
  EXPECT_ERROR(parse_npy(with("{'descr': '<f16', " + ok_tail, Bytes(32))), "(float128)");
  EXPECT_ERROR(parse_npy(with("{'descr': '<u8', " + ok_tail, Bytes(16))), "(uint64)");
  EXPECT_ERROR(parse_npy(with("{'descr': '<U3', " + ok_tail, Bytes(24))), "(unicode strings)");
  EXPECT_ERROR(parse_npy(with("{'descr': [('a', '<f4')], " + ok_tail, f4x2)),
               "structured dtypes (a list descr) are not supported");
  EXPECT_ERROR(parse_npy(with("{'descr': '=f4', " + ok_tail, f4x2)),
               "dtype '=f4' needs byte order '<' or '>' (native order '=' is ambiguous");
  EXPECT_ERROR(parse_npy(with("{'descr': '|f4', " + ok_tail, f4x2)),
               "dtype '|f4' needs byte order '<' or '>'");
  EXPECT_ERROR(parse_npy(with("{'descr': 'f4', " + ok_tail, f4x2)),
               "dtype 'f4' lacks a byte-order character");
  EXPECT_ERROR(parse_npy(with("{'descr': '<i2', " + ok_tail, f4x2)), "'<i2' (int16)");

  const std::string head = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
  EXPECT_ERROR(parse_npy(with(head + "(-2,), }", f4x2)), "negative dimension");
  EXPECT_ERROR(parse_npy(with(head + "(99999999999999999999,), }", f4x2)), "does not fit in int64");
  EXPECT_ERROR(parse_npy(with(head + "(4294967296, 4294967296), }", f4x2)),
               "has more elements than fit in int64");
  EXPECT_ERROR(parse_npy(with(head + "(2305843009213693952, 2), }", f4x2)),
               "needs more than 2^63 bytes");
  EXPECT_ERROR(parse_npy(with(head + "(1000000,), }", f4x2)),
               "data is truncated: shape [1000000] of f32 needs 4000000 bytes but only 8 follow");
  EXPECT_ERROR(parse_npy(with(head + "(3,), }", f4x2)), "needs 12 bytes but only 8");
  EXPECT_ERROR(parse_npy(with(head + "(1,), }", f4x2)), "4 trailing bytes after the array data");
  EXPECT_ERROR(parse_npy(with(head + "(2), }", f4x2)), "not a tuple; write (n,)");
  EXPECT_ERROR(parse_npy(with(head + "[2], }", f4x2)), "shape must be a tuple, not a list");
  EXPECT_ERROR(parse_npy(with(head + "(2.0,), }", f4x2)), "dimensions must be integers");
}

TEST(Npy, EveryTruncationIsAnError) {
  auto parse = [](const Bytes& b) { parse_npy(b); };
  expect_every_prefix_rejected(sg_io::encode_npy(patterned(DType::f64, {2, 3})), parse);
  expect_every_prefix_rejected(read_bytes(fixture("v2_i32_5.npy")), parse);
  expect_every_prefix_rejected(read_bytes(fixture("bool_3.npy")), parse);
  const Bytes gz = read_bytes(fixture("f32_2x3.npy.gz"));
  expect_every_prefix_rejected(
      gz, [](const Bytes& b) { sg_io::gunzip(b.data(), b.size(), 1 << 20, "test.npy.gz"); });
}

TEST(Npy, EncodeRejectsInconsistentArrays) {
  RawArray bad{DType::f32, {2, 3}, Bytes(5)};
  EXPECT_ERROR(sg_io::encode_npy(bad), "encode_npy: shape [2, 3] of f32 needs 24 bytes");
  bad.shape = {-1};
  EXPECT_ERROR(sg_io::encode_npy(bad), "negative dimension");
}

TEST(Npy, WriteAndReadFilesPlainAndGzipped) {
  TempDir dir;
  const RawArray array = patterned(DType::f32, {4, 5});
  sg_io::write_npy(dir.file("a.npy"), array);
  sg_io::write_npy(dir.file("a.npy.gz"), array, /*gzip=*/true);
  sg_io::write_npy(dir.file("b.npy"), array, /*gzip=*/true);  // found by the magic, not the name
  EXPECT_EQ(sg_io::read_npy(dir.file("a.npy")), array);
  EXPECT_EQ(sg_io::read_npy(dir.file("a.npy.gz")), array);
  EXPECT_EQ(sg_io::read_npy(dir.file("b.npy")), array);
  const Bytes gz = read_bytes(dir.file("a.npy.gz"));
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
  // Overwriting replaces the file and leaves no temporary behind.
  const RawArray other = patterned(DType::i64, {3});
  sg_io::write_npy(dir.file("a.npy"), other);
  EXPECT_EQ(sg_io::read_npy(dir.file("a.npy")), other);
  EXPECT_EQ(dir.listing(), std::vector<std::string>({"a.npy", "a.npy.gz", "b.npy"}));
}

TEST(Npy, GzipLimitIsEnforcedAndNamed) {
  TempDir dir;
  const RawArray zeros{DType::u8, {1 << 20}, Bytes(1 << 20)};
  sg_io::write_npy(dir.file("z.npy.gz"), zeros, /*gzip=*/true);
  EXPECT_ERROR(sg_io::read_npy(dir.file("z.npy.gz"), 4096),
               "decompressed data exceeds the limit of 4096 bytes");
  EXPECT_ERROR(sg_io::read_npy(dir.file("z.npy.gz"), 4096), "z.npy.gz");
  EXPECT_EQ(sg_io::read_npy(dir.file("z.npy.gz")), zeros);
  // A .gz name with plain contents is an error, not a silent misread.
  sg_io::write_npy(dir.file("plain.npy.gz"), zeros);
  EXPECT_ERROR(sg_io::read_npy(dir.file("plain.npy.gz")), "not gzip data");
}

TEST(Npy, ReadMissingFileNamesIt) {
  EXPECT_ERROR(sg_io::read_npy("/nonexistent/dir/x.npy"),
               "read_npy: cannot open '/nonexistent/dir/x.npy'");
}

TEST(Npy, AtomicWriteLeavesNothingBehindOnFailure) {
  TempDir dir;
  const std::string target = dir.file("missing/sub/x.npy");
  EXPECT_ERROR(sg_io::write_npy(target, patterned(DType::f32, {3})),
               "write_npy: cannot create a temporary file next to '" + target + "'");
  EXPECT_ERROR(sg_io::write_npy(target, patterned(DType::f32, {3}), true), "write_npy");
  EXPECT_TRUE(dir.listing().empty());
  // An encoding failure also writes nothing.
  EXPECT_ERROR(sg_io::write_npy(dir.file("bad.npy"), RawArray{DType::f32, {3}, Bytes(2)}),
               "encode_npy");
  EXPECT_TRUE(dir.listing().empty());
}

// ---------------------------------------------------------------------------------------------
// gzip

TEST(Gzip, RoundTripAndMultiMember) {
  Bytes data(300000);
  uint32_t state = 12345;
  for (size_t i = 0; i < data.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    data[i] = i % 2 == 0 ? static_cast<uint8_t>(state >> 24) : 0;
  }
  const Bytes gz = sg_io::gzip_compress(data.data(), data.size());
  EXPECT_EQ(sg_io::gunzip(gz.data(), gz.size(), data.size()), data);  // exactly at the limit
  EXPECT_ERROR(sg_io::gunzip(gz.data(), gz.size(), data.size() - 1),
               "exceeds the limit of 299999 bytes");

  const Bytes tail = to_bytes("second member");
  Bytes two = gz;
  const Bytes gz_tail = sg_io::gzip_compress(tail.data(), tail.size());
  two.insert(two.end(), gz_tail.begin(), gz_tail.end());
  Bytes expected = data;
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_EQ(sg_io::gunzip(two.data(), two.size(), sg_io::kDefaultGunzipLimit), expected);

  const Bytes empty = sg_io::gzip_compress(nullptr, 0);
  EXPECT_TRUE(sg_io::gunzip(empty.data(), empty.size(), 0).empty());
}

TEST(Gzip, RejectsBadStreams) {
  const Bytes data = to_bytes("hello hello hello hello");
  const Bytes gz = sg_io::gzip_compress(data.data(), data.size());
  const size_t limit = 1 << 20;
  EXPECT_ERROR(sg_io::gunzip(data.data(), data.size(), limit, "x.gz"), "x.gz: not gzip data");
  EXPECT_ERROR(sg_io::gunzip(gz.data(), gz.size() - 3, limit), "truncated gzip data");
  Bytes corrupt = gz;
  corrupt[corrupt.size() - 6] ^= 0xff;  // inside the CRC32
  EXPECT_ERROR(sg_io::gunzip(corrupt.data(), corrupt.size(), limit), "corrupt gzip data");
  Bytes garbage = gz;
  garbage.push_back('!');
  EXPECT_ERROR(sg_io::gunzip(garbage.data(), garbage.size(), limit), "1 bytes of trailing garbage");
}

// ---------------------------------------------------------------------------------------------
// safetensors

TEST(Safetensors, RoundTripsEveryDtypeShapeAndMetadata) {
  sg_io::SafetensorsFile file;
  int index = 0;
  for (DType dtype : kAllDTypes) {
    for (const std::vector<int64_t>& shape :
         {std::vector<int64_t>{}, {0}, {3}, {2, 3, 4}, {0, 5}}) {
      file.tensors.emplace_back("t" + std::to_string(index++), patterned(dtype, shape));
    }
  }
  file.tensors.emplace_back("layer.0/w \"quoted\" \\ \n\x01 caf\xc3\xa9",
                            patterned(DType::f32, {2}));
  file.metadata = {{"format", "pt"}, {"note", "sn\xe2\x98\x83w\ttab \"q\""}, {"", ""}};
  const Bytes encoded = sg_io::encode_safetensors(file);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t{encoded[i]} << (8 * i);
  EXPECT_EQ(header_size % 8, 0u);
  EXPECT_EQ(encoded[8], '{');
  EXPECT_EQ(std::string(encoded.begin() + 9, encoded.begin() + 23), "\"__metadata__\"");
  EXPECT_EQ(parse_st(encoded), file);

  TempDir dir;
  sg_io::write_safetensors(dir.file("m.safetensors"), file);
  EXPECT_EQ(sg_io::read_safetensors(dir.file("m.safetensors")), file);
  EXPECT_EQ(dir.listing(), std::vector<std::string>({"m.safetensors"}));
}

TEST(Safetensors, ReadsFileWrittenByPythonPackage) {
  const sg_io::SafetensorsFile file = sg_io::read_safetensors(fixture("model.safetensors"));
  // Tensors come in the order of their data in the file, not alphabetically.
  std::vector<std::string> names;
  for (const auto& [name, array] : file.tensors) names.push_back(name);
  EXPECT_EQ(names,
            std::vector<std::string>({"idx", "bias", "empty", "weight", "count", "bytes", "mask"}));
  auto get = [&](const std::string& name) {
    for (const auto& [n, array] : file.tensors) {
      if (n == name) return array;
    }
    ADD_FAILURE() << "missing " << name;
    return RawArray{};
  };
  EXPECT_EQ(get("weight"), make_array<float>({2, 3}, {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));
  EXPECT_EQ(get("bias"), make_array<double>({3}, {0.25, -0.5, 1.0}));
  EXPECT_EQ(get("idx"), make_array<int64_t>({2}, {int64_t{1} << 40, -3}));
  EXPECT_EQ(get("count"), make_array<int32_t>({}, {7}));
  EXPECT_EQ(get("mask"), (RawArray{DType::boolean, {4}, Bytes({1, 0, 0, 1})}));
  EXPECT_EQ(get("bytes"), make_array<uint8_t>({3}, {9, 8, 7}));
  EXPECT_EQ(get("empty"), make_array<float>({0, 3}, {}));
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{
                               {"format", "np"}, {"note", "h\xc3\xa9llo \xe2\x98\x83"}}));
  const sg_io::SafetensorsFile half = sg_io::read_safetensors(fixture("f16.safetensors"));
  ASSERT_EQ(half.tensors.size(), 1u);
  EXPECT_EQ(half.tensors[0].first, "half");
  EXPECT_EQ(half.tensors[0].second, (RawArray{DType::f16, {2}, Bytes({0x00, 0x3c, 0x00, 0x3c})}));
}

TEST(Safetensors, ErrorsNameTheFileAndTheProblem) {
  const std::string a4 = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const Bytes four(4, 0);
  EXPECT_ERROR(parse_st(Bytes(5), "ckpt.safetensors"),
               "ckpt.safetensors: truncated safetensors file (5 bytes");
  Bytes huge = st_file("{}");
  huge[3] = 0x40;  // ~1 GB
  EXPECT_ERROR(parse_st(huge), "exceeds the limit of 100000000 bytes");
  Bytes longer = st_file("{}");
  longer[0] = 50;
  EXPECT_ERROR(parse_st(longer), "header length 50 exceeds the 2 bytes that follow it");
  EXPECT_ERROR(parse_st(st_file("{" + a4, four)), "invalid JSON");
  EXPECT_ERROR(parse_st(st_file("[]")), "the header must be a JSON object");
  EXPECT_ERROR(parse_st(st_file("{" + a4 + "," + a4 + "}", four)), "duplicate tensor name 'a'");
  EXPECT_ERROR(parse_st(st_file("{" + a4 + ",}", four)), "trailing comma");
  EXPECT_ERROR(parse_st(st_file("{" + a4 + "} x", four)), "unexpected bytes after the value");
  EXPECT_ERROR(
      parse_st(st_file(R"({"a":{"dtype":"I16","shape":[1],"data_offsets":[0,2]}})", Bytes(2))),
      "tensor 'a': unsupported dtype 'I16' (supported: F32, F64, I32, I64, U8, BOOL, BF16, F16)");
  EXPECT_ERROR(
      parse_st(st_file(R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,2]}})", Bytes(2))),
      "unknown dtype 'Q7'");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", four)),
               "tensor 'a': data_offsets [0, 8] run past the data buffer of 4 bytes");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", four)),
               "end before they begin");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four)),
               "hold 4 bytes but shape [2] of F32 needs 8");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                                four)),
               "tensors 'a' and 'b' overlap");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", four)),
               "2 bytes of the data buffer before tensor 'a' belong to no tensor");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", four)),
               "2 trailing bytes after the last tensor");
  EXPECT_ERROR(parse_st(st_file("{}", four)), "4 trailing bytes");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],)"
                                R"("data_offsets":[0,4]}})",
                                four)),
               "has more elements than fit in int64");
  EXPECT_ERROR(
      parse_st(st_file(R"({"a":{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}})", four)),
      "a shape dimension must be an integer, got a floating-point number");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[-1,4]}})", four)),
               "a data offset must be a non-negative integer, got a negative number");
  EXPECT_ERROR(
      parse_st(st_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,4]}})", four)),
      "data_offsets must hold exactly 2 integers, got 3");
  EXPECT_ERROR(
      parse_st(st_file(R"({"a":{"dtype":"U8","shape":["4"],"data_offsets":[0,4]}})", four)),
      "must be a non-negative integer, not a string");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4],)"
                                R"("foo":1}})",
                                four)),
               "tensor 'a': unexpected field 'foo'");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":[4]}})", four)),
               "missing field 'data_offsets'");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","dtype":"U8","shape":[4],)"
                                R"("data_offsets":[0,4]}})",
                                four)),
               "duplicate field 'dtype'");
  EXPECT_ERROR(parse_st(st_file(R"({"a":[1,2]})")), "tensor 'a' must be an object, not an array");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":1,"shape":[4],"data_offsets":[0,4]}})", four)),
               "tensor 'a': dtype must be a string, not a number");
  EXPECT_ERROR(parse_st(st_file(R"({"a":{"dtype":"U8","shape":4,"data_offsets":[0,4]}})", four)),
               "tensor 'a': shape must be an array, not a number");
  EXPECT_ERROR(parse_st(st_file(R"({"__metadata__":{"k":1}})")),
               "__metadata__ value of 'k' must be a string, not a number");
  EXPECT_ERROR(parse_st(st_file(R"({"__metadata__":{"k":"a","k":"b"}})")),
               "duplicate __metadata__ key 'k'");
  EXPECT_ERROR(parse_st(st_file("{\"\xff\":1}")), "invalid UTF-8");
  EXPECT_ERROR(parse_st(st_file(R"({"\ud83d":1})")), "lone high surrogate");
  EXPECT_ERROR(parse_st(st_file(R"({"\ude00":1})")), "lone low surrogate");
  EXPECT_ERROR(parse_st(st_file("{\"a\tb\":1}")), "control character inside a string");
  EXPECT_ERROR(parse_st(st_file("{\"a\":01}")), "must be an object");
}

TEST(Safetensors, AcceptsEscapesNullMetadataAndEmptyFiles) {
  const sg_io::SafetensorsFile file = parse_st(
      st_file(R"( {"__metadata__":null, "caf\u00e9 \ud83d\ude00 \/\"\\":{"dtype":"U8","shape":[2],)"
              R"("data_offsets":[0,2]}} )",
              Bytes({5, 6})));
  ASSERT_EQ(file.tensors.size(), 1u);
  EXPECT_EQ(file.tensors[0].first, "caf\xc3\xa9 \xf0\x9f\x98\x80 /\"\\");
  EXPECT_TRUE(file.metadata.empty());
  EXPECT_TRUE(parse_st(st_file("{}")).tensors.empty());
  // A bool byte other than 0/1 reads as 1.
  const auto bools =
      parse_st(st_file(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", {0, 7}));
  EXPECT_EQ(bools.tensors[0].second.data, Bytes({0, 1}));
}

TEST(Safetensors, EncodeRejectsWhatCannotBeRead) {
  sg_io::SafetensorsFile file;
  file.tensors.emplace_back("__metadata__", patterned(DType::u8, {1}));
  EXPECT_ERROR(sg_io::encode_safetensors(file), "'__metadata__' is reserved");
  file.tensors = {{"a", patterned(DType::u8, {1})}, {"a", patterned(DType::u8, {1})}};
  EXPECT_ERROR(sg_io::encode_safetensors(file), "duplicate tensor name 'a'");
  file.tensors = {{"bad\xff", patterned(DType::u8, {1})}};
  EXPECT_ERROR(sg_io::encode_safetensors(file), "is not valid UTF-8");
  file.tensors = {{"a", RawArray{DType::i32, {2}, Bytes(3)}}};
  EXPECT_ERROR(sg_io::encode_safetensors(file), "tensor 'a': shape [2] of i32 needs 8 bytes");
}

TEST(Safetensors, EveryTruncationIsAnError) {
  auto parse = [](const Bytes& b) { parse_st(b); };
  expect_every_prefix_rejected(read_bytes(fixture("model.safetensors")), parse);
}

TEST(Safetensors, AtomicWriteLeavesNothingBehindOnFailure) {
  TempDir dir;
  sg_io::SafetensorsFile file;
  file.tensors.emplace_back("w", patterned(DType::f32, {2, 2}));
  const std::string target = dir.file("no/such/dir/m.safetensors");
  EXPECT_ERROR(sg_io::write_safetensors(target, file),
               "write_safetensors: cannot create a temporary file next to '" + target + "'");
  EXPECT_TRUE(dir.listing().empty());
}

// ---------------------------------------------------------------------------------------------
// JSON reader

TEST(JsonReader, SkipsNestedValuesAndLimitsDepth) {
  sg_io::JsonReader ok(R"([{"a":[1,-2.5e+3,true,false,null,"x"]},{},[],"\u0041"])", "doc");
  ok.skip_value();
  ok.finish();

  const std::string deep(100000, '[');
  sg_io::JsonReader nested(deep, "deep");
  EXPECT_ERROR(nested.skip_value(), "deep: JSON nested deeper than 64");
  std::string just_ok;
  for (size_t i = 0; i < sg_io::JsonReader::kMaxDepth; ++i) just_ok += '[';
  for (size_t i = 0; i < sg_io::JsonReader::kMaxDepth; ++i) just_ok += ']';
  sg_io::JsonReader limit(just_ok, "limit");
  limit.skip_value();
  limit.finish();
}

TEST(JsonReader, IsStrictAboutNumbersAndLiterals) {
  for (const char* bad : {"01", "1.", "-", "1e", "+1", ".5", "tru", "nul", "[1,]", "[1 2]",
                          "{\"a\" 1}", "{'a':1}", "\"\\x\"", "\"abc", "[1"}) {
    SCOPED_TRACE(bad);
    sg_io::JsonReader reader(bad, "doc");
    EXPECT_THROW(
        {
          reader.skip_value();
          reader.finish();
        },
        stackgrad::Error);
  }
  sg_io::JsonReader big("18446744073709551616", "doc");
  EXPECT_ERROR(big.read_uint64("n"), "n is too large for a 64-bit integer");
  sg_io::JsonReader max("18446744073709551615", "doc");
  EXPECT_EQ(max.read_uint64("n"), UINT64_MAX);
}
