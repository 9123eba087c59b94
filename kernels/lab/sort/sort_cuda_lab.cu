// sort_cuda_lab: versions of the per-line GPU sort, each validated against the CPU sort
// (stackgrad::sort on the CPU: stable, ties by index) on the same f32 values with many ties,
// then timed with CUDA events on stackgrad's stream.
//   packed-global: keys packed into one u64 (order bits << 32 | position, enough for f32 and
//                  lines < 2^32), every bitonic step a global launch;
//   shipped:       kernels/cuda/sort.cu through stackgrad::sort (16-byte (key, position) pairs,
//                  shared-memory chunks of 2048 plus global steps for longer lines);
//   cub:           CUB's segmented radix sort of (order bits, position) pairs (stable LSD, so
//                  the same order).
// Without a GPU it prints "no CUDA device" and exits 0.
//   ./build-bench/sort_cuda_lab
#include <cstdio>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <functional>
#include <vector>

#include "engine/runtime/cuda_context.h"
#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

#define LAB_CHECK(call)                                                                          \
  do {                                                                                           \
    cudaError_t e_ = (call);                                                                     \
    if (e_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

cudaStream_t stream() { return static_cast<cudaStream_t>(cuda_stream(0)); }

__device__ unsigned order_bits(float v) {
  if (isnan(v)) return 0xFFFFFFFFu;
  const unsigned u = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__global__ void packed_keys(int64_t lines, int64_t n, int64_t P, const float* x,
                            unsigned long long* k) {
  const int64_t total = lines * P;
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < total;
       g += int64_t(gridDim.x) * blockDim.x) {
    const int64_t line = g / P, j = g % P;
    k[g] = j < n ? (static_cast<unsigned long long>(order_bits(x[line * n + j])) << 32) | j : ~0ull;
  }
}

__global__ void packed_step(int64_t total, int64_t P, int64_t k, int64_t j, unsigned long long* a) {
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total / 2;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t e = (t / j) * 2 * j + t % j;
    const bool up = ((e & (P - 1)) & k) == 0;
    const unsigned long long x = a[e], y = a[e + j];
    if (up ? y < x : x < y) {
      a[e] = y;
      a[e + j] = x;
    }
  }
}

__global__ void packed_positions(int64_t lines, int64_t n, int64_t P, const unsigned long long* k,
                                 int64_t* pos) {
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < lines * n;
       g += int64_t(gridDim.x) * blockDim.x) {
    const int64_t line = g / n, j = g % n;
    pos[g] = static_cast<int64_t>(k[line * P + j] & 0xFFFFFFFFull);
  }
}

__global__ void radix_inputs(int64_t total, int64_t n, const float* x, unsigned* keys, int* pos) {
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < total;
       g += int64_t(gridDim.x) * blockDim.x) {
    keys[g] = order_bits(x[g]);
    pos[g] = static_cast<int>(g % n);
  }
}

int grid(int64_t work) { return static_cast<int>(std::min<int64_t>((work + 255) / 256, 65536)); }

// Milliseconds per call of fn (queued on stackgrad's stream), median-free: the mean of `reps`
// after two warm-up calls.
double time_ms(const std::function<void()>& fn, int reps = 10) {
  fn();
  fn();
  cudaEvent_t a, b;
  LAB_CHECK(cudaEventCreate(&a));
  LAB_CHECK(cudaEventCreate(&b));
  LAB_CHECK(cudaEventRecord(a, stream()));
  for (int i = 0; i < reps; ++i) fn();
  LAB_CHECK(cudaEventRecord(b, stream()));
  LAB_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  LAB_CHECK(cudaEventElapsedTime(&ms, a, b));
  LAB_CHECK(cudaEventDestroy(a));
  LAB_CHECK(cudaEventDestroy(b));
  return ms / reps;
}

void report(const char* version, int64_t lines, int64_t n, const std::vector<int64_t>& got,
            const std::vector<int64_t>& want, double ms) {
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) bad += got[i] != want[i];
  std::printf("  %-14s %s  %8.3f ms  %7.2f Gelem/s\n", version, bad == 0 ? "ok      " : "MISMATCH",
              ms, double(lines * n) / (ms * 1e6));
  if (bad)
    std::printf("    %lld of %lld positions differ\n", (long long)bad, (long long)want.size());
}

