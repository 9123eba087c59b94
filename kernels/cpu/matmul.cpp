// CPU kernels of the matmul family: `bmm` on the packed GEMM, and the GEMM's front door.
//
// gemm()/gemm_batched() route a batch of same-shaped problems: nothing to do, K == 0 (C = 0),
// matrix-vector (N == 1, or M == 1 as the transposed problem), or the packed, cache-blocked
// GEMM of gemm_driver.h with the microkernel family chosen once per process (gemm_isa(): AVX-512
// / AVX2 + FMA / portable, STACKGRAD_GEMM_ISA overrides). Design: docs/kernels/gemm.md.
// Determinism: each C element sums its K products in a fixed order that depends on the shape
// and the ISA path, never on the thread count (tasks never split K).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/core/error.h"
#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_driver.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

template <typename T>
using Gemm = GemmProblem<T>;

// Minimum multiply-adds per parallel chunk: below this, waking threads costs more than it saves.
constexpr int64_t kMinMacsPerChunk = gemm_detail::kMinMacsPerChunk;

// The microkernel family in use: -1 until the first call resolves it (environment or CPU).
std::atomic<int> g_isa{-1};

GemmIsa resolve_isa() {
  const char* env = std::getenv("STACKGRAD_GEMM_ISA");
  if (env && *env) return parse_gemm_isa(env);
  if (gemm_isa_supported(GemmIsa::avx512)) return GemmIsa::avx512;
  if (gemm_isa_supported(GemmIsa::avx2)) return GemmIsa::avx2;
  return GemmIsa::portable;
}

template <typename T>
void gemm_packed(const Gemm<T>* problems, int64_t count, bool accumulate) {
  switch (gemm_isa()) {
    case GemmIsa::avx512:
      return gemm_detail::run_avx512(problems, count, accumulate);
    case GemmIsa::avx2:
      return gemm_detail::run_avx2(problems, count, accumulate);
    case GemmIsa::portable:
      return gemm_detail::run_portable(problems, count, accumulate);
  }
}

// Matrix-vector products (N == 1): packing a single column into an NR-wide strip would waste
// NR - 1 of every NR multiply-adds. Each row is a dot product with 8 running partial sums
// (vectorisable, and still a fixed order), combined pairwise.
template <typename T>
void gemv(const Gemm<T>* problems, int64_t count, bool accumulate) {
  const int64_t M = problems[0].M, K = problems[0].K;
  const int64_t grain = std::max<int64_t>(1, kMinMacsPerChunk / std::max<int64_t>(1, K));
  parallel_for(0, count * M, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const Gemm<T>& p = problems[r / M];
      const int64_t i = r % M;
      const T* a = p.a + i * p.a_rs;
      const T* b = p.b;
      const int64_t as = p.a_cs, bs = p.b_rs;
      T part[8] = {};
      int64_t k = 0;
      if (as == 1 && bs == 1) {
        for (; k + 8 <= K; k += 8)
          for (int l = 0; l < 8; ++l) part[l] += a[k + l] * b[k + l];
      } else {
        for (; k + 8 <= K; k += 8)
          for (int l = 0; l < 8; ++l) part[l] += a[(k + l) * as] * b[(k + l) * bs];
      }
      for (int l = 0; k < K; ++k, ++l) part[l] += a[k * as] * b[k * bs];
      const T sum =
          ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      T& dst = p.c[i * p.c_rs];
      dst = accumulate ? dst + sum : sum;
    }
  });
}

// Matrix-vector products whose matrix is stored by columns (unit row stride: a transposed view,
// or the transposed form of a row vector times a row-major matrix). A dot product per row would
// stride through memory by whole columns; instead each block of rows accumulates column by
// column, y[i0:i1] += b_k · A[i0:i1, k], reading every column slice contiguously. The order of
// the sum (k = 0, 1, ...) is fixed by the shape, not by the number of threads.
template <typename T>
void gemv_by_columns(const Gemm<T>* problems, int64_t count, bool accumulate) {
  constexpr int64_t kRows = 256;
  const int64_t M = problems[0].M, K = problems[0].K;
  const int64_t blocks = (M + kRows - 1) / kRows;
  const int64_t grain = std::max<int64_t>(1, kMinMacsPerChunk / std::max<int64_t>(1, K * kRows));
  parallel_for(0, count * blocks, grain, [&](int64_t lo, int64_t hi) {
    T acc[kRows];
    for (int64_t r = lo; r < hi; ++r) {
      const Gemm<T>& p = problems[r / blocks];
      const int64_t i0 = (r % blocks) * kRows, rows = std::min(kRows, M - i0);
      std::fill(acc, acc + rows, T(0));
      for (int64_t k = 0; k < K; ++k) {
        const T bk = p.b[k * p.b_rs];
        const T* col = p.a + k * p.a_cs + i0;
        for (int64_t i = 0; i < rows; ++i) acc[i] += col[i] * bk;
      }
      for (int64_t i = 0; i < rows; ++i) {
        T& dst = p.c[(i0 + i) * p.c_rs];
        dst = accumulate ? dst + acc[i] : acc[i];
      }
    }
  });
}

