// CUDA reductions: sum, prod, max, min, argmax, argmin, var, norm (p = 1, 2, inf) and logsumexp
// (mean is sum / n in the op layer).
//
// The op layer permutes the reduced dims last (attrs.k of them) and passes a contiguous output
// over the kept dims, so the input is `outer` rows of `inner` elements, both strided; each side
// is coalesced like the elementwise loops. A task reduces a run of one row: its threads
// (a warp, or a 256-thread block for long runs) each fold every TPR-th element in order into a
// private accumulator, then combine by warp shuffles (__shfl_down_sync, a fixed tree) and, in a
// block, through shared memory in warp order. No atomics: the result depends only on the
// shape, never on timing, so it is the same bits on every run.
//
// Long reductions with few rows (a full sum of a large tensor) would leave the GPU nearly idle
// with one task per row, so each row is cut into `chunks` runs (two-pass): pass 1 writes one
// partial accumulator per (row, chunk), pass 2 reduces each row's partials in chunk order. The
// chunking depends only on the shape.
//
// Reductions over a strided run whose outputs are neighbours in memory (sum over dim 0 of a
// row-major matrix) take the column version instead (reduce_columns, plan in reduce_plan.h):
// 32 neighbouring outputs per block, so a warp's loads coalesce, 8 slices per output.
//
// Accumulators follow the CPU kernels: f32 and f64 sums and products in double (H100's FP64
// rate keeps a memory-bound reduction memory-bound; a consumer GPU would want a float path),
// integer sums and products in uint64 (wrapping modulo 2^64 like the reference). max/min and
// the arg versions propagate NaN like the reference: any NaN wins, and argmax/argmin return
// the first index of the extreme value (ties and NaNs broken by the smaller index).
#include <cfloat>
#include <cmath>
#include <limits>
#include <type_traits>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/reduce_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

template <typename T>
__device__ __forceinline__ bool nan_of(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return isnan(v);
  else
    return false;
}

template <typename T>
__device__ __forceinline__ T lowest_of() {
  if constexpr (std::is_floating_point_v<T>)
    return -std::numeric_limits<T>::infinity();
  else
    return std::numeric_limits<T>::lowest();
}
template <typename T>
__device__ __forceinline__ T highest_of() {
  if constexpr (std::is_floating_point_v<T>)
    return std::numeric_limits<T>::infinity();
  else
    return std::numeric_limits<T>::max();
}

template <typename T>
using wrap_t = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

// --- ops: Acc init(), Acc lift(T value, int64 index), Acc combine(Acc earlier, Acc later) ------

