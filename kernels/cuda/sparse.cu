// CUDA kernels of the sparse family (the CPU versions are in kernels/cpu/sparse.cpp): spmm,
// sddmm, sparse_transpose, to_dense and sparse_mask. CSR arguments arrive as (crow i64
// [rows + 1], col i64 [nnz], values [nnz]); dense operands through their strides.
//
// SpMM comes in three versions, chosen per call by choose_spmm_version (sparse_plan.h, unit-tested
// on the CPU) from the rows, the nonzeros, the longest row and the dense columns N:
//   - thread per row: one thread per output element walks its row's nonzeros; for N <= 8 (spmv
//     is N = 1), where a warp per row would leave most lanes idle;
//   - warp per row: lanes across a tile of 32 x W columns (W = 4 or 2 consecutive columns loaded
//     as one vector when X and C allow it, else 1 column per lane through the strides); the lanes
//     load 32 (column, value) pairs of the row at once and pass them round with shuffles;
//   - merge path: rows + nonzeros cut into equal parts (merge_path_search, the same code the
//     CPU test checks), one warp per part. A part writes the rows it finishes; the partial sum
//     of the row it ends inside goes to a carry buffer [parts, N], and a second kernel adds each
//     row's carries, in part order, to what the finishing part wrote. For power-law graphs,
//     whose hub rows would keep one warp busy long after the rest are done.
// Every sum runs in a fixed order (nonzeros in order, carries in part order) with fused
// multiply-adds: no float atomics, the same bits on every run. The thread and warp versions give
// the same bits; merge path differs from them only in the rows that span parts.
//
// The longest row is measured on the device once per pattern (a max-reduction kernel and a
// copy back) and remembered by the address, rows and nonzeros of crow: a different pattern at a
// recycled address with the same sizes reuses a stale length, which can only change the version
// (each version is correct), never the result's validity.
//
// sparse_transpose is a stable sort by column: cub's radix sort of (column, position) pairs over
// the bits that columns use, then a gather of rows and values through the sorted positions and
// a binary search per output row for its start. Positions with equal columns stay in order, so
// each output row lists its input rows sorted, as on the CPU. The spmm backward (A^T G) runs this
// once per pattern (the op layer caches the permutation) and one gather of the values per step,
// then a normal SpMM.
//
// sddmm: a thread per nonzero for D < 16, else a warp per nonzero with lanes across D and an
// xor-butterfly sum. to_dense zero-fills and then scatters one thread per nonzero; sparse_mask
// gathers one thread per nonzero.
#include <array>
#include <cub/device/device_radix_sort.cuh>
#include <mutex>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/sparse_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpsPerBlock = kThreads / 32;

template <typename T>
__device__ __forceinline__ T madd(T a, T b, T c) {
  if constexpr (sizeof(T) == 4)
    return fmaf(a, b, c);
  else
    return fma(a, b, c);
}

__device__ __forceinline__ int64_t global_thread() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_count() { return int64_t(gridDim.x) * blockDim.x; }

// The row holding nonzero e (0 <= e < crow[rows]): the last r with crow[r] <= e, so empty rows
// that start at e are passed over.
__device__ __forceinline__ int64_t row_of(const int64_t* crow, int64_t rows, int64_t e) {
  int64_t lo = 0, hi = rows + 1;  // first index of crow[0..rows] greater than e
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (crow[mid] <= e)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo - 1;
}

