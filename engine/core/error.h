// stackgrad::Error and the SG_CHECK macro: every failed check names the op and what was wrong.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace stackgrad {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <typename T, typename... Rest>
void stream_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  stream_all(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable pieces: str_cat("conv2d: expected ", 4, "-D input").
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::stream_all(os, args...);
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(str_cat(args...));
}

}  // namespace stackgrad

namespace sg = stackgrad;

// SG_CHECK(cond, "op: message ", value, ...) throws stackgrad::Error with the concatenated message.
#define SG_CHECK(cond, ...)                  \
  do {                                       \
    if (!(cond)) ::stackgrad::fail(__VA_ARGS__); \
  } while (0)
