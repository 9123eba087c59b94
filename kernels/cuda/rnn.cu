// CUDA kernels of the rnn family: the LSTM cell, the LSTM over a sequence and their backward
// kernels, the counterparts of kernels/reference/rnn.cpp and kernels/cpu/rnn.cpp (gate order i,
// f, g, o; one bias [4H]; x [T, B, I], time first; see docs/kernels/lstm.md).
//
// Every matrix product is gpu::gemm (kernels/cuda/gemm.h) on strided operands, so transposed
// weights and strided inputs are read in place; the host-side decisions (how x's rows form the
// projection GEMM, what each step reads, the backward's workspace) are the plain functions of
// kernels/cuda/rnn_plan.h, unit-tested on the CPU.
//
// Forward over a sequence: the input projection of every step is ONE gemm() into the saved-gates
// buffer (x [T·B, I] · w_ihᵀ, or a batch of T products when x's rows do not merge); then per step
// a gemm() adds h_{t-1} · w_hhᵀ into that step's rows (beta = 1) and one elementwise kernel adds
// the bias, applies σ/tanh, writes the activated gates back in place (what the backward needs),
// c_t into cs and h_t into output (and h_T, c_T at the last step). Two launches per step.
//
// Backward through time: per step, t = T-1 … 0, one elementwise kernel (the gate backward: from
// dh = recurrent part + d_output[t] and the running dc, it writes the pre-activation gate
// gradients dgates_t into a [T·B, 4H] workspace and updates dc in place), then one gemm()
// dh = dgates_t · w_hh. After the loop the weight gradients are single GEMMs over all T·B rows:
// dx = dG · w_ih, dw_ih = dGᵀ X, dw_hh = dG_0ᵀ h0 + dG_{1..}ᵀ output_{0..T-2}, and db is a column
// sum of dG by one kernel (fixed order, accumulated in double, no atomics).
//
// The gate kernels are one thread per (row, unit): the four gates of a unit are H apart, so the
// threads of a warp read four coalesced runs. They compute in the tensor's type, like the CPU.
// Outputs are contiguous (the op allocates them); inputs may have any strides.
#include <cmath>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/cuda/rnn_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

using rnn::kGateThreads;

// A strided [rows, cols] view for the elementwise kernels.
template <typename T>
struct Mat {
  T* p;
  int64_t rs, cs;
  __device__ __forceinline__ T& operator()(int64_t r, int64_t c) const {
    return p[r * rs + c * cs];
  }
};

template <typename T>
Mat<const T> view2(const TensorArg& a) {
  return {a.ptr<const T>(), a.strides[0], a.strides[1]};
}
// Step t of a 3-D [T, rows, cols] argument as a [rows, cols] view.
template <typename T>
Mat<const T> step_view(const TensorArg& a, int64_t t) {
  return {a.ptr<const T>() + t * a.strides[0], a.strides[1], a.strides[2]};
}

template <typename T>
__device__ __forceinline__ T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// Forward gate math for B rows. `gates` [B, 4H] (contiguous) holds x w_ihᵀ + h w_hhᵀ and gets
// the activated gates; c_new, h_new (and, when not null, c_last, h_last) are contiguous [B, H].
template <typename T>
__global__ void gates_forward_kernel(int64_t B, int64_t H, T* __restrict__ gates, const T* bias,
                                     int64_t bias_s, Mat<const T> c_prev, T* c_new, T* h_new,
                                     T* c_last, T* h_last) {
  const int64_t n = B * H, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t b = e / H, j = e - b * H;
    T* g = gates + b * 4 * H;
    const T i = sigmoid(g[j] + bias[j * bias_s]);
    const T f = sigmoid(g[H + j] + bias[(H + j) * bias_s]);
    const T gg = std::tanh(g[2 * H + j] + bias[(2 * H + j) * bias_s]);
    const T o = sigmoid(g[3 * H + j] + bias[(3 * H + j) * bias_s]);
    const T c = f * c_prev(b, j) + i * gg;
    const T h = o * std::tanh(c);
    g[j] = i;
    g[H + j] = f;
    g[2 * H + j] = gg;
    g[3 * H + j] = o;
    c_new[e] = c;
    h_new[e] = h;
    if (c_last) {
      c_last[e] = c;
      h_last[e] = h;
    }
  }
}

