// Tensor basics: factories, dtypes, copies, printing and the error messages of mismatches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/runtime/cuda_context.h"
#include "engine/stackgrad.h"
#include "tests/support/error_of.h"

namespace stackgrad {
namespace {

using ::stackgrad::testing::error_of;

using ::testing::HasSubstr;

TEST(Tensor, FactoriesHaveTheRequestedShapeDtypeAndValues) {
  Tensor z = zeros({2, 3}, DType::f64);
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::f64);
  EXPECT_EQ(z.strides(), (Strides{3, 1}));
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(sum(z).item(), 0.0);
  EXPECT_EQ(sum(ones({4}, DType::i32)).item(), 4.0);
  EXPECT_EQ(full({2}, 2.5).to_vector<float>(), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1.0, 2.0, 0.25, DType::f64).to_vector<double>(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  auto l = linspace(0, 1, 5, DType::f64).to_vector<double>();
  EXPECT_EQ(l, (std::vector<double>{0, 0.25, 0.5, 0.75, 1.0}));
  EXPECT_EQ(eye(2, 3).to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(zeros({0, 3}).numel(), 0);
  EXPECT_EQ(scalar_tensor(3.0).dim(), 0);
}

TEST(Tensor, FromBlobSharesCallerMemory) {
  std::vector<float> buf = {1, 2, 3, 4};
  Tensor t = from_blob(buf.data(), {2, 2}, DType::f32);
  buf[3] = 10;
  EXPECT_EQ(t.to_vector<float>()[3], 10.0f);
}

TEST(Tensor, ToDtypeConvertsAndBoolIsNonzero) {
  Tensor x = from_vector<double>({-1.5, 0.0, 2.7}, {3});
  EXPECT_EQ(x.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2}));
  EXPECT_EQ(x.to(DType::boolean).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(x.to(DType::f64).same(x));  // same dtype: no copy
}

TEST(Tensor, CloneIsIndependent) {
  Tensor x = ones({3});
  Tensor c = x.clone();
  c.fill_(5.0);
  EXPECT_EQ(sum(x).item(), 3.0);
  EXPECT_NE(c.raw_data(), x.raw_data());
}

TEST(Tensor, ContiguousIsANoOpWhenContiguous) {
  Tensor x = ones({2, 3});
  EXPECT_TRUE(x.contiguous().same(x));
  Tensor t = x.t();
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_TRUE(equal(c, t));
}

TEST(Tensor, ViewEdgeCases) {
  EXPECT_TRUE(zeros({3, 0}).t().is_contiguous());  // nothing to lay out
  EXPECT_EQ(ones({3, 1}).expand({-1, 4}).shape(), (Shape{3, 4}));
  EXPECT_THAT(error_of([] { scalar_tensor(1.0).transpose(3, 4); }), HasSubstr("transpose: dim 3 is out of range"));
  EXPECT_EQ(scalar_tensor(1.0).transpose(0, -1).dim(), 0);
}

TEST(Tensor, InPlaceOpsBumpTheVersion) {
  Tensor x = zeros({3});
  uint64_t v = x.storage()->version();
  x.fill_(1.0);
  x.add_(ones({3}));
  EXPECT_EQ(x.storage()->version(), v + 2);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{2, 2, 2}));
}

TEST(Tensor, ItemNeedsOneElement) {
  EXPECT_EQ(full({1, 1}, 4.0).item(), 4.0);
  EXPECT_THAT(error_of([] { zeros({2}).item(); }), HasSubstr("item: expected a one-element tensor, got f32[2]"));
}

TEST(Tensor, PrintsLikeNumpy) {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(x.repr(), "tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=f32)");
  EXPECT_EQ(scalar_tensor(0.5, DType::f64).repr(), "tensor(0.5, shape=[], dtype=f64)");
  EXPECT_EQ(from_vector<bool>({true, false}).repr(), "tensor([ true, false], shape=[2], dtype=bool)");
  std::string big = arange(5000).repr();
  EXPECT_THAT(big, HasSubstr("[   0,    1,    2, ..., 4997, 4998, 4999]"));
  EXPECT_LT(big.size(), 200u);
}

TEST(TensorErrors, DtypeMismatchNamesBoth) {
  EXPECT_THAT(error_of([] { ones({2}) + ones({2}, DType::f64); }),
              HasSubstr("add: dtype mismatch, got f32[2] on cpu and f64[2] on cpu"));
}

