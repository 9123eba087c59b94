// Runs every registered OpSpec: forward (fast CPU kernels) against the reference kernels, and
// f64 gradcheck. Also checks that every op in the op list has a spec.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

class OpForward : public ::testing::TestWithParam<const OpSpec*> {};
class OpGradcheck : public ::testing::TestWithParam<const OpSpec*> {};

std::string spec_name(const ::testing::TestParamInfo<const OpSpec*>& info) {
  return info.param->op + "_" + std::to_string(info.index);
}

std::vector<const OpSpec*> specs(bool differentiable_only) {
  std::vector<const OpSpec*> v;
  for (const auto& s : op_specs())
    if (s.differentiable || !differentiable_only) v.push_back(&s);
  return v;
}

// Where two floating tensors differ most, relative to the tolerance: the element (flat index),
// both values and |a - b| / (atol + rtol |b|).
std::string worst_element(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (!is_floating(a.dtype()) || a.numel() == 0 || a.shape() != b.shape()) return "";
  const Tensor x = a.to(DType::f64).flatten(), y = b.to(DType::f64).flatten();
  const Tensor scaled = abs(x - y) / (abs(y) * rtol + atol);
  const int64_t i = argmax(scaled).item<int64_t>();
  return "\nworst element " + std::to_string(i) + ": " + std::to_string(x.select(0, i).item<double>()) +
         " vs " + std::to_string(y.select(0, i).item<double>()) + ", " +
         std::to_string(scaled.select(0, i).item<double>()) + " x the tolerance";
}

TEST_P(OpForward, MatchesReference) {
  const OpSpec& spec = *GetParam();
  std::mt19937_64 rng(1234);
  auto cases = spec.cases(rng);
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    for (DType dt : spec.dtypes) {
      SCOPED_TRACE(spec.op + " case '" + c.label + "' dtype " + std::string(dtype_name(dt)));
      auto inputs = cast_inputs(c.inputs, dt);
      NoGradGuard no_grad;
      Tensor fast = spec.fn(inputs);
      Tensor ref;
      {
        ReferenceKernels use_reference;
        ref = spec.fn(inputs);
      }
      ASSERT_EQ(shape_str(fast.shape()), shape_str(ref.shape()));
      ASSERT_EQ(fast.dtype(), ref.dtype());
      bool f64 = fast.dtype() == DType::f64 || !is_floating(fast.dtype());
      double rtol = f64 ? 1e-10 : spec.rtol_f32, atol = f64 ? 1e-10 : spec.atol_f32;
      EXPECT_TRUE(allclose(fast, ref, rtol, atol))
          << "fast:\n" << fast << "\nreference:\n" << ref << worst_element(fast, ref, rtol, atol);
    }
  }
}

TEST_P(OpGradcheck, F64) {
  const OpSpec& spec = *GetParam();
  std::mt19937_64 rng(1234);
  auto cases = spec.cases(rng);
  uint64_t seed = 7;
  for (const auto& c : cases) {
    SCOPED_TRACE(spec.op + " case '" + c.label + "'");
    bool empty = false;
    for (const auto& t : c.inputs)
      if (t.defined() && !t.is_sparse() && t.numel() == 0) empty = true;
    if (empty) continue;  // nothing to differentiate
    std::string err = gradcheck(spec.fn, c.inputs, spec.grad_inputs, seed++, 1e-6, spec.grad_rtol,
                                spec.grad_atol);
    EXPECT_EQ(err, "");
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpForward, ::testing::ValuesIn(specs(false)), spec_name);
INSTANTIATE_TEST_SUITE_P(AllOps, OpGradcheck, ::testing::ValuesIn(specs(true)), spec_name);

TEST(OpRegistry, EveryOpInTheOpListHasASpec) {
  std::set<std::string> have;
  for (const auto& s : op_specs()) have.insert(s.op);
  for (OpId op : all_ops())
    EXPECT_TRUE(have.count(std::string(op_name(op)))) << "no OpSpec for op '" << op_name(op) << "'";
  for (const auto& s : op_specs()) EXPECT_NO_THROW(op_by_name(s.op)) << s.op;
}

TEST(OpRegistry, EveryKernelOpHasReferenceAndCpuKernels) {
  for (OpId op : all_ops()) {
    if (!op_has_kernel(op)) continue;
    EXPECT_TRUE(has_kernel(op, Backend::reference)) << op_name(op) << " has no reference kernel";
    EXPECT_TRUE(has_kernel(op, Backend::cpu)) << op_name(op) << " has no cpu kernel";
  }
}

}  // namespace
}  // namespace stackgrad::testing
