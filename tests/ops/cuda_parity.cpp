// CPU-vs-CUDA parity over the op registry (tests/support/op_registry.h): for every spec whose op
// has a CUDA kernel, every case and dtype, the forward result on cuda:0 matches the fast CPU
// kernels, and so do the gradients of sum(fn(inputs) * v) for a random cotangent v. Inputs keep
// their layout on the device (non-contiguous and stride-0 broadcast views stay what they are),
// so the strided kernel paths are covered as well as the contiguous ones.
//
// Composite ops are tried too: they run when every op they use has a CUDA kernel, and are
// skipped with the missing kernel named otherwise. A kernel op with a CUDA kernel whose spec or
// backward needs a missing kernel fails: that gap is real.
//
// Skips everything (GTEST_SKIP) where no GPU is present; tolerances are in
// tests/support/parity_tolerances.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include "engine/runtime/cuda_context.h"
#include "tests/support/op_registry.h"
#include "tests/support/parity_tolerances.h"

namespace stackgrad::testing {
namespace {

class CudaParity : public ::testing::TestWithParam<const OpSpec*> {};

std::string param_name(const ::testing::TestParamInfo<const OpSpec*>& info) {
  return info.param->op + "_" + std::to_string(info.index);
}

bool cuda_kernel_op(const OpSpec& s) {
  OpId op = op_by_name(s.op);
  return op_has_kernel(op) && has_kernel(op, Backend::cuda);
}

std::vector<const OpSpec*> parity_specs() {
  std::vector<const OpSpec*> v;
  for (const auto& s : op_specs())
    if (!op_has_kernel(op_by_name(s.op)) || cuda_kernel_op(s)) v.push_back(&s);
  return v;
}

// The same values and layout on `device`: the tensor's whole storage span moves, then the view
// is rebuilt with the same shape, strides and offset. A CSR tensor moves its components.
Tensor same_layout_on(const Tensor& t, Device device) {
  if (!t.defined()) return t;
  NoGradGuard no_grad;
  if (t.is_sparse()) return t.to(device);
  const int64_t capacity = static_cast<int64_t>(t.storage()->nbytes() / t.element_size());
  Tensor whole = t.as_strided({capacity}, {1}, 0);
  return whole.to(device).as_strided(t.shape(), t.strides(), t.offset());
}

std::vector<int> grad_inputs(const OpSpec& spec, const std::vector<Tensor>& inputs) {
  if (!spec.grad_inputs.empty()) return spec.grad_inputs;
  std::vector<int> which;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && !inputs[i].is_sparse() && is_floating(inputs[i].dtype()))
      which.push_back(static_cast<int>(i));
  return which;
}

struct DeviceRun {
  Tensor out;
  std::vector<Tensor> grads;  // one per grad input, on the CPU
};

// Forward (and, when `backward`, the gradients of sum(out * v)) with inputs on `device`.
DeviceRun run_on(const OpSpec& spec, const std::vector<Tensor>& inputs, const std::vector<int>& which,
           const Tensor& v_cpu, Device device, bool backward) {
  std::vector<Tensor> leaves;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor leaf = device.is_cpu() ? (inputs[i].defined() ? inputs[i].detach() : inputs[i])
                                  : same_layout_on(inputs[i], device);
    if (backward && std::find(which.begin(), which.end(), static_cast<int>(i)) != which.end())
      leaf.requires_grad_(true);
    leaves.push_back(leaf);
  }
  DeviceRun r;
  if (!backward) {
    NoGradGuard no_grad;
    r.out = spec.fn(leaves).to(Device::cpu());
    return r;
  }
  Tensor out = spec.fn(leaves);
  r.out = out.detach().to(Device::cpu());
  if (out.requires_grad()) sum(out * v_cpu.to(device)).backward();
  for (int i : which) {
    Tensor g = leaves[i].grad();
    r.grads.push_back(g.defined() ? g.to(Device::cpu()) : zeros_like(inputs[i]));
  }
  return r;
}