// A device buffer from the caching allocator, returned when the call ends. Work queued on the
// device's stream that uses it is ordered before any later use of the same memory.
class DeviceBuffer {
 public:
  DeviceBuffer(int device, size_t bytes)
      : device_(device), p_(bytes ? cuda_alloc(device, bytes) : nullptr) {}
  ~DeviceBuffer() {
    if (p_) cuda_free(device_, p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  int device_;
  void* p_;
};

// --- spmm ----------------------------------------------------------------------------------------

template <typename T>
struct SpmmArgs {
  const int64_t* crow;
  const int64_t* col;
  const T* val;
  int64_t sv;  // values stride
  const T* x;
  int64_t sxk, sxn;
  T* c;
  int64_t scm, scn;
  int64_t rows, n;
};

template <typename T>
__global__ void spmm_thread_rows(SpmmArgs<T> a) {
  const int64_t total = a.rows * a.n;
  for (int64_t idx = global_thread(); idx < total; idx += thread_count()) {
    const int64_t i = idx / a.n, j = idx - i * a.n;
    const T* xj = a.x + j * a.sxn;
    T acc = 0;
    for (int64_t e = a.crow[i]; e < a.crow[i + 1]; ++e)
      acc = madd(a.val[e * a.sv], xj[a.col[e] * a.sxk], acc);
    a.c[i * a.scm + j * a.scn] = acc;
  }
}

// acc += val[e] * X[col[e], the lane's columns] for e in [e0, e1), in order of e. The lanes load
// 32 (column, value) pairs at once and broadcast them with shuffles. e0 and e1 are the same in
// every lane (one row or part per warp), so all 32 lanes run every full-mask shuffle; lanes whose
// columns are past N (`active` false) only skip the loads of X.
template <typename T, int W>
__device__ __forceinline__ void accumulate(const SpmmArgs<T>& a, int64_t e0, int64_t e1, int lane,
                                           int64_t col0, bool active, T (&acc)[W]) {
  for (int64_t base = e0; base < e1; base += 32) {
    const int64_t mine = base + lane;
    int64_t my_col = 0;
    T my_val = 0;
    if (mine < e1) {
      my_col = a.col[mine];
      my_val = a.val[mine * a.sv];
    }
    const int count = static_cast<int>(e1 - base < 32 ? e1 - base : 32);
#pragma unroll 4
    for (int k = 0; k < count; ++k) {
      const int64_t xc = __shfl_sync(kFullMask, my_col, k);
      const T v = __shfl_sync(kFullMask, my_val, k);
      if (!active) continue;
      if constexpr (W == 1) {
        acc[0] = madd(v, a.x[xc * a.sxk + col0 * a.sxn], acc[0]);
      } else {
        const Pack<T, W> xv = *reinterpret_cast<const Pack<T, W>*>(a.x + xc * a.sxk + col0);
#pragma unroll
        for (int q = 0; q < W; ++q) acc[q] = madd(v, xv.v[q], acc[q]);
      }
    }
  }
}

// Stores a lane's W columns at p (element stride s when W == 1; unit stride and aligned else).
template <typename T, int W>
__device__ __forceinline__ void store_cols(T* p, int64_t s, const T (&acc)[W]) {
  if constexpr (W == 1) {
    (void)s;
    p[0] = acc[0];
  } else {
    Pack<T, W> out;
#pragma unroll
    for (int q = 0; q < W; ++q) out.v[q] = acc[q];
    *reinterpret_cast<Pack<T, W>*>(p) = out;
  }
}

// The first column of a lane in the tile starting at c0: W consecutive columns per lane, or
// every 32nd column (W == 1).
template <int W>
__device__ __forceinline__ int64_t lane_col(int64_t c0, int lane) {
  return c0 + int64_t(lane) * W;
}

template <typename T, int W>
__global__ void spmm_warp_rows(SpmmArgs<T> a) {
  constexpr int64_t kTile = 32 * W;
  const int lane = threadIdx.x % 32;
  const int64_t warps = thread_count() / 32;
  // The row index is the same in all lanes of a warp (blockDim is a multiple of 32).
  for (int64_t i = global_thread() / 32; i < a.rows; i += warps) {
    const int64_t e0 = a.crow[i], e1 = a.crow[i + 1];
    for (int64_t c0 = 0; c0 < a.n; c0 += kTile) {
      const int64_t col0 = lane_col<W>(c0, lane);
      const bool active = col0 < a.n;  // W > 1 divides N: the whole vector is in range
      T acc[W] = {};
      accumulate<T, W>(a, e0, e1, lane, col0, active, acc);
      if (active) store_cols<T, W>(a.c + i * a.scm + col0 * a.scn, a.scn, acc);
    }
  }
}

template <typename T, int W>
__global__ void spmm_merge_parts(SpmmArgs<T> a, int64_t nnz, MergeSplit split, T* carry,
                                 int64_t* carry_row) {
  constexpr int64_t kTile = 32 * W;
  const int lane = threadIdx.x % 32;
  const int64_t warps = thread_count() / 32;
  for (int64_t p = global_thread() / 32; p < split.parts; p += warps) {
    const MergeCoord s = merge_part_start(p, split.items_per_part, a.crow, a.rows, nnz);
    const MergeCoord t = merge_part_start(p + 1, split.items_per_part, a.crow, a.rows, nnz);
    T* carry_p = carry + p * a.n;  // [parts, N], contiguous
    for (int64_t c0 = 0; c0 < a.n; c0 += kTile) {
      const int64_t col0 = lane_col<W>(c0, lane);
      const bool active = col0 < a.n;
      int64_t j = s.nz;                          // crow[s.row] <= s.nz <= crow[s.row + 1]
      for (int64_t i = s.row; i < t.row; ++i) {  // rows that end in this part
        const int64_t end = a.crow[i + 1];
        T acc[W] = {};
        accumulate<T, W>(a, j, end, lane, col0, active, acc);
        if (active) store_cols<T, W>(a.c + i * a.scm + col0 * a.scn, a.scn, acc);
        j = end;
      }
      T acc[W] = {};  // the start of row t.row, finished by a later part
      accumulate<T, W>(a, j, t.nz, lane, col0, active, acc);
      if (active) store_cols<T, W>(carry_p + col0, 1, acc);
    }
    if (lane == 0) carry_row[p] = t.row < a.rows ? t.row : -1;
  }
}

// Adds each row's carries to it. The parts ending inside a row are consecutive; the first of
// them sums the run in part order, so each output element is written by one thread.
template <typename T>
__global__ void spmm_merge_fixup(SpmmArgs<T> a, int64_t parts, const T* carry,
                                 const int64_t* carry_row) {
  const int64_t total = parts * a.n;
  for (int64_t idx = global_thread(); idx < total; idx += thread_count()) {
    const int64_t p = idx / a.n, j = idx - p * a.n;
    const int64_t r = carry_row[p];
    if (r < 0 || (p > 0 && carry_row[p - 1] == r)) continue;
    T sum = carry[p * a.n + j];
    for (int64_t q = p + 1; q < parts && carry_row[q] == r; ++q) sum += carry[q * a.n + j];
    T* out = a.c + r * a.scm + j * a.scn;
    *out = *out + sum;
  }
}

__global__ void max_row_nnz_kernel(const int64_t* crow, int64_t rows, unsigned long long* out) {
  int64_t m = 0;
  for (int64_t i = global_thread(); i < rows; i += thread_count())
    m = crow[i + 1] - crow[i] > m ? crow[i + 1] - crow[i] : m;
    // Every thread leaves the loop before the butterfly: all lanes take part.
#pragma unroll
  for (int d = 16; d > 0; d /= 2) {
    const int64_t other = __shfl_xor_sync(kFullMask, m, d);
    m = other > m ? other : m;
  }
  if (threadIdx.x % 32 == 0) atomicMax(out, static_cast<unsigned long long>(m));  // integers
}

// The longest row of the pattern at crow, measured once per (device, address, rows, nnz).
int64_t max_row_nnz(const int64_t* crow, int64_t rows, int64_t nnz) {
  struct Entry {
    int device;
    const int64_t* crow;
    int64_t rows, nnz, max_row;
  };
  static std::mutex& mutex = *new std::mutex;
  static std::array<Entry, 16>& cache = *new std::array<Entry, 16>{};
  static size_t next = 0;
  const int device = cuda_current_device();
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const Entry& e : cache)
      if (e.crow == crow && e.device == device && e.rows == rows && e.nnz == nnz) return e.max_row;
  }
  cudaStream_t stream = current_stream();
  DeviceBuffer out(device, sizeof(unsigned long long));
  SG_CUDA_CHECK(cudaMemsetAsync(out.as<void>(), 0, sizeof(unsigned long long), stream));
  max_row_nnz_kernel<<<blocks_for(rows), kThreads, 0, stream>>>(crow, rows,
                                                                out.as<unsigned long long>());
  SG_CUDA_CHECK_LAUNCH("max_row_nnz_kernel");
  unsigned long long host = 0;
  SG_CUDA_CHECK(
      cudaMemcpyAsync(&host, out.as<void>(), sizeof(host), cudaMemcpyDeviceToHost, stream));
  SG_CUDA_CHECK(cudaStreamSynchronize(stream));
  const int64_t max_row = static_cast<int64_t>(host);
  std::lock_guard<std::mutex> lock(mutex);
  cache[next] = {device, crow, rows, nnz, max_row};
  next = (next + 1) % cache.size();
  return max_row;
}

