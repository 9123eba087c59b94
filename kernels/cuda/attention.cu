// CUDA scaled dot-product attention, forward and backward: the FlashAttention scheme of
// kernels/cpu/attention.cpp (same semantics, docs/kernels/attention.md, "CUDA"). No [Lq, Lk]
// buffer exists anywhere: the forward writes O and the row log-sum-exp L; the backward
// recomputes P = exp(S - L) per tile and needs one workspace value per query row,
// D_i = rowsum(dO o O).
//
// f32 (and the backward of bf16, f16), max(D, Dv) <= 128 (tiled, f32 accumulation, head-dim
// instances 32, 64, 128):
//   forward   one block per (batch*head, 64-query tile), longest causal tiles first. K, then V
//             tiles of 64 keys go through one shared buffer; S = Q Kᵀ as a 4 x 8 register tile
//             per thread, scale, mask, causal cut, online softmax (running max and sum per row,
//             reduced over the row's 8 lanes by shuffles), P to shared memory, O += P V in
//             registers (4 rows x head_tile / 8 columns per thread). Causal key tiles past the
//             diagonal are not visited. At the end O = acc / l, L = m + log l.
//   backward  (1) D_i per row (a warp per row); (2) dK, dV: one block per (batch*head, key
//             tile), looping over 32-query tiles: Sᵀ and dPᵀ as register tiles, P from L,
//             dS = scale (Pd o dP - P D), Pd and dS through shared memory, dV += Pdᵀ dO and
//             dK += dSᵀ Q in registers; (3) dQ in a separate pass: one block per (batch*head,
//             64-query tile), looping over 32-key tiles, recomputing S and dP, dQ += dS K.
//             Every gradient element is summed by one thread in a fixed order: no atomics, the
//             same bits on every run.
// f64, or a head dim above 128: generic kernels with the same structure one row at a time (one
// block per query row for the forward and dQ, per key row for dK/dV), row vectors in shared
// memory, accumulation in f64 for f64 and in f32 otherwise.
//
// The kernels read every operand through its strides (the op layer passes [B, L, H, D] views
// transposed, and the mask expanded with stride-0 broadcast dims). Dropout: element
// e = ((b H + h) Lq + i) Lk + j is dropped when word e % 4 of Philox(seed, offset + e / 4) is
// below p 2^32 (kernels/reference/philox.h on the device), the CPU's mask bit for bit.
//
// bf16 and f16 (BFloat16, Float16 of engine/core/half.h), log-sum-exp and workspace in f32:
//   forward   on the tiled path, tensor cores: fwd_mma, the tiled forward's grid and online
//             softmax with Q Kᵀ and P V on mma.sync.m16n8k16 (16-bit operands, f32
//             accumulators, P rounded to the input type as the A operand of P V); see
//             attention_kernels.cuh for the fragment layouts.
//   backward  the f32 kernels instantiated on the half type: tile loads convert to float,
//             every sum in f32, the gradients rounded once.
//   generic   (head dims above 128) the generic kernels in f32 likewise.
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "engine/dispatch/registry.h"
#include "kernels/cuda/attention_kernels.cuh"
#include "kernels/cuda/attention_plan.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/reference/philox.h"