// Backward gate math for B rows (docs/kernels/lstm.md):
//   dc'_tot = dc' + dh o (1 - tanh²c'), then through c' = f c + i g and the activations.
// dh is dh_rec (+ dout when not null); dc_in holds dc' and may alias dc_out (each element is
// read, then written, by the same thread); dg [B, 4H] and dc_out [B, H] are contiguous.
template <typename T>
__global__ void gates_backward_kernel(int64_t B, int64_t H, Mat<const T> gates, Mat<const T> c_prev,
                                      Mat<const T> c_new, Mat<const T> dh_rec, Mat<const T> dout,
                                      Mat<const T> dc_in, T* dc_out, T* dg) {
  const int64_t n = B * H, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t b = e / H, j = e - b * H;
    const T i = gates(b, j), f = gates(b, H + j), gg = gates(b, 2 * H + j), o = gates(b, 3 * H + j);
    const T tc = std::tanh(c_new(b, j));
    T d = dh_rec(b, j);
    if (dout.p) d += dout(b, j);
    const T dct = dc_in(b, j) + d * o * (T(1) - tc * tc);
    T* r = dg + b * 4 * H;
    r[j] = dct * gg * i * (T(1) - i);
    r[H + j] = dct * c_prev(b, j) * f * (T(1) - f);
    r[2 * H + j] = dct * i * (T(1) - gg * gg);
    r[3 * H + j] = d * tc * o * (T(1) - o);
    dc_out[e] = dct * f;
  }
}

// out[j] = Σ_r a[r, j] for a contiguous [R, G]: block (kColThreads, kColSlices) over kColThreads
// columns; slice s sums rows s, s + kColSlices, … in order, the slices are added in order.
template <typename T>
__global__ void column_sum_kernel(int64_t R, int64_t G, const T* __restrict__ a, T* out) {
  __shared__ double part[rnn::kColSlices][rnn::kColThreads];
  const int64_t col = int64_t(blockIdx.x) * rnn::kColThreads + threadIdx.x;
  double s = 0;
  if (col < G)
    for (int64_t r = threadIdx.y; r < R; r += rnn::kColSlices)
      s += static_cast<double>(a[r * G + col]);
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();  // reached by every thread: no early return above
  if (threadIdx.y == 0 && col < G) {
    double t = 0;
    for (int k = 0; k < rnn::kColSlices; ++k) t += part[k][threadIdx.x];
    out[col] = static_cast<T>(t);
  }
}

// ---- host side ---------------------------------------------------------------------------------

// One gemm() whose C is contiguous ([batch, M, N], rows N apart). Empty problems do nothing;
// K == 0 with beta == 0 writes zeros (an empty sum).
template <typename T>
void run_gemm(int device, GpuGemm<T> p) {
  if (p.batch == 0 || p.M == 0 || p.N == 0) return;
  if (p.K == 0) {
    if (p.beta == T(0))
      SG_CUDA_CHECK(cudaMemsetAsync(p.c, 0, sizeof(T) * static_cast<size_t>(p.batch * p.M * p.N),
                                    current_stream()));
    return;
  }
  gemm<T>(device, p);
}

// C [M, N] (contiguous) = A · B + beta C with strided A and B.
template <typename T>
GpuGemm<T> product(int64_t M, int64_t N, int64_t K, const T* a, int64_t a_rs, int64_t a_cs,
                   const T* b, int64_t b_rs, int64_t b_cs, T* c, T beta) {
  GpuGemm<T> p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.a = a;
  p.a_rs = a_rs;
  p.a_cs = a_cs;
  p.b = b;
  p.b_rs = b_rs;
  p.b_cs = b_cs;
  p.c = c;
  p.c_rs = N;
  p.c_cs = 1;
  p.beta = beta;
  return p;
}

