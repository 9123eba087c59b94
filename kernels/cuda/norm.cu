// CUDA batch_norm, layer_norm and group_norm, forward and backward (embedding, also in the norm
// family, is in index.cu). The semantics are kernels/reference/norm.cpp's; the set geometry,
// the plans and the index rules are in norm_plan.h, unit-tested on the CPU.
//
// One machinery serves the three normalisations. A set (what one mean and rstd describe) is
// `rows` rows of S elements; a task reduces one set, or one run of its rows (a chunk) when there
// are too few sets to fill the GPU, with a warp or a 256-thread block.
//   Forward: each thread keeps a Welford triple (count, mean, m2) in double over its elements
//   (one pass over x); the task merges its threads' triples with Chan's formula in a fixed tree
//   (shuffle-down within a warp, then the warps in order), so the bits depend only on the shape.
//   Backward: the two sums the input gradient needs (of dxhat and of dxhat * xhat, dxhat = g * w)
//   in the same single pass, in double.
// With one chunk per set (the common case) the task then finishes the set itself (mean, rstd,
// the running statistics, the gradient coefficients) and applies it: y = (x - mean) rstd w + b,
// or dx = g w rstd + (x - mean) c1 + c2, re-reading its set (still in L2 for sets up to a few
// MiB). With several chunks, pass 1 writes a (set, chunk) partial, a finishing kernel merges each
// set's partials in chunk order (one thread per set) into a per-set table, and an apply kernel
// reads it: three launches, still no atomics.
//   dweight and dbias: batch_norm's are its per-set sums; group_norm's take a second pass over
// channels (sets = channels, rows = samples, each sample's group statistics); layer_norm's are
// column sums over rows in 32-column tiles with row chunks, partials merged in chunk order.
#include <cmath>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/norm_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

// What a pass computes and what finishing a set writes.
enum class Pass : int {
  fwd_stats,    // Welford over x; mean, rstd (and batch_norm's running update); apply y
  fwd_eval,     // batch_norm eval: the running statistics, no reduction; apply y
  bwd_batch,    // sums of g and g xhat; dweight, dbias per set; apply dx
  bwd_sets,     // sums of g w and g w xhat (group_norm, layer_norm); apply dx
  bwd_channels  // group_norm's dweight pass: sums of g and g xhat per channel, no apply
};

struct Acc {
  double v0, v1, v2;  // Welford: count, mean, m2; sums: a, b, unused
};

__device__ __forceinline__ Acc merge_welford(const Acc& a, const Acc& b) {
  if (b.v0 == 0) return a;
  if (a.v0 == 0) return b;
  const double n = a.v0 + b.v0, d = b.v1 - a.v1;
  return {n, a.v1 + d * (b.v0 / n), a.v2 + b.v2 + d * d * (a.v0 * b.v0 / n)};
}
__device__ __forceinline__ Acc merge_sums(const Acc& a, const Acc& b) {
  return {a.v0 + b.v0, a.v1 + b.v1, 0.0};
}
template <bool kWelford>
__device__ __forceinline__ Acc merge(const Acc& a, const Acc& b) {
  if constexpr (kWelford)
    return merge_welford(a, b);
  else
    return merge_sums(a, b);
}

// Every thread of the task gets the merge of the task's TPR accumulators, in one fixed order:
// a shuffle-down tree within each warp (lane 0 holds the warp's), then warps 0, 1, ... in turn.
// TPR == kNormBlock: one task per block, reached by every thread of it (barriers).
template <int TPR, bool kWelford>
__device__ __forceinline__ Acc task_merge(Acc v, Acc* shared) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) {
    const Acc o{__shfl_down_sync(0xffffffffu, v.v0, off), __shfl_down_sync(0xffffffffu, v.v1, off),
                __shfl_down_sync(0xffffffffu, v.v2, off)};
    v = merge<kWelford>(v, o);  // lanes >= 32 - off merge stale values; only lane 0 is used
  }
  if constexpr (TPR == 32) {
    return {__shfl_sync(0xffffffffu, v.v0, 0), __shfl_sync(0xffffffffu, v.v1, 0),
            __shfl_sync(0xffffffffu, v.v2, 0)};
  } else {
    __syncthreads();  // earlier readers of `shared` are done
    if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
    __syncthreads();
    Acc r = shared[0];
    for (int w = 1; w < TPR / 32; ++w) r = merge<kWelford>(r, shared[w]);
    return r;
  }
}

