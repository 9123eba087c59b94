// The blocked GEMM driver shared by every microkernel family (docs/kernels/gemm.md).
//
// Algorithm (BLIS/GotoBLAS layering), for one rectangle of C owned by one thread:
//   for jc in N step NC:                       B panel: KC x NC, packed into NR-column strips
//     for pc in K step KC:                     (in order: fixes each element's summation order)
//       pack B[pc:+KC, jc:+NC]
//       for ic in M step MC:                   A block: MC x KC, packed into MR-row strips
//         pack A[ic:+MC, pc:+KC]               (skipped for narrow C, see "direct A")
//         for jr in NC step NR: for ir in MC step MR: microkernel (MR x NR tile, kc FMAs each)
//         (while on strip jr, the next B strip is prefetched from L3 into L2)
// Threading: C is cut into parts along its longer side (so the operand every part re-packs is
// the smaller one); the (problem, part) pairs are static parallel_for chunks. One large problem
// instead runs on a team that packs B once and shares it (gemm_team). Each element sums
// its products in increasing k inside a KC slice, slices in increasing order, whatever the
// part or thread it lands in: results do not depend on the thread count.
// Direct A: when C is at most two NR strips wide, each A element is used once or twice, so
// packing it costs more than it saves; the microkernel then reads A through its strides. Only
// for an A whose rows are contiguous (or nearly): a column-major A (a transposed view, as in a
// weight gradient Xᵀ·dH) read in place touches a new cache line and page per k for every row.
// Such a narrow product is instead computed transposed, Cᵀ = Bᵀ·Aᵀ (gemm_run): Aᵀ is then a
// row-major B operand, packed with contiguous reads, and the narrow side becomes M.
//
// Each family's .cpp defines its Kernel types in an anonymous namespace, so every template
// instantiated from here has internal linkage: code built for AVX-512 is never shared with (or
// picked by the linker for) a caller on another path.
//
// A Kernel has: static constexpr int MR, NR; static constexpr int64_t KC, MC, NC (MC % MR == 0,
// NC % NR == 0), and
//   static void run(int64_t kc, const T* a, int64_t a_rs, int64_t a_cs, const T* b, T* c,
//                   int64_t c_rs, bool add);
// computing C[0:MR, 0:NR] (+)= A[0:MR, 0:kc] · Bp for one packed B strip (b[k * NR + j]), A
// read at a[i * a_rs + k * a_cs] (a packed strip is a_rs = 1, a_cs = MR), C with unit columns.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "engine/runtime/parallel.h"
#include "kernels/cpu/gemm.h"

namespace stackgrad::kernels::gemm_detail {

// Entry points, one per family, defined in gemm_<family>.cpp: `count` problems of equal M, N,
// K (M, N, K > 0).
template <typename T>
void run_portable(const GemmProblem<T>* problems, int64_t count, bool accumulate);
template <typename T>
void run_avx2(const GemmProblem<T>* problems, int64_t count, bool accumulate);
template <typename T>
void run_avx512(const GemmProblem<T>* problems, int64_t count, bool accumulate);

// Minimum multiply-adds per parallel chunk: below this, waking a thread costs more than it saves.
constexpr int64_t kMinMacsPerChunk = int64_t{1} << 18;

// A per-thread, 64-byte aligned scratch buffer that only grows: no allocation per call once warm.
// `Tag` keeps the A and B buffers (and every family's) apart.
template <typename T, typename Tag>
T* scratch(int64_t n) {
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<T[], Free> buf;
  thread_local int64_t capacity = 0;
  if (n > capacity) {
    const size_t bytes = (static_cast<size_t>(n) * sizeof(T) + 63) / 64 * 64;
    buf.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
    if (!buf) throw std::bad_alloc();
    capacity = n;
  }
  return buf.get();
}

// Packs A[0:mc, 0:kc] into MR-row strips: strip s holds (s + i, k) at ap[s * kc + k * MR + i];
// rows past mc are zero.
template <typename T, typename K>
void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, T* ap) {
  constexpr int MR = K::MR;
  for (int64_t s = 0; s < mc; s += MR) {
    const int m = static_cast<int>(std::min<int64_t>(MR, mc - s));
    T* dst = ap + s * kc;
    const T* src = a + s * rs;
    if (m == MR && cs == 1) {
      // Row-major A: MR row streams in, one contiguous column of the strip out per k.
      for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < MR; ++i) dst[k * MR + i] = src[i * rs + k];
    } else if (m == MR && rs == 1) {
      for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < MR; ++i) dst[k * MR + i] = src[k * cs + i];
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        for (int i = 0; i < m; ++i) dst[k * MR + i] = src[i * rs + k * cs];
        for (int i = m; i < MR; ++i) dst[k * MR + i] = T(0);
      }
    }
  }
}