template <typename T, int W>
void launch_spmm(SpmmVersion version, const SpmmArgs<T>& a, int64_t nnz) {
  cudaStream_t stream = current_stream();
  if (version == SpmmVersion::warp_per_row) {
    spmm_warp_rows<T, W><<<blocks_for(a.rows, kWarpsPerBlock), kThreads, 0, stream>>>(a);
    SG_CUDA_CHECK_LAUNCH("spmm_warp_rows");
    return;
  }
  const MergeSplit split = merge_split(a.rows, nnz);
  const int device = cuda_current_device();
  DeviceBuffer carry(device, static_cast<size_t>(split.parts * a.n) * sizeof(T));
  DeviceBuffer carry_row(device, static_cast<size_t>(split.parts) * sizeof(int64_t));
  spmm_merge_parts<T, W><<<blocks_for(split.parts, kWarpsPerBlock), kThreads, 0, stream>>>(
      a, nnz, split, carry.as<T>(), carry_row.as<int64_t>());
  SG_CUDA_CHECK_LAUNCH("spmm_merge_parts");
  spmm_merge_fixup<T><<<blocks_for(split.parts * a.n), kThreads, 0, stream>>>(
      a, split.parts, carry.as<T>(), carry_row.as<int64_t>());
  SG_CUDA_CHECK_LAUNCH("spmm_merge_fixup");
}

