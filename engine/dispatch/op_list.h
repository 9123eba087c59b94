// The op list: the one place every op is named. Each family keeps its entries in
// engine/dispatch/ops/<family>.def as
//   SG_KERNEL_OP(name)     an op with kernels in the kernel table (reference, cpu, later cuda)
//   SG_COMPOSITE_OP(name)  an op written with other ops (views, matmul on bmm, losses, ...)
// The list feeds the OpId enum, the kernel table, the op tests and the benchmarks.
#pragma once

#include <string_view>
#include <vector>

#define SG_FOR_EACH_OP_FAMILY(X) \
  X(view)                        \
  X(elementwise)                 \
  X(reduce)                      \
  X(shape)                       \
  X(matmul)                      \
  X(nn)                          \
  X(random)                      \
  X(sparse)                      \
  X(linalg)                      \
  X(conv)                        \
  X(norm)                        \
  X(attention)                   \
  X(rnn)                         \
  X(optim)

namespace stackgrad {

enum class OpId : int {
#define SG_KERNEL_OP(name) name,
#define SG_COMPOSITE_OP(name) name,
#include "engine/dispatch/ops/all.def"
#undef SG_KERNEL_OP
#undef SG_COMPOSITE_OP
  count_
};

constexpr int kNumOps = static_cast<int>(OpId::count_);

std::string_view op_name(OpId op);
std::string_view op_family(OpId op);  // the family whose .def file names the op
bool op_has_kernel(OpId op);  // false for composite ops
// True for the kernel ops whose kernels take bf16 and f16 tensors (copy, fill, and attention
// forward and backward, which compute in f32); run_kernel rejects half tensors for every other
// op with "<op>: dtype bf16 not supported".
bool op_takes_half(OpId op);
std::vector<OpId> all_ops();
// Looks an op up by name; error if unknown.
OpId op_by_name(std::string_view name);

}  // namespace stackgrad
