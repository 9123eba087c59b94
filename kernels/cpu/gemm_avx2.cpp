// AVX2 + FMA microkernels (the baseline path: -march=x86-64-v3 is the build's floor).
//
// f32: a 6 x 16 tile = 12 ymm accumulators; per k, 2 ymm loads of the B row, 6 broadcasts of
// the A column (vbroadcastss from memory, no shuffle) and 12 vfmadd231ps. With the 2 B
// registers and the broadcast that is 15 of the 16 ymm registers. Zen 3 issues 2 FMAs a cycle
// with a 4-cycle latency, so 12 independent chains keep both units busy (8 is the minimum).
// f64: the same shape, 6 x 8 (12 ymm of 4 doubles).
// Blocking for Zen 3 (32 KiB L1d and 512 KiB L2 per core, L3 shared): a KC x NR strip of B
// (16 KiB) stays in L1 while the A strips of an MC x KC block (144 KiB) stream from L2; the
// KC x NC B panel (4 MiB) lives in L3.
#include "kernels/cpu/gemm_avx2.h"

#include "kernels/cpu/gemm_driver.h"

namespace stackgrad::kernels::gemm_detail {
namespace {

// The library's blockings (MR, KC, MC, NC).
template <typename T>
struct Avx2;
template <>
struct Avx2<float> : Avx2Kernel<F32x8, 6, 256, 144, 4080> {};
template <>
struct Avx2<double> : Avx2Kernel<F64x4, 6, 256, 72, 2040> {};

}  // namespace

template <typename T>
void run_avx2(const GemmProblem<T>* problems, int64_t count, bool accumulate) {
  gemm_run<T, Avx2<T>>(problems, count, accumulate);
}

template void run_avx2<float>(const GemmProblem<float>*, int64_t, bool);
template void run_avx2<double>(const GemmProblem<double>*, int64_t, bool);

}  // namespace stackgrad::kernels::gemm_detail