// A set's finished state: y = (x - mean) * c0 * w + b (forward) or
// dx = g * w * c0 + (x - mean) * c1 + c2 (backward).
struct Coef {
  double mean, c0, c1, c2;
};

template <typename T>
struct Args {
  NormGeom geom;
  Pass pass;
  int64_t chunks, rows_per_chunk;
  int lanes_k, lanes_r;
  ParamIndex pmode;
  StatIndex smode;
  int64_t G, Cg;
  bool training;
  bool silu;  // group_norm's fused activation: y = silu(affine) forward, g silu'(affine) backward
  double momentum, eps;
  const T* x;
  const T* g;  // backward
  T* y;        // y or dx (nullptr: no apply)
  const T* w;  // optional operands: nullptr when absent, each at its stride
  const T* b;
  T* rm;
  T* rv;
  int64_t ws, bs, rms, rvs;
  const T* mean_in;  // backward: the forward's statistics
  const T* rstd_in;
  int64_t mis, ris;
  T* mean_out;  // forward
  T* rstd_out;
  T* dw;  // bwd_batch, bwd_channels
  T* db;
  double* partial;  // [sets * chunks] x kPartialDoubles (chunked passes)
  double* table;    // [sets] x kTableDoubles (chunked passes)
};

template <typename T>
__device__ __forceinline__ double opt(const T* p, int64_t i, int64_t stride, double absent) {
  return p ? static_cast<double>(p[i * stride]) : absent;
}

// silu(v) = v sigmoid(v), and the factor g is multiplied by in the backward: silu'(v) =
// sigmoid(v) (1 + v (1 - sigmoid(v))). In double, as the rest of the arithmetic.
__device__ __forceinline__ double silu(double v) { return v / (1.0 + exp(-v)); }
__device__ __forceinline__ double silu_grad(double v) {
  const double s = 1.0 / (1.0 + exp(-v));
  return s * (1.0 + v * (1.0 - s));
}

// The gradient a backward pass reads at parameter index p: g, or with the fused activation
// g silu'(a) for the affine output a = xhat w + b it came through.
template <typename T>
__device__ __forceinline__ double grad_in(const Args<T>& a, double g, double xhat, int64_t p) {
  if (!a.silu) return g;
  return g * silu_grad(xhat * opt(a.w, p, a.ws, 1.0) + opt(a.b, p, a.bs, 0.0));
}