template <typename T>
struct SumOp {
  using Acc = wrap_t<T>;
  using Out = T;
  __device__ static Acc init() { return Acc(0); }
  __device__ static Acc lift(T x, int64_t) { return static_cast<Acc>(x); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static Out finish(Acc a) { return static_cast<Out>(a); }
};

template <typename T>
struct ProdOp {
  using Acc = wrap_t<T>;
  using Out = T;
  __device__ static Acc init() { return Acc(1); }
  __device__ static Acc lift(T x, int64_t) { return static_cast<Acc>(x); }
  __device__ static Acc combine(Acc a, Acc b) { return a * b; }
  __device__ static Out finish(Acc a) { return static_cast<Out>(a); }
};

template <typename T, bool kMax>
struct ExtremumOp {
  using Acc = T;
  using Out = T;
  __device__ static Acc init() { return kMax ? lowest_of<T>() : highest_of<T>(); }
  __device__ static Acc lift(T x, int64_t) { return x; }
  __device__ static Acc combine(Acc a, Acc b) {
    if (nan_of(a)) return a;
    if (nan_of(b)) return b;
    return (kMax ? b > a : b < a) ? b : a;
  }
  __device__ static Out finish(Acc a) { return a; }
};

template <typename T>
struct ArgAcc {
  T v;
  int64_t i;
};

template <typename T, bool kMax>
struct ArgExtremumOp {
  using Acc = ArgAcc<T>;
  using Out = int64_t;
  // The init's index loses every tie, so a row of -inf (for argmax) still answers its first index.
  __device__ static Acc init() {
    return {kMax ? lowest_of<T>() : highest_of<T>(), std::numeric_limits<int64_t>::max()};
  }
  __device__ static Acc lift(T x, int64_t i) { return {x, i}; }
  __device__ static Acc combine(Acc a, Acc b) {
    const bool na = nan_of(a.v), nb = nan_of(b.v);
    if (na || nb) {
      if (na && nb) return a.i < b.i ? a : b;
      return na ? a : b;
    }
    if (kMax ? b.v > a.v : b.v < a.v) return b;
    if (b.v == a.v && b.i < a.i) return b;
    return a;
  }
  __device__ static Out finish(Acc a) { return a.i; }
};

// norm with p = 1, 2 or infinity (kP 0), as the reference: sums in double, NaN propagates.
template <typename T, int kP>
struct NormOp {
  using Acc = double;
  using Out = T;
  __device__ static Acc init() { return 0.0; }
  __device__ static Acc lift(T x, int64_t) {
    const double a = fabs(static_cast<double>(x));
    return kP == 2 ? a * a : a;
  }
  __device__ static Acc combine(Acc a, Acc b) {
    if constexpr (kP == 0) {
      if (isnan(a)) return a;
      if (isnan(b)) return b;
      return b > a ? b : a;
    } else {
      return a + b;
    }
  }
  __device__ static Out finish(Acc a) { return static_cast<Out>(kP == 2 ? sqrt(a) : a); }
};

// logsumexp as a running (max m, sum s of exp(x - m)) pair, merged by rescaling to the larger
// maximum; the reference computes m first, then the sum. Special values as the reference: any
// NaN gives NaN, any +inf gives +inf, all -inf gives -inf.
struct LseAcc {
  double m, s;
};
constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename T>
struct LogSumExpOp {
  using Acc = LseAcc;
  using Out = T;
  __device__ static Acc init() { return {-kInf, 0.0}; }
  __device__ static Acc lift(T x, int64_t) { return {static_cast<double>(x), 1.0}; }
  __device__ static Acc combine(Acc a, Acc b) {
    if (isnan(a.m)) return a;
    if (isnan(b.m)) return b;
    if (a.m == -kInf) return b;
    if (b.m == -kInf) return a;
    if (isinf(a.m) || isinf(b.m)) return {kInf, 1.0};  // +inf wins
    const double m = a.m > b.m ? a.m : b.m;
    return {m, a.s * exp(a.m - m) + b.s * exp(b.m - m)};
  }
  __device__ static Out finish(Acc a) {
    if (isnan(a.m) || isinf(a.m)) return static_cast<Out>(a.m);
    return static_cast<Out>(a.m + log(a.s));
  }
};

// var: (count, mean, sum of squared deviations) merged with Chan et al.'s pairwise update,
// in double; the reference computes the mean first, then the squared deviations. The result is
// m2 / (n - correction), with correction = attrs.alpha (n <= correction gives inf or NaN, as
// in the reference).
struct VarAcc {
  double n, mean, m2;
};

template <typename T>
struct VarOp {
  using Acc = VarAcc;
  using Out = T;
  double correction = 0;
  __device__ static Acc init() { return {0.0, 0.0, 0.0}; }
  __device__ static Acc lift(T x, int64_t) { return {1.0, static_cast<double>(x), 0.0}; }
  __device__ static Acc combine(Acc a, Acc b) {
    if (a.n == 0) return b;
    if (b.n == 0) return a;
    const double n = a.n + b.n, d = b.mean - a.mean;
    return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n)};
  }
  __device__ Out finish(Acc a) const {
    const double dof = a.n - correction;
    return static_cast<Out>(a.m2 / (dof > 0 ? dof : 0.0));
  }
};

// --- shuffles for every accumulator type ---------------------------------------------------------

