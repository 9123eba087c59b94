#include "datasets/transforms.h"

#include <algorithm>

#include "engine/autograd/grad_mode.h"
#include "engine/ops/random.h"

namespace stackgrad::data {

namespace {

// The input as a contiguous [N, C, H, W] batch (N = 1 for a single [C, H, W] image).
Tensor as_batch(const char* op, const Tensor& x) {
  SG_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4) && is_floating(x.dtype()) &&
               x.device().is_cpu() && !x.is_sparse(),
           op, ": expected a floating cpu image [C, H, W] or batch [N, C, H, W], got ",
           x.defined() ? describe(x) : std::string("undefined"));
  NoGradGuard no_grad;
  Tensor c = x.detach().contiguous();
  return x.dim() == 3 ? c.unsqueeze(0) : c;
}

// Back to the caller's rank.
Tensor like_input(const Tensor& x, const Tensor& batch) {
  return x.dim() == 3 ? batch.squeeze(0) : batch;
}

std::vector<int64_t> draw_ints(int64_t low, int64_t high, int64_t n, Generator& gen) {
  return randint(low, high, {n}, gen).to_vector<int64_t>();
}

}  // namespace

Normalize::Normalize(std::vector<double> m, std::vector<double> s)
    : mean(std::move(m)), stddev(std::move(s)) {
  SG_CHECK(!mean.empty() && mean.size() == stddev.size(),
           "Normalize: mean and std need the same "
           "nonzero length, got ",
           mean.size(), " and ", stddev.size());
  for (double v : stddev) SG_CHECK(v > 0, "Normalize: std values must be > 0, got ", v);
}

Tensor Normalize::operator()(const Tensor& x) const {
  Tensor b = as_batch("Normalize", x);
  const int64_t n = b.size(0), c = b.size(1), hw = b.size(2) * b.size(3);
  SG_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == c, "Normalize: ", mean.size(),
           " mean/std values for an input with ", c, " channels");
  Tensor out = empty(b.shape(), b.dtype());
  SG_DISPATCH_FLOAT(b.dtype(), "Normalize", [&] {
    const scalar_t* src = b.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch) {
        const size_t k = mean.size() == 1 ? 0 : static_cast<size_t>(ch);
        const auto m = static_cast<scalar_t>(mean[k]), inv = static_cast<scalar_t>(1.0 / stddev[k]);
        const int64_t base = (i * c + ch) * hw;
        for (int64_t p = 0; p < hw; ++p) dst[base + p] = (src[base + p] - m) * inv;
      }
  });
  return like_input(x, out);
}

RandomCrop::RandomCrop(int64_t h, int64_t w, int64_t pad) : height(h), width(w), padding(pad) {
  SG_CHECK(h >= 1 && w >= 1 && pad >= 0, "RandomCrop: need size >= 1 and padding >= 0, got ", h,
           " x ", w, ", padding ", pad);
}

Tensor RandomCrop::operator()(const Tensor& x, Generator& gen) const {
  Tensor b = as_batch("RandomCrop", x);
  const int64_t n = b.size(0), c = b.size(1), h = b.size(2), w = b.size(3);
  SG_CHECK(h + 2 * padding >= height && w + 2 * padding >= width, "RandomCrop: a ", height, " x ",
           width, " crop does not fit a ", h, " x ", w, " image padded by ", padding);
  const std::vector<int64_t> top = draw_ints(0, h + 2 * padding - height + 1, n, gen);
  const std::vector<int64_t> left = draw_ints(0, w + 2 * padding - width + 1, n, gen);
  Tensor out = zeros({n, c, height, width}, b.dtype());
  SG_DISPATCH_FLOAT(b.dtype(), "RandomCrop", [&] {
    const scalar_t* src = b.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t r = 0; r < height; ++r) {
          // Row r of the crop is row top + r - padding of the image (zero when outside).
          const int64_t sr = top[i] + r - padding;
          if (sr < 0 || sr >= h) continue;
          const scalar_t* srow = src + ((i * c + ch) * h + sr) * w;
          scalar_t* drow = dst + ((i * c + ch) * height + r) * width;
          for (int64_t q = 0; q < width; ++q) {
            const int64_t sq = left[i] + q - padding;
            if (sq >= 0 && sq < w) drow[q] = srow[sq];
          }
        }
  });
  return like_input(x, out);
}