// Accumulates the elements of rows [r0, r1) of set s that this thread owns.
template <typename T>
__device__ Acc accumulate(const Args<T>& a, int64_t s, int64_t r0, int64_t r1, int lane_r,
                          int lane_k) {
  const NormGeom& gm = a.geom;
  if (a.pass == Pass::fwd_eval) return {0, 0, 0};
  if (a.pass == Pass::fwd_stats) {
    double n = 0, mean = 0, m2 = 0;
    for (int64_t r = r0 + lane_r; r < r1; r += a.lanes_r) {
      const T* xr = a.x + set_offset(gm.x, gm.sdiv, s, r, 0);
      for (int64_t k = lane_k; k < gm.S; k += a.lanes_k) {
        const double v = static_cast<double>(xr[k * gm.x.ok]);
        n += 1;
        const double d = v - mean;
        mean += d / n;
        m2 += d * (v - mean);
      }
    }
    return {n, mean, m2};
  }
  const bool weighted = a.pass == Pass::bwd_sets && a.w != nullptr;
  double sa = 0, sb = 0;
  for (int64_t r = r0 + lane_r; r < r1; r += a.lanes_r) {
    const int64_t si = stat_index(a.smode, a.G, a.Cg, s, r);
    const double mean = static_cast<double>(a.mean_in[si * a.mis]);
    const double rstd = static_cast<double>(a.rstd_in[si * a.ris]);
    const T* xr = a.x + set_offset(gm.x, gm.sdiv, s, r, 0);
    const T* gr = a.g + set_offset(gm.g, gm.sdiv, s, r, 0);
    for (int64_t k = lane_k; k < gm.S; k += a.lanes_k) {
      const int64_t p = param_index(a.pmode, gm.sdiv, a.Cg, s, r, k);
      const double xhat = (static_cast<double>(xr[k * gm.x.ok]) - mean) * rstd;
      double gv = grad_in(a, static_cast<double>(gr[k * gm.g.ok]), xhat, p);
      if (weighted) gv *= static_cast<double>(a.w[p * a.ws]);
      sa += gv;
      sb += gv * xhat;
    }
  }
  return {sa, sb, 0.0};
}

// Finishes set s from its merged accumulator. Every thread of a task may call it (they compute
// the same bits); only `writer` stores the outputs, so the running update happens once.
template <typename T>
__device__ Coef finish(const Args<T>& a, int64_t s, const Acc& acc, bool writer) {
  const NormGeom& gm = a.geom;
  const double n = static_cast<double>(gm.rows * gm.S);
  if (a.pass == Pass::fwd_stats || a.pass == Pass::fwd_eval) {
    double mean, var;
    if (a.pass == Pass::fwd_stats) {
      mean = acc.v0 > 0 ? acc.v1 : 0.0;
      var = acc.v0 > 0 ? acc.v2 / acc.v0 : 0.0;
      if (writer && a.rm != nullptr && n > 0) {  // batch_norm training with running statistics
        const double unbiased = n > 1 ? var * n / (n - 1) : var;
        T& m = a.rm[s * a.rms];
        T& v = a.rv[s * a.rvs];
        m = static_cast<T>((1 - a.momentum) * static_cast<double>(m) + a.momentum * mean);
        v = static_cast<T>((1 - a.momentum) * static_cast<double>(v) + a.momentum * unbiased);
      }
    } else {
      mean = opt(a.rm, s, a.rms, 0.0);
      var = opt(a.rv, s, a.rvs, 1.0);
    }
    const double rstd = 1.0 / sqrt(var + a.eps);
    if (writer) {
      a.mean_out[s] = static_cast<T>(mean);
      a.rstd_out[s] = static_cast<T>(rstd);
    }
    return {mean, rstd, 0.0, 0.0};
  }
  if (a.pass == Pass::bwd_channels || a.pass == Pass::bwd_batch) {
    if (writer) {
      a.dw[s] = static_cast<T>(acc.v1);
      a.db[s] = static_cast<T>(acc.v0);
    }
    if (a.pass == Pass::bwd_channels) return {0, 0, 0, 0};
  }
  const double mean = static_cast<double>(a.mean_in[s * a.mis]);
  const double rstd = static_cast<double>(a.rstd_in[s * a.ris]);
  if (a.pass == Pass::bwd_batch) {
    // dx = w rstd (g - sum_g / n - xhat sum_gxhat / n); the weight is applied per element.
    const double wr = opt(a.w, s, a.ws, 1.0) * rstd;
    if (!a.training || n == 0) return {mean, rstd, 0.0, 0.0};
    return {mean, rstd, -wr * rstd * acc.v1 / n, -wr * acc.v0 / n};
  }
  // bwd_sets: dx = rstd (dxhat - sum(dxhat) / n - xhat sum(dxhat xhat) / n).
  if (n == 0) return {mean, rstd, 0.0, 0.0};
  return {mean, rstd, -rstd * rstd * acc.v1 / n, -rstd * acc.v0 / n};
}

