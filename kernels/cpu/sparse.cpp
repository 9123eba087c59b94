// CPU kernels of the sparse family.
//
// Load balance: row-wise kernels (spmm, to_dense) split the rows into parts of equal work, where
// the work up to row r is r + crow[r] (a row costs its nonzeros plus a fixed overhead, the
// merge-path measure). A binary search over crow finds each part's first row, so the few heavy
// rows of a power-law graph do not leave threads idle the way an equal split of rows would.
// Per-nonzero kernels (sddmm, sparse_mask) split the nonzero range itself. Every output element
// is computed by one thread in a fixed order: results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/dispatch/registry.h"
#include "engine/runtime/parallel.h"
#include "kernels/cpu/vec_math.h"

namespace stackgrad::kernels {
namespace {

constexpr int64_t kSparseGrain = 32768;  // multiply-adds (or element moves) per part, at least

int64_t num_parts(int64_t work) {
  return std::clamp<int64_t>(work / kSparseGrain, 1, num_threads());
}

// The first row r with r + crow[r] >= target.
int64_t row_at_work(const int64_t* crow, int64_t rows, int64_t target) {
  int64_t lo = 0, hi = rows;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (mid + crow[mid] < target)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// The nonzeros name rows of the dense operand in an order no hardware prefetcher follows, so the
// gather is latency-bound. Requesting the row needed `distance` nonzeros ahead overlaps those
// misses (3-5x on one core, see docs/kernels/sparse.md); ~2 KiB ahead suits narrow and wide rows.
template <typename T>
inline void prefetch_row(const T* p, int64_t n) {
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t l = 0; l < n; l += kLine) __builtin_prefetch(p + l);
}

inline int64_t prefetch_distance(int64_t row_bytes) {
  return std::clamp<int64_t>(2048 / std::max<int64_t>(row_bytes, 1), 4, 16);
}

// Calls f(r0, r1) in parallel on row ranges of about equal rows + nonzeros.
template <typename F>
void for_balanced_rows(const int64_t* crow, int64_t rows, int64_t cost_per_unit, F&& f) {
  const int64_t total = rows + crow[rows];
  const int64_t parts = num_parts(total * std::max<int64_t>(cost_per_unit, 1));
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const int64_t r0 = row_at_work(crow, rows, total * p / parts);
      const int64_t r1 = row_at_work(crow, rows, total * (p + 1) / parts);
      if (r0 < r1) f(r0, r1);
    }
  });
}

// Calls f(e0, e1, row of e0) in parallel on equal slices of the nonzeros.
template <typename F>
void for_balanced_nonzeros(const int64_t* crow, int64_t rows, int64_t cost_per_unit, F&& f) {
  const int64_t nnz = crow[rows];
  const int64_t parts = num_parts(nnz * std::max<int64_t>(cost_per_unit, 1));
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const int64_t e0 = nnz * p / parts, e1 = nnz * (p + 1) / parts;
      if (e0 == e1) continue;
      // The last row starting at or before e0 is the one holding it (empty rows start there too).
      const int64_t row = std::upper_bound(crow, crow + rows + 1, e0) - crow - 1;
      f(e0, e1, row);
    }
  });
}

// --- spmm ----------------------------------------------------------------------------------------

// NV vectors (NV * kLanes columns from j0) of one output row held in registers while the row's
// nonzeros stream the matching pieces of X rows through: one load and one FMA per vector and
// nonzero (a tile kept in memory would also load and store the accumulator each time).
template <typename T, int NV>
inline void spmm_tile(const int64_t* ci, const T* v, int64_t e0, int64_t e1, int64_t last,
                      const T* xp, int64_t ldx, T* out, int64_t j0) {
  using V = vec::Vec<T>;
  constexpr int kL = vec::kLanes<T>;
  const int64_t ahead = prefetch_distance(NV * kL * static_cast<int64_t>(sizeof(T)));
  V acc[NV] = {};
  for (int64_t e = e0; e < e1; ++e) {
    if (e + ahead < last) prefetch_row(xp + ci[e + ahead] * ldx + j0, NV * kL);
    const V a = V{} + v[e];
    const T* xr = xp + ci[e] * ldx + j0;
    for (int k = 0; k < NV; ++k) {
      V x;
      std::memcpy(&x, xr + k * kL, sizeof(V));
      acc[k] += a * x;
    }
  }
  std::memcpy(out + j0, acc, sizeof(acc));
}

