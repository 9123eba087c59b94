// CUDA cumsum, the counterpart of ref_cumsum (kernels/reference/reduce.cpp) and cpu_cumsum. The
// op layer permutes input and output so the scanned dim is last (both may be strided). Floating
// sums accumulate in double and integer sums in uint64 (wrapping like the reference's int64),
// then each prefix is converted to the tensor's type, as on the CPU.
//
// Three versions (the choice is plan_scan in scan_plan.h, unit-tested on the CPU):
//   column: one thread per line, in order: exactly the CPU's additions, so the bits match;
//   warp / block: a warp (or, from kScanBlockLine elements, a 256-thread block) per line, in
//     tiles of kScanItems elements per thread, loaded and stored coalesced through shared
//     memory, with a carry holding the sum of the earlier tiles. Within a tile, each thread adds
//     its kScanItems consecutive elements in order, a shuffle scan (then the warp totals, in warp
//     order) gives each thread the sum before it.
// Summation order and parity: integer sums wrap, so any grouping gives the CPU's bits. f32
// results are double sums rounded to float: a different grouping moves the double by a few ulp
// of the partial sums, which almost never changes the float (and then by one ulp). f64 results
// would show the grouping: emulating the block scan on a [40000] line of N(0, 9) values gives
// differences from the CPU's running sum up to 1.9x the f64 parity tolerance (atol 1e-12 +
// rtol 1e-10) where the running sum passes near zero. So f64 lines are added by one lane in
// order (the tile loads and stores stay shared by the warp): the CPU's bits, at the price of
// one dependent add per element on long lines with few lines.
// No atomics: the bits depend only on the shape.
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/scan_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

template <typename T>
using ScanAcc = std::conditional_t<std::is_floating_point_v<T>, double, unsigned long long>;

template <typename T, typename Acc>
__device__ __forceinline__ Acc to_acc(T v) {
  if constexpr (std::is_same_v<Acc, double>) {
    return static_cast<double>(v);
  } else {
    return static_cast<unsigned long long>(static_cast<int64_t>(v));
  }
}

template <typename T, typename Acc>
__device__ __forceinline__ T from_acc(Acc a) {
  if constexpr (std::is_same_v<Acc, double>) {
    return static_cast<T>(a);
  } else {
    return static_cast<T>(static_cast<int64_t>(a));  // the reference's wrap to the dtype
  }
}

// Line element j in scan order: reversed scans walk from the end.
__device__ __forceinline__ int64_t scan_pos(int64_t j, int64_t n, bool reverse) {
  return reverse ? n - 1 - j : j;
}

template <typename T>
__global__ void scan_columns(int64_t lines, int64_t n, OffsetCalc<2> starts, int64_t sx, int64_t sy,
                             const T* x, T* y, bool reverse) {
  using Acc = ScanAcc<T>;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t line = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; line < lines; line += step) {
    int64_t off[2];
    starts.get(line, off);
    Acc acc = 0;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = scan_pos(j, n, reverse);
      acc += to_acc<T, Acc>(x[off[0] + i * sx]);
      y[off[1] + i * sy] = from_acc<T, Acc>(acc);
    }
  }
}

template <int TPR>
__device__ __forceinline__ void group_sync() {
  if constexpr (TPR == 32) {
    __syncwarp();
  } else {
    __syncthreads();
  }
}

// TPR threads per line (32: a warp, kScanThreads: the block). With TPR == 32 the warps of a block
// work on different lines and only synchronise themselves; with the whole block every thread runs
// the same iterations, so the barriers are reached by all.
template <typename T>
constexpr bool kSerialScan = std::is_same_v<T, double>;