// Writes y or dx over rows [r0, r1) of set s.
template <typename T>
__device__ void apply(const Args<T>& a, int64_t s, int64_t r0, int64_t r1, int lane_r, int lane_k,
                      const Coef& c) {
  const NormGeom& gm = a.geom;
  const bool fwd = a.pass == Pass::fwd_stats || a.pass == Pass::fwd_eval;
  for (int64_t r = r0 + lane_r; r < r1; r += a.lanes_r) {
    const T* xr = a.x + set_offset(gm.x, gm.sdiv, s, r, 0);
    T* yr = a.y + set_offset(gm.y, gm.sdiv, s, r, 0);
    if (fwd) {
      for (int64_t k = lane_k; k < gm.S; k += a.lanes_k) {
        const int64_t p = param_index(a.pmode, gm.sdiv, a.Cg, s, r, k);
        const double v =
            (static_cast<double>(xr[k * gm.x.ok]) - c.mean) * c.c0 * opt(a.w, p, a.ws, 1.0) +
            opt(a.b, p, a.bs, 0.0);
        yr[k * gm.y.ok] = static_cast<T>(a.silu ? silu(v) : v);
      }
    } else {
      const T* gr = a.g + set_offset(gm.g, gm.sdiv, s, r, 0);
      for (int64_t k = lane_k; k < gm.S; k += a.lanes_k) {
        const int64_t p = param_index(a.pmode, gm.sdiv, a.Cg, s, r, k);
        const double xc = static_cast<double>(xr[k * gm.x.ok]) - c.mean;
        const double gv = grad_in(a, static_cast<double>(gr[k * gm.g.ok]), xc * c.c0, p);
        const double v = gv * opt(a.w, p, a.ws, 1.0) * c.c0 + xc * c.c1 + c.c2;
        yr[k * gm.y.ok] = static_cast<T>(v);
      }
    }
  }
}

// Pass 1 over (set, chunk) tasks; with one chunk per set it also finishes and applies the set.
template <typename T, int TPR>
__global__ void __launch_bounds__(kNormBlock) norm_reduce(Args<T> a) {
  constexpr int kTasksPerBlock = kNormBlock / TPR;
  __shared__ Acc shared[kNormBlock / 32];
  const int lane = threadIdx.x % TPR;
  const int lane_k = lane % a.lanes_k, lane_r = lane / a.lanes_k;
  const int64_t tasks = a.geom.sets * a.chunks;
  const bool welford = a.pass == Pass::fwd_stats;
  // TPR == kNormBlock: the loop is uniform over the block; TPR == 32: over the warp.
  for (int64_t task = int64_t(blockIdx.x) * kTasksPerBlock + threadIdx.x / TPR; task < tasks;
       task += int64_t(gridDim.x) * kTasksPerBlock) {
    const int64_t s = task / a.chunks, chunk = task % a.chunks;
    const int64_t r0 = chunk * a.rows_per_chunk;
    const int64_t r1 = min(a.geom.rows, r0 + a.rows_per_chunk);
    Acc acc = accumulate(a, s, r0, r1, lane_r, lane_k);
    acc = welford ? task_merge<TPR, true>(acc, shared) : task_merge<TPR, false>(acc, shared);
    if (a.chunks > 1) {
      if (lane == 0) {
        double* p = a.partial + task * kPartialDoubles;
        p[0] = acc.v0, p[1] = acc.v1, p[2] = acc.v2;
      }
      continue;
    }
    const Coef c = finish(a, s, acc, lane == 0);
    if (a.y != nullptr) apply(a, s, r0, r1, lane_r, lane_k, c);
  }
}