namespace stackgrad::kernels::gpu {
namespace {

namespace at = attention;
using namespace attention;  // the kernels and their operand types (attention_kernels.cuh)
template <typename T>
Mat4<T> mat4(const TensorArg& t) {
  return {t.ptr<T>(), t.strides[0], t.strides[1], t.strides[2], t.strides[3]};
}

template <typename T>
Lse<T> lse3(const TensorArg& t) {
  return {t.ptr<T>(), t.strides[0], t.strides[1], t.strides[2]};
}

template <typename T, typename Acc>
Problem<T, Acc> make_problem(const KernelCall& c, const TensorArg* mask) {
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2];
  Problem<T, Acc> p{};
  p.q = mat4<const T>(q);
  p.k = mat4<const T>(k);
  p.v = mat4<const T>(v);
  p.B = q.shape[0];
  p.H = q.shape[1];
  p.Lq = q.shape[2];
  p.Lk = k.shape[2];
  p.D = q.shape[3];
  p.Dv = v.shape[3];
  p.scale = static_cast<Acc>(c.attrs.alpha);
  p.mode = mask != nullptr && mask->data != nullptr ? static_cast<int>(c.attrs.mode) : 0;
  if (p.mode == 1) p.mask_bool = mat4<const bool>(*mask);
  if (p.mode == 2) p.mask_add = mat4<const T>(*mask);
  p.causal = c.attrs.flag;
  p.dropout = c.attrs.beta > 0;
  p.seed = c.attrs.seed;
  p.offset = c.attrs.offset;
  p.threshold = static_cast<uint32_t>(c.attrs.beta * 4294967296.0);
  p.keep = static_cast<Acc>(1.0 / (1.0 - c.attrs.beta));
  return p;
}

// ------------------------------------------------------------------------------------------
// Host side.

size_t device_max_smem() {
  int device = cuda_current_device(), bytes = 0;
  SG_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return static_cast<size_t>(bytes);
}

// Launches `kernel` on `blocks` blocks of at::kThreads with `smem` bytes of dynamic shared memory
// (opting in above the 48 KiB default).
template <typename... KArgs, typename... Args>
void launch(void (*kernel)(KArgs...), const char* name, int64_t blocks, size_t smem,
            Args&&... args) {
  if (blocks == 0) return;
  if (smem > 48 * 1024)
    SG_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
  kernel<<<static_cast<unsigned>(blocks), at::kThreads, smem, current_stream()>>>(
      std::forward<Args>(args)...);
  cuda_check(cudaGetLastError(), name, __FILE__, __LINE__);
}

at::Plan make_plan(const char* op, const KernelCall& c, int acc_size) {
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2];
  const at::Plan plan = at::plan_attention(acc_size, q.shape[0], q.shape[1], q.shape[2],
                                           k.shape[2], q.shape[3], v.shape[3], device_max_smem());
  SG_CHECK(plan.ok, op, " (cuda): ", plan.why, ", q ", q.shape[0], "x", q.shape[1], "x", q.shape[2],
           "x", q.shape[3], ", v head dim ", v.shape[3]);
  return plan;
}

template <typename T>
void forward(const KernelCall& c) {
  using Acc = accumulation_t<T>;  // f32 for f32, bf16 and f16; f64 for f64
  const TensorArg* mask = c.in.size() > 3 ? &c.in[3] : nullptr;
  const char* op = "scaled_dot_product_attention";
  const at::Plan plan = make_plan(op, c, sizeof(Acc));
  const Mat4<T> out = mat4<T>(c.out[0]);
  const Lse<Acc> lse = lse3<Acc>(c.out[1]);
  const Problem<T, Acc> pr = make_problem<T, Acc>(c, mask);
  if constexpr (!std::is_same_v<T, float> && !std::is_same_v<T, double>) {
    if (plan.path == at::Path::tiled) {  // bf16, f16: tensor cores
      switch (plan.head_tile) {
        case 32:
          return launch(fwd_mma<T, 32>, "fwd_mma<32>", plan.fwd_blocks, plan.fwd_mma_smem, pr,
                        out, lse, plan.q_tiles);
        case 64:
          return launch(fwd_mma<T, 64>, "fwd_mma<64>", plan.fwd_blocks, plan.fwd_mma_smem, pr,
                        out, lse, plan.q_tiles);
        default:
          return launch(fwd_mma<T, 128>, "fwd_mma<128>", plan.fwd_blocks, plan.fwd_mma_smem, pr,
                        out, lse, plan.q_tiles);
      }
    }
  }
  if constexpr (std::is_same_v<Acc, float>) {
    if (plan.path == at::Path::tiled) {
      switch (plan.head_tile) {
        case 32:
          return launch(fwd_tiled<T, 32>, "fwd_tiled<32>", plan.fwd_blocks, plan.fwd_smem, pr, out,
                        lse, plan.q_tiles);
        case 64:
          return launch(fwd_tiled<T, 64>, "fwd_tiled<64>", plan.fwd_blocks, plan.fwd_smem, pr, out,
                        lse, plan.q_tiles);
        default:
          return launch(fwd_tiled<T, 128>, "fwd_tiled<128>", plan.fwd_blocks, plan.fwd_smem, pr,
                        out, lse, plan.q_tiles);
      }
    }
  }
  launch(fwd_generic<T, Acc>, "fwd_generic", plan.fwd_blocks, plan.fwd_smem, pr, out, lse);
}

