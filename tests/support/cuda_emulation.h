// Host emulation of the CUDA built-ins that the device code in kernels/cuda/*.cuh uses, so a
// test can compile a kernel header as plain C++ and run its kernels on the CPU. It checks the
// kernels' index arithmetic, barriers and shuffles on a machine without a GPU; it says nothing
// about speed, and nothing about code that exists only on the device (inline PTX, tensor-core
// mma, __CUDA_ARCH__ branches).
//
// How it runs a launch (launch(blocks, threads, body)):
//   - the block's threads are std::threads, one per CUDA thread; they walk the blocks in order
//     (blockIdx.x = 0, 1, ...), so gridDim.x may be large but each block costs `threads` barriers
//     and thread switches per __syncthreads;
//   - __syncthreads() is a std::barrier over the block;
//   - __shfl_xor_sync, __shfl_sync and __shfl_down_sync are a pair of barriers over the warp: a
//     shuffle that not every lane of the warp reaches deadlocks, as it is undefined on the GPU,
//     rather than passing; partial masks abort;
//   - `__shared__` arrays declared in a kernel become static locals (one per kernel instance,
//     which every thread sees; blocks run one at a time, so that is one block's shared memory);
//   - dynamic shared memory, declared with SG_EXTERN_SHARED(type, name) in the kernels, is a
//     block-scope extern declaration of an array the test defines in the kernels' namespace;
//     before every block, the arrays given to the Emulator are filled with NaN bytes (0xff), so a
//     kernel that reads shared memory it never wrote sees NaN.
//
// Usage: include this header, then define the kernels' dynamic shared arrays in the kernels'
// namespace, then include the kernel header:
//
//   #include "tests/support/cuda_emulation.h"
//   namespace stackgrad::kernels::gpu::attention {
//   alignas(16) unsigned char raw[256 * 1024];
//   }
//   #include "kernels/cuda/attention_kernels.cuh"
//   ...
//   cuda_emulation::Emulator emu({{raw, sizeof raw}});
//   emu.launch(blocks, 128, [&] { my_kernel<float>(args...); });
#pragma once

#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 threadIdx;
inline dim3 blockIdx, blockDim, gridDim;

namespace stackgrad::testing::cuda_emulation {

constexpr int kWarp = 32;
constexpr int kMaxThreads = 1024;

struct Warp {
  std::unique_ptr<std::barrier<>> bar;
  alignas(16) unsigned char lane_value[kWarp][16];
  uint32_t mma_a[kWarp][4], mma_b[kWarp][2];  // each lane's fragments (mma emulation)
};

struct State {
  std::barrier<>* block = nullptr;
  Warp warps[kMaxThreads / kWarp];
};

inline State& state() {
  static State s;
  return s;
}

// The value of `v` in lane `src_lane` of the calling thread's warp; every lane of the warp must
// call it (the full-warp mask).
template <class V>
V exchange(unsigned mask, V v, int src_lane) {
  static_assert(sizeof(V) <= 16 && std::is_trivially_copyable_v<V>);
  if (mask != 0xffffffffu) std::abort();  // partial warps are not emulated
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  Warp& w = state().warps[threadIdx.x / kWarp];
  std::memcpy(w.lane_value[lane], &v, sizeof v);
  w.bar->arrive_and_wait();
  V r;
  std::memcpy(&r, w.lane_value[src_lane], sizeof r);
  w.bar->arrive_and_wait();  // every lane has read before any lane writes again
  return r;
}

// Runs kernels one launch at a time; `shared` lists the byte ranges of the kernels' shared
// memory, NaN-filled before each block.
class Emulator {
 public:
  struct Range {
    void* p;
    size_t bytes;
  };
  explicit Emulator(std::vector<Range> shared = {}) : shared_(std::move(shared)) {}

  // `body` runs once per (block, thread), with blockIdx and threadIdx set; `threads` must be a
  // multiple of 32 (whole warps). A 1-D grid of `blocks` blocks.
  template <class F>
  void launch(int64_t blocks, int threads, F&& body) {
    if (blocks <= 0) return;
    launch(dim3{static_cast<unsigned>(blocks), 1, 1}, threads, std::forward<F>(body));
  }

