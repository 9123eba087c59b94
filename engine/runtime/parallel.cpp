#include "engine/runtime/parallel.h"

#include <cstdlib>
#include <thread>

namespace stackgrad {

namespace {
int initial_threads() {
  if (const char* s = std::getenv("STACKGRAD_NUM_THREADS")) {
    int n = std::atoi(s);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}
int g_threads = initial_threads();
}  // namespace

int num_threads() { return g_threads; }
void set_num_threads(int n) { g_threads = n > 0 ? n : 1; }

}  // namespace stackgrad
