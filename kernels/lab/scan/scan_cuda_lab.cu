// scan_cuda_lab: versions of the GPU cumsum, each validated against the CPU cumsum
// (stackgrad::cumsum on the CPU: a running sum in double) on the same values, then timed with
// CUDA events on stackgrad's stream.
//   thread-per-line: one thread walks a line in order (the CPU's additions), rows read strided;
//   shipped:         kernels/cuda/scan.cu through stackgrad::cumsum (column / warp / block
//                    versions by plan_scan; f64 lines added in order by one lane);
//   cub:             CUB's device-wide inclusive scan of one line (f64 in, f64 out).
// f32 must match within 1e-6 relative (double sums rounded to float), f64 bit for bit for the
// shipped version and within 1e-9 of the line's magnitude for CUB (another summation order).
// Without a GPU it prints "no CUDA device" and exits 0.
//   ./build-bench/scan_cuda_lab
#include <cmath>
#include <cstdio>
#include <cub/device/device_scan.cuh>
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

template <typename T>
__global__ void thread_per_line(int64_t lines, int64_t n, const T* x, T* y) {
  for (int64_t l = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; l < lines;
       l += int64_t(gridDim.x) * blockDim.x) {
    double acc = 0;
    for (int64_t j = 0; j < n; ++j) {
      acc += static_cast<double>(x[l * n + j]);
      y[l * n + j] = static_cast<T>(acc);
    }
  }
}

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

// Largest |got - want| / (atol + rtol |want|): <= 1 agrees.
double scaled_error(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                    double atol) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::abs(got[i] - want[i]) / (atol + rtol * std::abs(want[i]));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

void report(const char* version, const Tensor& got, const std::vector<double>& want, double rtol,
            double atol, double ms, int64_t numel, size_t esize) {
  const double err =
      scaled_error(got.to(Device::cpu()).to(DType::f64).to_vector<double>(), want, rtol, atol);
  std::printf("  %-16s %s (scaled error %.3g)  %8.3f ms  %7.1f GB/s\n", version,
              err <= 1 ? "ok      " : "MISMATCH", err, ms,
              double(numel) * 2 * double(esize) / (ms * 1e6));
}

void run(int64_t lines, int64_t n, DType dt) {
  const bool f64 = dt == DType::f64;
  std::printf("[%lld, %lld] %s, dim 1\n", (long long)lines, (long long)n, f64 ? "f64" : "f32");
  Generator gen(3);
  Tensor x_cpu = randn({lines, n}, gen, Options(dt));
  const std::vector<double> want = cumsum(x_cpu, 1).to(DType::f64).to_vector<double>();
  const double rtol = f64 ? 0 : 1e-6, atol = f64 ? 1e-300 : 1e-6;  // f64: equal bits
  Tensor x = x_cpu.to(Device::cuda(0));
  const size_t esize = f64 ? 8 : 4;
  {
    Tensor y;
    const double ms = time_ms([&] { y = cumsum(x, 1); });
    report("shipped", y, want, rtol, atol, ms, lines * n, esize);
  }
  if (lines >= 64) {  // one thread per line: hopeless for a few long lines
    Tensor y = empty({lines, n}, Options(dt, Device::cuda(0)));
    auto fn = [&] {
      const int blocks = static_cast<int>(std::min<int64_t>((lines + 255) / 256, 65536));
      if (f64) {
        thread_per_line<<<blocks, 256, 0, stream()>>>(lines, n, x.data_ptr<double>(),
                                                      y.data_ptr<double>());
      } else {
        thread_per_line<<<blocks, 256, 0, stream()>>>(lines, n, x.data_ptr<float>(),
                                                      y.data_ptr<float>());
      }
      LAB_CHECK(cudaGetLastError());
    };
    const double ms = time_ms(fn);
    report("thread-per-line", y, want, rtol, atol, ms, lines * n, esize);
  }
  if (lines == 1 && f64) {
    Tensor y = empty({lines, n}, Options(dt, Device::cuda(0)));
    size_t temp_bytes = 0;
    LAB_CHECK(cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, x.data_ptr<double>(),
                                            y.data_ptr<double>(), static_cast<int>(n), stream()));
    Tensor temp =
        empty({static_cast<int64_t>(temp_bytes) + 1}, Options(DType::u8, Device::cuda(0)));
    auto fn = [&] {
      LAB_CHECK(cub::DeviceScan::InclusiveSum(temp.raw_data(), temp_bytes, x.data_ptr<double>(),
                                              y.data_ptr<double>(), static_cast<int>(n), stream()));
    };
    const double ms = time_ms(fn);
    // Another summation order: judged against the line's scale, not bit for bit.
    double scale = 0;
    for (double v : want) scale = std::max(scale, std::abs(v));
    report("cub", y, want, 0, 1e-9 * scale, ms, lines * n, esize);
  }
}

}  // namespace

int main() {
  if (!cuda_available()) {
    std::printf("no CUDA device\n");
    return 0;
  }
  run(16384, 1024, DType::f32);
  run(16384, 1024, DType::f64);
  run(64, 1 << 18, DType::f32);
  run(1, 1 << 24, DType::f32);
  run(1, 1 << 24, DType::f64);
  return 0;
}
