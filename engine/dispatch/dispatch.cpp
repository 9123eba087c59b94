#include "engine/dispatch/dispatch.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <span>
#include <type_traits>

#include "engine/runtime/cuda_context.h"

namespace stackgrad {

#ifdef STACKGRAD_WITH_CUDA
// The CUDA column of the table (kernels/cuda/register.cu), registered whether or not a GPU is
// present: the table says what the build can run. Ops without a CUDA kernel fail on cuda:N
// with "<op>: no kernel for backend cuda (device cuda:N)", never by falling back to the CPU.
void register_cuda_kernels();
#endif

namespace {

constexpr const char* kOpNames[] = {
#define SG_KERNEL_OP(name) #name,
#define SG_COMPOSITE_OP(name) #name,
#include "engine/dispatch/ops/all.def"
#undef SG_KERNEL_OP
#undef SG_COMPOSITE_OP
    "",  // keeps the array non-empty while families are empty
};

constexpr const char* kOpFamilies[] = {
#define SG_KERNEL_OP(name) SG_OP_FAMILY_NAME,
#define SG_COMPOSITE_OP(name) SG_OP_FAMILY_NAME,
#include "engine/dispatch/ops/all.def"
#undef SG_KERNEL_OP
#undef SG_COMPOSITE_OP
    "",
};

constexpr bool kOpHasKernel[] = {
#define SG_KERNEL_OP(name) true,
#define SG_COMPOSITE_OP(name) false,
#include "engine/dispatch/ops/all.def"
#undef SG_KERNEL_OP
#undef SG_COMPOSITE_OP
    false,
};

using Table = std::array<std::array<KernelFn, kNumBackends>, kNumOps + 1>;

Table& raw_table() {
  static Table table{};
  return table;
}

// Fills the table once, on first use, from the explicit per-family registration functions.
Table& table() {
  static std::once_flag once;
  std::call_once(once, [] {
#define SG_CALL_REGISTER(family) \
  register_reference_##family(); \
  register_cpu_##family();
    SG_FOR_EACH_OP_FAMILY(SG_CALL_REGISTER)
#undef SG_CALL_REGISTER
#ifdef STACKGRAD_WITH_CUDA
    register_cuda_kernels();
#endif
  });
  return raw_table();
}

thread_local bool t_reference_kernels = false;

int& debug_level_ref() {
  static int level = [] {
    const char* s = std::getenv("STACKGRAD_DEBUG");
    return s ? std::atoi(s) : 0;
  }();
  return level;
}

std::string describe_args(std::span<const Tensor> ts) {
  std::string s;
  for (size_t i = 0; i < ts.size(); ++i) {
    if (i) s += ", ";
    s += ts[i].defined() ? describe(ts[i]) : "undefined";
  }
  return s;
}

}  // namespace

std::string_view op_name(OpId op) { return kOpNames[static_cast<int>(op)]; }
std::string_view op_family(OpId op) { return kOpFamilies[static_cast<int>(op)]; }
bool op_has_kernel(OpId op) { return kOpHasKernel[static_cast<int>(op)]; }
bool op_takes_half(OpId op) {
  switch (op) {
    case OpId::copy:
    case OpId::fill:
    case OpId::scaled_dot_product_attention:
    case OpId::scaled_dot_product_attention_backward:
      return true;
    default:
      return false;
  }
}

std::vector<OpId> all_ops() {
  std::vector<OpId> ops;
  for (int i = 0; i < kNumOps; ++i) ops.push_back(static_cast<OpId>(i));
  return ops;
}

OpId op_by_name(std::string_view name) {
  for (int i = 0; i < kNumOps; ++i)
    if (kOpNames[i] == name) return static_cast<OpId>(i);
  fail("op_by_name: no op named '", name, "' in the op list");
}

int debug_level() { return debug_level_ref(); }
void set_debug_level(int level) { debug_level_ref() = level; }

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::reference:
      return "reference";
    case Backend::cpu:
      return "cpu";
    case Backend::cuda:
      return "cuda";
  }
  return "?";
}

void register_kernel(OpId op, Backend backend, KernelFn fn) {
  SG_CHECK(op_has_kernel(op), "register_kernel: op ", op_name(op),
           " is a composite op and takes no kernel");
  raw_table()[static_cast<int>(op)][static_cast<int>(backend)] = fn;
}

KernelFn find_kernel(OpId op, Backend backend) {
  return table()[static_cast<int>(op)][static_cast<int>(backend)];
}

bool has_kernel(OpId op, Backend backend) { return find_kernel(op, backend) != nullptr; }

Backend backend_for(Device device) {
  if (device.is_cuda()) return Backend::cuda;
  return t_reference_kernels ? Backend::reference : Backend::cpu;
}

ReferenceKernels::ReferenceKernels() : previous_(t_reference_kernels) {
  t_reference_kernels = true;
}
ReferenceKernels::~ReferenceKernels() { t_reference_kernels = previous_; }
bool ReferenceKernels::active() { return t_reference_kernels; }