// Rows [r0, r1) of C = A X for unit-stride X and C: each row in tiles of 8, 4, 2 and 1 vectors
// (64/32/16/8 f32 columns), then a scalar tail. Narrow N (16) is one register tile per row;
// wide N (1433) walks the row's nonzeros once per 64-column tile, the X rows staying in L1/L2
// between tiles.
template <typename T>
void spmm_rows_unit(const int64_t* rp, const int64_t* ci, const T* v, const T* xp, int64_t ldx,
                    T* cp, int64_t ldc, int64_t n, int64_t r0, int64_t r1) {
  constexpr int kL = vec::kLanes<T>;
  const int64_t last = rp[r1];  // prefetches stay inside this part's nonzeros
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t e0 = rp[i], e1 = rp[i + 1];
    T* out = cp + i * ldc;
    int64_t j0 = 0;
    for (; j0 + 8 * kL <= n; j0 += 8 * kL) spmm_tile<T, 8>(ci, v, e0, e1, last, xp, ldx, out, j0);
    if (j0 + 4 * kL <= n) {
      spmm_tile<T, 4>(ci, v, e0, e1, last, xp, ldx, out, j0);
      j0 += 4 * kL;
    }
    if (j0 + 2 * kL <= n) {
      spmm_tile<T, 2>(ci, v, e0, e1, last, xp, ldx, out, j0);
      j0 += 2 * kL;
    }
    if (j0 + kL <= n) {
      spmm_tile<T, 1>(ci, v, e0, e1, last, xp, ldx, out, j0);
      j0 += kL;
    }
    for (int64_t j = j0; j < n; ++j) {
      T acc = 0;
      for (int64_t e = e0; e < e1; ++e) acc += v[e] * xp[ci[e] * ldx + j];
      out[j] = acc;
    }
  }
}

template <typename T>
void spmm_rows(const int64_t* rp, const int64_t* ci, const T* v, const TensorArg& x,
               const TensorArg& out, int64_t r0, int64_t r1) {
  const int64_t n = out.shape[1];
  const T* xp = x.ptr<T>();
  T* cp = out.ptr<T>();
  const int64_t sxk = x.strides[0], sxn = x.strides[1], som = out.strides[0], son = out.strides[1];
  const int64_t last = rp[r1];  // prefetches stay inside this part's nonzeros
  if (n == 1) {                 // spmv: a gathered dot product per row
    constexpr int64_t kAhead = 16;
    for (int64_t i = r0; i < r1; ++i) {
      T acc = 0;
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
        if (e + kAhead < last) __builtin_prefetch(xp + ci[e + kAhead] * sxk);
        acc += v[e] * xp[ci[e] * sxk];
      }
      cp[i * som] = acc;
    }
    return;
  }
  if (sxn == 1 && son == 1) {
    spmm_rows_unit(rp, ci, v, xp, sxk, cp, som, n, r0, r1);
    return;
  }
  for (int64_t i = r0; i < r1; ++i) {
    T* crow_out = cp + i * som;
    for (int64_t j = 0; j < n; ++j) crow_out[j * son] = 0;
    for (int64_t e = rp[i]; e < rp[i + 1]; ++e) {
      const T a = v[e];
      const T* xr = xp + ci[e] * sxk;
      for (int64_t j = 0; j < n; ++j) crow_out[j * son] += a * xr[j * sxn];
    }
  }
}

void cpu_spmm(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2], &x = c.in[3], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t rows = crow.numel - 1;
  SG_DISPATCH_FLOAT(val.dtype, "spmm", [&] {
    for_balanced_rows(rp, rows, out.shape[1], [&](int64_t r0, int64_t r1) {
      spmm_rows<scalar_t>(rp, col.ptr<int64_t>(), val.ptr<scalar_t>(), x, out, r0, r1);
    });
  });
}

// --- sddmm ---------------------------------------------------------------------------------------

// Eight partial sums combined in a fixed tree: vectorises without reassociating a single chain.
template <typename T>
T dot_unit(const T* __restrict a, const T* __restrict b, int64_t d) {
  T lane[8] = {};
  int64_t k = 0;
  for (; k + 8 <= d; k += 8)
    for (int l = 0; l < 8; ++l) lane[l] += a[k + l] * b[k + l];
  T tail = 0;
  for (; k < d; ++k) tail += a[k] * b[k];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])) +
         tail;
}

void cpu_sddmm(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &x = c.in[2], &y = c.in[3], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  const int64_t rows = crow.numel - 1, d = x.shape[1];
  SG_DISPATCH_FLOAT(x.dtype, "sddmm", [&] {
    const scalar_t* xp = x.ptr<scalar_t>();
    const scalar_t* yp = y.ptr<scalar_t>();
    const scalar_t* w = c.attrs.flag ? c.in[4].ptr<scalar_t>() : nullptr;
    scalar_t* o = out.ptr<scalar_t>();
    const bool unit = x.strides[1] == 1 && y.strides[1] == 1;
    const int64_t ahead = prefetch_distance(d * static_cast<int64_t>(sizeof(scalar_t)));
    for_balanced_nonzeros(rp, rows, d, [&](int64_t e0, int64_t e1, int64_t row) {
      for (int64_t e = e0; e < e1; ++e) {
        while (e >= rp[row + 1]) ++row;
        if (unit && e + ahead < e1) prefetch_row(yp + ci[e + ahead] * y.strides[0], d);
        const scalar_t* xr = xp + row * x.strides[0];
        const scalar_t* yr = yp + ci[e] * y.strides[0];
        scalar_t acc = 0;
        if (unit) {
          acc = dot_unit(xr, yr, d);
        } else {
          for (int64_t k = 0; k < d; ++k) acc += xr[k * x.strides[1]] * yr[k * y.strides[1]];
        }
        o[e] = w ? acc * w[e] : acc;
      }
    });
  });
}