// Runs one SpMM version; `version` none does nothing. Exposed to the lab through spmm_cuda_run.
template <typename T>
void run_spmm(SpmmVersion version, const SpmmArgs<T>& a, int64_t nnz) {
  if (version == SpmmVersion::none || a.rows == 0 || a.n == 0) return;
  if (version == SpmmVersion::thread_per_row) {
    spmm_thread_rows<T><<<blocks_for(a.rows * a.n), kThreads, 0, current_stream()>>>(a);
    SG_CUDA_CHECK_LAUNCH("spmm_thread_rows");
    return;
  }
  const int width =
      spmm_lane_width({a.n, static_cast<int64_t>(sizeof(T)), a.sxk, a.sxn, a.scm, a.scn,
                       reinterpret_cast<uintptr_t>(a.x), reinterpret_cast<uintptr_t>(a.c)});
  if constexpr (sizeof(T) == 4) {
    if (width == 4) return launch_spmm<T, 4>(version, a, nnz);
  }
  if (width == 2) return launch_spmm<T, 2>(version, a, nnz);
  launch_spmm<T, 1>(version, a, nnz);
}

template <typename T>
SpmmArgs<T> spmm_args(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2], &x = c.in[3], &out = c.out[0];
  return {crow.ptr<int64_t>(), col.ptr<int64_t>(), val.ptr<T>(),   val.strides[0],
          x.ptr<T>(),          x.strides[0],       x.strides[1],   out.ptr<T>(),
          out.strides[0],      out.strides[1],     crow.numel - 1, out.shape[1]};
}

