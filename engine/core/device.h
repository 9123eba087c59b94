// Where a tensor lives. Mixing devices in one op is an error, never a silent copy.
#pragma once

#include <string>

#include "engine/core/error.h"

namespace stackgrad {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int n = 0) { return {DeviceType::cuda, n}; }
  // Parses "cpu", "cuda", "cuda:1".
  static Device parse(const std::string& s);

  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  bool operator==(const Device&) const = default;
};

inline Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    int n = 0;
    for (size_t i = 5; i < s.size(); ++i) {
      SG_CHECK(s[i] >= '0' && s[i] <= '9', "Device: cannot parse '", s, "' (expected cpu or cuda:N)");
      n = n * 10 + (s[i] - '0');
    }
    return cuda(n);
  }
  fail("Device: cannot parse '", s, "' (expected cpu or cuda:N)");
}

}  // namespace stackgrad
