// parallel_for: the one threading primitive kernels use. OpenMP underneath; chunks are static
// and depend only on the range, the grain and the thread count, so results are reproducible
// for a given STACKGRAD_NUM_THREADS.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>

namespace stackgrad {

// Threads used by parallel_for: STACKGRAD_NUM_THREADS if set, else the hardware's count.
int num_threads();
void set_num_threads(int n);

// Calls f(lo, hi) on disjoint chunks covering [begin, end), each at least `grain` long (except
// when the range is shorter). Runs inline when nested or when one chunk suffices.
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>(num_threads(), (n + grain - 1) / grain);
  if (chunks <= 1 || omp_in_parallel()) {
    f(begin, end);
    return;
  }
  std::exception_ptr error;
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t lo = begin + n * t / chunks, hi = begin + n * (t + 1) / chunks;
    try {
      f(lo, hi);
    } catch (...) {
#pragma omp critical(stackgrad_parallel_for_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace stackgrad