// Chunked passes: one thread per set merges its partials in chunk order (none for fwd_eval).
template <typename T>
__global__ void norm_finish(Args<T> a) {
  for (int64_t s = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; s < a.geom.sets;
       s += int64_t(gridDim.x) * blockDim.x) {
    Acc acc{0, 0, 0};
    if (a.pass != Pass::fwd_eval) {
      const double* p = a.partial + s * a.chunks * kPartialDoubles;
      acc = {p[0], p[1], p[2]};
      for (int64_t ch = 1; ch < a.chunks; ++ch) {
        const Acc o{p[ch * kPartialDoubles], p[ch * kPartialDoubles + 1],
                    p[ch * kPartialDoubles + 2]};
        acc = a.pass == Pass::fwd_stats ? merge_welford(acc, o) : merge_sums(acc, o);
      }
    }
    const Coef c = finish(a, s, acc, true);
    double* t = a.table + s * kTableDoubles;
    t[0] = c.mean, t[1] = c.c0, t[2] = c.c1, t[3] = c.c2;
  }
}

template <typename T, int TPR>
__global__ void __launch_bounds__(kNormBlock) norm_apply(Args<T> a) {
  constexpr int kTasksPerBlock = kNormBlock / TPR;
  const int lane = threadIdx.x % TPR;
  const int lane_k = lane % a.lanes_k, lane_r = lane / a.lanes_k;
  const int64_t tasks = a.geom.sets * a.chunks;
  for (int64_t task = int64_t(blockIdx.x) * kTasksPerBlock + threadIdx.x / TPR; task < tasks;
       task += int64_t(gridDim.x) * kTasksPerBlock) {
    const int64_t s = task / a.chunks, chunk = task % a.chunks;
    const int64_t r0 = chunk * a.rows_per_chunk;
    const int64_t r1 = min(a.geom.rows, r0 + a.rows_per_chunk);
    const double* t = a.table + s * kTableDoubles;
    apply(a, s, r0, r1, lane_r, lane_k, Coef{t[0], t[1], t[2], t[3]});
  }
}

