#include "engine/ops/random.h"

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"

namespace stackgrad {

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {

Tensor draw(OpId op, const Shape& shape, Generator& gen, Options opts, OpAttrs attrs,
            std::vector<Tensor> inputs = {}) {
  Tensor out = empty(shape, opts.with_requires_grad(false));
  attrs.seed = gen.seed();
  attrs.offset = gen.advance(static_cast<uint64_t>(out.numel()));
  run_kernel(op, inputs, {out}, attrs);
  if (opts.requires_grad) out.requires_grad_(true);
  return out;
}

}  // namespace

Tensor rand(const Shape& shape, Generator& gen, Options opts, double low, double high) {
  SG_CHECK(is_floating(opts.dtype), "rand: dtype must be floating, got ", dtype_name(opts.dtype));
  SG_CHECK(low <= high, "rand: low ", low, " is greater than high ", high);
  OpAttrs a;
  a.alpha = low;
  a.beta = high;
  return draw(OpId::uniform, shape, gen, opts, a);
}

Tensor randn(const Shape& shape, Generator& gen, Options opts, double mean, double std) {
  SG_CHECK(is_floating(opts.dtype), "randn: dtype must be floating, got ", dtype_name(opts.dtype));
  SG_CHECK(std >= 0, "randn: std must be non-negative, got ", std);
  OpAttrs a;
  a.alpha = mean;
  a.beta = std;
  return draw(OpId::normal, shape, gen, opts, a);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, Options opts) {
  SG_CHECK(low < high, "randint: low ", low, " must be less than high ", high);
  SG_CHECK(opts.dtype != DType::boolean, "randint: dtype bool is not supported");
  OpAttrs a;
  a.k = low;
  a.ints = {high - low};
  return draw(OpId::randint, shape, gen, opts, a);
}

Tensor bernoulli(const Shape& shape, double p, Generator& gen, Options opts) {
  SG_CHECK(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got ", p);
  OpAttrs a;
  a.alpha = p;
  return draw(OpId::bernoulli, shape, gen, opts, a);
}

Tensor bernoulli(const Tensor& probs, Generator& gen) {
  check_strided("bernoulli", probs, "probs");
  SG_CHECK(is_floating(probs.dtype()), "bernoulli: probs must be floating, got ", describe(probs));
  return draw(OpId::bernoulli, probs.shape(), gen, Options(probs.dtype(), probs.device()), {},
              {probs});
}

Tensor randperm(int64_t n, Generator& gen, Options opts) {
  SG_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  SG_CHECK(opts.dtype == DType::i64 || opts.dtype == DType::i32, "randperm: dtype must be i32 or i64, got ",
           dtype_name(opts.dtype));
  return draw(OpId::randperm, {n}, gen, opts, {});
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_strided("dropout", x, "x");
  SG_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got ", p);
  SG_CHECK(is_floating(x.dtype()), "dropout: expected a floating tensor, got ", describe(x));
  if (!training || p == 0) return x;
  OpAttrs a;
  a.alpha = p;
  a.seed = gen.seed();
  a.offset = gen.advance(static_cast<uint64_t>(x.numel()));
  Tensor out = empty(x.shape(), Options(x.dtype(), x.device()));
  run_kernel(OpId::dropout, {x}, {out}, a);
  // The mask depends only on (seed, offset, index): backward applies the same dropout to g.
  record("dropout", {x}, {out}, [a](const std::vector<Tensor>& g) {
    Tensor gx = empty(g[0].shape(), Options(g[0].dtype(), g[0].device()));
    run_kernel(OpId::dropout, {g[0]}, {gx}, a);
    return std::vector<Tensor>{gx};
  });
  return out;
}

}  // namespace stackgrad