  // A launch over a 3-D grid (kernels that read blockIdx.y / blockIdx.z): the blocks run in
  // x-fastest order (x, then y, then z), one at a time. A team of `threads` threads walks them;
  // thread 0 resets the shared memory and sets blockIdx between two barriers.
  template <class F>
  void launch(dim3 grid, int threads, F&& body) {
    if (threads % kWarp != 0 || threads > kMaxThreads) std::abort();
    const int64_t blocks = int64_t(grid.x) * grid.y * grid.z;
    if (blocks <= 0) return;
    State& st = state();
    blockDim = dim3{static_cast<unsigned>(threads), 1, 1};
    gridDim = grid;
    std::barrier<> block_bar(threads);
    st.block = &block_bar;
    for (int w = 0; w < threads / kWarp; ++w)
      st.warps[w].bar = std::make_unique<std::barrier<>>(kWarp);
    std::vector<std::thread> team;
    team.reserve(threads);
    for (int t = 0; t < threads; ++t)
      team.emplace_back([&, t] {
        threadIdx = dim3{static_cast<unsigned>(t), 0, 0};
        for (int64_t b = 0; b < blocks; ++b) {
          block_bar.arrive_and_wait();
          if (t == 0) {
            blockIdx =
                dim3{static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                     static_cast<unsigned>(b / (int64_t(grid.x) * grid.y))};
            for (const Range& r : shared_) std::memset(r.p, 0xff, r.bytes);
          }
          block_bar.arrive_and_wait();
          body();
        }
      });
    for (auto& t : team) t.join();
    st.block = nullptr;
  }

 private:
  std::vector<Range> shared_;
};

}  // namespace stackgrad::testing::cuda_emulation

inline void __syncthreads() { stackgrad::testing::cuda_emulation::state().block->arrive_and_wait(); }

template <class V>
V __shfl_xor_sync(unsigned mask, V v, int lane_mask) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  return stackgrad::testing::cuda_emulation::exchange(mask, v, lane ^ lane_mask);
}

template <class V>
V __shfl_sync(unsigned mask, V v, int src_lane) {
  return stackgrad::testing::cuda_emulation::exchange(mask, v, src_lane % 32);
}

// Lanes past the end keep their own value, as on the GPU.
template <class V>
V __shfl_down_sync(unsigned mask, V v, unsigned delta) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int src = lane + static_cast<int>(delta);
  const V r = stackgrad::testing::cuda_emulation::exchange(mask, v, src < 32 ? src : lane);
  return r;
}

// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32 over the calling thread's
// warp: d += A B, A 16 x 16 and B 16 x 8 of H (BFloat16 or Float16, anything with from_bits and
// a float conversion), d the lane's four f32 accumulators. The fragment layout is the PTX ISA's
// for this shape (lane = 4 g + t; the lower-indexed element of a pair in the low half):
//   A reg i: rows g (i = 0, 2) or g + 8 (i = 1, 3), cols 2t, 2t+1 (i < 2) or 2t+8, 2t+9;
//   B reg i: rows (k) 2t, 2t+1 (i = 0) or 2t+8, 2t+9, col (n) g;
//   d: (row g, cols 2t, 2t+1), (row g + 8, cols 2t, 2t+1).
// The products of the 16-bit inputs are exact in double and the sum is rounded once to f32 per
// call (the hardware's internal order and rounding may differ in the last bits). Every lane of
// the warp must call it, as on the GPU.
#define SG_CUDA_EMULATION 1
template <class H>
void sg_emulated_mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  using stackgrad::testing::cuda_emulation::state;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  auto& w = state().warps[threadIdx.x / 32];
  for (int i = 0; i < 4; ++i) w.mma_a[lane][i] = a[i];
  for (int i = 0; i < 2; ++i) w.mma_b[lane][i] = b[i];
  w.bar->arrive_and_wait();
  auto element = [](uint32_t word, int high) {
    const auto bits = static_cast<uint16_t>(high ? word >> 16 : word & 0xffffu);
    return static_cast<double>(static_cast<float>(H::from_bits(bits)));
  };
  auto A = [&](int r, int k) {
    const int owner = (r % 8) * 4 + (k % 8) / 2, reg = (r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
    return element(w.mma_a[owner][reg], k % 2);
  };
  auto B = [&](int k, int n) {
    const int owner = n * 4 + (k % 8) / 2, reg = k >= 8 ? 1 : 0;
    return element(w.mma_b[owner][reg], k % 2);
  };
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int r = g + (e >= 2 ? 8 : 0), n = 2 * t + e % 2;
    double s = d[e];
    for (int k = 0; k < 16; ++k) s += A(r, k) * B(k, n);
    d[e] = static_cast<float>(s);
  }
  w.bar->arrive_and_wait();  // every lane has read the fragments before any lane writes again
}

