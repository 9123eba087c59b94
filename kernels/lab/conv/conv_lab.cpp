// conv2d kernel versions side by side (f32, NCHW, stride 1, square kernels): each validated
// against the reference kernel on a small problem, then timed on the benchmark shapes.
//   v1 direct      six nested loops, the innermost over output columns (vectorises), parallel
//                  over images: no extra memory, but every weight is reloaded per output row.
//   v2 im2col      the whole image's col [K, Ho*Wo] then one GEMM (kernels/cpu/conv.cpp).
//   v3 row bands   im2col of a band of output rows sized so col fits in L2, one GEMM per band.
// Gradients: the engine's kernels (GEMM + col2im, GEMM with colᵀ) are timed as they are.
//   STACKGRAD_NUM_THREADS=2 ./build-bench/conv_lab
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "engine/dispatch/dispatch.h"
#include "engine/runtime/parallel.h"
#include "engine/stackgrad.h"
#include "kernels/cpu/conv_im2col.h"
#include "kernels/cpu/gemm.h"

using namespace stackgrad;
using kernels::ConvShape;

namespace {

using ConvFn = std::function<void(const ConvShape&, const float*, const float*, float*)>;

void v1_direct(const ConvShape& s, const float* x, const float* w, float* y) {
  parallel_for(0, s.N, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n)
      for (int64_t o = 0; o < s.O; ++o) {
        float* yo = y + (n * s.O + o) * s.P;
        std::fill(yo, yo + s.P, 0.0f);
        for (int64_t c = 0; c < s.C; ++c)
          for (int64_t p = 0; p < s.KH; ++p)
            for (int64_t q = 0; q < s.KW; ++q) {
              const float wv = w[((o * s.C + c) * s.KH + p) * s.KW + q];
              int64_t j0, j1;
              s.valid_columns(q, j0, j1);
              for (int64_t i = 0; i < s.Ho; ++i) {
                const int64_t h = i - s.ph + p;
                if (h < 0 || h >= s.H) continue;
                const float* xr = x + ((n * s.C + c) * s.H + h) * s.W + q - s.pw;
                float* yr = yo + i * s.Wo;
                for (int64_t j = j0; j < j1; ++j) yr[j] += wv * xr[j];
              }
            }
      }
  });
}

void v2_im2col(const ConvShape& s, const float* x, const float* w, float* y) {
  parallel_for(0, s.N, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> col(s.K * s.P);
    for (int64_t n = lo; n < hi; ++n) {
      kernels::im2col(s, x + n * s.C * s.H * s.W, col.data());
      kernels::gemm<float>({s.O, s.P, s.K, w, s.K, 1, col.data(), s.P, 1, y + n * s.O * s.P, s.P, 1});
    }
  });
}

void v3_row_bands(const ConvShape& s, const float* x, const float* w, float* y) {
  // A band of output rows whose col block (K x rows*Wo floats) stays within ~256 KiB.
  const int64_t rows = std::max<int64_t>(1, std::min(s.Ho, 65536 / (s.K * s.Wo)));
  parallel_for(0, s.N, 1, [&](int64_t lo, int64_t hi) {
    // A ConvShape for the band: output rows [i0, i0 + rows) are a conv of the input shifted down.
    std::vector<float> col(s.K * rows * s.Wo);
    for (int64_t n = lo; n < hi; ++n)
      for (int64_t i0 = 0; i0 < s.Ho; i0 += rows) {
        ConvShape b = s;
        b.Ho = std::min(rows, s.Ho - i0);
        b.P = b.Ho * b.Wo;
        b.ph = s.ph - i0 * s.sh;  // band row 0 reads input row i0 s_h - pad_h
        kernels::im2col(b, x + n * s.C * s.H * s.W, col.data());
        kernels::gemm<float>({s.O, b.P, s.K, w, s.K, 1, col.data(), b.P, 1,
                              y + n * s.O * s.P + i0 * s.Wo, s.P, 1});
      }
  });
}

double seconds_of(const std::function<void()>& f, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

struct Case {
  const char* name;
  int64_t n, c, o, h, k, pad;
};

ConvShape shape_of(const Case& p) {
  const int64_t ho = p.h + 2 * p.pad - p.k + 1;
  const int64_t xs[4] = {p.n, p.c, p.h, p.h}, ws[4] = {p.o, p.c, p.k, p.k}, ys[4] = {p.n, p.o, ho, ho};
  return ConvShape(xs, ws, ys, {1, 1, p.pad, p.pad, 1, 1, 1});
}

}  // namespace

int main() {
  const std::vector<std::pair<const char*, ConvFn>> versions = {
      {"v1 direct", v1_direct}, {"v2 im2col", v2_im2col}, {"v3 row bands", v3_row_bands}};
  Generator gen(0);
  // Validation against the reference kernel (padding, a band boundary inside the image).
  bool ok = true;
  for (const Case& p : {Case{"small", 3, 5, 7, 13, 3, 1}, Case{"5x5", 2, 3, 4, 9, 5, 2}}) {
    const ConvShape s = shape_of(p);
    Tensor x = randn({s.N, s.C, s.H, s.W}, gen), w = randn({s.O, s.C, s.KH, s.KW}, gen);
    Tensor ref;
    {
      ReferenceKernels use_reference;
      ref = conv2d(x, w, {}, {1, 1}, {p.pad, p.pad});
    }
    for (const auto& [name, fn] : versions) {
      Tensor y = zeros(ref.shape());
      fn(s, x.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>());
      const bool good = allclose(y, ref, 1e-4, 1e-4);
      ok = ok && good;
      std::printf("validate %-6s %-13s %s\n", p.name, name, good ? "ok" : "MISMATCH");
    }
  }
  if (!ok) return 1;

  std::printf("\n%d threads, best of 5; GFLOP/s of one pass (2 N O C kh kw Ho Wo)\n",
              num_threads());
  for (const Case& p : {Case{"b16_c64_h32", 16, 64, 64, 32, 3, 1},
                        Case{"b16_c128_h16", 16, 128, 128, 16, 3, 1},
                        Case{"b64_c1_h28", 64, 1, 32, 28, 3, 1}}) {
    const ConvShape s = shape_of(p);
    const double flop = 2.0 * static_cast<double>(s.N * s.O * s.K * s.P);
    Tensor x = randn({s.N, s.C, s.H, s.W}, gen), w = randn({s.O, s.C, s.KH, s.KW}, gen);
    Tensor y = empty({s.N, s.O, s.Ho, s.Wo});
    for (const auto& [name, fn] : versions) {
      const double t = seconds_of(
          [&] { fn(s, x.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>()); }, 5);
      std::printf("%-13s forward      %-13s %8.2f ms %7.1f GFLOP/s\n", p.name, name, t * 1e3,
                  flop / t * 1e-9);
    }
    const Size2 pad{p.pad, p.pad};
    const double ti = seconds_of([&] { conv2d_backward_input(y, w, x.shape(), {1, 1}, pad); }, 5);
    const double tw = seconds_of([&] { conv2d_backward_weight(y, x, w.shape(), {1, 1}, pad); }, 5);
    std::printf("%-13s input grad   %-13s %8.2f ms %7.1f GFLOP/s\n", p.name, "engine", ti * 1e3,
                flop / ti * 1e-9);
    std::printf("%-13s weight grad  %-13s %8.2f ms %7.1f GFLOP/s\n", p.name, "engine", tw * 1e3,
                flop / tw * 1e-9);
  }
  return 0;
}
