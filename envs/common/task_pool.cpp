#include "task_pool.h"

namespace stackgrad::envs {

// Workers wait for a new generation, then take task indices from `next_` until none are left;
// the last to finish a task wakes the caller.
TaskPool::TaskPool(int workers) {
  for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { work(); });
}

TaskPool::~TaskPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void TaskPool::run(int count, const std::function<void(int)>& fn) {
  {
    std::lock_guard lock(mutex_);
    task_.store(&fn);
    tasks_.store(count);
    next_.store(0);
    remaining_.store(count);
    ++generation_;
  }
  wake_.notify_all();
  drain();
  std::unique_lock lock(mutex_);
  finished_.wait(lock, [&] { return remaining_.load() == 0; });
}

void TaskPool::drain() {
  for (int i = next_.fetch_add(1); i < tasks_.load(); i = next_.fetch_add(1)) {
    (*task_.load())(i);
    if (remaining_.fetch_sub(1) == 1) {
      std::lock_guard lock(mutex_);
      finished_.notify_one();
    }
  }
}

void TaskPool::work() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    drain();
  }
}

}  // namespace stackgrad::envs
