// CPU kernels of the matmul family: a packed, cache-blocked GEMM on strided operands.
//
// Algorithm (the BLIS/GotoBLAS layering, see docs/kernels/matmul.md):
//   C is cut into MC x NC tiles; each (batch, tile) pair is one task of a parallel_for.
//   A task walks K in KC slices: it packs the A block (MC x KC) into MR-row strips and the B
//   block (KC x NC) into NR-column strips, zero-padded, then runs an MR x NR microkernel over
//   every strip pair, adding into C.
// The microkernel is plain C++ that GCC/Clang vectorise for AVX2 + FMA (-march=x86-64-v3):
// MR x NR accumulators live in registers (6 x 16 floats = 12 ymm). Packing reads any strides,
// so transposed views and stride-0 (broadcast) operands need no copy.
// Determinism: each C element sums its K products in increasing k within a KC slice, slices in
// increasing order; tasks never split K, so the result does not depend on the thread count.
// Limits: one portable microkernel per dtype; a runtime-dispatched AVX-512 kernel would replace
// micro_kernel() and the Blocking constants without touching the driver.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/gemm.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Register tile and cache blocks. NR is two 256-bit vectors; MR x NR / (vector width) = 12
// accumulators leave 4 of the 16 ymm registers for the B row and the broadcast A value.
// KC x NR of B (16 KiB) stays in L1, MC x KC of A (72 KiB f32, 144 KiB f64) in L2.
template <typename T>
struct Blocking {
  static constexpr int kMR = 6;
  static constexpr int kNR = 64 / sizeof(T);
  static constexpr int64_t kKC = 256;
  static constexpr int64_t kMC = 72;   // a multiple of kMR
  static constexpr int64_t kNC = 256;  // a multiple of kNR
};

template <typename T>
using Gemm = GemmProblem<T>;

// Packs A[0:mc, 0:kc] into MR-row strips: strip s holds element (s + i, k) at
// ap[s * kc + k * MR + i], rows past mc are zero.
template <typename T>
void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, T* ap) {
  constexpr int MR = Blocking<T>::kMR;
  for (int64_t s = 0; s < mc; s += MR) {
    const int m = static_cast<int>(std::min<int64_t>(MR, mc - s));
    T* dst = ap + s * kc;
    if (m < MR) std::fill(dst, dst + kc * MR, T(0));
    // Walk the source along its smaller stride.
    if (std::abs(cs) <= std::abs(rs)) {
      for (int i = 0; i < m; ++i) {
        const T* src = a + (s + i) * rs;
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = src[k * cs];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < m; ++i) dst[k * MR + i] = a[(s + i) * rs + k * cs];
    }
  }
}

// Packs B[0:kc, 0:nc] into NR-column strips: strip t holds element (k, t + j) at
// bp[t * kc + k * NR + j], columns past nc are zero.
template <typename T>
void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, T* bp) {
  constexpr int NR = Blocking<T>::kNR;
  for (int64_t t = 0; t < nc; t += NR) {
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - t));
    T* dst = bp + t * kc;
    if (n < NR) std::fill(dst, dst + kc * NR, T(0));
    if (cs == 1 && n == NR) {
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = b + k * rs + t;
        for (int j = 0; j < NR; ++j) dst[k * NR + j] = src[j];
      }
    } else if (std::abs(cs) <= std::abs(rs)) {
      for (int64_t k = 0; k < kc; ++k)
        for (int j = 0; j < n; ++j) dst[k * NR + j] = b[k * rs + (t + j) * cs];
    } else {
      for (int j = 0; j < n; ++j) {
        const T* src = b + (t + j) * cs;
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[k * rs];
      }
    }
  }
}

