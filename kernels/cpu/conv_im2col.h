// im2col / col2im for one image (one group of channels) of a 2-D convolution, and the shape of a
// conv2d problem. Shared by kernels/cpu/conv.cpp and the conv lab.
//
// col [K, P], K = Cg * kh * kw rows (c, p, q) in that order, P = Ho * Wo columns (i, j):
//   col[(c, p, q), i Wo + j] = x[c, i s_h - pad_h + p d_h, j s_w - pad_w + q d_w], 0 outside.
// Each row is written a whole output row i at a time: the valid j form one interval, copied with
// memcpy when s_w = 1, and the padding columns at either end are zero-filled.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace stackgrad::kernels {

struct ConvShape {
  int64_t N, C, H, W, O, KH, KW, Ho, Wo, sh, sw, ph, pw, dh, dw, G, Cg, Og, K, P;
  ConvShape(const int64_t* x, const int64_t* w, const int64_t* y, const std::vector<int64_t>& a)
      : N(x[0]),
        C(x[1]),
        H(x[2]),
        W(x[3]),
        O(w[0]),
        KH(w[2]),
        KW(w[3]),
        Ho(y[2]),
        Wo(y[3]),
        sh(a[0]),
        sw(a[1]),
        ph(a[2]),
        pw(a[3]),
        dh(a[4]),
        dw(a[5]),
        G(a[6]),
        Cg(C / G),
        Og(O / G),
        K(Cg * KH * KW),
        P(Ho * Wo) {}
  // The band of output rows [i0, i0 + rows) as a conv of its own: its output row 0 reads input
  // row i0 s_h - pad_h. Its col is [K, rows Wo].
  ConvShape band(int64_t i0, int64_t rows) const {
    ConvShape b = *this;
    b.Ho = std::min(rows, Ho - i0);
    b.P = b.Ho * Wo;
    b.ph = ph - i0 * sh;
    return b;
  }
  // A 1x1, stride-1, unpadded conv: col is x itself.
  bool pointwise() const { return KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
  // Output columns j whose input column j s_w - pad_w + q d_w lies in [0, W): [j0, j1).
  void valid_columns(int64_t q, int64_t& j0, int64_t& j1) const {
    const int64_t off = q * dw - pw;  // input column of j = 0
    j0 = off >= 0 ? 0 : std::min(Wo, (-off + sw - 1) / sw);
    j1 = W - off <= 0 ? 0 : std::min(Wo, (W - off + sw - 1) / sw);
    j1 = std::max(j0, j1);
  }
};

template <typename T>
void im2col(const ConvShape& s, const T* x, T* col) {
  for (int64_t c = 0; c < s.Cg; ++c)
    for (int64_t p = 0; p < s.KH; ++p)
      for (int64_t q = 0; q < s.KW; ++q) {
        T* row = col + ((c * s.KH + p) * s.KW + q) * s.P;
        int64_t j0, j1;
        s.valid_columns(q, j0, j1);
        const int64_t off = q * s.dw - s.pw;
        for (int64_t i = 0; i < s.Ho; ++i) {
          T* dst = row + i * s.Wo;
          const int64_t h = i * s.sh - s.ph + p * s.dh;
          if (h < 0 || h >= s.H) {
            std::fill(dst, dst + s.Wo, T(0));
            continue;
          }
          const T* src = x + (c * s.H + h) * s.W + off;
          std::fill(dst, dst + j0, T(0));
          if (s.sw == 1) {
            if (j1 > j0) std::memcpy(dst + j0, src + j0, (j1 - j0) * sizeof(T));
          } else {
            for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * s.sw];
          }
          std::fill(dst + j1, dst + s.Wo, T(0));
        }
      }
}

// dx[c, h, v] += col[(c, p, q), i Wo + j] for every in-image position: the adjoint of im2col
// (the caller zeroes dx first). Serial, rows in order, so the sums are deterministic.
template <typename T>
void col2im(const ConvShape& s, const T* col, T* dx) {
  for (int64_t c = 0; c < s.Cg; ++c)
    for (int64_t p = 0; p < s.KH; ++p)
      for (int64_t q = 0; q < s.KW; ++q) {
        const T* row = col + ((c * s.KH + p) * s.KW + q) * s.P;
        int64_t j0, j1;
        s.valid_columns(q, j0, j1);
        const int64_t off = q * s.dw - s.pw;
        for (int64_t i = 0; i < s.Ho; ++i) {
          const int64_t h = i * s.sh - s.ph + p * s.dh;
          if (h < 0 || h >= s.H) continue;
          const T* src = row + i * s.Wo;
          T* dst = dx + (c * s.H + h) * s.W + off;
          if (s.sw == 1) {
            for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
          } else {
            for (int64_t j = j0; j < j1; ++j) dst[j * s.sw] += src[j];
          }
        }
      }
}

}  // namespace stackgrad::kernels