// Device scratch from the caching allocator, returned when the launches are queued (later work
// on the same stream reuses it only after them).
class Scratch {
 public:
  explicit Scratch(size_t bytes) : device_(cuda_current_device()) {
    if (bytes > 0) p_ = cuda_alloc(device_, bytes);
  }
  ~Scratch() {
    if (p_ != nullptr) cuda_free(device_, p_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  double* get() const { return static_cast<double*>(p_); }

 private:
  int device_;
  void* p_ = nullptr;
};

// Runs one pass: fused when each set is one task, else partials, finish, apply.
template <typename T>
void run_pass(Args<T> a) {
  if (a.geom.sets == 0) return;
  const NormPlan plan = plan_norm(a.geom.sets, a.geom.rows, a.geom.S);
  a.chunks = plan.chunks;
  a.rows_per_chunk = plan.rows_per_chunk;
  a.lanes_k = plan.lanes_k;
  a.lanes_r = plan.lanes_r;
  cudaStream_t stream = current_stream();
  const bool fused = plan.chunks == 1 && a.pass != Pass::fwd_eval;
  if (fused) {
    if (plan.tpr == kNormBlock)
      norm_reduce<T, kNormBlock><<<plan.blocks, kNormBlock, 0, stream>>>(a);
    else
      norm_reduce<T, 32><<<plan.blocks, kNormBlock, 0, stream>>>(a);
    SG_CUDA_CHECK_LAUNCH("norm_reduce");
    return;
  }
  Scratch scratch(norm_workspace_bytes(plan, a.geom.sets));
  a.table = scratch.get();
  a.partial = scratch.get() + a.geom.sets * kTableDoubles;
  if (a.pass != Pass::fwd_eval) {
    if (plan.tpr == kNormBlock)
      norm_reduce<T, kNormBlock><<<plan.blocks, kNormBlock, 0, stream>>>(a);
    else
      norm_reduce<T, 32><<<plan.blocks, kNormBlock, 0, stream>>>(a);
    SG_CUDA_CHECK_LAUNCH("norm_reduce");
  }
  norm_finish<T><<<elementwise_blocks(a.geom.sets), kNormBlock, 0, stream>>>(a);
  SG_CUDA_CHECK_LAUNCH("norm_finish");
  if (a.y == nullptr) return;
  if (plan.tpr == kNormBlock)
    norm_apply<T, kNormBlock><<<plan.blocks, kNormBlock, 0, stream>>>(a);
  else
    norm_apply<T, 32><<<plan.blocks, kNormBlock, 0, stream>>>(a);
  SG_CUDA_CHECK_LAUNCH("norm_apply");
}

template <typename T>
const T* opt_ptr(const TensorArg& t) {
  return t.numel == 0 ? nullptr : t.ptr<T>();
}
template <typename T>
T* opt_mut(const TensorArg& t) {
  return t.numel == 0 ? nullptr : t.ptr<T>();
}
int64_t stride0(const TensorArg& t) { return t.ndim > 0 ? t.strides[0] : 1; }

template <typename T>
Args<T> base_args(Pass pass) {
  Args<T> a{};
  a.pass = pass;
  a.pmode = ParamIndex::per_set;
  a.smode = StatIndex::per_set;
  a.G = 1, a.Cg = 1;
  a.ws = a.bs = a.rms = a.rvs = a.mis = a.ris = 1;
  return a;
}

// Forward arguments common to the three: x, weight, bias in; y, mean, rstd out.
template <typename T>
void set_forward(Args<T>& a, const KernelCall& c) {
  const TensorArg &x = c.in[0], &w = c.in[1], &b = c.in[2];
  a.x = x.ptr<T>();
  a.w = opt_ptr<T>(w), a.ws = stride0(w);
  a.b = opt_ptr<T>(b), a.bs = stride0(b);
  a.y = c.out[0].ptr<T>();
  a.mean_out = c.out[1].ptr<T>();
  a.rstd_out = c.out[2].ptr<T>();
  a.eps = c.attrs.beta;
}

// Backward arguments: x, grad, mean, rstd, weight in; dx, dweight, dbias out.
template <typename T>
void set_backward(Args<T>& a, const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &m = c.in[2], &r = c.in[3], &w = c.in[4];
  a.x = x.ptr<T>();
  a.g = g.ptr<T>();
  a.mean_in = m.ptr<T>(), a.mis = stride0(m);
  a.rstd_in = r.ptr<T>(), a.ris = stride0(r);
  a.w = opt_ptr<T>(w), a.ws = stride0(w);
  if (c.in.size() > 5) a.b = opt_ptr<T>(c.in[5]), a.bs = stride0(c.in[5]);  // group_norm + silu
  a.y = c.out[0].ptr<T>();
  a.dw = c.out[1].ptr<T>();
  a.db = c.out[2].ptr<T>();
}

void cuda_batch_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &rm = c.in[3], &rv = c.in[4], &y = c.out[0];
  SG_DISPATCH_FLOAT(x.dtype, "batch_norm", [&] {
    using T = scalar_t;
    const bool training = c.attrs.flag;
    Args<T> a = base_args<T>(training ? Pass::fwd_stats : Pass::fwd_eval);
    set_forward(a, c);
    a.geom = batch_geom(x.shape[0], x.shape[1], x.shape[2]);
    a.geom.x = batch_set_strides(x.strides);
    a.geom.y = batch_set_strides(y.strides);
    a.training = training;
    a.momentum = c.attrs.alpha;
    a.rm = opt_mut<T>(rm), a.rms = stride0(rm);
    a.rv = opt_mut<T>(rv), a.rvs = stride0(rv);
    run_pass(a);
  });
}

void cuda_batch_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &dx = c.out[0];
  SG_DISPATCH_FLOAT(x.dtype, "batch_norm_backward", [&] {
    using T = scalar_t;
    Args<T> a = base_args<T>(Pass::bwd_batch);
    set_backward(a, c);
    a.geom = batch_geom(x.shape[0], x.shape[1], x.shape[2]);
    a.geom.x = batch_set_strides(x.strides);
    a.geom.g = batch_set_strides(g.strides);
    a.geom.y = batch_set_strides(dx.strides);
    a.training = c.attrs.flag;
    run_pass(a);
  });
}