// Packs B[0:kc, 0:nc] into NR-column strips: strip t holds (k, t + j) at bp[t * kc + k * NR + j];
// columns past nc are zero.
template <typename T, typename K>
void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, T* bp) {
  constexpr int NR = K::NR;
  for (int64_t t = 0; t < nc; t += NR) {
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - t));
    T* dst = bp + t * kc;
    const T* src = b + t * cs;
    if (n == NR && cs == 1) {
      for (int64_t k = 0; k < kc; ++k)
        for (int j = 0; j < NR; ++j) dst[k * NR + j] = src[k * rs + j];
    } else if (n == NR && std::abs(rs) < std::abs(cs)) {
      // Column-major B: walk down each column.
      for (int j = 0; j < NR; ++j)
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[j * cs + k * rs];
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        for (int j = 0; j < n; ++j) dst[k * NR + j] = src[k * rs + j * cs];
        for (int j = n; j < NR; ++j) dst[k * NR + j] = T(0);
      }
    }
  }
}

// Whether macro_kernel prefetches the next B strip (a Kernel may opt out: `kNoPrefetch`).
template <typename K>
constexpr bool kPrefetchNextB = !requires {
  K::kNoPrefetch;
};

// Whether A may be read in place for narrow C (lab opt-out `kDirectAnyLayout` reads it in place
// whatever its layout, the behaviour before column-major A was packed).
template <typename T, typename K>
bool direct_a(const GemmProblem<T>& p, int64_t n) {
  if (n > 2 * K::NR) return false;
  if constexpr (requires { K::kDirectAnyLayout; }) return true;
  return std::abs(p.a_cs) <= std::abs(p.a_rs);
}

// Lab opt-out of direct B (`kNoDirectB`).
template <typename K>
constexpr bool kDirectBOff = requires {
  K::kNoDirectB;
};

// Whether gemm_run computes a narrow product with a column-major A as Cᵀ = Bᵀ·Aᵀ (lab opt-out:
// `kNoSwap`). Only when M is wide enough that the swapped product is not narrow itself.
template <typename T, typename K>
bool swap_operands(const GemmProblem<T>& p) {
  if constexpr (
      requires { K::kNoSwap; } || requires { K::kDirectAnyLayout; })
    return false;
  return p.N <= 2 * K::NR && p.M > 2 * K::NR && std::abs(p.a_cs) > std::abs(p.a_rs);
}

// The transposed problem: Cᵀ[N, M] = Bᵀ[N, K] · Aᵀ[K, M], the same products in the same order.
template <typename T>
GemmProblem<T> swapped(const GemmProblem<T>& p) {
  return {p.N, p.M, p.K, p.b, p.b_cs, p.b_rs, p.a, p.a_cs, p.a_rs, p.c, p.c_cs, p.c_rs};
}

// One A block (packed `ap`, or read directly through `a`'s strides when ap is null) times one
// packed B panel, into C[0:mc, 0:nc]. Edge tiles (and C with non-unit columns) go through a
// local tile so the microkernel never branches on sizes.
// Direct B (kernels with `kDirectB`, when `bd` is set): B read in place, row k of the panel at
// bd + k * bd_rs with unit columns; its last, partial strip alone is packed.
template <typename K>
constexpr bool kHasDirectB = requires {
  K::kDirectB;
};