__device__ __forceinline__ double shfl_down(double v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ __forceinline__ float shfl_down(float v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ __forceinline__ int32_t shfl_down(int32_t v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ __forceinline__ int64_t shfl_down(int64_t v, int d) {
  return static_cast<int64_t>(__shfl_down_sync(0xffffffffu, static_cast<long long>(v), d));
}
__device__ __forceinline__ uint64_t shfl_down(uint64_t v, int d) {
  return static_cast<uint64_t>(__shfl_down_sync(0xffffffffu, static_cast<unsigned long long>(v), d));
}
__device__ __forceinline__ uint8_t shfl_down(uint8_t v, int d) {
  return static_cast<uint8_t>(__shfl_down_sync(0xffffffffu, static_cast<int>(v), d));
}
__device__ __forceinline__ VarAcc shfl_down(VarAcc a, int d) {
  return {shfl_down(a.n, d), shfl_down(a.mean, d), shfl_down(a.m2, d)};
}
__device__ __forceinline__ LseAcc shfl_down(LseAcc a, int d) {
  return {shfl_down(a.m, d), shfl_down(a.s, d)};
}
template <typename T>
__device__ __forceinline__ ArgAcc<T> shfl_down(ArgAcc<T> a, int d) {
  return {shfl_down(a.v, d), shfl_down(a.i, d)};
}

// Lane 0 ends with the combination of the warp's 32 values, always in the same tree; the arg
// ops break ties by index, not by position in the tree.
template <typename Op>
__device__ __forceinline__ typename Op::Acc warp_reduce(typename Op::Acc a) {
#pragma unroll
  for (int d = 16; d > 0; d /= 2) a = Op::combine(a, shfl_down(a, d));
  return a;
}

// Reads element (row, i) of the input: `In` is T on pass 1 (lifted with its index within the
// row) and Op::Acc on pass 2 (already an accumulator).
template <typename Op, typename In>
__device__ __forceinline__ typename Op::Acc load_lift(const In* x, int64_t off, int64_t i) {
  if constexpr (std::is_same_v<In, typename Op::Acc>)
    return x[off];
  else
    return Op::lift(x[off], i);
}

// One task = (row, chunk) reduces elements [chunk * run, min(inner, (chunk + 1) * run)) of row
// with TPR threads. Writes Op::finish(acc) (final) or acc (partial) to out[task].
template <typename Op, typename In, typename OutT, int TPR, bool kFinal>
__global__ void reduce_tasks(int64_t tasks, int64_t chunks, int64_t inner, int64_t run,
                             OffsetCalc<1> rows, OffsetCalc<1> cols, const In* x, OutT* out,
                             Op op) {
  using Acc = typename Op::Acc;
  constexpr int kTasksPerBlock = kThreads / TPR;
  constexpr int kWarps = TPR / 32;
  __shared__ Acc warp_acc[kThreads / 32];
  const int lane = threadIdx.x % TPR;
  const int64_t step = int64_t(gridDim.x) * kTasksPerBlock;
  // TPR == kThreads: one task per block, so every thread of a block runs the same iterations and
  // the __syncthreads() below are reached by all.
  for (int64_t task = int64_t(blockIdx.x) * kTasksPerBlock + threadIdx.x / TPR; task < tasks;
       task += step) {
    const int64_t row = task / chunks, chunk = task % chunks;
    const int64_t lo = chunk * run, hi = lo + run < inner ? lo + run : inner;
    int64_t row_off[1];
    rows.get(row, row_off);
    Acc acc = Op::init();
    for (int64_t i = lo + lane; i < hi; i += TPR) {
      int64_t col_off[1];
      cols.get(i, col_off);
      acc = Op::combine(acc, load_lift<Op>(x, row_off[0] + col_off[0], i));
    }
    acc = warp_reduce<Op>(acc);
    if constexpr (kWarps > 1) {
      const int warp = threadIdx.x / 32;
      if (threadIdx.x % 32 == 0) warp_acc[warp] = acc;
      __syncthreads();
      if (warp == 0) {
        acc = threadIdx.x < kWarps ? warp_acc[threadIdx.x] : Op::init();
        acc = warp_reduce<Op>(acc);
      }
      __syncthreads();  // warp_acc is reused by the next task
    }
    if (lane == 0) {
      if constexpr (kFinal)
        out[task] = op.finish(acc);
      else
        out[task] = acc;
    }
  }
}

// Column version (plan_column_reduce in reduce_plan.h): 32 neighbouring outputs per block, so a
// warp's loads of one step are one run of memory, and 8 interleaved slices of the reduced
// elements per output, combined through shared memory in slice order. The row version would
// give each output a warp or block striding through memory, one 32-byte sector per 4-byte load.
// Writes op.finish(acc) to out[o] (final) or acc to out[o * chunks + chunk] (partial). The task
// loop is the same for every thread of a block (barriers).
template <typename Op, typename In, typename OutT, bool kFinal>
__global__ void __launch_bounds__(kThreads)
    reduce_columns(int64_t outer, int64_t col_blocks, int64_t chunks, int64_t inner, int64_t run,
                   OffsetCalc<1> rows, int64_t col_stride, const In* x, OutT* out, Op op) {
  using Acc = typename Op::Acc;
  __shared__ Acc part[kColSlices][kColOutputs];
  const int tx = threadIdx.x % kColOutputs, ty = threadIdx.x / kColOutputs;
  const int64_t tasks = col_blocks * chunks;
  for (int64_t task = blockIdx.x; task < tasks; task += gridDim.x) {
    const int64_t group = task % col_blocks, chunk = task / col_blocks;
    const int64_t o = group * kColOutputs + tx;
    const int64_t lo = chunk * run, hi = lo + run < inner ? lo + run : inner;
    Acc acc = Op::init();
    if (o < outer) {
      int64_t row_off[1];
      rows.get(o, row_off);
#pragma unroll 4
      for (int64_t i = lo + ty; i < hi; i += kColSlices)
        acc = Op::combine(acc, load_lift<Op>(x, row_off[0] + i * col_stride, i));
    }
    part[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && o < outer) {
      Acc a = part[0][tx];
      for (int s = 1; s < kColSlices; ++s) a = Op::combine(a, part[s][tx]);
      if constexpr (kFinal)
        out[o] = op.finish(a);
      else
        out[o * chunks + chunk] = a;
    }
    __syncthreads();  // part is reused by the next task
  }
}

// A run of at least this many elements gets a 256-thread block, shorter ones a warp.
constexpr int64_t kBlockRun = 2048;
// Rows longer than this, when there are fewer than kFewRows of them, are chunked (two-pass).
constexpr int64_t kChunkAbove = 65536;
constexpr int64_t kFewRows = 512;
constexpr int64_t kChunkRun = 16384;    // elements per chunk at least
constexpr int64_t kTargetTasks = 2048;  // tasks the chunking aims for

template <typename Op, typename In, typename OutT, bool kFinal>
void launch_tasks(int64_t outer, int64_t chunks, int64_t inner, int64_t run,
                  const OffsetCalc<1>& rows, const OffsetCalc<1>& cols, const In* x, OutT* out,
                  const Op& op) {
  const int64_t tasks = outer * chunks;
  cudaStream_t stream = current_stream();
  if (run >= kBlockRun) {
    reduce_tasks<Op, In, OutT, kThreads, kFinal>
        <<<blocks_for(tasks, 1), kThreads, 0, stream>>>(tasks, chunks, inner, run, rows, cols, x, out,
                                                         op);
  } else {
    reduce_tasks<Op, In, OutT, 32, kFinal>
        <<<blocks_for(tasks, kThreads / 32), kThreads, 0, stream>>>(tasks, chunks, inner, run, rows,
                                                                  cols, x, out, op);
  }
  SG_CUDA_CHECK_LAUNCH("reduce_tasks");
}

OffsetCalc<1> dims_calc(const TensorArg& in, int first, int last) {
  TensorArg part = in;
  part.ndim = last - first;
  part.numel = 1;
  for (int d = first; d < last; ++d) {
    part.shape[d - first] = in.shape[d];
    part.strides[d - first] = in.strides[d];
    part.numel *= in.shape[d];
  }
  return make_offset_calc<1>({&part});
}

OffsetCalc<1> line_calc(int64_t size, int64_t stride) {
  OffsetCalc<1> c;
  c.ndim = 1;
  c.size[0] = size;
  c.stride[0][0] = stride;
  return c;
}

// `op` carries the op's parameters (var's correction); most ops have none.
template <typename Op, typename T>
void reduce(const KernelCall& c, const Op& op = Op{}) {
  using Acc = typename Op::Acc;
  using Out = typename Op::Out;
  const TensorArg &in = c.in[0], &out = c.out[0];
  const int k = static_cast<int>(c.attrs.k);
  const int64_t outer = out.numel;
  if (outer == 0) return;
  const int64_t inner = in.numel / outer;
  const OffsetCalc<1> rows = dims_calc(in, 0, in.ndim - k), cols = dims_calc(in, in.ndim - k, in.ndim);
  // Floating dtypes only: each instantiation costs nvcc time (all ops x dtypes x two passes
  // doubled this file's compile), and integer reductions along a leading dim are rare.
  if constexpr (std::is_floating_point_v<T>) {
    if (use_column_reduce(cols.ndim, cols.stride[0][0], rows.ndim,
                          rows.ndim > 0 ? rows.stride[0][rows.ndim - 1] : 0, outer)) {
      const ColumnReducePlan plan = plan_column_reduce(outer, inner);
      const int64_t col_stride = cols.stride[0][0];
      cudaStream_t stream = current_stream();
      if (plan.chunks == 1) {
        reduce_columns<Op, T, Out, true><<<static_cast<int>(plan.blocks), kThreads, 0, stream>>>(
            outer, plan.col_blocks, 1, inner, plan.run, rows, col_stride, in.ptr<T>(), out.ptr<Out>(),
            op);
        SG_CUDA_CHECK_LAUNCH("reduce_columns");
        return;
      }
      const int device = cuda_current_device();
      Acc* partial = static_cast<Acc*>(
          cuda_alloc(device, static_cast<size_t>(outer * plan.chunks) * sizeof(Acc)));
      try {
        reduce_columns<Op, T, Acc, false><<<static_cast<int>(plan.blocks), kThreads, 0, stream>>>(
            outer, plan.col_blocks, plan.chunks, inner, plan.run, rows, col_stride, in.ptr<T>(),
            partial, op);
        SG_CUDA_CHECK_LAUNCH("reduce_columns");
        launch_tasks<Op, Acc, Out, true>(outer, 1, plan.chunks, plan.chunks,
                                         line_calc(outer, plan.chunks), line_calc(plan.chunks, 1),
                                         partial, out.ptr<Out>(), op);
      } catch (...) {
        cuda_free(device, partial);
        throw;
      }
      cuda_free(device, partial);
      return;
    }
  }
  int64_t chunks = 1;
  if (inner > kChunkAbove && outer < kFewRows) {
    chunks = std::min((inner + kChunkRun - 1) / kChunkRun, (kTargetTasks + outer - 1) / outer);
  }
  const int64_t run = chunks == 1 ? inner : (inner + chunks - 1) / chunks;
  if (chunks > 1) chunks = (inner + run - 1) / run;
  if (chunks == 1) {
    launch_tasks<Op, T, Out, true>(outer, 1, inner, run, rows, cols, in.ptr<T>(), out.ptr<Out>(), op);
    return;
  }
  // Pass 1 into a [outer, chunks] buffer of accumulators, pass 2 reduces its rows in order. The
  // buffer goes back to the caching allocator at once: pass 2 is queued on the same stream.
  const int device = cuda_current_device();
  Acc* partial = static_cast<Acc*>(cuda_alloc(device, static_cast<size_t>(outer * chunks) * sizeof(Acc)));
  try {
    launch_tasks<Op, T, Acc, false>(outer, chunks, inner, run, rows, cols, in.ptr<T>(), partial, op);
    launch_tasks<Op, Acc, Out, true>(outer, 1, chunks, chunks, line_calc(outer, chunks),
                                     line_calc(chunks, 1), partial, out.ptr<Out>(), op);
  } catch (...) {
    cuda_free(device, partial);
    throw;
  }
  cuda_free(device, partial);
}

void cuda_sum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "sum", [&] { reduce<SumOp<scalar_t>, scalar_t>(c); });
}
void cuda_prod(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "prod", [&] { reduce<ProdOp<scalar_t>, scalar_t>(c); });
}
template <bool kMax>
void cuda_extremum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, kMax ? "max" : "min",
                      [&] { reduce<ExtremumOp<scalar_t, kMax>, scalar_t>(c); });
}
template <bool kMax>
void cuda_arg_extremum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, kMax ? "argmax" : "argmin",
                      [&] { reduce<ArgExtremumOp<scalar_t, kMax>, scalar_t>(c); });
}