void cuda_layer_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &y = c.out[0];
  SG_DISPATCH_FLOAT(x.dtype, "layer_norm", [&] {
    using T = scalar_t;
    Args<T> a = base_args<T>(Pass::fwd_stats);
    set_forward(a, c);
    a.geom = layer_geom(x.shape[0], x.shape[1]);
    a.geom.x = layer_set_strides(x.strides);
    a.geom.y = layer_set_strides(y.strides);
    a.pmode = ParamIndex::per_column;
    run_pass(a);
  });
}

// layer_norm's dweight and dbias: column sums of g xhat and g over rows (see norm_plan.h).
template <typename T>
__global__ void __launch_bounds__(kNormBlock)
    layer_columns(int64_t R, int64_t D, int64_t tiles, int64_t tasks, int64_t rows_per_chunk,
                  const T* x, int64_t sx0, int64_t sx1, const T* g, int64_t sg0, int64_t sg1,
                  const T* mean, int64_t ms, const T* rstd, int64_t rs, double* partial) {
  __shared__ double sa[kColRowLanes][kColTile], sb[kColRowLanes][kColTile];
  const int tx = threadIdx.x % kColTile, ty = threadIdx.x / kColTile;
  for (int64_t task = blockIdx.x; task < tasks; task += gridDim.x) {  // uniform over the block
    const int64_t tile = task % tiles, chunk = task / tiles;
    const int64_t d = tile * kColTile + tx;
    const int64_t r0 = chunk * rows_per_chunk, r1 = min(R, r0 + rows_per_chunk);
    double a = 0, b = 0;
    if (d < D) {
      for (int64_t r = r0 + ty; r < r1; r += kColRowLanes) {
        const double m = static_cast<double>(mean[r * ms]), rr = static_cast<double>(rstd[r * rs]);
        const double gv = static_cast<double>(g[r * sg0 + d * sg1]);
        a += gv;
        b += gv * ((static_cast<double>(x[r * sx0 + d * sx1]) - m) * rr);
      }
    }
    sa[ty][tx] = a;
    sb[ty][tx] = b;
    __syncthreads();
    if (ty == 0 && d < D) {
      for (int l = 1; l < kColRowLanes; ++l) a += sa[l][tx], b += sb[l][tx];
      partial[(chunk * D + d) * 2] = a;
      partial[(chunk * D + d) * 2 + 1] = b;
    }
    __syncthreads();  // the next task overwrites sa, sb
  }
}

template <typename T>
__global__ void layer_columns_merge(int64_t D, int64_t chunks, const double* partial, T* dw,
                                    T* db) {
  for (int64_t d = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; d < D;
       d += int64_t(gridDim.x) * blockDim.x) {
    double a = 0, b = 0;
    for (int64_t ch = 0; ch < chunks; ++ch) {
      a += partial[(ch * D + d) * 2];
      b += partial[(ch * D + d) * 2 + 1];
    }
    dw[d] = static_cast<T>(b);
    db[d] = static_cast<T>(a);
  }
}

