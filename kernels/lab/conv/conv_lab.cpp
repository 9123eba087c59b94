// conv2d kernel versions side by side (f32, NCHW, stride 1, square kernels): each validated
// against the reference kernel on a small problem, then timed on the benchmark shapes.
//   v1 direct      six nested loops, the innermost over output columns (vectorises), parallel
//                  over images: no extra memory, but every weight is reloaded per output row.
//   v2 im2col      the whole image's col [K, Ho*Wo] then one GEMM (kernels/cpu/conv.cpp).
//   v3 bands       im2col of a band of output rows (col within 64K, 128K or 256K floats, at
//                  least 256 columns for the two larger) and one GEMM per band; 128K is what
//                  kernels/cpu/conv.cpp uses for all three passes.
// Gradients: the engine's kernels (GEMM + col2im, GEMM with colᵀ) are timed as they are.
//   STACKGRAD_NUM_THREADS=2 ./build-bench/conv_lab
#include <time.h>

#include <algorithm>
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
      kernels::gemm<float>(
          {s.O, s.P, s.K, w, s.K, 1, col.data(), s.P, 1, y + n * s.O * s.P, s.P, 1});
    }
  });
}

// Band height: col [K, rows * Wo] within `budget` elements, at least `min_cols` columns wide.
void row_bands(const ConvShape& s, const float* x, const float* w, float* y, int64_t budget,
               int64_t min_cols) {
  int64_t rows = std::max(budget / (s.K * s.Wo), (min_cols + s.Wo - 1) / s.Wo);
  rows = std::clamp<int64_t>(rows, 1, s.Ho);
  parallel_for(0, s.N, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> col(s.K * rows * s.Wo);
    for (int64_t n = lo; n < hi; ++n)
      for (int64_t i0 = 0; i0 < s.Ho; i0 += rows) {
        // The band is a conv whose output row 0 reads input row i0 s_h - pad_h.
        ConvShape b = s;
        b.Ho = std::min(rows, s.Ho - i0);
        b.P = b.Ho * b.Wo;
        b.ph = s.ph - i0 * s.sh;
        kernels::im2col(b, x + n * s.C * s.H * s.W, col.data());
        kernels::gemm<float>(
            {s.O, b.P, s.K, w, s.K, 1, col.data(), b.P, 1, y + n * s.O * s.P + i0 * s.Wo, s.P, 1});
      }
  });
}

void v3_bands_64k(const ConvShape& s, const float* x, const float* w, float* y) {
  row_bands(s, x, w, y, 65536, 0);
}
void v3_bands_128k(const ConvShape& s, const float* x, const float* w, float* y) {
  row_bands(s, x, w, y, 131072, 256);
}
void v3_bands_256k(const ConvShape& s, const float* x, const float* w, float* y) {
  row_bands(s, x, w, y, 262144, 256);
}

// Weight gradient, one image after another (single thread: the GEMM orientation is what differs).
//   w1  dW [O, K] += dy [O, P] · colᵀ [P, K]     (kernels/cpu/conv.cpp)
//   w2  dWᵀ [K, O] += col [K, P] · dyᵀ [P, O]    (written through swapped strides of dW)
void weight_grad(const ConvShape& s, const float* x, const float* dy, float* dw, bool transposed) {
  std::vector<float> col(s.K * s.P);
  for (int64_t n = 0; n < s.N; ++n) {
    kernels::im2col(s, x + n * s.C * s.H * s.W, col.data());
    const float* d = dy + n * s.O * s.P;
    if (transposed)
      kernels::gemm<float>({s.K, s.O, s.P, col.data(), s.P, 1, d, 1, s.P, dw, 1, s.K}, n > 0);
    else
      kernels::gemm<float>({s.O, s.K, s.P, d, s.P, 1, col.data(), 1, s.P, dw, s.K, 1}, n > 0);
  }
}

// Process CPU seconds (all threads): on a shared, loaded machine wall time mostly measures the
// other users; CPU time still counts our own work (plus any spinning of idle OpenMP threads).
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double seconds_of(const std::function<void()>& f, int reps) {
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = cpu_seconds();
    f();
    best = std::min(best, cpu_seconds() - t0);
  }
  return best;
}

struct Case {
  const char* name;
  int64_t n, c, o, h, k, pad;
};

ConvShape shape_of(const Case& p) {
  const int64_t ho = p.h + 2 * p.pad - p.k + 1;
  const int64_t xs[4] = {p.n, p.c, p.h, p.h}, ws[4] = {p.o, p.c, p.k, p.k},
                ys[4] = {p.n, p.o, ho, ho};
  return ConvShape(xs, ws, ys, {1, 1, p.pad, p.pad, 1, 1, 1});
}

}  // namespace

int main() {
  const std::vector<std::pair<const char*, ConvFn>> versions = {{"v1 direct", v1_direct},
                                                                {"v2 im2col", v2_im2col},
                                                                {"v3 bands 64k", v3_bands_64k},
                                                                {"v3 bands 128k", v3_bands_128k},
                                                                {"v3 bands 256k", v3_bands_256k}};
  Generator gen(0);
  // Validation against the reference kernel (padding, a band boundary inside the image).
  bool ok = true;
  for (const Case& p : {Case{"small", 3, 5, 7, 13, 3, 1}, Case{"5x5", 2, 3, 4, 9, 5, 2},
                        Case{"4 bands", 1, 64, 8, 20, 3, 1}}) {
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

  std::printf(
      "\n%d threads, best of 5 in process CPU time; GFLOP/s of one pass (2 N O C kh kw Ho Wo)\n",
      num_threads());
  for (const Case& p :
       {Case{"b16_c64_h32", 16, 64, 64, 32, 3, 1}, Case{"b16_c128_h16", 16, 128, 128, 16, 3, 1},
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
    for (bool tr : {false, true}) {
      Tensor dw = empty(w.shape());
      const double t = seconds_of(
          [&] {
            weight_grad(s, x.data_ptr<float>(), y.data_ptr<float>(), dw.data_ptr<float>(), tr);
          },
          3);
      Tensor ref = conv2d_backward_weight(y, x, w.shape(), {1, 1}, {p.pad, p.pad});
      std::printf("%-13s weight grad  %-13s %8.2f ms %7.1f GFLOP/s %s (1 thread)\n", p.name,
                  tr ? "w2 col.dyT" : "w1 dy.colT", t * 1e3, flop / t * 1e-9,
                  allclose(dw, ref, 1e-3, 1e-2) ? "ok" : "MISMATCH");
    }
    const double tb = seconds_of([&] { sum(y, {0, 2, 3}); }, 5);
    std::printf("%-13s bias grad    %-13s %8.2f ms\n", p.name, "sum(dy)", tb * 1e3);
    Tensor xg = x.detach().requires_grad_(), wg = w.detach().requires_grad_();
    const double tall = seconds_of(
        [&] {
          xg.set_grad(Tensor());
          wg.set_grad(Tensor());
          conv2d(xg, wg, {}, {1, 1}, pad).backward(y);
        },
        5);
    std::printf("%-13s fwd + bwd    %-13s %8.2f ms\n", p.name, "autograd", tall * 1e3);
    std::printf("%-13s input grad   %-13s %8.2f ms %7.1f GFLOP/s\n", p.name, "engine", ti * 1e3,
                flop / ti * 1e-9);
    std::printf("%-13s weight grad  %-13s %8.2f ms %7.1f GFLOP/s\n", p.name, "engine", tw * 1e3,
                flop / tw * 1e-9);
  }
  return 0;
}
