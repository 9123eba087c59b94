// libFuzzer target for the safetensors parser and the JSON reader under it. Any input may be
// rejected with stackgrad::Error; a crash, a sanitizer report, any other exception, a huge
// allocation or a failed round trip (parse -> encode -> parse must give the same file, and
// encoding must be stable) is a bug.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/io/json_min.h"
#include "engine/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stackgrad::io;

  // The generic JSON reader on the raw input, for the paths the safetensors schema never takes.
  try {
    JsonReader json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    json.skip_value();
    json.finish();
  } catch (const stackgrad::Error&) {
  }

  SafetensorsFile file;
  try {
    file = parse_safetensors(data, size, "fuzz.safetensors");
  } catch (const stackgrad::Error&) {
    return 0;
  }
  // Accepted: from here on nothing may throw, and the file must survive a round trip.
  const std::vector<uint8_t> encoded = encode_safetensors(file);
  const SafetensorsFile again = parse_safetensors(encoded.data(), encoded.size(), "round trip");
  if (!(again == file)) std::abort();
  if (encode_safetensors(again) != encoded) std::abort();
  return 0;
}