// --- TF32 tensor cores and the f32 vector types (the GEMM kernels, gemm_kernels.cuh) ---------

// float2 (8-byte shared-memory reads) and the bit casts, as CUDA lays them out.
struct alignas(8) float2 {
  float x, y;
};
inline uint32_t __float_as_uint(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float __uint_as_float(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// cvt.rna.tf32.f32: x rounded to TF32's 10 mantissa bits, to nearest with ties away from zero,
// kept as an f32 bit pattern with the low 13 bits zero. Adding half a TF32 ulp (bit 12) to the
// magnitude and truncating does exactly that, carrying into the exponent (up to infinity) where
// the mantissa overflows; infinities pass, NaNs stay NaN.
inline float sg_emulated_cvt_rna_tf32(float x) {
  uint32_t u = __float_as_uint(x);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, NaN
  u = (u + 0x1000u) & ~0x1fffu;
  return __uint_as_float(u);
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 over the calling thread's warp: d += A B,
// A 16 x 8 and B 8 x 8 of TF32 values (f32 bit patterns, of which the tensor cores read the top
// 19 bits: the low 13 are dropped here too), d the lane's four f32 accumulators. The fragment
// layout is the PTX ISA's for this shape and type (lane = 4 g + t, one element per register):
//   A: a0 (row g, col t), a1 (row g + 8, col t), a2 (row g, col t + 4), a3 (row g + 8, col t + 4);
//   B: b0 (row (k) t, col (n) g), b1 (row t + 4, col g);
//   d: as for m16n8k16, (row g, cols 2t, 2t + 1), (row g + 8, cols 2t, 2t + 1).
// The products of TF32 inputs are exact in double and the sum is rounded once to f32 per call
// (the hardware's internal order and rounding may differ in the last bits). Every lane of the
// warp must call it, as on the GPU.
inline void sg_emulated_mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
  using stackgrad::testing::cuda_emulation::state;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  auto& w = state().warps[threadIdx.x / 32];
  for (int i = 0; i < 4; ++i) w.mma_a[lane][i] = a[i];
  for (int i = 0; i < 2; ++i) w.mma_b[lane][i] = b[i];
  w.bar->arrive_and_wait();
  auto element = [](uint32_t word) {
    return static_cast<double>(__uint_as_float(word & ~0x1fffu));
  };
  auto A = [&](int r, int k) {  // owner lane 4 (r % 8) + k % 4, register (r >= 8) + 2 (k >= 4)
    return element(w.mma_a[(r % 8) * 4 + k % 4][(r >= 8 ? 1 : 0) + (k >= 4 ? 2 : 0)]);
  };
  auto B = [&](int k, int n) {  // owner lane 4 n + k % 4, register k >= 4
    return element(w.mma_b[n * 4 + k % 4][k >= 4 ? 1 : 0]);
  };
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int r = g + (e >= 2 ? 8 : 0), n = 2 * t + e % 2;
    double s = d[e];
    for (int k = 0; k < 8; ++k) s += A(r, k) * B(k, n);
    d[e] = static_cast<float>(s);
  }
  w.bar->arrive_and_wait();  // every lane has read the fragments before any lane writes again
}

#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define SG_EXTERN_SHARED(type, name) extern type name[]

// float4 and make_float4 (the tiled kernels' 16-byte shared-memory reads), as CUDA lays them out.
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
