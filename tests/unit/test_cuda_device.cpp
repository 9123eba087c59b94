// Tensors on cuda:0: copies to and from the device (small, staged through pinned memory, and
// non-contiguous), the caching allocator's statistics as tensors come and go, autograd through
// to(device), out-of-memory and missing-device errors. Every test needs a GPU and skips
// without one; the allocator's logic itself is tested on the CPU in test_block_allocator.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <numeric>

#include "engine/runtime/cuda_context.h"
#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using ::testing::HasSubstr;
using testing::error_of;

#define SKIP_WITHOUT_GPU() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device"

TEST(CudaDevice, CountAndRequireAgree) {
  if (!cuda_available()) {
    EXPECT_EQ(cuda_device_count(), 0);
    EXPECT_THAT(error_of([] { cuda_require(Device::cuda(0)); }), HasSubstr("cuda:0 requested but"));
    return;
  }
  EXPECT_GE(cuda_device_count(), 1);
  EXPECT_NO_THROW(cuda_require(Device::cuda(0)));
  const int n = cuda_device_count();
  EXPECT_THAT(error_of([n] { zeros({2}, Device::cuda(n)); }),
              HasSubstr("cuda:" + std::to_string(n) + " requested but only"));
}

TEST(CudaDevice, WithoutAGpuEveryEntryPointSaysWhy) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  const std::string why = cuda_compiled() ? "cuda:0 requested but no CUDA device is present"
                                          : "this build has no CUDA backend";
  EXPECT_THAT(error_of([] { cuda_alloc(0, 16); }), HasSubstr(why));
  EXPECT_THAT(error_of([] { cuda_memory_stats(0); }), HasSubstr(why));
  EXPECT_THAT(error_of([] { cuda_stream(0); }), HasSubstr(why));
  EXPECT_NO_THROW(cuda_synchronize());  // every device: there are none to wait for
  EXPECT_NO_THROW(cuda_empty_cache());
}

template <typename T>
void expect_round_trip(int64_t n, DType dtype) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<T>((i * 7919) % 1000 - 500);
  Tensor host = from_vector(v, {n}, dtype);
  Tensor dev = host.to(Device::cuda(0));
  EXPECT_EQ(dev.device(), Device::cuda(0));
  EXPECT_EQ(dev.dtype(), dtype);
  EXPECT_EQ(dev.to_vector<T>(), v) << "n = " << n;
}

TEST(CudaDevice, RoundTripsSmallAndStagedCopies) {
  SKIP_WITHOUT_GPU();
  expect_round_trip<float>(1, DType::f32);
  expect_round_trip<float>(1000, DType::f32);
  // Above kPinnedStagingMin and not a whole number of 4 MiB staging chunks.
  expect_round_trip<float>(3'300'001, DType::f32);
  expect_round_trip<double>(1'000'003, DType::f64);
  expect_round_trip<int64_t>(777, DType::i64);
  expect_round_trip<int32_t>(2'500'000, DType::i32);
  expect_round_trip<uint8_t>(5'000'001, DType::u8);
}

TEST(CudaDevice, NonContiguousSourcesArriveInCOrder) {
  SKIP_WITHOUT_GPU();
  Tensor a = arange(24, DType::f32).view({2, 3, 4});
  Tensor t = a.permute({2, 0, 1});
  Tensor dev = t.to(Device::cuda(0));
  EXPECT_TRUE(dev.is_contiguous());
  EXPECT_TRUE(equal(dev.to(Device::cpu()), t.contiguous()));
  // A non-contiguous view of a device tensor comes back in C order too (copy kernel on cuda).
  Tensor back = a.to(Device::cuda(0)).transpose(0, 2).to(Device::cpu());
  EXPECT_TRUE(equal(back, a.transpose(0, 2).contiguous()));
}

TEST(CudaDevice, ItemAndPrintWorkOnDeviceTensors) {
  SKIP_WITHOUT_GPU();
  Tensor x = full({3}, 2.5, Options(DType::f32, Device::cuda(0)));
  EXPECT_DOUBLE_EQ(x.select(0, 1).item(), 2.5);
  EXPECT_THAT(x.repr(), HasSubstr("2.5"));
}

TEST(CudaDevice, AllocatorStatsFollowTensors) {
  SKIP_WITHOUT_GPU();
  cuda_synchronize();
  cuda_empty_cache();
  const MemoryStats before = cuda_memory_stats(0);
  {
    Tensor t = empty({1 << 20}, Options(DType::f32, Device::cuda(0)));  // 4 MiB: large pool
    const MemoryStats during = cuda_memory_stats(0);
    EXPECT_EQ(during.allocated_bytes - before.allocated_bytes, size_t{4} << 20);
    EXPECT_GE(during.reserved_bytes, during.allocated_bytes);
    EXPECT_GE(during.peak_allocated_bytes, during.allocated_bytes);
    EXPECT_EQ(during.num_allocs, before.num_allocs + 1);
  }
  const MemoryStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(after.num_frees, before.num_frees + 1);
  EXPECT_EQ(after.num_raw_frees, before.num_raw_frees);  // cached, not returned
  // The same size again reuses the cached block: no new cudaMalloc.
  { Tensor t = empty({1 << 20}, Options(DType::f32, Device::cuda(0))); }
  EXPECT_EQ(cuda_memory_stats(0).num_raw_allocs, after.num_raw_allocs);
  cuda_empty_cache(0);
  EXPECT_EQ(cuda_memory_stats(0).reserved_bytes, before.reserved_bytes);
}

TEST(CudaDevice, OutOfMemoryNamesSizeAndStats) {
  SKIP_WITHOUT_GPU();
  // 2^45 floats = 128 TiB: more than any GPU has.
  std::string msg = error_of([] { empty({int64_t{1} << 45}, Options(DType::f32, Device::cuda(0))); });
  EXPECT_THAT(msg, HasSubstr("cuda:0: out of memory allocating 131072.00 GiB (140737488355328 bytes"));
  EXPECT_THAT(msg, HasSubstr("reserved"));
  EXPECT_THAT(msg, HasSubstr("after freeing the cache and retrying"));
  // The device is still usable afterwards.
  Tensor x = ones({4}, Device::cuda(0));
  EXPECT_DOUBLE_EQ(sum(x).item(), 4.0);
}

TEST(CudaDevice, GradientsFlowBackThroughTo) {
  SKIP_WITHOUT_GPU();
  Tensor x = from_vector<float>({1, 2, 3}).requires_grad_();
  Tensor y = x.to(Device::cuda(0));
  Tensor loss = sum(y * y);
  EXPECT_EQ(loss.device(), Device::cuda(0));
  loss.backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().device(), Device::cpu());
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4, 6}));
}

TEST(CudaDevice, MixingDevicesIsAnErrorNotACopy) {
  SKIP_WITHOUT_GPU();
  Tensor a = ones({2});
  Tensor b = ones({2}, Device::cuda(0));
  EXPECT_THAT(error_of([&] { a + b; }), HasSubstr("cuda:0"));
}

}  // namespace
}  // namespace stackgrad
