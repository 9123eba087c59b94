// TaskPool: a few std::threads that sleep on a condition variable between batches and run
// `fn(i)` for i in [0, count) when asked; the calling thread works too.
//
//   envs::TaskPool pool(/*workers=*/3);           // 4 threads in all with the caller
//   pool.run(num_envs, [&](int k) { envs[k].step(actions_of(k)); });
//
// Indices are handed out through an atomic counter, so which thread runs which index varies;
// callers make each index write only its own data, and results do not depend on the thread
// count. Not OpenMP: one task takes microseconds, and OpenMP's spinning barriers collapse when
// the cores are shared with other processes (measured: 24 s instead of 0.1 s for 700 steps of
// 5 small Flatland envs on a busy 2-core machine, unless OMP_WAIT_POLICY=passive is set outside
// the program); the pool also keeps the environments independent of the engine's OpenMP.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace stackgrad::envs {

class TaskPool {
 public:
  explicit TaskPool(int workers);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  int workers() const { return static_cast<int>(threads_.size()); }
  // Runs fn(0) ... fn(count - 1) on the workers and the caller; returns when all are done.
  void run(int count, const std::function<void(int)>& fn);

 private:
  void drain();
  void work();

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  // Atomic: a worker finishing the previous batch may still read them while a new one starts.
  std::atomic<const std::function<void(int)>*> task_{nullptr};
  std::atomic<int> tasks_{0}, next_{0}, remaining_{0};
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace stackgrad::envs