void cuda_spmm(const KernelCall& c) {
  const int64_t rows = c.in[0].numel - 1, nnz = c.in[1].numel, n = c.out[0].shape[1];
  SG_DISPATCH_FLOAT(c.in[2].dtype, "spmm", [&] {
    const SpmmArgs<scalar_t> a = spmm_args<scalar_t>(c);
    SpmmShape shape{rows, nnz, 0, n};
    // The longest row matters only where a hub could be: rows long enough on average to hold one.
    if (rows > 0 && n > 0 && nnz >= kSkewMinRow) shape.max_row_nnz = max_row_nnz(a.crow, rows, nnz);
    run_spmm<scalar_t>(choose_spmm_version(shape), a, nnz);
  });
}

// --- sddmm ---------------------------------------------------------------------------------------

template <typename T>
struct SddmmArgs {
  const int64_t* crow;
  const int64_t* col;
  const T* x;
  int64_t sx0, sx1;
  const T* y;
  int64_t sy0, sy1;
  const T* w;  // null: unscaled
  int64_t sw;
  T* out;
  int64_t rows, nnz, d;
};

template <typename T>
__global__ void sddmm_thread_nonzeros(SddmmArgs<T> a) {
  for (int64_t e = global_thread(); e < a.nnz; e += thread_count()) {
    const int64_t row = row_of(a.crow, a.rows, e);
    const T* xr = a.x + row * a.sx0;
    const T* yr = a.y + a.col[e] * a.sy0;
    T acc = 0;
    for (int64_t k = 0; k < a.d; ++k) acc = madd(xr[k * a.sx1], yr[k * a.sy1], acc);
    a.out[e] = a.w ? acc * a.w[e * a.sw] : acc;
  }
}

template <typename T>
__global__ void sddmm_warp_nonzeros(SddmmArgs<T> a) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = thread_count() / 32;
  // e is the same in all lanes of a warp: every lane reaches the full-mask butterfly.
  for (int64_t e = global_thread() / 32; e < a.nnz; e += warps) {
    const int64_t row = row_of(a.crow, a.rows, e);
    const T* xr = a.x + row * a.sx0;
    const T* yr = a.y + a.col[e] * a.sy0;
    T acc = 0;
    for (int64_t k = lane; k < a.d; k += 32) acc = madd(xr[k * a.sx1], yr[k * a.sy1], acc);
#pragma unroll
    for (int s = 16; s > 0; s /= 2) acc += __shfl_xor_sync(kFullMask, acc, s);
    if (lane == 0) a.out[e] = a.w ? acc * a.w[e * a.sw] : acc;
  }
}

void cuda_sddmm(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &x = c.in[2], &y = c.in[3], &out = c.out[0];
  const int64_t nnz = col.numel;
  if (nnz == 0) return;
  SG_DISPATCH_FLOAT(x.dtype, "sddmm", [&] {
    using T = scalar_t;
    const bool scaled = c.attrs.flag;
    const SddmmArgs<T> a{crow.ptr<int64_t>(),
                         col.ptr<int64_t>(),
                         x.ptr<T>(),
                         x.strides[0],
                         x.strides[1],
                         y.ptr<T>(),
                         y.strides[0],
                         y.strides[1],
                         scaled ? c.in[4].ptr<T>() : nullptr,
                         scaled ? c.in[4].strides[0] : 0,
                         out.ptr<T>(),
                         crow.numel - 1,
                         nnz,
                         x.shape[1]};
    cudaStream_t stream = current_stream();
    if (sddmm_warp_per_nonzero(a.d)) {
      sddmm_warp_nonzeros<T><<<blocks_for(nnz, kWarpsPerBlock), kThreads, 0, stream>>>(a);
      SG_CUDA_CHECK_LAUNCH("sddmm_warp_nonzeros");
    } else {
      sddmm_thread_nonzeros<T><<<blocks_for(nnz), kThreads, 0, stream>>>(a);
      SG_CUDA_CHECK_LAUNCH("sddmm_thread_nonzeros");
    }
  });
}

// --- transpose -----------------------------------------------------------------------------------

__global__ void iota_kernel(int64_t* p, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += thread_count()) p[i] = i;
}