void cuda_layer_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &m = c.in[2], &r = c.in[3], &dx = c.out[0];
  SG_DISPATCH_FLOAT(x.dtype, "layer_norm_backward", [&] {
    using T = scalar_t;
    Args<T> a = base_args<T>(Pass::bwd_sets);
    set_backward(a, c);
    const int64_t R = x.shape[0], D = x.shape[1];
    a.geom = layer_geom(R, D);
    a.geom.x = layer_set_strides(x.strides);
    a.geom.g = layer_set_strides(g.strides);
    a.geom.y = layer_set_strides(dx.strides);
    a.pmode = ParamIndex::per_column;
    run_pass(a);
    if (D == 0) return;
    const ColumnPlan p = plan_columns(R, D);
    Scratch partial(static_cast<size_t>(p.chunks * D * 2) * sizeof(double));
    cudaStream_t stream = current_stream();
    layer_columns<T><<<p.blocks, kNormBlock, 0, stream>>>(
        R, D, p.tiles, p.tasks, p.rows_per_chunk, x.ptr<T>(), x.strides[0], x.strides[1],
        g.ptr<T>(), g.strides[0], g.strides[1], m.ptr<T>(), stride0(m), r.ptr<T>(), stride0(r),
        partial.get());
    SG_CUDA_CHECK_LAUNCH("layer_columns");
    layer_columns_merge<T><<<elementwise_blocks(D), kNormBlock, 0, stream>>>(
        D, p.chunks, partial.get(), c.out[1].ptr<T>(), c.out[2].ptr<T>());
    SG_CUDA_CHECK_LAUNCH("layer_columns_merge");
  });
}

void cuda_group_norm(const KernelCall& c) {
  const TensorArg &x = c.in[0], &y = c.out[0];
  SG_DISPATCH_FLOAT(x.dtype, "group_norm", [&] {
    using T = scalar_t;
    Args<T> a = base_args<T>(Pass::fwd_stats);
    set_forward(a, c);
    const int64_t G = c.attrs.k, Cg = x.shape[1] / G;
    a.geom = group_geom(x.shape[0], x.shape[1], x.shape[2], G);
    a.geom.x = group_set_strides(x.strides, Cg);
    a.geom.y = group_set_strides(y.strides, Cg);
    a.pmode = ParamIndex::group_channel;
    a.G = G, a.Cg = Cg;
    a.silu = c.attrs.mode == 1;
    run_pass(a);
  });
}

void cuda_group_norm_backward(const KernelCall& c) {
  const TensorArg &x = c.in[0], &g = c.in[1], &dx = c.out[0];
  SG_DISPATCH_FLOAT(x.dtype, "group_norm_backward", [&] {
    using T = scalar_t;
    const int64_t N = x.shape[0], C = x.shape[1], S = x.shape[2], G = c.attrs.k, Cg = C / G;
    // dx over (sample, group) sets.
    Args<T> a = base_args<T>(Pass::bwd_sets);
    set_backward(a, c);
    a.geom = group_geom(N, C, S, G);
    a.geom.x = group_set_strides(x.strides, Cg);
    a.geom.g = group_set_strides(g.strides, Cg);
    a.geom.y = group_set_strides(dx.strides, Cg);
    a.pmode = ParamIndex::group_channel;
    a.G = G, a.Cg = Cg;
    a.silu = c.attrs.mode == 1;
    run_pass(a);
    // dweight, dbias over channel sets, each sample's row normalised by its group's statistics.
    Args<T> p = a;
    p.pass = Pass::bwd_channels;
    p.y = nullptr;
    p.geom = batch_geom(N, C, S);
    p.geom.x = batch_set_strides(x.strides);
    p.geom.g = batch_set_strides(g.strides);
    p.pmode = ParamIndex::per_set;
    p.smode = StatIndex::group_of_channel;
    run_pass(p);
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_norm() {
  using namespace kernels::gpu;
  register_kernel(OpId::batch_norm, Backend::cuda, cuda_batch_norm);
  register_kernel(OpId::batch_norm_backward, Backend::cuda, cuda_batch_norm_backward);
  register_kernel(OpId::layer_norm, Backend::cuda, cuda_layer_norm);
  register_kernel(OpId::layer_norm_backward, Backend::cuda, cuda_layer_norm_backward);
  register_kernel(OpId::group_norm, Backend::cuda, cuda_group_norm);
  register_kernel(OpId::group_norm_backward, Backend::cuda, cuda_group_norm_backward);
}

}  // namespace stackgrad
