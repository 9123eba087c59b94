// CUDA sort, topk and randperm: the counterparts of sort_lines (kernels/reference/shape.cpp) and
// randperm_kernel (kernels/reference/random_kernels.h).
//
// Every element becomes a (key, position) pair. The key is the order-preserving unsigned image of
// the value (kernels/cpu/shape.cpp's order_bits: NaN largest and equal to every NaN, -0 equal to
// +0), complemented for a descending order; the position breaks ties. Sorting the pairs by
// (key, position) therefore gives the reference's stable order in both directions, NaNs last
// ascending and first descending, and the pairs are all distinct, so any correct sort gives the
// same result. randperm's pairs are (bits64 of Philox counter offset + i, i): the CPU sorts the
// same keys with the same tie-break, so the permutation is the CPU's, bit for bit.
//
// The sort is a bitonic network over each line padded to a power of two P (padding pairs order
// after every real pair). plan_sort (scan_plan.h, unit-tested on the CPU) sets the schedule:
//   - chunks of kSortTile pairs (whole tiles of min(P, kSortTile), several short lines at once)
//     run all stages k <= tile in shared memory: a whole line when it fits;
//   - longer lines then take, for each k = 2 tile .. P, one global launch per partner distance
//     j >= tile and a shared-memory pass for the distances below tile.
// topk sorts whole lines, keeps the first k pairs and, when the result is not to be sorted,
// sorts those k positions again (keys = positions) to return them in index order, as the
// reference does. The network does O(P log^2 P) compare-exchanges; a radix sort would do fewer
// for long lines (see docs/kernels/shape.md).
#include <cstdint>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/scan_plan.h"
#include "kernels/cuda/sort_pairs.cuh"
#include "kernels/reference/philox.h"

namespace stackgrad::kernels::gpu {
namespace {

__device__ __forceinline__ bool pair_less(const SortPair& a, const SortPair& b) {
  return a.key < b.key || (a.key == b.key && a.pos < b.pos);
}

// Order-preserving unsigned images (kernels/cpu/shape.cpp's order_bits), widened to 64 bits.
__device__ __forceinline__ unsigned long long order_bits(float v) {
  if (isnan(v)) return 0xFFFFFFFFull;
  const unsigned u = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ unsigned long long order_bits(double v) {
  if (isnan(v)) return ~0ull;
  const unsigned long long u =
      static_cast<unsigned long long>(__double_as_longlong(v == 0.0 ? 0.0 : v));
  return (u >> 63) ? ~u : (u | (1ull << 63));
}
__device__ __forceinline__ unsigned long long order_bits(int32_t v) {
  return static_cast<uint32_t>(v) ^ 0x80000000u;
}
__device__ __forceinline__ unsigned long long order_bits(int64_t v) {
  return static_cast<unsigned long long>(v) ^ (1ull << 63);
}
__device__ __forceinline__ unsigned long long order_bits(uint8_t v) { return v; }

// pairs[line * P + j] for the lines of x (line starts through starts' first operand).
template <typename T>
__global__ void make_pairs(int64_t total, int64_t n, int64_t P, OffsetCalc<2> starts, int64_t sx,
                           const T* x, bool descending, SortPair* pairs) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < total; g += step) {
    const int64_t line = g / P, j = g - line * P;
    SortPair p{kPadKey, kPadKey};
    if (j < n) {
      int64_t off[2];
      starts.get(line, off);
      const unsigned long long b = order_bits(x[off[0] + j * sx]);
      p.key = descending ? ~b : b;
      p.pos = static_cast<unsigned long long>(j);
    }
    pairs[g] = p;
  }
}

__global__ void make_randperm_pairs(int64_t P, int64_t n, uint64_t seed, uint64_t offset,
                                    SortPair* pairs) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < P; j += step) {
    SortPair p{kPadKey, kPadKey};
    if (j < n) {
      p.key = bits64(philox4x32(seed, offset + static_cast<uint64_t>(j)));
      p.pos = static_cast<unsigned long long>(j);
    }
    pairs[j] = p;
  }
}

// One compare-exchange of the network: stage k, partner distance j, for line index gi of the
// lower element. Ascending where bit k of gi is clear.
__device__ __forceinline__ void compare_exchange(SortPair& a, SortPair& b, int64_t gi, int64_t k) {
  const bool ascending = (gi & k) == 0;
  if (ascending ? pair_less(b, a) : pair_less(a, b)) {
    const SortPair t = a;
    a = b;
    b = t;
  }
}