template <typename T, typename K>
void macro_kernel(int64_t mc, int64_t nc, int64_t kc, const T* ap, const T* a, int64_t a_rs,
                  int64_t a_cs, const T* bp, T* c, int64_t c_rs, int64_t c_cs, bool add,
                  const T* bd = nullptr, int64_t bd_rs = 0) {
  constexpr int MR = K::MR, NR = K::NR;
  // Direct A: the last, partial strip cannot be read MR rows deep, so it alone is packed.
  alignas(64) T edge[MR * K::KC];
  const int64_t m_full = mc / MR * MR;
  if (!ap && m_full < mc) pack_a<T, K>(mc - m_full, kc, a + m_full * a_rs, a_rs, a_cs, edge);
  alignas(64) T bedge[kHasDirectB<K> ? NR * K::KC : 1];
  const int64_t n_full = bd ? nc / NR * NR : nc;
  if constexpr (kHasDirectB<K>)
    if (bd && n_full < nc) pack_b<T, K>(kc, nc - n_full, bd + n_full, bd_rs, 1, bedge);
  // The next B strip comes from L3 (the panel is larger than L2): prefetch it into L2 a slice
  // per microkernel call of the current strip, so the first call on it does not wait.
  const int64_t strip_lines = kc * NR * static_cast<int64_t>(sizeof(T)) / 64;
  const int64_t lines_per_call = (strip_lines + (mc + MR - 1) / MR - 1) / ((mc + MR - 1) / MR);
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    const bool b_direct = bd && jr < n_full;
    const T* b = bd ? (b_direct ? bd + jr : bedge) : bp + jr * kc;
    const char* next_b = reinterpret_cast<const char*>(b + NR * kc);
    const bool prefetch = kPrefetchNextB<K> && !bd && jr + NR < nc;
    for (int64_t ir = 0; ir < mc; ir += MR) {
      const int m = static_cast<int>(std::min<int64_t>(MR, mc - ir));
      if (b_direct && jr + 2 * NR <= n_full) {
        // Direct B: the next strip's rows are a page apart, which the hardware prefetchers do
        // not follow; fetch their last line (the first is usually this strip's) a slice of k
        // per call.
        const int64_t calls = (mc + MR - 1) / MR, per = (kc + calls - 1) / calls;
        for (int64_t k = ir / MR * per, e = std::min(kc, k + per); k < e; ++k)
          __builtin_prefetch(bd + k * bd_rs + jr + 2 * NR - 1, 0, 3);
      }
      if (prefetch)
        for (int64_t l = ir / MR * lines_per_call, e = std::min(strip_lines, l + lines_per_call);
             l < e; ++l)
          __builtin_prefetch(next_b + 64 * l, 0, 2);
      const T* at = ap ? ap + ir * kc : (ir < m_full ? a + ir * a_rs : edge);
      const bool packed = ap || ir >= m_full;
      const int64_t rs = packed ? 1 : a_rs, cs = packed ? MR : a_cs;
      T* ct = c + ir * c_rs + jr * c_cs;
      auto run = [&](T* out, int64_t out_rs, bool out_add) {
        if constexpr (kHasDirectB<K>)
          if (b_direct) return K::run_b(kc, at, rs, cs, b, bd_rs, out, out_rs, out_add);
        K::run(kc, at, rs, cs, b, out, out_rs, out_add);
      };
      if (m == MR && n == NR && c_cs == 1) {
        run(ct, c_rs, add);
        continue;
      }
      alignas(64) T tile[MR * NR];
      run(tile, NR, false);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          T& dst = ct[i * c_rs + j * c_cs];
          dst = add ? dst + tile[i * NR + j] : tile[i * NR + j];
        }
    }
  }
}

struct TagA;
struct TagB;