template <typename T>
void backward(const KernelCall& c) {
  const TensorArg* mask = c.in.size() > 6 ? &c.in[6] : nullptr;
  const char* op = "scaled_dot_product_attention_backward";
  using Acc = accumulation_t<T>;  // f32 for f32, bf16 and f16 (tiled and generic); f64 for f64
  const at::Plan plan = make_plan(op, c, sizeof(Acc));
  const Mat4<const T> o = mat4<const T>(c.in[3]), dout = mat4<const T>(c.in[5]);
  const Lse<const Acc> lse = lse3<const Acc>(c.in[4]);
  const Mat4<T> dq = mat4<T>(c.out[0]), dk = mat4<T>(c.out[1]), dv = mat4<T>(c.out[2]);
  const int64_t Lq = c.in[0].shape[2], Dv = c.in[2].shape[3], rows = plan.bh * Lq;
  // The D_i workspace goes back to the caching allocator right after the launches: the kernels
  // that read it are queued on the same stream before any later user of the block.
  const int device = cuda_current_device();
  Acc* Dw = plan.workspace_bytes > 0 ? static_cast<Acc*>(cuda_alloc(device, plan.workspace_bytes))
                                     : nullptr;
  try {
    if (rows > 0) {
      row_dot<T, Acc><<<blocks_for(rows, gpu::kThreads / 32), gpu::kThreads, 0, current_stream()>>>(
          o, dout, c.in[0].shape[1], Lq, Dv, rows, Dw);
      SG_CUDA_CHECK_LAUNCH("row_dot");
    }
    const Problem<T, Acc> pr = make_problem<T, Acc>(c, mask);
    bool done = false;
    if constexpr (std::is_same_v<Acc, float>) {
      if (plan.path == at::Path::tiled) {
        auto run = [&](auto kv, auto dqk, const char* kv_name, const char* dq_name) {
          launch(kv, kv_name, plan.kv_blocks, plan.kv_smem, pr, dout, lse, Dw, dk, dv,
                 plan.k_tiles);
          launch(dqk, dq_name, plan.dq_blocks, plan.dq_smem, pr, dout, lse, Dw, dq, plan.dq_tiles);
        };
        switch (plan.head_tile) {
          case 32:
            run(bwd_kv_tiled<T, 32>, bwd_q_tiled<T, 32>, "bwd_kv_tiled<32>", "bwd_q_tiled<32>");
            break;
          case 64:
            run(bwd_kv_tiled<T, 64>, bwd_q_tiled<T, 64>, "bwd_kv_tiled<64>", "bwd_q_tiled<64>");
            break;
          default:
            run(bwd_kv_tiled<T, 128>, bwd_q_tiled<T, 128>, "bwd_kv_tiled<128>", "bwd_q_tiled<128>");
        }
        done = true;
      }
    }
    if (!done) {
      launch(bwd_kv_generic<T, Acc>, "bwd_kv_generic", plan.kv_blocks, plan.kv_smem, pr, dout, lse,
             static_cast<const Acc*>(Dw), dk, dv);
      launch(bwd_q_generic<T, Acc>, "bwd_q_generic", plan.dq_blocks, plan.dq_smem, pr, dout, lse,
             static_cast<const Acc*>(Dw), dq);
    }
  } catch (...) {
    if (Dw) cuda_free(device, Dw);
    throw;
  }
  if (Dw) cuda_free(device, Dw);
}

void cuda_sdpa(const KernelCall& c) {
  SG_DISPATCH_FLOAT_AND_HALF(c.in[0].dtype, "scaled_dot_product_attention", [&] { forward<scalar_t>(c); });
}

void cuda_sdpa_backward(const KernelCall& c) {
  SG_DISPATCH_FLOAT_AND_HALF(c.in[0].dtype, "scaled_dot_product_attention_backward",
                    [&] { backward<scalar_t>(c); });
}

}  // namespace
}  // namespace stackgrad::kernels::gpu

namespace stackgrad {

void register_cuda_attention() {
  using namespace kernels::gpu;
  register_kernel(OpId::scaled_dot_product_attention, Backend::cuda, cuda_sdpa);
  register_kernel(OpId::scaled_dot_product_attention_backward, Backend::cuda, cuda_sdpa_backward);
}

}  // namespace stackgrad
