// Portable microkernels: plain C++ loops over a 4 x 8 (f32) or 4 x 4 (f64) register tile, no
// intrinsics. The fallback when STACKGRAD_GEMM_ISA=portable, and the proof that the driver
// (gemm_driver.h) holds for tile shapes other than the AVX2 ones. What it compiles to depends
// on the build's flags (with -march=x86-64-v3, GCC vectorises the j loop).
#include "kernels/cpu/gemm_driver.h"

namespace stackgrad::kernels::gemm_detail {
namespace {

template <typename T, int MR_, int NR_>
struct PortableKernel {
  static constexpr int MR = MR_, NR = NR_;
  static constexpr int64_t KC = 256, MC = 128, NC = 2048;

  static void run(int64_t kc, const T* a, int64_t a_rs, int64_t a_cs, const T* b, T* c,
                  int64_t c_rs, bool add) {
    T acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      const T* bk = b + k * NR;
      const T* ak = a + k * a_cs;
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const T ai = ak[i * a_rs];
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) acc[i][j] += ai * bk[j];
      }
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i * c_rs + j] = add ? c[i * c_rs + j] + acc[i][j] : acc[i][j];
  }
};

template <typename T>
struct Portable;
template <>
struct Portable<float> : PortableKernel<float, 4, 8> {};
template <>
struct Portable<double> : PortableKernel<double, 4, 4> {};

}  // namespace

template <typename T>
void run_portable(const GemmProblem<T>* problems, int64_t count, bool accumulate) {
  gemm_run<T, Portable<T>>(problems, count, accumulate);
}

template void run_portable<float>(const GemmProblem<float>*, int64_t, bool);
template void run_portable<double>(const GemmProblem<double>*, int64_t, bool);

}  // namespace stackgrad::kernels::gemm_detail