// Fills every field of `a` (dims past ndim are zero), so `a` may be uninitialised storage.
static void fill_arg(TensorArg& a, const Tensor& t) {
  check_strided("run_kernel", t, "tensor");
  const TensorImpl& impl = *t.impl();
  auto* base = static_cast<char*>(impl.storage->data());
  a.data = base ? base + impl.offset * static_cast<int64_t>(dtype_size(impl.dtype)) : nullptr;
  a.dtype = impl.dtype;
  const int ndim = static_cast<int>(impl.shape.size());
  a.ndim = ndim;
  int64_t numel = 1;
  for (int d = 0; d < kMaxDims; ++d) {
    const bool in = d < ndim;
    a.shape[d] = in ? impl.shape[d] : 0;
    a.strides[d] = in ? impl.strides[d] : 0;
    numel *= in ? impl.shape[d] : 1;
  }
  a.numel = numel;
}

TensorArg make_arg(const Tensor& t) {
  TensorArg a;
  fill_arg(a, t);
  return a;
}

namespace {

void log_call(OpId op, Device device, Backend backend, std::span<const Tensor> inputs,
              std::span<const Tensor> outputs, int level,
              std::chrono::steady_clock::time_point start) {
  std::fprintf(stderr, "[stackgrad] %s on %s (%s): in (%s) -> out (%s)",
               std::string(op_name(op)).c_str(), device.str().c_str(), backend_name(backend),
               describe_args(inputs).c_str(), describe_args(outputs).c_str());
  if (level >= 2) {
    double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    double bytes = 0;
    for (const auto& t : inputs) bytes += double(t.numel()) * t.element_size();
    for (const auto& t : outputs) bytes += double(t.numel()) * t.element_size();
    std::fprintf(stderr, " %.1f us, %.2f GB/s", us, us > 0 ? bytes / (us * 1e3) : 0.0);
  }
  std::fputc('\n', stderr);
}

// The one path of every kernel call. Argument blocks live on the stack for the usual few
// tensors: a heap allocation per call would cost as much as a small op.
void run_kernel_impl(OpId op, std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                     const OpAttrs& attrs) {
  SG_CHECK(!inputs.empty() || !outputs.empty(), op_name(op), ": kernel called with no tensors");
  const Tensor& first = (inputs.empty() ? outputs : inputs).front();
  check_defined(op_name(op).data(), first, "input");
  const Device device = first.device();
  for (const auto& t : inputs) {
    check_defined(op_name(op).data(), t, "input");
    SG_CHECK(t.device() == device, op_name(op), ": expected all tensors on ", device.str(),
             ", got one on ", t.device().str());
  }
  for (const auto& t : outputs) {
    check_defined(op_name(op).data(), t, "output");
    SG_CHECK(t.device() == device, op_name(op), ": expected all tensors on ", device.str(),
             ", got an output on ", t.device().str());
  }
  const Backend backend = backend_for(device);
  const KernelFn fn = find_kernel(op, backend);
  SG_CHECK(fn != nullptr, op_name(op), ": no kernel for backend ", backend_name(backend),
           " (device ", device.str(), ")");
  // CUDA kernels launch on the current device's stream (engine/runtime/cuda_context.h).
  if (device.is_cuda()) cuda_set_device(device.index);

  // TensorArg is trivially copyable and fill_arg writes every field, so the inline blocks
  // need no initialisation of their own.
  static_assert(std::is_trivially_copyable_v<TensorArg>);
  constexpr size_t kInline = 6;
  alignas(TensorArg) unsigned char inline_args[kInline * sizeof(TensorArg)];
  std::vector<TensorArg> heap_args;
  const size_t n = inputs.size() + outputs.size();
  TensorArg* args = reinterpret_cast<TensorArg*>(inline_args);
  if (n > kInline) args = (heap_args.resize(n), heap_args.data());
  TensorArg* in_args = args;
  TensorArg* out_args = args + inputs.size();
  for (size_t i = 0; i < inputs.size(); ++i) fill_arg(in_args[i], inputs[i]);
  for (size_t i = 0; i < outputs.size(); ++i) fill_arg(out_args[i], outputs[i]);
  // Half tensors reach only the kernels written for them, whatever dtype checks an op makes.
  if (!op_takes_half(op)) {
    for (size_t i = 0; i < n; ++i)
      if (is_half(args[i].dtype)) fail_half_unsupported(op_name(op), args[i].dtype);
  }

  const int level = debug_level_ref();
  if (level == 0) {
    fn(KernelCall{{in_args, inputs.size()}, {out_args, outputs.size()}, attrs});
    return;
  }
  auto start = std::chrono::steady_clock::now();
  fn(KernelCall{{in_args, inputs.size()}, {out_args, outputs.size()}, attrs});
  // CUDA kernels return at launch; level 2 reports the kernel's time, so wait for it.
  if (level >= 2 && device.is_cuda()) cuda_synchronize(device.index);
  log_call(op, device, backend, inputs, outputs, level, start);
}

}  // namespace

void run_kernel(OpId op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                const OpAttrs& attrs) {
  run_kernel_impl(op, inputs, outputs, attrs);
}

void run_kernel(OpId op, std::initializer_list<Tensor> inputs,
                std::initializer_list<Tensor> outputs, const OpAttrs& attrs) {
  run_kernel_impl(op, {inputs.begin(), inputs.size()}, {outputs.begin(), outputs.size()}, attrs);
}

}  // namespace stackgrad
