// fixture_path("nn/x.safetensors"): the path of a committed test fixture under tests/fixtures,
// found from $STACKGRAD_SOURCE_DIR (set by ctest) or from this header's location.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace stackgrad::testing {

inline std::filesystem::path source_dir() {
  if (const char* env = std::getenv("STACKGRAD_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

inline std::string fixture_path(const std::string& relative) {
  return (source_dir() / "tests" / "fixtures" / relative).string();
}

}  // namespace stackgrad::testing
