// The implicit-GEMM views of the three conv passes as index maps: for each pass, how a row of
// A, a depth k and a column of B become element offsets of the image, gradient or filters, and
// where C's element (m, n) lands. conv_igemm (conv_kernels.cuh) calls them on the device;
// tests/unit/test_cuda_conv_plan.cpp calls the same code on the host, through a CPU emulation
// of the kernel's tile loop, and compares with direct loops. No CUDA headers needed.
#pragma once

#include <cstdint>

#include "kernels/cpu/conv_im2col.h"

#ifdef __CUDACC__
#define SG_CONV_HD __host__ __device__ __forceinline__
#else
#define SG_CONV_HD inline
#endif

namespace stackgrad::kernels::gpu {

// A read-only load: through the read-only data cache on the device.
SG_CONV_HD float load_ro(const float* p) {
#ifdef __CUDA_ARCH__
  return __ldg(p);
#else
  return *p;
#endif
}

// a / b for non-negative a and positive b, in 32 bits when both fit (the per-step depth
// decompositions run once per thread per tile step; a 64-bit division costs several times a
// 32-bit one on the GPU).
SG_CONV_HD int64_t div_fast(int64_t a, int64_t b) {
  return ((a | b) >> 31) == 0
             ? static_cast<int64_t>(static_cast<uint32_t>(a) / static_cast<uint32_t>(b))
             : a / b;
}

// Thread roles of conv_igemm's 256 threads in its 128 x 64 x 8 block tile. Loading: thread t
// writes A rows a_row_of(t) + 32 i (i < 4) at depth a_depth_of(t), and B columns
// b_col_of(t) + 32 i (i < 2) at depth b_depth_of(t); with fast_m, a warp's 32 threads take 32
// consecutive rows of one depth (coalesced when the image runs along m), otherwise 8 depths of
// 4 rows (when it runs along k). Computing: thread t owns rows c_row_of(t, i) (i < 8) and
// columns c_col_of(t, j) (j < 4).
SG_CONV_HD int a_depth_of(int t, bool fast_m) { return fast_m ? t / 32 : t % 8; }
SG_CONV_HD int a_row_of(int t, bool fast_m) { return fast_m ? t % 32 : t / 8; }
SG_CONV_HD int b_depth_of(int t) { return t % 8; }
SG_CONV_HD int b_col_of(int t) { return t / 8; }
SG_CONV_HD int c_row_of(int t, int i) { return (i < 4 ? 0 : 64) + (t % 16) * 4 + (i % 4); }
SG_CONV_HD int c_col_of(int t, int j) { return (t / 16) * 4 + j; }

// The geometry as kernels see it (ConvShape plus kh·kw).
struct ConvDev {
  int64_t N, C, H, W, O, KH, KW, Ho, Wo, sh, sw, ph, pw, dh, dw, G, Cg, Og, KK, K, P;
};

inline ConvDev conv_dev(const ConvShape& s) {
  return {s.N,  s.C,  s.H,  s.W,  s.O, s.KH, s.KW, s.Ho,        s.Wo, s.sh, s.sw,
          s.ph, s.pw, s.dh, s.dw, s.G, s.Cg, s.Og, s.KH * s.KW, s.K,  s.P};
}

// Offset that puts a coordinate out of every range: rows past M and k past the split's end
// get it, so their loads read 0 without a separate flag (conv_coords_fit keeps real
// coordinates below 2^28).
constexpr int kFar = 1 << 29;

// Forward: A[m, k] = x[n, g Cg + c, i s_h - pad_h + p d_h, j s_w - pad_w + q d_w],
// B[k, o] = w[g Og + o, k], y[n, g Og + o, i, j] = C + bias.
struct FwdProblem {
  ConvDev d;
  const float* x;
  const float* w;
  const float* bias;
  float* out;
  struct Row {
    int64_t base;
    int h0, w0;
  };
  struct AK {
    int64_t off;
    int dr, ds;
  };
  struct Col {
    int64_t base;
    bool ok;
  };
  struct BK {
    int64_t k;
    bool ok;
  };
  SG_CONV_HD Row a_row(int64_t g, int64_t m, int64_t M) const {
    if (m >= M) return {0, -kFar, -kFar};
    const int64_t n = m / d.P, pix = m - n * d.P, i = pix / d.Wo, j = pix - i * d.Wo;
    return {(n * d.C + g * d.Cg) * d.H * d.W, static_cast<int>(i * d.sh - d.ph),
            static_cast<int>(j * d.sw - d.pw)};
  }
  SG_CONV_HD AK a_k(int64_t, int64_t k, int64_t kend) const {
    if (k >= kend) return {0, -kFar, -kFar};
    const int64_t c = div_fast(k, d.KK), rs = k - c * d.KK, p = div_fast(rs, d.KW),
                  q = rs - p * d.KW;
    return {c * d.H * d.W, static_cast<int>(p * d.dh), static_cast<int>(q * d.dw)};
  }
  SG_CONV_HD float a_load(const Row& r, const AK& k) const {
    const int h = r.h0 + k.dr, v = r.w0 + k.ds;
    return h >= 0 && h < d.H && v >= 0 && v < d.W ? load_ro(x + r.base + k.off + h * d.W + v) : 0.f;
  }
  SG_CONV_HD Col b_col(int64_t g, int64_t o, int64_t N) const {
    return {(g * d.Og + o) * d.K, o < N};
  }
  SG_CONV_HD BK b_k(int64_t, int64_t k, int64_t kend) const { return {k, k < kend}; }
  SG_CONV_HD float b_load(const Col& c, const BK& k) const {
    return c.ok && k.ok ? load_ro(w + c.base + k.k) : 0.f;
  }
  SG_CONV_HD int64_t out_index(int64_t g, int64_t m, int64_t o) const {
    const int64_t n = m / d.P, pix = m - n * d.P;
    return (n * d.O + g * d.Og + o) * d.P + pix;
  }
  SG_CONV_HD float finish(int64_t g, int64_t o, float v) const {
    return bias ? v + load_ro(bias + g * d.Og + o) : v;
  }
};

// Input gradient: A[(n, h, v), (o, p, q)] = dy[n, g Og + o, i, j] for the (i, j) with
// i s_h = h + pad_h - p d_h (and the same along w) when exact and inside, else 0;
// B[(o, p, q), c] = w[g Og + o, c, p, q]; dx[n, g Cg + c, h, v] = C.
struct InputGradProblem {
  ConvDev d;
  const float* dy;
  const float* w;
  const float* bias;  // unused (no bias on this pass)
  float* out;
  struct Row {
    int64_t base;
    int hh, vv;
  };
  struct AK {
    int64_t off;
    int dr, ds;
  };
  struct Col {
    int64_t c;
    bool ok;
  };
  struct BK {
    int64_t off;
    bool ok;
  };
  SG_CONV_HD Row a_row(int64_t g, int64_t m, int64_t M) const {
    if (m >= M) return {0, -kFar, -kFar};
    const int64_t hw = d.H * d.W, n = m / hw, pix = m - n * hw, h = pix / d.W, v = pix - h * d.W;
    return {(n * d.O + g * d.Og) * d.P, static_cast<int>(h + d.ph), static_cast<int>(v + d.pw)};
  }
  SG_CONV_HD AK a_k(int64_t, int64_t k, int64_t kend) const {
    if (k >= kend) return {0, kFar, kFar};
    const int64_t o = div_fast(k, d.KK), rs = k - o * d.KK, p = div_fast(rs, d.KW),
                  q = rs - p * d.KW;
    return {o * d.P, static_cast<int>(p * d.dh), static_cast<int>(q * d.dw)};
  }
  SG_CONV_HD float a_load(const Row& r, const AK& k) const {
    const int th = r.hh - k.dr, tv = r.vv - k.ds;
    if (th < 0 || tv < 0) return 0.f;
    const int sh = static_cast<int>(d.sh), sw = static_cast<int>(d.sw);
    const int i = th / sh, j = tv / sw;
    if (i * sh != th || j * sw != tv || i >= d.Ho || j >= d.Wo) return 0.f;
    return load_ro(dy + r.base + k.off + i * d.Wo + j);
  }
  SG_CONV_HD Col b_col(int64_t, int64_t c, int64_t N) const { return {c, c < N}; }
  SG_CONV_HD BK b_k(int64_t g, int64_t k, int64_t kend) const {
    if (k >= kend) return {0, false};
    const int64_t o = div_fast(k, d.KK), rs = k - o * d.KK;
    return {(g * d.Og + o) * d.Cg * d.KK + rs, true};
  }
  SG_CONV_HD float b_load(const Col& c, const BK& k) const {
    return c.ok && k.ok ? load_ro(w + k.off + c.c * d.KK) : 0.f;
  }
  SG_CONV_HD int64_t out_index(int64_t g, int64_t m, int64_t c) const {
    const int64_t hw = d.H * d.W, n = m / hw, pix = m - n * hw;
    return (n * d.C + g * d.Cg + c) * hw + pix;
  }
  SG_CONV_HD float finish(int64_t, int64_t, float v) const { return v; }
};

// Weight gradient, taps on M: A[(c, p, q), (n, i, j)] = x[n, g Cg + c, i s_h - pad_h + p d_h,
// ...], B[(n, i, j), o] = dy[n, g Og + o, i, j], dw[g Og + o, c, p, q] = C.
struct WeightGradProblem {
  ConvDev d;
  const float* dy;
  const float* x;
  const float* bias;  // unused
  float* out;
  struct Row {
    int64_t off;
    int dr, ds;
  };
  struct AK {
    int64_t base;
    int h, v;
  };
  struct Col {
    int64_t off;
    bool ok;
  };
  struct BK {
    int64_t base;
    bool ok;
  };
  SG_CONV_HD Row a_row(int64_t g, int64_t m, int64_t M) const {
    if (m >= M) return {0, -kFar, -kFar};
    const int64_t c = m / d.KK, rs = m - c * d.KK, p = rs / d.KW, q = rs - p * d.KW;
    return {(g * d.Cg + c) * d.H * d.W, static_cast<int>(p * d.dh - d.ph),
            static_cast<int>(q * d.dw - d.pw)};
  }
  SG_CONV_HD AK a_k(int64_t, int64_t k, int64_t kend) const {
    if (k >= kend) return {0, -kFar, -kFar};
    const int64_t n = div_fast(k, d.P), pix = k - n * d.P, i = div_fast(pix, d.Wo),
                  j = pix - i * d.Wo;
    return {n * d.C * d.H * d.W, static_cast<int>(i * d.sh), static_cast<int>(j * d.sw)};
  }
  SG_CONV_HD float a_load(const Row& r, const AK& k) const {
    const int h = r.dr + k.h, v = r.ds + k.v;
    return h >= 0 && h < d.H && v >= 0 && v < d.W ? load_ro(x + k.base + r.off + h * d.W + v) : 0.f;
  }
  SG_CONV_HD Col b_col(int64_t g, int64_t o, int64_t N) const {
    return {(g * d.Og + o) * d.P, o < N};
  }
  SG_CONV_HD BK b_k(int64_t, int64_t k, int64_t kend) const {
    if (k >= kend) return {0, false};
    const int64_t n = div_fast(k, d.P), pix = k - n * d.P;
    return {n * d.O * d.P + pix, true};
  }
  SG_CONV_HD float b_load(const Col& c, const BK& k) const {
    return c.ok && k.ok ? load_ro(dy + k.base + c.off) : 0.f;
  }
  SG_CONV_HD int64_t out_index(int64_t g, int64_t m, int64_t o) const {
    return (g * d.Og + o) * d.K + m;
  }
  SG_CONV_HD float finish(int64_t, int64_t, float v) const { return v; }
};

}  // namespace stackgrad::kernels::gpu