// Stages k_lo .. k_hi (powers of two) for the partner distances below `tile`, in shared memory,
// over chunks of kSortTile pairs (whole tiles; the last chunk may be shorter, still whole tiles).
// Every thread of a block runs the same chunk and step loops, so all reach the barriers.
__global__ void __launch_bounds__(kSortThreads)
    bitonic_chunks(SortPair* pairs, int64_t total, int64_t P, int64_t tile, int64_t k_lo,
                   int64_t k_hi) {
  __shared__ SortPair s[kSortTile];
  for (int64_t chunk = blockIdx.x; chunk * kSortTile < total; chunk += gridDim.x) {
    const int64_t base = chunk * kSortTile;
    const int count = static_cast<int>(total - base < kSortTile ? total - base : kSortTile);
    for (int e = threadIdx.x; e < count; e += blockDim.x) s[e] = pairs[base + e];
    for (int64_t k = k_lo; k <= k_hi; k *= 2) {
      for (int64_t j = first_shared_distance(k, tile); j >= 1; j /= 2) {
        __syncthreads();
        for (int t = threadIdx.x; t < count / 2; t += blockDim.x) {
          const int64_t e = bitonic_low_index(t, j);
          compare_exchange(s[e], s[e + j], (base + e) & (P - 1), k);
        }
      }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < count; e += blockDim.x) pairs[base + e] = s[e];
    __syncthreads();  // the next chunk overwrites s
  }
}

// One global step (stage k, distance j >= tile) over every line at once: P is a multiple of 2j,
// so the t-th lower index of the whole array is the t-th of its line.
__global__ void bitonic_global_step(SortPair* pairs, int64_t total, int64_t P, int64_t k,
                                    int64_t j) {
  const int64_t half = total / 2;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < half; t += step) {
    const int64_t e = bitonic_low_index(t, j);
    SortPair a = pairs[e], b = pairs[e + j];
    const SortPair a0 = a;
    compare_exchange(a, b, e & (P - 1), k);
    if (a.pos != a0.pos || a.key != a0.key) {
      pairs[e] = a;
      pairs[e + j] = b;
    }
  }
}

int grid_for(int64_t work, int threads) {
  return static_cast<int>(std::clamp<int64_t>((work + threads - 1) / threads, 1, kMaxBlocks));
}

// The first k2 positions of each sorted line, as pairs keyed by position (topk unsorted).
__global__ void positions_as_keys(int64_t total2, int64_t k, int64_t P2, const SortPair* pairs,
                                  int64_t P, SortPair* out) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < total2; g += step) {
    const int64_t line = g / P2, j = g - line * P2;
    SortPair p{kPadKey, kPadKey};
    if (j < k) {
      const unsigned long long pos = pairs[line * P + j].pos;
      p = SortPair{pos, pos};
    }
    out[g] = p;
  }
}

// values and indices (contiguous, one shape) at line coordinates: the first k pairs of a line.
template <typename T>
__global__ void write_sorted(int64_t lines, int64_t k, const SortPair* pairs, int64_t P,
                             OffsetCalc<2> starts, int64_t sx, int64_t sv, const T* x, T* values,
                             int64_t* indices) {
  const int64_t total = lines * k;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < total; g += step) {
    const int64_t line = g / k, j = g - line * k;
    int64_t off[2];
    starts.get(line, off);
    const int64_t pos = static_cast<int64_t>(pairs[line * P + j].pos);
    values[off[1] + j * sv] = x[off[0] + pos * sx];
    indices[off[1] + j * sv] = pos;
  }
}

template <typename I>
__global__ void write_randperm(int64_t n, const SortPair* pairs, I* out) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = static_cast<I>(pairs[i].pos);
}

// `t` without dim `dim` (one element per line).
TensorArg drop_dim(const TensorArg& t, int dim) {
  TensorArg r = t;
  r.ndim = t.ndim - 1;
  r.numel = 1;
  for (int d = dim; d < r.ndim; ++d) {
    r.shape[d] = t.shape[d + 1];
    r.strides[d] = t.strides[d + 1];
  }
  for (int d = 0; d < r.ndim; ++d) r.numel *= r.shape[d];
  return r;
}