TEST(TensorErrors, ShapeMismatchNamesBothShapes) {
  EXPECT_THAT(error_of([] { ones({2, 3}) * ones({4}); }),
              HasSubstr("mul: shapes [2, 3] and [4] cannot be broadcast together"));
}

TEST(TensorErrors, CudaWithoutBackendIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present (tests/unit/test_cuda_device.cpp)";
  const char* why = cuda_compiled() ? "no CUDA device is present" : "this build has no CUDA backend";
  EXPECT_THAT(error_of([] { zeros({2}, Device::cuda(0)); }), HasSubstr("cuda:0 requested but"));
  EXPECT_THAT(error_of([] { zeros({2}, Device::cuda(0)); }), HasSubstr(why));
  EXPECT_THAT(error_of([] { ones({2}).to(Device::cuda(1)); }), HasSubstr("cuda:1 requested but"));
  EXPECT_THAT(error_of([] { ones({2}).to(Device::cuda(0)); }), HasSubstr(why));
}

TEST(TensorErrors, DeviceParse) {
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_THAT(error_of([] { Device::parse("gpu"); }), HasSubstr("cannot parse 'gpu'"));
}

TEST(TensorErrors, FloatOnlyOpsRejectIntegers) {
  EXPECT_THAT(error_of([] { exp(arange(3)); }), HasSubstr("exp: expected a floating tensor, got i64[3]"));
  EXPECT_THAT(error_of([] { div(arange(3), arange(3)); }), HasSubstr("div: expected floating tensors"));
  EXPECT_THAT(error_of([] { ones({2}, DType::boolean) + ones({2}, DType::boolean); }),
              HasSubstr("arithmetic on bool"));
}

TEST(TensorErrors, BadShapes) {
  EXPECT_THAT(error_of([] { zeros({2, -1}); }), HasSubstr("negative size"));
  EXPECT_THAT(error_of([] { zeros(Shape(11, 1)); }), HasSubstr("at most 10"));
  EXPECT_THAT(error_of([] { from_vector<float>({1, 2, 3}, {2, 2}); }), HasSubstr("3 values do not fill shape [2, 2]"));
}

TEST(TensorErrors, WhereNeedsBoolCondition) {
  EXPECT_THAT(error_of([] { where(ones({2}), ones({2}), ones({2})); }), HasSubstr("where: cond must be bool"));
}

TEST(Dispatch, DebugLevelLogsKernelCalls) {
  Tensor a = ones({2, 3}), b = ones({3});
  int saved = debug_level();
  set_debug_level(2);
  ::testing::internal::CaptureStderr();
  add(a, b);
  std::string log = ::testing::internal::GetCapturedStderr();
  set_debug_level(saved);
  EXPECT_THAT(log, HasSubstr("[stackgrad] add on cpu (cpu): in (f32[2, 3] on cpu, f32[2, 3] on cpu) -> out (f32[2, 3] on cpu)"));
  EXPECT_THAT(log, HasSubstr(" us, "));
}

TEST(Dispatch, ReferenceGuardSwitchesBackendsOnThisThread) {
  EXPECT_EQ(backend_for(Device::cpu()), Backend::cpu);
  {
    ReferenceKernels guard;
    EXPECT_EQ(backend_for(Device::cpu()), Backend::reference);
  }
  EXPECT_EQ(backend_for(Device::cpu()), Backend::cpu);
  EXPECT_EQ(op_name(OpId::exp), "exp");
  EXPECT_EQ(op_by_name("exp"), OpId::exp);
  EXPECT_THROW(op_by_name("no_such_op"), Error);
}

}  // namespace
}  // namespace stackgrad

namespace stackgrad {
namespace {

TEST(CpuAllocator, ReusesFreedLargeBlocks) {
  cpu_empty_cache();
  CpuAllocatorStats before = cpu_allocator_stats();
  void* first;
  {
    Tensor a = empty({1 << 20});  // 4 MB: cached when freed
    first = a.raw_data();
  }
  EXPECT_GE(cpu_allocator_stats().cached_bytes, size_t{4} << 20);
  Tensor b = empty({1 << 20});
  EXPECT_EQ(b.raw_data(), first);
  EXPECT_EQ(cpu_allocator_stats().hits, before.hits + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.raw_data()) % 64, 0u);
  cpu_empty_cache();
  EXPECT_EQ(cpu_allocator_stats().cached_bytes, 0u);
}

}  // namespace
}  // namespace stackgrad