void run(int64_t lines, int64_t n) {
  std::printf("[%lld, %lld] f32, values in [-50, 50) (ties)\n", (long long)lines, (long long)n);
  Generator gen(1);
  Tensor x_cpu = randint(-50, 50, {lines, n}, gen).to(DType::f32);
  const std::vector<int64_t> want = sort(x_cpu, 1).indices.to_vector<int64_t>();
  Tensor x = x_cpu.to(Device::cuda(0));
  const float* xp = x.data_ptr<float>();

  {  // shipped
    Tensor idx;
    const double ms = time_ms([&] { idx = sort(x, 1).indices; });
    report("shipped", lines, n, idx.to(Device::cpu()).to_vector<int64_t>(), want, ms);
  }
  {  // packed-global
    int64_t P = 1;
    while (P < n) P *= 2;
    Tensor keys = empty({lines * P}, Options(DType::i64, Device::cuda(0)));
    Tensor pos = empty({lines, n}, Options(DType::i64, Device::cuda(0)));
    auto* k = reinterpret_cast<unsigned long long*>(keys.data_ptr<int64_t>());
    auto fn = [&] {
      packed_keys<<<grid(lines * P), 256, 0, stream()>>>(lines, n, P, xp, k);
      for (int64_t kk = 2; kk <= P; kk *= 2)
        for (int64_t j = kk / 2; j >= 1; j /= 2)
          packed_step<<<grid(lines * P / 2), 256, 0, stream()>>>(lines * P, P, kk, j, k);
      packed_positions<<<grid(lines * n), 256, 0, stream()>>>(lines, n, P, k,
                                                              pos.data_ptr<int64_t>());
      LAB_CHECK(cudaGetLastError());
    };
    const double ms = time_ms(fn);
    report("packed-global", lines, n, pos.to(Device::cpu()).to_vector<int64_t>(), want, ms);
  }
  {  // cub
    const int64_t total = lines * n;
    Tensor kin = empty({total}, Options(DType::i32, Device::cuda(0)));
    Tensor kout = empty({total}, Options(DType::i32, Device::cuda(0)));
    Tensor vin = empty({total}, Options(DType::i32, Device::cuda(0)));
    Tensor vout = empty({total}, Options(DType::i32, Device::cuda(0)));
    std::vector<int> offsets_h(lines + 1);
    for (int64_t l = 0; l <= lines; ++l) offsets_h[l] = static_cast<int>(l * n);
    Tensor offsets = from_vector<int32_t>(offsets_h).to(Device::cuda(0));
    auto* ki = reinterpret_cast<unsigned*>(kin.data_ptr<int32_t>());
    auto* ko = reinterpret_cast<unsigned*>(kout.data_ptr<int32_t>());
    const int* off = offsets.data_ptr<int32_t>();
    size_t temp_bytes = 0;
    LAB_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(
        nullptr, temp_bytes, ki, ko, vin.data_ptr<int32_t>(), vout.data_ptr<int32_t>(),
        static_cast<int>(total), static_cast<int>(lines), off, off + 1, 0, 32, stream()));
    Tensor temp =
        empty({static_cast<int64_t>(temp_bytes) + 1}, Options(DType::u8, Device::cuda(0)));
    auto fn = [&] {
      radix_inputs<<<grid(total), 256, 0, stream()>>>(total, n, xp, ki, vin.data_ptr<int32_t>());
      LAB_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(
          temp.raw_data(), temp_bytes, ki, ko, vin.data_ptr<int32_t>(), vout.data_ptr<int32_t>(),
          static_cast<int>(total), static_cast<int>(lines), off, off + 1, 0, 32, stream()));
    };
    const double ms = time_ms(fn);
    report("cub", lines, n, vout.to(DType::i64).to(Device::cpu()).to_vector<int64_t>(), want, ms);
  }
}

}  // namespace

int main() {
  if (!cuda_available()) {
    std::printf("no CUDA device\n");
    return 0;
  }
  run(100000, 8);
  run(4096, 1000);
  run(64, 65536);
  run(1, 1 << 22);
  return 0;
}