// --- transpose -----------------------------------------------------------------------------------

// A parallel counting sort: each part counts the columns of its slice of nonzeros, one prefix
// over (column, part) gives every part its own write positions, then each part scatters. Parts
// are slices in row order, so each output row (an input column) lists its input rows sorted.
void cpu_sparse_transpose(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  int64_t* rp_t = c.out[0].ptr<int64_t>();
  int64_t* ci_t = c.out[1].ptr<int64_t>();
  const int64_t rows = crow.numel - 1, cols = c.out[0].numel - 1, nnz = col.numel;
  // Counting costs parts x cols; only split when the slices are long next to that.
  const int64_t parts =
      std::clamp<int64_t>(nnz / std::max<int64_t>(kSparseGrain, 4 * cols), 1, num_threads());
  std::vector<int64_t> next(parts * cols, 0);
  auto slice = [&](int64_t p) { return std::pair{nnz * p / parts, nnz * (p + 1) / parts}; };
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      auto [e0, e1] = slice(p);
      int64_t* count = next.data() + p * cols;
      for (int64_t e = e0; e < e1; ++e) ++count[ci[e]];
    }
  });
  int64_t running = 0;
  for (int64_t j = 0; j < cols; ++j) {
    rp_t[j] = running;
    for (int64_t p = 0; p < parts; ++p) {
      const int64_t n = next[p * cols + j];
      next[p * cols + j] = running;
      running += n;
    }
  }
  rp_t[cols] = running;
  SG_DISPATCH_FLOAT(val.dtype, "sparse_transpose", [&] {
    const scalar_t* v = val.ptr<scalar_t>();
    scalar_t* v_t = c.out[2].ptr<scalar_t>();
    parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) {
        auto [e0, e1] = slice(p);
        if (e0 == e1) continue;
        int64_t* pos = next.data() + p * cols;
        int64_t row = std::upper_bound(rp, rp + rows + 1, e0) - rp - 1;
        for (int64_t e = e0; e < e1; ++e) {
          while (e >= rp[row + 1]) ++row;
          const int64_t q = pos[ci[e]]++;
          ci_t[q] = row;
          v_t[q] = v[e];
        }
      }
    });
  });
}

// --- conversions ---------------------------------------------------------------------------------

void cpu_to_dense(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &val = c.in[2], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  const int64_t rows = crow.numel - 1, cols = out.shape[1];
  const int64_t som = out.strides[0], son = out.strides[1];
  SG_DISPATCH_FLOAT(val.dtype, "to_dense", [&] {
    const scalar_t* v = val.ptr<scalar_t>();
    scalar_t* o = out.ptr<scalar_t>();
    // Zero-filling the rows dominates, so the rows are split evenly.
    parallel_for(0, rows, std::max<int64_t>(1, kSparseGrain / std::max<int64_t>(cols, 1)),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t i = r0; i < r1; ++i) {
                     scalar_t* orow = o + i * som;
                     if (son == 1)
                       std::fill(orow, orow + cols, scalar_t(0));
                     else
                       for (int64_t j = 0; j < cols; ++j) orow[j * son] = 0;
                     for (int64_t e = rp[i]; e < rp[i + 1]; ++e) orow[ci[e] * son] = v[e];
                   }
                 });
  });
}

void cpu_sparse_mask(const KernelCall& c) {
  const TensorArg &crow = c.in[0], &col = c.in[1], &x = c.in[2], &out = c.out[0];
  const int64_t* rp = crow.ptr<int64_t>();
  const int64_t* ci = col.ptr<int64_t>();
  const int64_t rows = crow.numel - 1;
  SG_DISPATCH_FLOAT(x.dtype, "sparse_mask", [&] {
    const scalar_t* xp = x.ptr<scalar_t>();
    scalar_t* o = out.ptr<scalar_t>();
    for_balanced_nonzeros(rp, rows, 1, [&](int64_t e0, int64_t e1, int64_t row) {
      for (int64_t e = e0; e < e1; ++e) {
        while (e >= rp[row + 1]) ++row;
        o[e] = xp[row * x.strides[0] + ci[e] * x.strides[1]];
      }
    });
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_sparse() {
  using namespace kernels;
  register_kernel(OpId::spmm, Backend::cpu, cpu_spmm);
  register_kernel(OpId::sddmm, Backend::cpu, cpu_sddmm);
  register_kernel(OpId::sparse_transpose, Backend::cpu, cpu_sparse_transpose);
  register_kernel(OpId::to_dense, Backend::cpu, cpu_to_dense);
  register_kernel(OpId::sparse_mask, Backend::cpu, cpu_sparse_mask);
}
}  // namespace stackgrad