// sort (k == n, sorted) and topk: values/indices are contiguous with in's shape but k along dim.
void sort_or_topk(const KernelCall& c, int64_t k, bool sorted, const char* name) {
  const TensorArg &in = c.in[0], &values = c.out[0], &indices = c.out[1];
  const int dim = static_cast<int>(c.attrs.dim);
  const bool descending = c.attrs.flag;
  const int64_t n = in.shape[dim];
  if (n == 0 || in.numel == 0 || k == 0) return;
  const int64_t lines = in.numel / n;
  const TensorArg lx = drop_dim(in, dim), lv = drop_dim(values, dim);
  const OffsetCalc<2> starts = make_offset_calc<2>({&lx, &lv});
  const int64_t sx = in.strides[dim], sv = values.strides[dim];
  const SortPlan plan = plan_sort(lines, n);
  const int64_t P = plan.padded;
  cudaStream_t stream = current_stream();
  PairBuffer pairs(lines * P);
  SG_DISPATCH_NUMERIC(in.dtype, name, [&] {
    using T = scalar_t;
    make_pairs<T><<<grid_for(lines * P, kThreads), kThreads, 0, stream>>>(
        lines * P, n, P, starts, sx, in.ptr<T>(), descending, pairs.get());
    SG_CUDA_CHECK_LAUNCH("make_pairs");
    sort_pair_lines(pairs.get(), lines, P, stream);
    const SortPair* chosen = pairs.get();
    int64_t chosen_p = P;
    PairBuffer by_position(sorted || k == 1 ? 0 : lines * next_pow2(k));
    if (by_position.get()) {
      const int64_t P2 = next_pow2(k);
      positions_as_keys<<<grid_for(lines * P2, kThreads), kThreads, 0, stream>>>(
          lines * P2, k, P2, pairs.get(), P, by_position.get());
      SG_CUDA_CHECK_LAUNCH("positions_as_keys");
      sort_pair_lines(by_position.get(), lines, P2, stream);
      chosen = by_position.get();
      chosen_p = P2;
    }
    write_sorted<T><<<grid_for(lines * k, kThreads), kThreads, 0, stream>>>(
        lines, k, chosen, chosen_p, starts, sx, sv, in.ptr<T>(), values.ptr<T>(),
        indices.ptr<int64_t>());
    SG_CUDA_CHECK_LAUNCH("write_sorted");
  });
}

void cuda_sort(const KernelCall& c) { sort_or_topk(c, c.in[0].shape[c.attrs.dim], true, "sort"); }

// topk's attrs.flag means "largest": a descending selection; flag2 means "sorted".
void cuda_topk(const KernelCall& c) { sort_or_topk(c, c.attrs.k, c.attrs.flag2, "topk"); }

void cuda_randperm(const KernelCall& c) {
  const TensorArg& out = c.out[0];
  const int64_t n = out.numel;
  if (n == 0) return;
  const int64_t P = next_pow2(n);
  cudaStream_t stream = current_stream();
  PairBuffer pairs(P);
  make_randperm_pairs<<<grid_for(P, kThreads), kThreads, 0, stream>>>(P, n, c.attrs.seed,
                                                                      c.attrs.offset, pairs.get());
  SG_CUDA_CHECK_LAUNCH("make_randperm_pairs");
  sort_pair_lines(pairs.get(), 1, P, stream);
  auto write = [&](auto* y) {
    write_randperm<<<grid_for(n, kThreads), kThreads, 0, stream>>>(n, pairs.get(), y);
    SG_CUDA_CHECK_LAUNCH("write_randperm");
  };
  if (out.dtype == DType::i32) {
    write(out.ptr<int32_t>());
  } else if (out.dtype == DType::i64) {
    write(out.ptr<int64_t>());
  } else {
    fail("randperm: dtype must be i32 or i64, got ", dtype_name(out.dtype));
  }
}

}  // namespace

void sort_pair_lines(SortPair* pairs, int64_t lines, int64_t P, cudaStream_t stream) {
  const SortPlan plan = plan_sort(lines, P);
  const int64_t total = lines * P, tile = plan.tile;
  const int chunk_blocks = grid_for(total, static_cast<int>(kSortTile));
  for (const SortStep& st : sort_schedule(plan)) {
    if (st.kind == SortLaunch::chunks) {
      bitonic_chunks<<<chunk_blocks, kSortThreads, 0, stream>>>(pairs, total, P, tile, st.k_lo,
                                                                st.k_hi);
      SG_CUDA_CHECK_LAUNCH("bitonic_chunks");
    } else {
      bitonic_global_step<<<grid_for(total / 2, kThreads), kThreads, 0, stream>>>(pairs, total, P,
                                                                                  st.k_lo, st.j);
      SG_CUDA_CHECK_LAUNCH("bitonic_global_step");
    }
  }
}

}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_sort() {
  using namespace kernels::gpu;
  register_kernel(OpId::sort, Backend::cuda, cuda_sort);
  register_kernel(OpId::topk, Backend::cuda, cuda_topk);
  register_kernel(OpId::randperm, Backend::cuda, cuda_randperm);
}

}  // namespace stackgrad
