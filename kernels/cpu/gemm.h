// The CPU GEMM as a raw-pointer routine, for kernels that build on it (bmm, conv, attention
// tiles, LSTM gates). Operands are strided matrices (strides in elements, any sign, stride 0
// allowed for broadcast), so transposed views need no copy.
//
// Threading: gemm() splits its C tiles over parallel_for; called from inside a parallel_for
// (a conv kernel parallel over images, say) it runs serially on the calling thread.
// Determinism: every C element sums its K products in the same order whatever the thread count.
//
// Instruction set: the microkernel is chosen once per process (AVX-512 where the CPU has it,
// else AVX2 + FMA), or named by the environment: STACKGRAD_GEMM_ISA=portable|avx2|avx512 (an
// error if the CPU lacks it). Results may differ in the last bits between paths, never between
// thread counts. Design and measurements: docs/kernels/gemm.md.
#pragma once

#include <cstdint>
#include <span>

namespace stackgrad::kernels {

// C[M, N] (+)= A[M, K] · B[K, N].
template <typename T>
struct GemmProblem {
  int64_t M, N, K;
  const T* a;
  int64_t a_rs, a_cs;
  const T* b;
  int64_t b_rs, b_cs;
  T* c;
  int64_t c_rs, c_cs;
};

// C = A·B, or C += A·B when `accumulate`. Defined for float and double.
template <typename T>
void gemm(const GemmProblem<T>& p, bool accumulate = false);

// Many problems of the same M, N, K (a batch), tiles of all of them shared out together.
template <typename T>
void gemm_batched(std::span<const GemmProblem<T>> problems, bool accumulate = false);

// The microkernel families. `portable` is plain C++ (whatever the compiler makes of it).
enum class GemmIsa { portable, avx2, avx512 };

const char* gemm_isa_name(GemmIsa isa);
// Whether this CPU can run `isa`.
bool gemm_isa_supported(GemmIsa isa);
// The path a STACKGRAD_GEMM_ISA value names; throws stackgrad::Error for an unknown name or a
// path this CPU lacks.
GemmIsa parse_gemm_isa(const char* name);
// The path gemm() uses now: STACKGRAD_GEMM_ISA if set, else the widest one supported.
GemmIsa gemm_isa();
// Switches the path for every later call (tests, the lab). Throws stackgrad::Error when the CPU
// lacks it. Not synchronised with concurrent gemm() calls.
void set_gemm_isa(GemmIsa isa);

}  // namespace stackgrad::kernels