// C[m0:m1, n0:n1] (+)= A[m0:m1, :] · B[:, n0:n1] on the calling thread.
template <typename T, typename K>
void gemm_rect(const GemmProblem<T>& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
               bool accumulate) {
  const bool direct = direct_a<T, K>(p, n1 - n0);
  // Direct B: C at most three MR strips tall (a transposed narrow product, run swapped, has
  // M = N of the original), each B element is used at most three times, and packing a
  // row-major B would be one more full pass over the large operand.
  const bool direct_b =
      kHasDirectB<K> && !kDirectBOff<K> && p.b_cs == 1 && m1 - m0 <= 3 * K::MR && !direct;
  const int64_t kc_max = std::min<int64_t>(K::KC, p.K);
  const int64_t nc_max = std::min<int64_t>(K::NC, (n1 - n0 + K::NR - 1) / K::NR * K::NR);
  T* bp = scratch<T, std::pair<K, TagB>>(kc_max * nc_max);
  T* ap = direct ? nullptr : scratch<T, std::pair<K, TagA>>(kc_max * K::MC);
  for (int64_t jc = n0; jc < n1; jc += K::NC) {
    const int64_t nc = std::min<int64_t>(K::NC, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += K::KC) {
      const int64_t kc = std::min<int64_t>(K::KC, p.K - pc);
      const T* b = p.b + pc * p.b_rs + jc * p.b_cs;
      if (!direct_b) pack_b<T, K>(kc, nc, b, p.b_rs, p.b_cs, bp);
      for (int64_t ic = m0; ic < m1; ic += K::MC) {
        const int64_t mc = std::min<int64_t>(K::MC, m1 - ic);
        const T* a = p.a + ic * p.a_rs + pc * p.a_cs;
        if (ap) pack_a<T, K>(mc, kc, a, p.a_rs, p.a_cs, ap);
        macro_kernel<T, K>(mc, nc, kc, ap, a, p.a_rs, p.a_cs, bp, p.c + ic * p.c_rs + jc * p.c_cs,
                           p.c_rs, p.c_cs, accumulate || pc > 0, direct_b ? b : nullptr, p.b_rs);
      }
    }
  }
}

struct TagTeamA;
struct TagTeamB;

// gemm_team runs problems of at least kMinTeamMacs multiply-adds (below, the re-packing it
// saves is smaller than what a barrier costs on a busy machine) whose B, packed, fits in
// kMaxSharedBBytes (a per-thread scratch buffer that stays allocated).
constexpr int64_t kMinTeamMacs = int64_t{1} << 30;
constexpr int64_t kMaxSharedBBytes = int64_t{32} << 20;

// One problem on a team of threads that split M and share the packed B. Phase 1: the threads
// pack all of B (every KC x NC panel, each thread a share of every panel's strips). One
// barrier. Phase 2: every thread runs the blocked loop over its rows against the packed panels.
// B is packed once instead of once per thread, with a single synchronisation point (a barrier
// per panel costs a whole time slice whenever the partner thread is descheduled).
template <typename T, typename K>
void gemm_team(const GemmProblem<T>& p, int threads, bool accumulate) {
  const int64_t M = p.M, N = p.N;
  const int64_t kc_max = std::min<int64_t>(K::KC, p.K);
  const int64_t n_round = (N + K::NR - 1) / K::NR * K::NR;
  const bool direct = direct_a<T, K>(p, N);
  // Panel (jc, pc) starts at jc * K + pc * (its rounded width).
  auto panel = [&](int64_t jc, int64_t pc) {
    return jc * p.K + pc * ((std::min(K::NC, N - jc) + K::NR - 1) / K::NR * K::NR);
  };
  // Allocated here, before the parallel region, so an allocation failure throws normally.
  T* bp = scratch<T, std::pair<K, TagTeamB>>(p.K * n_round);
  T* ap_all = direct ? nullptr : scratch<T, std::pair<K, TagTeamA>>(threads * kc_max * K::MC);
  const int64_t mstrips = (M + K::MR - 1) / K::MR;
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (int64_t jc = 0; jc < N; jc += K::NC) {
      const int64_t nc = std::min<int64_t>(K::NC, N - jc);
      const int64_t nstrips = (nc + K::NR - 1) / K::NR;
      const int64_t j0 = nstrips * t / nt * K::NR,
                    j1 = std::min(nc, nstrips * (t + 1) / nt * K::NR);
      if (j1 > j0)
        for (int64_t pc = 0; pc < p.K; pc += K::KC)
          pack_b<T, K>(std::min<int64_t>(K::KC, p.K - pc), j1 - j0,
                       p.b + pc * p.b_rs + (jc + j0) * p.b_cs, p.b_rs, p.b_cs,
                       bp + panel(jc, pc) + j0 * std::min<int64_t>(K::KC, p.K - pc));
    }
#pragma omp barrier
    const int64_t m0 = std::min(M, mstrips * t / nt * K::MR);
    const int64_t m1 = std::min(M, mstrips * (t + 1) / nt * K::MR);
    T* ap = direct ? nullptr : ap_all + t * kc_max * K::MC;
    for (int64_t jc = 0; jc < N; jc += K::NC) {
      const int64_t nc = std::min<int64_t>(K::NC, N - jc);
      for (int64_t pc = 0; pc < p.K; pc += K::KC) {
        const int64_t kc = std::min<int64_t>(K::KC, p.K - pc);
        for (int64_t ic = m0; ic < m1; ic += K::MC) {
          const int64_t mc = std::min<int64_t>(K::MC, m1 - ic);
          const T* a = p.a + ic * p.a_rs + pc * p.a_cs;
          if (ap) pack_a<T, K>(mc, kc, a, p.a_rs, p.a_cs, ap);
          macro_kernel<T, K>(mc, nc, kc, ap, a, p.a_rs, p.a_cs, bp + panel(jc, pc),
                             p.c + ic * p.c_rs + jc * p.c_cs, p.c_rs, p.c_cs, accumulate || pc > 0);
        }
      }
    }
  }
}