void cuda_norm(const KernelCall& c) {
  const double p = c.attrs.alpha;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "norm", [&] {
    if (p == 1.0)
      reduce<NormOp<scalar_t, 1>, scalar_t>(c);
    else if (p == 2.0)
      reduce<NormOp<scalar_t, 2>, scalar_t>(c);
    else
      reduce<NormOp<scalar_t, 0>, scalar_t>(c);  // the op layer allows 1, 2 or infinity
  });
}
void cuda_var(const KernelCall& c) {
  SG_DISPATCH_FLOAT(c.in[0].dtype, "var", [&] {
    VarOp<scalar_t> op;
    op.correction = c.attrs.alpha;
    reduce<VarOp<scalar_t>, scalar_t>(c, op);
  });
}
void cuda_logsumexp(const KernelCall& c) {
  SG_DISPATCH_FLOAT(c.in[0].dtype, "logsumexp", [&] { reduce<LogSumExpOp<scalar_t>, scalar_t>(c); });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_reduce() {
  using namespace kernels::gpu;
  register_kernel(OpId::sum, Backend::cuda, cuda_sum);
  register_kernel(OpId::prod, Backend::cuda, cuda_prod);
  register_kernel(OpId::max, Backend::cuda, cuda_extremum<true>);
  register_kernel(OpId::min, Backend::cuda, cuda_extremum<false>);
  register_kernel(OpId::argmax, Backend::cuda, cuda_arg_extremum<true>);
  register_kernel(OpId::argmin, Backend::cuda, cuda_arg_extremum<false>);
  register_kernel(OpId::var, Backend::cuda, cuda_var);
  register_kernel(OpId::norm, Backend::cuda, cuda_norm);
  register_kernel(OpId::logsumexp, Backend::cuda, cuda_logsumexp);
}

}  // namespace stackgrad