// Device scratch from the caching allocator, given back when the call has queued its work:
// later users of the block are queued on the same stream, so they run after this call's kernels.
class Workspace {
 public:
  Workspace(int device, size_t bytes) : device_(device) {
    if (bytes > 0) p_ = cuda_alloc(device, bytes);
  }
  ~Workspace() {
    if (p_) cuda_free(device_, p_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  int device_;
  void* p_ = nullptr;
};

// A contiguous [d0, d1, d2] argument over `data`, for packing copies.
TensorArg contiguous_like(const TensorArg& a, int64_t d0, void* data) {
  TensorArg r;
  r.data = data;
  r.dtype = a.dtype;
  r.ndim = 3;
  r.shape[0] = d0;
  r.shape[1] = a.shape[1];
  r.shape[2] = a.shape[2];
  r.strides[2] = 1;
  r.strides[1] = a.shape[2];
  r.strides[0] = a.shape[1] * a.shape[2];
  r.numel = d0 * a.shape[1] * a.shape[2];
  return r;
}

void require_contiguous(const KernelCall& c, const char* op) {
  for (const TensorArg& o : c.out)
    SG_CHECK(o.is_contiguous(), op, ": the CUDA kernel writes contiguous outputs only");
}

template <typename T>
void launch_gates_forward(int64_t B, int64_t H, T* gates, const TensorArg& bias, Mat<const T> cp,
                          T* c_new, T* h_new, T* c_last, T* h_last) {
  gates_forward_kernel<T><<<rnn::gate_blocks(B, H), kGateThreads, 0, current_stream()>>>(
      B, H, gates, bias.ptr<const T>(), bias.strides[0], cp, c_new, h_new, c_last, h_last);
  SG_CUDA_CHECK_LAUNCH("gates_forward_kernel");
}

template <typename T>
void launch_gates_backward(int64_t B, int64_t H, Mat<const T> gates, Mat<const T> cp,
                           Mat<const T> cn, Mat<const T> dh, Mat<const T> dout, Mat<const T> dc_in,
                           T* dc_out, T* dg) {
  gates_backward_kernel<T><<<rnn::gate_blocks(B, H), kGateThreads, 0, current_stream()>>>(
      B, H, gates, cp, cn, dh, dout, dc_in, dc_out, dg);
  SG_CUDA_CHECK_LAUNCH("gates_backward_kernel");
}

void cuda_lstm_cell(const KernelCall& call) {
  const TensorArg &x = call.in[0], &h = call.in[1], &c = call.in[2], &w_ih = call.in[3],
                  &w_hh = call.in[4], &bias = call.in[5];
  const int64_t B = x.shape[0], I = x.shape[1], H = h.shape[1], G = 4 * H;
  require_contiguous(call, "lstm_cell");
  if (B == 0 || H == 0) return;
  const int device = cuda_current_device();
  SG_DISPATCH_FLOAT(x.dtype, "lstm_cell", [&] {
    using T = scalar_t;
    T* gates = call.out[2].ptr<T>();
    // gates = x w_ihᵀ, then += h w_hhᵀ (w read transposed through its strides).
    run_gemm<T>(device, product<T>(B, G, I, x.ptr<T>(), x.strides[0], x.strides[1], w_ih.ptr<T>(),
                                   w_ih.strides[1], w_ih.strides[0], gates, T(0)));
    run_gemm<T>(device, product<T>(B, G, H, h.ptr<T>(), h.strides[0], h.strides[1], w_hh.ptr<T>(),
                                   w_hh.strides[1], w_hh.strides[0], gates, T(1)));
    launch_gates_forward<T>(B, H, gates, bias, view2<T>(c), call.out[1].ptr<T>(),
                            call.out[0].ptr<T>(), nullptr, nullptr);
  });
}

void cuda_lstm_cell_backward(const KernelCall& call) {
  const TensorArg& c = call.in[1];
  const int64_t B = c.shape[0], H = c.shape[1];
  require_contiguous(call, "lstm_cell_backward");
  if (B == 0 || H == 0) return;
  SG_DISPATCH_FLOAT(c.dtype, "lstm_cell_backward", [&] {
    using T = scalar_t;
    launch_gates_backward<T>(B, H, view2<T>(call.in[0]), view2<T>(c), view2<T>(call.in[2]),
                             view2<T>(call.in[3]), Mat<const T>{nullptr, 0, 0},
                             view2<T>(call.in[4]), call.out[1].ptr<T>(), call.out[0].ptr<T>());
  });
}

void cuda_lstm(const KernelCall& call) {
  const TensorArg &x = call.in[0], &h0 = call.in[1], &c0 = call.in[2], &w_ih = call.in[3],
                  &w_hh = call.in[4], &bias = call.in[5];
  const int64_t T_ = x.shape[0], B = x.shape[1], I = x.shape[2], H = h0.shape[1], G = 4 * H;
  const int64_t BH = B * H;
  require_contiguous(call, "lstm");
  if (T_ == 0 || B == 0 || H == 0) return;
  const int device = cuda_current_device();
  const rnn::ProjectionPlan proj =
      rnn::projection_plan(T_, B, {x.strides[0], x.strides[1], x.strides[2]});
  SG_DISPATCH_FLOAT(x.dtype, "lstm", [&] {
    using T = scalar_t;
    T *out = call.out[0].ptr<T>(), *cs = call.out[3].ptr<T>(), *gates = call.out[4].ptr<T>();
    // The input projection of every step: one gemm() call.
    GpuGemm<T> p = product<T>(proj.M, G, I, x.ptr<T>(), proj.x.rs, proj.x.cs, w_ih.ptr<T>(),
                              w_ih.strides[1], w_ih.strides[0], gates, T(0));
    p.batch = proj.batch;
    p.a_bs = proj.x.bs;
    p.b_bs = 0;
    p.c_bs = proj.batch > 1 ? B * G : 0;
    run_gemm<T>(device, p);
    for (int64_t t = 0; t < T_; ++t) {
      const rnn::ForwardStep s = rnn::forward_step(t, T_);
      const bool first = s.prev == rnn::StateSource::initial;
      const Mat<const T> hp = first ? view2<T>(h0) : Mat<const T>{out + (t - 1) * BH, H, 1};
      const Mat<const T> cp = first ? view2<T>(c0) : Mat<const T>{cs + (t - 1) * BH, H, 1};
      T* g = gates + t * B * G;
      run_gemm<T>(device, product<T>(B, G, H, hp.p, hp.rs, hp.cs, w_hh.ptr<T>(), w_hh.strides[1],
                                     w_hh.strides[0], g, T(1)));
      launch_gates_forward<T>(B, H, g, bias, cp, cs + t * BH, out + t * BH,
                              s.write_last ? call.out[2].ptr<T>() : nullptr,
                              s.write_last ? call.out[1].ptr<T>() : nullptr);
    }
  });
}

void cuda_lstm_backward(const KernelCall& call) {
  const TensorArg &x = call.in[0], &h0 = call.in[1], &c0 = call.in[2], &w_ih = call.in[3],
                  &w_hh = call.in[4], &output = call.in[5], &cs = call.in[6], &gates = call.in[7],
                  &d_out = call.in[8], &dh_last = call.in[9], &dc_last = call.in[10];
  const TensorArg &dx = call.out[0], &dh0 = call.out[1], &dc0 = call.out[2], &dw_ih = call.out[3],
                  &dw_hh = call.out[4], &db = call.out[5];
  const int64_t T_ = x.shape[0], B = x.shape[1], I = x.shape[2], H = h0.shape[1], G = 4 * H;
  require_contiguous(call, "lstm_backward");
  cudaStream_t stream = current_stream();
  auto zero = [&](const TensorArg& a) {
    if (a.numel > 0)
      SG_CUDA_CHECK(
          cudaMemsetAsync(a.data, 0, dtype_size(a.dtype) * static_cast<size_t>(a.numel), stream));
  };
  if (T_ == 0 || B == 0 || H == 0) {  // empty sums: every gradient is zero (or empty)
    for (const TensorArg& o : call.out) zero(o);
    return;
  }
  const int device = cuda_current_device();
  const rnn::BackwardWorkspace ws =
      rnn::backward_workspace(T_, B, I, H, {x.strides[0], x.strides[1], x.strides[2]},
                              {output.strides[0], output.strides[1], output.strides[2]});
  SG_DISPATCH_FLOAT(x.dtype, "lstm_backward", [&] {
    using T = scalar_t;
    Workspace buf(device, sizeof(T) * static_cast<size_t>(ws.total));
    T *dG = buf.as<T>() + ws.dgates, *dh = buf.as<T>() + ws.dh;
    T *dc = dc0.ptr<T>(), *dh0p = dh0.ptr<T>();
    for (int64_t t = T_ - 1; t >= 0; --t) {
      const rnn::BackwardStep s = rnn::backward_step(t, T_);
      const Mat<const T> dh_in =
          s.dh == rnn::GradSource::caller ? view2<T>(dh_last) : Mat<const T>{dh, H, 1};
      const Mat<const T> dc_in =
          s.dc == rnn::GradSource::caller ? view2<T>(dc_last) : Mat<const T>{dc, H, 1};
      const Mat<const T> cp = t == 0 ? view2<T>(c0) : step_view<T>(cs, t - 1);
      T* dg = dG + t * B * G;
      launch_gates_backward<T>(B, H, step_view<T>(gates, t), cp, step_view<T>(cs, t), dh_in,
                               step_view<T>(d_out, t), dc_in, dc, dg);
      // dh_{t-1} = dgates_t · w_hh (into dh0 at t = 0).
      run_gemm<T>(device, product<T>(B, H, G, dg, G, 1, w_hh.ptr<T>(), w_hh.strides[0],
                                     w_hh.strides[1], s.dh_into_dh0 ? dh0p : dh, T(0)));
    }
    const int64_t rows = T_ * B;
    // dx = dG · w_ih.
    run_gemm<T>(device, product<T>(rows, I, G, dG, G, 1, w_ih.ptr<T>(), w_ih.strides[0],
                                   w_ih.strides[1], dx.ptr<T>(), T(0)));
    // dw_ih = dGᵀ X over all T·B rows (X packed first when its rows do not merge).
    const T* xr = x.ptr<T>();
    int64_t x_rs = 0, x_cs = x.strides[2];
    if (ws.pack_x) {
      T* xp = buf.as<T>() + ws.x_pack;
      copy_strided(x, contiguous_like(x, T_, xp));
      xr = xp;
      x_rs = I;
      x_cs = 1;
    } else {
      x_rs = *rnn::merged_row_stride(T_, B, x.strides[0], x.strides[1]);
    }
    run_gemm<T>(device, product<T>(G, I, rows, dG, 1, G, xr, x_rs, x_cs, dw_ih.ptr<T>(), T(0)));
    // dw_hh = dG_0ᵀ h0 + dG_{1..T-1}ᵀ output_{0..T-2}.
    run_gemm<T>(device, product<T>(G, H, B, dG, 1, G, h0.ptr<T>(), h0.strides[0], h0.strides[1],
                                   dw_hh.ptr<T>(), T(0)));
    if (T_ > 1) {
      const T* orow = output.ptr<T>();
      int64_t o_rs = 0, o_cs = output.strides[2];
      if (ws.pack_out) {
        T* op = buf.as<T>() + ws.out_pack;
        TensorArg head = output;  // its first T-1 steps
        head.shape[0] = T_ - 1;
        head.numel = (T_ - 1) * B * H;
        copy_strided(head, contiguous_like(output, T_ - 1, op));
        orow = op;
        o_rs = H;
        o_cs = 1;
      } else {
        o_rs = *rnn::merged_row_stride(T_ - 1, B, output.strides[0], output.strides[1]);
      }
      run_gemm<T>(device, product<T>(G, H, rows - B, dG + B * G, 1, G, orow, o_rs, o_cs,
                                     dw_hh.ptr<T>(), T(1)));
    }
    // db: column sums of dG.
    column_sum_kernel<T>
        <<<rnn::colsum_blocks(G), dim3(rnn::kColThreads, rnn::kColSlices), 0, stream>>>(
            rows, G, dG, db.ptr<T>());
    SG_CUDA_CHECK_LAUNCH("column_sum_kernel");
  });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_rnn() {
  using namespace kernels::gpu;
  register_kernel(OpId::lstm_cell, Backend::cuda, cuda_lstm_cell);
  register_kernel(OpId::lstm_cell_backward, Backend::cuda, cuda_lstm_cell_backward);
  register_kernel(OpId::lstm, Backend::cuda, cuda_lstm);
  register_kernel(OpId::lstm_backward, Backend::cuda, cuda_lstm_backward);
}

}  // namespace stackgrad