// Shares `count` problems of equal shape out to the threads (see the header comment).
template <typename T, typename K>
void gemm_run(const GemmProblem<T>* problems, int64_t count, bool accumulate) {
  if (swap_operands<T, K>(problems[0])) {
    // Equal shapes and layouts are not guaranteed across a batch: swap each one that asks.
    std::vector<GemmProblem<T>> sw(problems, problems + count);
    bool all = true;
    for (auto& q : sw) {
      all = all && swap_operands<T, K>(q);
      if (swap_operands<T, K>(q)) q = swapped(q);
    }
    if (all) return gemm_run<T, K>(sw.data(), count, accumulate);
  }
  const GemmProblem<T>& p0 = problems[0];
  const int64_t M = p0.M, N = p0.N, macs = M * N * p0.K;
  const int64_t threads = omp_in_parallel() ? 1 : num_threads();
  // Split each problem when the batch alone cannot give every thread equal work.
  int64_t parts = 1;
  if (threads > 1 && macs * count >= 2 * kMinMacsPerChunk && count % threads != 0 &&
      count < 8 * threads)
    parts = threads;
  const bool split_m = M >= N;
  const int64_t R = split_m ? K::MR : K::NR;
  const int64_t strips = ((split_m ? M : N) + R - 1) / R;
  parts = std::min(parts, strips);
  if (parts > 1 && split_m && count < threads && macs >= kMinTeamMacs &&
      p0.K * N * static_cast<int64_t>(sizeof(T)) <= kMaxSharedBBytes) {
    // A problem (or two) too few to share out: each on the whole team, B packed once.
    for (int64_t e = 0; e < count; ++e)
      gemm_team<T, K>(problems[e], static_cast<int>(parts), accumulate);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kMinMacsPerChunk * parts / std::max<int64_t>(1, macs));
  parallel_for(0, count * parts, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      const GemmProblem<T>& p = problems[task / parts];
      const int64_t q = task % parts;
      const int64_t s0 = strips * q / parts * R, s1 = strips * (q + 1) / parts * R;
      if (split_m)
        gemm_rect<T, K>(p, s0, std::min(s1, M), 0, N, accumulate);
      else
        gemm_rect<T, K>(p, 0, M, s0, std::min(s1, N), accumulate);
    }
  });
}

}  // namespace stackgrad::kernels::gemm_detail
