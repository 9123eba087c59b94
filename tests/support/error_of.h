// error_of(f): the message of the stackgrad::Error that f throws, or "no error". Error-message
// tests check it with HasSubstr.
#pragma once

#include <string>

#include "engine/core/error.h"

namespace stackgrad::testing {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace stackgrad::testing