// A matrix-vector batch by rows or by columns, whichever reads the matrix contiguously.
template <typename T>
void gemv_any(const Gemm<T>* problems, int64_t count, bool accumulate) {
  const Gemm<T>& p0 = problems[0];
  if (p0.a_rs == 1 && p0.a_cs != 1 && p0.M > 1)
    gemv_by_columns(problems, count, accumulate);
  else
    gemv(problems, count, accumulate);
}

// Routes a batch of same-shaped problems: nothing to do, K == 0 (C = 0), matrix-vector, or the
// packed path.
template <typename T>
void gemm_dispatch(std::span<const Gemm<T>> in, bool accumulate) {
  if (in.empty()) return;
  const Gemm<T>& p0 = in[0];
  if (p0.M == 0 || p0.N == 0) return;
  if (p0.K == 0) {
    if (accumulate) return;
    for (const auto& p : in)
      for (int64_t i = 0; i < p.M; ++i)
        for (int64_t j = 0; j < p.N; ++j) p.c[i * p.c_rs + j * p.c_cs] = T(0);
    return;
  }
  if (p0.M == 1 && p0.N > 1) {
    // A row vector times B is the transposed problem Bᵀ · aᵀ, a matrix-vector product.
    std::vector<Gemm<T>> transposed;
    transposed.reserve(in.size());
    for (const auto& p : in)
      transposed.push_back(
          Gemm<T>{p.N, 1, p.K, p.b, p.b_cs, p.b_rs, p.a, p.a_cs, p.a_rs, p.c, p.c_cs, p.c_rs});
    gemv_any(transposed.data(), static_cast<int64_t>(transposed.size()), accumulate);
    return;
  }
  if (p0.N == 1) {
    gemv_any(in.data(), static_cast<int64_t>(in.size()), accumulate);
    return;
  }
  gemm_packed(in.data(), static_cast<int64_t>(in.size()), accumulate);
}

void cpu_bmm(const KernelCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &out = c.out[0];
  const int nd = out.ndim;
  int64_t batch = 1;
  for (int d = 0; d < nd - 2; ++d) batch *= out.shape[d];
  SG_DISPATCH_FLOAT(a.dtype, "bmm", [&] {
    using T = scalar_t;
    std::vector<Gemm<T>> problems;
    problems.reserve(batch);
    for (int64_t bi = 0; bi < batch; ++bi) {
      problems.push_back(
          Gemm<T>{a.shape[nd - 2], b.shape[nd - 1], a.shape[nd - 1],
                  a.ptr<T>() + batch_offset(bi, a), a.strides[nd - 2], a.strides[nd - 1],
                  b.ptr<T>() + batch_offset(bi, b), b.strides[nd - 2], b.strides[nd - 1],
                  out.ptr<T>() + batch_offset(bi, out), out.strides[nd - 2], out.strides[nd - 1]});
    }
    gemm_batched<T>(problems);
  });
}

}  // namespace

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::portable:
      return "portable";
    case GemmIsa::avx2:
      return "avx2";
    case GemmIsa::avx512:
      return "avx512";
  }
  return "?";
}

bool gemm_isa_supported(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::portable:
      return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case GemmIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmIsa::avx512:
      return __builtin_cpu_supports("avx512f");
#else
    default:
      return false;
#endif
  }
  return false;
}

GemmIsa parse_gemm_isa(const char* name) {
  for (GemmIsa isa : {GemmIsa::portable, GemmIsa::avx2, GemmIsa::avx512}) {
    if (std::strcmp(name, gemm_isa_name(isa)) != 0) continue;
    SG_CHECK(gemm_isa_supported(isa), "gemm: STACKGRAD_GEMM_ISA=", name,
             " but this CPU does not support ", name);
    return isa;
  }
  fail("gemm: STACKGRAD_GEMM_ISA=", name, " is not one of portable, avx2, avx512");
}

GemmIsa gemm_isa() {
  int isa = g_isa.load(std::memory_order_relaxed);
  if (isa < 0) {
    isa = static_cast<int>(resolve_isa());
    g_isa.store(isa, std::memory_order_relaxed);
  }
  return static_cast<GemmIsa>(isa);
}

void set_gemm_isa(GemmIsa isa) {
  SG_CHECK(gemm_isa_supported(isa), "gemm: this CPU does not support the ", gemm_isa_name(isa),
           " path");
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

template <typename T>
void gemm(const GemmProblem<T>& p, bool accumulate) {
  gemm_dispatch<T>(std::span<const GemmProblem<T>>(&p, 1), accumulate);
}

template <typename T>
void gemm_batched(std::span<const GemmProblem<T>> problems, bool accumulate) {
  gemm_dispatch<T>(problems, accumulate);
}

template void gemm<float>(const GemmProblem<float>&, bool);
template void gemm<double>(const GemmProblem<double>&, bool);
template void gemm_batched<float>(std::span<const GemmProblem<float>>, bool);
template void gemm_batched<double>(std::span<const GemmProblem<double>>, bool);

}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_matmul() { register_kernel(OpId::bmm, Backend::cpu, kernels::cpu_bmm); }
}  // namespace stackgrad