template <typename T, int TPR>
__global__ void __launch_bounds__(kScanThreads)
    scan_lines(int64_t lines, int64_t n, OffsetCalc<2> starts, int64_t sx, int64_t sy, const T* x,
               T* y, bool reverse) {
  using Acc = ScanAcc<T>;
  constexpr int kGroups = kScanThreads / TPR;
  constexpr int kWarps = TPR / 32;
  constexpr int kTile = TPR * kScanItems;
  // Element e of a tile sits at slot e + e / 32: one spare slot per 32 shifts the threads' runs
  // of kScanItems (read by thread, written back by thread) onto different banks.
  constexpr int kPadded = kTile + kTile / 32;
  __shared__ Acc tile_all[kGroups * kPadded];
  __shared__ Acc warp_total_all[kGroups * kWarps];
  const int group = threadIdx.x / TPR, t = threadIdx.x % TPR;
  const int lane = threadIdx.x % 32, warp = t / 32;
  Acc* tile = tile_all + group * kPadded;
  Acc* warp_total = warp_total_all + group * kWarps;
  auto slot = [](int e) { return e + e / 32; };

  for (int64_t line = int64_t(blockIdx.x) * kGroups + group; line < lines;
       line += int64_t(gridDim.x) * kGroups) {
    int64_t off[2];
    starts.get(line, off);
    const T* xl = x + off[0];
    T* yl = y + off[1];
    Acc carry = 0;
    for (int64_t base = 0; base < n; base += kTile) {
      // Coalesced load of the tile in scan order; missing elements add nothing.
#pragma unroll
      for (int r = 0; r < kScanItems; ++r) {
        const int e = r * TPR + t;
        const int64_t j = base + e;
        tile[slot(e)] = j < n ? to_acc<T, Acc>(xl[scan_pos(j, n, reverse) * sx]) : Acc(0);
      }
      group_sync<TPR>();
      if constexpr (kSerialScan<T>) {
        // One lane, in order: the CPU's running sum (carry lives in that lane only).
        if (t == 0) {
          const int m = n - base < kTile ? static_cast<int>(n - base) : kTile;
          for (int e = 0; e < m; ++e) {
            carry += tile[slot(e)];
            tile[slot(e)] = carry;
          }
        }
        group_sync<TPR>();
#pragma unroll
        for (int r = 0; r < kScanItems; ++r) {
          const int e = r * TPR + t;
          const int64_t j = base + e;
          if (j < n) yl[scan_pos(j, n, reverse) * sy] = from_acc<T, Acc>(tile[slot(e)]);
        }
        group_sync<TPR>();  // the next tile overwrites `tile`
      } else {
        // This thread's kScanItems consecutive elements, in order.
        Acc run[kScanItems];
        Acc sum = 0;
#pragma unroll
        for (int r = 0; r < kScanItems; ++r) {
          sum += tile[slot(t * kScanItems + r)];
          run[r] = sum;
        }
        // Inclusive scan of the thread sums across the warp, then the sum before this lane.
        Acc incl = sum;
#pragma unroll
        for (int d = 1; d < 32; d *= 2) {
          const Acc v = __shfl_up_sync(0xffffffffu, incl, d);
          if (lane >= d) incl += v;
        }
        Acc before = __shfl_up_sync(0xffffffffu, incl, 1);
        if (lane == 0) before = 0;
        if constexpr (kWarps > 1) {
          if (lane == 31) warp_total[warp] = incl;
        }
        group_sync<TPR>();
        Acc prefix = carry, tile_sum = 0;
        if constexpr (kWarps > 1) {
          for (int w = 0; w < kWarps; ++w) {
            if (w < warp) prefix += warp_total[w];
            tile_sum += warp_total[w];
          }
        } else {
          tile_sum = __shfl_sync(0xffffffffu, incl, 31);
        }
        prefix += before;
#pragma unroll
        for (int r = 0; r < kScanItems; ++r) tile[slot(t * kScanItems + r)] = prefix + run[r];
        group_sync<TPR>();
#pragma unroll
        for (int r = 0; r < kScanItems; ++r) {
          const int e = r * TPR + t;
          const int64_t j = base + e;
          if (j < n) yl[scan_pos(j, n, reverse) * sy] = from_acc<T, Acc>(tile[slot(e)]);
        }
        carry += tile_sum;
        group_sync<TPR>();  // the next tile overwrites `tile` and `warp_total`
      }
    }
  }
}

// The leading dims of t (all but the last) as a TensorArg.
TensorArg leading_dims(const TensorArg& t) {
  TensorArg l = t;
  l.ndim = t.ndim > 0 ? t.ndim - 1 : 0;
  l.numel = 1;
  for (int d = 0; d < l.ndim; ++d) l.numel *= t.shape[d];
  return l;
}

void cuda_cumsum(const KernelCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const bool reverse = c.attrs.flag;
  SG_DISPATCH_NUMERIC(in.dtype, "cumsum", [&] {
    using T = scalar_t;
    const int64_t n = in.ndim == 0 ? 1 : in.shape[in.ndim - 1];
    if (in.numel == 0 || n == 0) return;
    const int64_t lines = in.numel / n;
    const int64_t sx = in.ndim == 0 ? 1 : in.strides[in.ndim - 1];
    const int64_t sy = out.ndim == 0 ? 1 : out.strides[out.ndim - 1];
    const TensorArg li = leading_dims(in), lo = leading_dims(out);
    const int64_t line_stride = li.ndim > 0 ? li.strides[li.ndim - 1] : 0;
    const OffsetCalc<2> starts = make_offset_calc<2>({&li, &lo});
    const ScanPlan plan = plan_scan(lines, n, sx, line_stride, kSerialScan<T>);
    const int blocks = static_cast<int>(plan.blocks);
    cudaStream_t stream = current_stream();
    switch (plan.version) {
      case ScanVersion::column:
        scan_columns<T><<<blocks, kScanThreads, 0, stream>>>(lines, n, starts, sx, sy, in.ptr<T>(),
                                                             out.ptr<T>(), reverse);
        break;
      case ScanVersion::warp:
        scan_lines<T, 32><<<blocks, kScanThreads, 0, stream>>>(lines, n, starts, sx, sy,
                                                               in.ptr<T>(), out.ptr<T>(), reverse);
        break;
      case ScanVersion::block:
        if constexpr (!kSerialScan<T>) {  // serial lines never get a block
          scan_lines<T, kScanThreads><<<blocks, kScanThreads, 0, stream>>>(
              lines, n, starts, sx, sy, in.ptr<T>(), out.ptr<T>(), reverse);
        }
        break;
    }
    SG_CUDA_CHECK_LAUNCH("cumsum");
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_scan() {
  using namespace kernels::gpu;
  register_kernel(OpId::cumsum, Backend::cuda, cuda_cumsum);
}

}  // namespace stackgrad
