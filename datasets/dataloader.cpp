#include "datasets/dataloader.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "engine/autograd/grad_mode.h"
#include "engine/ops/random.h"

namespace stackgrad::data {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The key of the generator that shuffles an epoch (batch generators use the batch number).
constexpr uint64_t kOrderStream = ~uint64_t{0};

// Copies rows `rows` of a contiguous CPU tensor into a new [rows.size(), ...] tensor.
Tensor gather_rows(const Tensor& src, const int64_t* rows, int64_t count) {
  Shape shape = src.shape();
  shape[0] = count;
  Tensor out = empty(shape, src.dtype());
  const size_t row_bytes =
      static_cast<size_t>(src.numel() / std::max<int64_t>(src.size(0), 1)) * src.element_size();
  const auto* from = static_cast<const uint8_t*>(src.raw_data());
  auto* to = static_cast<uint8_t*>(out.raw_data());
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(to + i * row_bytes, from + rows[i] * row_bytes, row_bytes);
  return out;
}

}  // namespace

uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b);
}

DataLoader::DataLoader(const Tensor& inputs, const Tensor& targets, LoaderOptions options)
    : options_(std::move(options)) {
  check_defined("DataLoader", inputs, "inputs");
  check_defined("DataLoader", targets, "targets");
  check_strided("DataLoader", inputs, "inputs");
  check_strided("DataLoader", targets, "targets");
  SG_CHECK(inputs.dim() >= 1 && targets.dim() >= 1 && inputs.size(0) == targets.size(0),
           "DataLoader: inputs and targets must share their first dim, got ", describe(inputs),
           " and ", describe(targets));
  SG_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ",
           options_.batch_size);
  NoGradGuard no_grad;
  inputs_ = inputs.detach().to(Device::cpu()).contiguous();
  targets_ = targets.detach().to(Device::cpu()).contiguous();
  n_ = inputs.size(0);
}

int64_t DataLoader::size() const {
  const int64_t b = options_.batch_size;
  return options_.drop_last ? n_ / b : (n_ + b - 1) / b;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  if (!options_.shuffle) {
    std::vector<int64_t> idx(n_);
    std::iota(idx.begin(), idx.end(), int64_t{0});
    return idx;
  }
  // A fresh generator per epoch: epoch e's order never depends on how earlier epochs ran.
  Generator gen(mix_seed(options_.seed, static_cast<uint64_t>(epoch), kOrderStream));
  return randperm(n_, gen).to_vector<int64_t>();
}

Batch DataLoader::assemble(int64_t epoch, int64_t b, const std::vector<int64_t>& order) const {
  SG_CHECK(b >= 0 && b < size(), "DataLoader: batch ", b, " of epoch ", epoch, " out of range (",
           size(), " batches)");
  NoGradGuard no_grad;
  const int64_t begin = b * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, n_ - begin);
  const int64_t* rows = order.data() + begin;
  Batch out;
  out.index = from_vector(std::vector<int64_t>(rows, rows + count));
  out.x = gather_rows(inputs_, rows, count);
  out.y = gather_rows(targets_, rows, count);
  if (options_.transform) {
    Generator gen(mix_seed(options_.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(b)));
    out.x = options_.transform(out.x, gen);
  }
  return out;
}

Batch DataLoader::batch(int64_t epoch, int64_t b) const { return assemble(epoch, b, order(epoch)); }

DataLoader::Epoch DataLoader::epoch(int64_t e) const { return Epoch(this, e); }

// ---------------------------------------------------------------------------------------------
// The prefetching thread: produces batches 0..count-1 in order into a queue of at most kAhead.

struct DataLoader::Epoch::Worker {
  static constexpr size_t kAhead = 2;
  struct Item {
    Batch batch;
    std::exception_ptr error;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Item> ready;
  bool stop = false;
  int64_t next_pos = 0;  // the position the consumer asks for next
  std::thread thread;

  Worker(const DataLoader* loader, int64_t epoch, std::shared_ptr<const std::vector<int64_t>> order,
         int64_t count) {
    thread = std::thread([this, loader, epoch, order, count] {
      for (int64_t b = 0; b < count; ++b) {
        Item item;
        try {
          item.batch = loader->assemble(epoch, b, *order);
        } catch (...) {
          item.error = std::current_exception();
        }
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || ready.size() < kAhead; });
        if (stop) return;
        const bool failed = item.error != nullptr;
        ready.push_back(std::move(item));
        changed.notify_all();
        if (failed) return;  // the consumer rethrows; nothing after it is wanted
      }
    });
  }

  Batch pop() {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return !ready.empty(); });
    Item item = std::move(ready.front());
    ready.pop_front();
    changed.notify_all();
    if (item.error) std::rethrow_exception(item.error);
    return std::move(item.batch);
  }

  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    changed.notify_all();
    if (thread.joinable()) thread.join();
  }
};

DataLoader::Epoch::Epoch(const DataLoader* loader, int64_t epoch)
    : loader_(loader),
      epoch_(epoch),
      order_(std::make_shared<const std::vector<int64_t>>(loader->order(epoch))) {
  if (loader_->options_.prefetch && loader_->size() > 0)
    worker_ = std::make_unique<Worker>(loader_, epoch_, order_, loader_->size());
}

DataLoader::Epoch::Epoch(Epoch&& o) noexcept
    : loader_(o.loader_),
      epoch_(o.epoch_),
      order_(std::move(o.order_)),
      worker_(std::move(o.worker_)) {}

DataLoader::Epoch::~Epoch() = default;

int64_t DataLoader::Epoch::size() const { return loader_->size(); }

Batch DataLoader::Epoch::next(int64_t pos) {
  if (!worker_) return loader_->assemble(epoch_, pos, *order_);
  SG_CHECK(pos == worker_->next_pos,
           "DataLoader::Epoch: batches of a prefetching epoch are read "
           "once, in order (asked for batch ",
           pos, ", next is ", worker_->next_pos, ")");
  ++worker_->next_pos;
  return worker_->pop();
}

DataLoader::Epoch::iterator DataLoader::Epoch::begin() { return iterator(this, 0); }
DataLoader::Epoch::iterator DataLoader::Epoch::end() { return iterator(nullptr, size()); }

DataLoader::Epoch::iterator::iterator(Epoch* epoch, int64_t pos) : epoch_(epoch), pos_(pos) {
  if (epoch_ && pos_ < epoch_->size()) current_ = epoch_->next(pos_);
}

DataLoader::Epoch::iterator& DataLoader::Epoch::iterator::operator++() {
  ++pos_;
  current_ = pos_ < epoch_->size() ? epoch_->next(pos_) : Batch{};
  return *this;
}

}  // namespace stackgrad::data