TEST_P(CudaParity, ForwardAndBackwardMatchCpu) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device (" << (cuda_compiled() ? "CUDA build" : "CPU-only build") << ")";
  const OpSpec& spec = *GetParam();
  const bool kernel_op = cuda_kernel_op(spec);
  std::mt19937_64 rng(1234);
  auto cases = spec.cases(rng);
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    for (DType dt : spec.dtypes) {
      SCOPED_TRACE(spec.op + " case '" + c.label + "' dtype " + std::string(dtype_name(dt)));
      auto inputs = cast_inputs(c.inputs, dt);
      const bool backward = spec.differentiable && is_floating(dt);
      const std::vector<int> which = backward ? grad_inputs(spec, inputs) : std::vector<int>{};
      DeviceRun cpu, gpu;
      Tensor v;
      try {
        cpu = run_on(spec, inputs, which, Tensor(), Device::cpu(), false);
        if (backward) {
          std::mt19937_64 vrng(99);
          v = randn_f64(vrng, cpu.out.shape()).to(cpu.out.dtype());
          cpu = run_on(spec, inputs, which, v, Device::cpu(), true);
        }
        gpu = run_on(spec, inputs, which, v, Device::cuda(0), backward);
      } catch (const Error& e) {
        const std::string msg = e.what();
        if (!kernel_op && msg.find("no kernel for backend cuda") != std::string::npos)
          GTEST_SKIP() << "composite op " << spec.op << " uses an op without a CUDA kernel: " << msg;
        if (!kernel_op && msg.find("builds the sparsity pattern on the host") != std::string::npos)
          GTEST_SKIP() << "composite op " << spec.op << " needs its inputs on the cpu: " << msg;
        FAIL() << msg;
      }
      ASSERT_EQ(shape_str(gpu.out.shape()), shape_str(cpu.out.shape()));
      ASSERT_EQ(gpu.out.dtype(), cpu.out.dtype());
      Tolerance tol = parity_tolerance(cpu.out.dtype());
      if (cpu.out.dtype() == DType::f32) tol = looser(tol, {spec.rtol_f32, spec.atol_f32});
      EXPECT_TRUE(allclose(gpu.out, cpu.out, tol.rtol, tol.atol))
          << "cuda:\n" << gpu.out << "\ncpu:\n" << cpu.out;
      ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
      for (size_t g = 0; g < cpu.grads.size(); ++g) {
        Tolerance gt = parity_grad_tolerance(cpu.grads[g].dtype());
        EXPECT_TRUE(allclose(gpu.grads[g], cpu.grads[g], gt.rtol, gt.atol))
            << "gradient of input " << which[g] << "\ncuda:\n" << gpu.grads[g] << "\ncpu:\n" << cpu.grads[g];
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, CudaParity, ::testing::ValuesIn(parity_specs()), param_name);

// Runs on any machine: the ops a spec reaches, forward and backward, on the CPU (read from the
// STACKGRAD_DEBUG=1 kernel log), so that a CUDA-kernel op whose parity test would stop at a
// missing kernel is caught without a GPU.
std::set<std::string> kernels_reached(const OpSpec& spec) {
  std::set<std::string> ops;
  std::mt19937_64 rng(1234);
  const int previous = debug_level();
  for (const auto& c : spec.cases(rng)) {
    auto inputs = cast_inputs(c.inputs, DType::f64);
    const std::vector<int> which = spec.differentiable ? grad_inputs(spec, inputs) : std::vector<int>{};
    ::testing::internal::CaptureStderr();
    set_debug_level(1);
    try {
      std::mt19937_64 vrng(99);
      Tensor out;
      {
        NoGradGuard no_grad;
        out = spec.fn(inputs);
      }
      Tensor v = randn_f64(vrng, out.shape()).to(out.dtype());
      run_on(spec, inputs, which, v, Device::cpu(), spec.differentiable && is_floating(out.dtype()));
    } catch (...) {
      set_debug_level(previous);
      ::testing::internal::GetCapturedStderr();
      throw;
    }
    set_debug_level(previous);
    std::istringstream log(::testing::internal::GetCapturedStderr());
    for (std::string line; std::getline(log, line);) {
      const std::string tag = "[stackgrad] ";
      if (line.rfind(tag, 0) != 0) continue;
      ops.insert(line.substr(tag.size(), line.find(' ', tag.size()) - tag.size()));
    }
  }
  return ops;
}

TEST(CudaParityPlan, EveryKernelACudaOpReachesHasACudaKernel) {
  if (!cuda_compiled()) GTEST_SKIP() << "CPU-only build: no CUDA kernels";
  int specs = 0;
  for (const OpSpec* spec : parity_specs()) {
    if (!cuda_kernel_op(*spec)) continue;
    ++specs;
    const std::set<std::string> reached = kernels_reached(*spec);
    EXPECT_TRUE(reached.count(spec->op)) << spec->op << ": its own kernel not seen in the log";
    for (const auto& name : reached) {
      EXPECT_TRUE(has_kernel(op_by_name(name), Backend::cuda))
          << spec->op << " (forward or backward) runs " << name << ", which has no CUDA kernel";
    }
  }
  EXPECT_GT(specs, 0);
}

// The random kernels draw the CPU generator's numbers on cuda:0: bit for bit for uniform,
// randint, bernoulli and dropout (kernels/cuda/random.cu), within a few ulp for normal (CUDA's
// log and cos). Every draw re-seeds and starts at a non-zero offset.
TEST(CudaRandom, DrawsMatchTheCpuGenerator) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device (" << (cuda_compiled() ? "CUDA build" : "CPU-only build") << ")";
  using Draw = std::function<Tensor(Device, DType)>;
  auto gen = [] {
    Generator g(20261126);
    g.advance(7);
    return g;
  };
  const Shape shape{37, 1029};  // odd sizes: many blocks, a partial last one
  const std::vector<std::pair<std::string, Draw>> exact = {
      {"uniform", [&](Device d, DType t) { Generator g = gen(); return rand(shape, g, Options(t, d), -2.0, 3.0); }},
      {"uniform [0, 1)", [&](Device d, DType t) { Generator g = gen(); return rand(shape, g, Options(t, d)); }},
      {"randint", [&](Device d, DType t) { Generator g = gen(); return randint(-3, 1000, shape, g, Options(t, d)); }},
      {"bernoulli p", [&](Device d, DType t) { Generator g = gen(); return bernoulli(shape, 0.3, g, Options(t, d)); }},
      {"bernoulli probs", [&](Device d, DType t) {
         Generator g = gen();
         Tensor probs = rand(shape, g, Options(t, Device::cpu())).to(d).transpose(0, 1);
         return bernoulli(probs, g);
       }},
      {"dropout", [&](Device d, DType t) {
         Generator g = gen();
         Tensor x = randn(shape, g, Options(t, Device::cpu())).to(d).transpose(0, 1);
         return dropout(x, 0.4, true, g);
       }},
  };
  for (DType t : {DType::f32, DType::f64}) {
    for (const auto& [name, draw] : exact) {
      SCOPED_TRACE(name + " " + std::string(dtype_name(t)));
      Tensor cpu = draw(Device::cpu(), t);
      Tensor gpu = draw(Device::cuda(0), t).to(Device::cpu());
      EXPECT_TRUE(equal(gpu, cpu));
    }
    Generator g1 = gen(), g2 = gen();
    Tensor cpu = randn(shape, g1, Options(t, Device::cpu()), 1.0, 2.0);
    Tensor gpu = randn(shape, g2, Options(t, Device::cuda(0)), 1.0, 2.0).to(Device::cpu());
    EXPECT_TRUE(allclose(gpu, cpu, t == DType::f32 ? 1e-6 : 1e-13, 1e-13)) << "normal " << dtype_name(t);
  }
  for (DType t : {DType::i32, DType::i64, DType::u8}) {
    Generator g1 = gen(), g2 = gen();
    Tensor cpu = randint(0, 200, shape, g1, Options(t, Device::cpu()));
    Tensor gpu = randint(0, 200, shape, g2, Options(t, Device::cuda(0))).to(Device::cpu());
    EXPECT_TRUE(equal(gpu, cpu)) << "randint " << dtype_name(t);
  }
}

// Out-of-range indices fail on cuda:0 with the CPU's message and are never read.
TEST(CudaIndex, OutOfRangeIndexFails) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device (" << (cuda_compiled() ? "CUDA build" : "CPU-only build") << ")";
  const Device d = Device::cuda(0);
  Tensor x = ones({3, 4}, d);
  Tensor bad = from_vector<int64_t>({0, 5, 1}).to(d);
  EXPECT_THROW(index_select(x, 0, bad), Error);
  EXPECT_THROW(gather(x, 1, bad.reshape({1, 3})), Error);
  EXPECT_THROW(scatter_add(x, 0, bad.reshape({3, 1}), ones({3, 1}, d)), Error);
  try {
    index_select(x, 1, from_vector<int64_t>({-1}).to(d));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index_select: index -1 is out of bounds for dim 1 with size 4"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace stackgrad::testing