// crow_t[c] = the number of sorted columns below c, for c in [0, cols] (cols gives nnz).
__global__ void transpose_row_starts(const unsigned long long* sorted_cols, int64_t nnz,
                                     int64_t cols, int64_t* crow_t) {
  for (int64_t c = global_thread(); c <= cols; c += thread_count()) {
    int64_t lo = 0, hi = nnz;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (static_cast<int64_t>(sorted_cols[mid]) < c)
        lo = mid + 1;
      else
        hi = mid;
    }
    crow_t[c] = lo;
  }
}

template <typename T>
__global__ void transpose_gather(const int64_t* crow, int64_t rows, const T* val, int64_t sv,
                                 const int64_t* perm, int64_t nnz, int64_t* col_t, T* val_t) {
  for (int64_t q = global_thread(); q < nnz; q += thread_count()) {
    const int64_t e = perm[q];
    col_t[q] = row_of(crow, rows, e);
    val_t[q] = val[e * sv];
  }
}

void cuda_sparse_transpose(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2];
  const int64_t rows = crow.numel - 1, cols = c.out[0].numel - 1, nnz = col.numel;
  const int device = cuda_current_device();
  cudaStream_t stream = current_stream();
  DeviceBuffer sorted_cols(device, static_cast<size_t>(nnz) * sizeof(unsigned long long));
  DeviceBuffer positions(device, static_cast<size_t>(nnz) * sizeof(int64_t));
  DeviceBuffer perm(device, static_cast<size_t>(nnz) * sizeof(int64_t));
  if (nnz > 0) {
    iota_kernel<<<blocks_for(nnz), kThreads, 0, stream>>>(positions.as<int64_t>(), nnz);
    SG_CUDA_CHECK_LAUNCH("iota_kernel");
    int end_bit = 1;  // the bits a column index in [0, cols) uses
    while (end_bit < 63 && (int64_t{1} << end_bit) < cols) ++end_bit;
    // Columns are non-negative, so their bits read the same as unsigned keys.
    const auto* keys_in = reinterpret_cast<const unsigned long long*>(col.ptr<int64_t>());
    size_t temp_bytes = 0;
    SG_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        nullptr, temp_bytes, keys_in, sorted_cols.as<unsigned long long>(), positions.as<int64_t>(),
        perm.as<int64_t>(), nnz, 0, end_bit, stream));
    DeviceBuffer temp(device, temp_bytes);
    SG_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        temp.as<void>(), temp_bytes, keys_in, sorted_cols.as<unsigned long long>(),
        positions.as<int64_t>(), perm.as<int64_t>(), nnz, 0, end_bit, stream));
  }
  transpose_row_starts<<<blocks_for(cols + 1), kThreads, 0, stream>>>(
      sorted_cols.as<unsigned long long>(), nnz, cols, c.out[0].ptr<int64_t>());
  SG_CUDA_CHECK_LAUNCH("transpose_row_starts");
  if (nnz == 0) return;
  SG_DISPATCH_FLOAT(val.dtype, "sparse_transpose", [&] {
    transpose_gather<scalar_t><<<blocks_for(nnz), kThreads, 0, stream>>>(
        crow.ptr<int64_t>(), rows, val.ptr<scalar_t>(), val.strides[0], perm.as<int64_t>(), nnz,
        c.out[1].ptr<int64_t>(), c.out[2].ptr<scalar_t>());
    SG_CUDA_CHECK_LAUNCH("transpose_gather");
  });
}

// --- conversions ---------------------------------------------------------------------------------

template <typename T>
__global__ void zero_fill_2d(T* out, int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  const int64_t total = rows * cols;
  for (int64_t idx = global_thread(); idx < total; idx += thread_count()) {
    const int64_t i = idx / cols, j = idx - i * cols;
    out[i * s0 + j * s1] = T(0);
  }
}

// Each nonzero owns its (row, column): distinct positions, no two threads write one element.
template <typename T>
__global__ void scatter_nonzeros(const int64_t* crow, const int64_t* col, const T* val, int64_t sv,
                                 int64_t rows, int64_t nnz, T* out, int64_t s0, int64_t s1) {
  for (int64_t e = global_thread(); e < nnz; e += thread_count())
    out[row_of(crow, rows, e) * s0 + col[e] * s1] = val[e * sv];
}

