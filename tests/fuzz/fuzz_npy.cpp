// libFuzzer target for the .npy parser and the gzip layer under it. Any input may be rejected
// with stackgrad::Error; a crash, a sanitizer report, any other exception, a huge allocation or
// a failed round trip (parse -> encode -> parse must give the same array) is a bug.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "engine/core/error.h"
#include "engine/io/gzip.h"
#include "engine/io/npy.h"

namespace {
// Keeps decompression bombs well under the fuzzer's memory limit.
constexpr size_t kFuzzGunzipLimit = size_t{16} << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stackgrad::io;
  std::vector<uint8_t> bytes;
  RawArray array;
  try {
    if (is_gzip(data, size)) {
      bytes = gunzip(data, size, kFuzzGunzipLimit, "fuzz.npy.gz");
    } else {
      bytes.assign(data, data + size);
    }
    array = parse_npy(bytes.data(), bytes.size(), "fuzz.npy");
  } catch (const stackgrad::Error&) {
    return 0;
  }
  // Accepted: from here on nothing may throw, and the array must survive a round trip.
  const std::vector<uint8_t> encoded = encode_npy(array);
  if (!(parse_npy(encoded.data(), encoded.size(), "round trip") == array)) std::abort();
  const std::vector<uint8_t> gz = gzip_compress(encoded.data(), encoded.size());
  if (gunzip(gz.data(), gz.size(), encoded.size(), "round trip") != encoded) std::abort();
  return 0;
}