RandomHorizontalFlip::RandomHorizontalFlip(double prob) : p(prob) {
  SG_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got ", p);
}

Tensor RandomHorizontalFlip::operator()(const Tensor& x, Generator& gen) const {
  Tensor b = as_batch("RandomHorizontalFlip", x);
  const int64_t n = b.size(0), rows = b.size(1) * b.size(2), w = b.size(3);
  const std::vector<double> u = rand({n}, gen, DType::f64).to_vector<double>();
  Tensor out = b.clone();
  SG_DISPATCH_FLOAT(b.dtype(), "RandomHorizontalFlip", [&] {
    scalar_t* d = out.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      if (!(u[i] < p)) continue;
      for (int64_t r = 0; r < rows; ++r) {
        scalar_t* row = d + (i * rows + r) * w;
        std::reverse(row, row + w);
      }
    }
  });
  return like_input(x, out);
}

namespace {

// One [C, H, W] image rotated by k * 90 degrees counter-clockwise (numpy.rot90 on the last two
// dims) into dst, which is [C, W, H] for odd k.
template <typename T>
void rotate_one(const T* src, T* dst, int64_t c, int64_t h, int64_t w, int64_t k) {
  for (int64_t ch = 0; ch < c; ++ch, src += h * w, dst += h * w) {
    for (int64_t i = 0; i < (k % 2 ? w : h); ++i)
      for (int64_t j = 0; j < (k % 2 ? h : w); ++j) {
        T v;
        if (k == 0)
          v = src[i * w + j];
        else if (k == 1)
          v = src[j * w + (w - 1 - i)];
        else if (k == 2)
          v = src[(h - 1 - i) * w + (w - 1 - j)];
        else
          v = src[(h - 1 - j) * w + i];
        dst[i * (k % 2 ? h : w) + j] = v;
      }
  }
}

}  // namespace

Tensor rotate90(const Tensor& x, int64_t k) {
  Tensor b = as_batch("rotate90", x);
  k = ((k % 4) + 4) % 4;
  const int64_t n = b.size(0), c = b.size(1), h = b.size(2), w = b.size(3);
  Tensor out = empty(k % 2 ? Shape{n, c, w, h} : Shape{n, c, h, w}, b.dtype());
  SG_DISPATCH_FLOAT(b.dtype(), "rotate90", [&] {
    for (int64_t i = 0; i < n; ++i)
      rotate_one(b.data_ptr<scalar_t>() + i * c * h * w, out.data_ptr<scalar_t>() + i * c * h * w,
                 c, h, w, k);
  });
  return like_input(x, out);
}

Tensor RandomRotate90::operator()(const Tensor& x, Generator& gen) const {
  Tensor b = as_batch("RandomRotate90", x);
  const int64_t n = b.size(0), c = b.size(1), h = b.size(2), w = b.size(3);
  SG_CHECK(h == w, "RandomRotate90: expected square images, got ", h, " x ", w);
  const std::vector<int64_t> k = draw_ints(0, 4, n, gen);
  Tensor out = empty(b.shape(), b.dtype());
  SG_DISPATCH_FLOAT(b.dtype(), "RandomRotate90", [&] {
    for (int64_t i = 0; i < n; ++i)
      rotate_one(b.data_ptr<scalar_t>() + i * c * h * w, out.data_ptr<scalar_t>() + i * c * h * w,
                 c, h, w, k[i]);
  });
  return like_input(x, out);
}

Tensor Compose::operator()(const Tensor& x, Generator& gen) const {
  Tensor y = x;
  for (const auto& t : transforms) y = t(y, gen);
  return y;
}

}  // namespace stackgrad::data