// 256-bit vectors through the GCC/Clang vector extension: plain arithmetic on them compiles to
// AVX2 + FMA under -march=x86-64-v3 (and to narrower code elsewhere). Spelling the tile as
// vectors keeps its 12 accumulators in registers; with plain arrays GCC spills some of them.
template <typename T>
using Vec [[gnu::vector_size(32)]] = T;

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// C[0:m, 0:n] (+)= Ap · Bp for one MR-row strip of A and one NR-column strip of B.
template <typename T>
inline void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* c,
                         int64_t rs, int64_t cs, int m, int n, bool accumulate) {
  constexpr int MR = Blocking<T>::kMR, NR = Blocking<T>::kNR, W = NR / 2;
  Vec<T> acc[MR][2] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const Vec<T> b0 = load(bp + k * NR), b1 = load(bp + k * NR + W);
    const T* ak = ap + k * MR;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      acc[i][0] += b0 * ak[i];
      acc[i][1] += b1 * ak[i];
    }
  }
  if (m == MR && n == NR && cs == 1) {
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * rs;
      if (accumulate) {
        acc[i][0] += load(ci);
        acc[i][1] += load(ci + W);
      }
      std::memcpy(ci, &acc[i][0], sizeof(Vec<T>));
      std::memcpy(ci + W, &acc[i][1], sizeof(Vec<T>));
    }
    return;
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      const T v = acc[i][j / W][j % W];
      T& dst = c[i * rs + j * cs];
      dst = accumulate ? dst + v : v;
    }
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

template <typename T>
std::unique_ptr<T[], AlignedFree> aligned_buffer(int64_t n) {
  size_t bytes = (static_cast<size_t>(n) * sizeof(T) + 63) / 64 * 64;
  return std::unique_ptr<T[], AlignedFree>(static_cast<T*>(std::aligned_alloc(64, bytes)));
}

// Minimum multiply-adds per parallel chunk: below this, waking threads costs more than it saves.
constexpr int64_t kMinMacsPerChunk = int64_t{1} << 18;

// The packed path over a list of problems that share M, N, K (one per batch entry).
template <typename T>
void gemm_packed(const Gemm<T>* problems, int64_t count, bool accumulate) {
  using B = Blocking<T>;
  const Gemm<T>& p0 = problems[0];
  const int64_t M = p0.M, N = p0.N, K = p0.K;
  const int64_t mblocks = (M + B::kMC - 1) / B::kMC, nblocks = (N + B::kNC - 1) / B::kNC;
  const int64_t tiles = mblocks * nblocks;
  const int64_t macs_per_task = std::min(M, B::kMC) * std::min(N, B::kNC) * K;
  const int64_t grain =
      std::max<int64_t>(1, kMinMacsPerChunk / std::max<int64_t>(1, macs_per_task));
  parallel_for(0, count * tiles, grain, [&](int64_t lo, int64_t hi) {
    auto ap = aligned_buffer<T>(B::kMC * B::kKC);
    auto bp = aligned_buffer<T>(B::kKC * B::kNC);
    for (int64_t task = lo; task < hi; ++task) {
      const Gemm<T>& p = problems[task / tiles];
      const int64_t ib = (task % tiles) / nblocks, jb = task % nblocks;
      const int64_t ic = ib * B::kMC, jc = jb * B::kNC;
      const int64_t mc = std::min(B::kMC, M - ic), nc = std::min(B::kNC, N - jc);
      for (int64_t pc = 0; pc < K; pc += B::kKC) {
        const int64_t kc = std::min(B::kKC, K - pc);
        pack_a(mc, kc, p.a + ic * p.a_rs + pc * p.a_cs, p.a_rs, p.a_cs, ap.get());
        pack_b(kc, nc, p.b + pc * p.b_rs + jc * p.b_cs, p.b_rs, p.b_cs, bp.get());
        for (int64_t jr = 0; jr < nc; jr += B::kNR)
          for (int64_t ir = 0; ir < mc; ir += B::kMR)
            micro_kernel(kc, ap.get() + ir * kc, bp.get() + jr * kc,
                         p.c + (ic + ir) * p.c_rs + (jc + jr) * p.c_cs, p.c_rs, p.c_cs,
                         static_cast<int>(std::min<int64_t>(B::kMR, mc - ir)),
                         static_cast<int>(std::min<int64_t>(B::kNR, nc - jr)),
                         accumulate || pc > 0);
      }
    }
  });
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
    gemv(transposed.data(), static_cast<int64_t>(transposed.size()), accumulate);
    return;
  }
  if (p0.N == 1) {
    gemv(in.data(), static_cast<int64_t>(in.size()), accumulate);
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