template <typename T>
__global__ void gather_nonzeros(const int64_t* crow, const int64_t* col, const T* x, int64_t s0,
                                int64_t s1, int64_t rows, int64_t nnz, T* out) {
  for (int64_t e = global_thread(); e < nnz; e += thread_count())
    out[e] = x[row_of(crow, rows, e) * s0 + col[e] * s1];
}

void cuda_to_dense(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2], &out = c.out[0];
  const int64_t rows = out.shape[0], cols = out.shape[1], nnz = col.numel;
  if (rows * cols == 0) return;
  SG_DISPATCH_FLOAT(val.dtype, "to_dense", [&] {
    using T = scalar_t;
    cudaStream_t stream = current_stream();
    zero_fill_2d<T><<<blocks_for(rows * cols), kThreads, 0, stream>>>(
        out.ptr<T>(), rows, cols, out.strides[0], out.strides[1]);
    SG_CUDA_CHECK_LAUNCH("zero_fill_2d");
    if (nnz == 0) return;
    scatter_nonzeros<T><<<blocks_for(nnz), kThreads, 0, stream>>>(
        crow.ptr<int64_t>(), col.ptr<int64_t>(), val.ptr<T>(), val.strides[0], rows, nnz,
        out.ptr<T>(), out.strides[0], out.strides[1]);
    SG_CUDA_CHECK_LAUNCH("scatter_nonzeros");
  });
}

void cuda_sparse_mask(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &x = c.in[2], &out = c.out[0];
  const int64_t nnz = col.numel;
  if (nnz == 0) return;
  SG_DISPATCH_FLOAT(x.dtype, "sparse_mask", [&] {
    gather_nonzeros<scalar_t><<<blocks_for(nnz), kThreads, 0, current_stream()>>>(
        crow.ptr<int64_t>(), col.ptr<int64_t>(), x.ptr<scalar_t>(), x.strides[0], x.strides[1],
        crow.numel - 1, nnz, out.ptr<scalar_t>());
    SG_CUDA_CHECK_LAUNCH("gather_nonzeros");
  });
}

}  // namespace

// The lab's entry point (kernels/lab/spmm/spmm_cuda_lab.cu): one SpMM version on raw device
// pointers, contiguous X [K, N] and C [M, N], on the current device's stream.
template <typename T>
void spmm_cuda_run(SpmmVersion version, const int64_t* crow, const int64_t* col, const T* val,
                   int64_t rows, int64_t nnz, const T* x, int64_t n, T* c) {
  run_spmm<T>(version, {crow, col, val, 1, x, n, 1, c, n, 1, rows, n}, nnz);
}
template void spmm_cuda_run<float>(SpmmVersion, const int64_t*, const int64_t*, const float*,
                                   int64_t, int64_t, const float*, int64_t, float*);
template void spmm_cuda_run<double>(SpmmVersion, const int64_t*, const int64_t*, const double*,
                                    int64_t, int64_t, const double*, int64_t, double*);

// The version cuda_spmm would choose for this pattern (measures the longest row).
SpmmVersion spmm_cuda_choice(const int64_t* crow, int64_t rows, int64_t nnz, int64_t n) {
  SpmmShape shape{rows, nnz, 0, n};
  if (rows > 0 && n > 0 && nnz >= kSkewMinRow) shape.max_row_nnz = max_row_nnz(crow, rows, nnz);
  return choose_spmm_version(shape);
}

}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_sparse() {
  using namespace kernels::gpu;
  register_kernel(OpId::spmm, Backend::cuda, cuda_spmm);
  register_kernel(OpId::sddmm, Backend::cuda, cuda_sddmm);
  register_kernel(OpId::sparse_transpose, Backend::cuda, cuda_sparse_transpose);
  register_kernel(OpId::to_dense, Backend::cuda, cuda_to_dense);
  register_kernel(OpId::sparse_mask, Backend::cuda, cuda_sparse_mask);
}

}  // namespace stackgrad
