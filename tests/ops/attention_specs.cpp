// OpSpecs of the attention family. The gradcheck runs on small cases; larger ones cross the CPU
// kernel's 128-row and 128-key tiles with ragged tails (forward and backward kernel vs reference).
#include <limits>

#include "tests/support/op_registry.h"

namespace stackgrad::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Cases = std::vector<OpCase>;

// [B, H, L, D] values stored as [B, L, H, D] and transposed: the layout a projection gives.
Tensor heads_view(std::mt19937_64& r, int64_t B, int64_t H, int64_t L, int64_t D) {
  return randn_f64(r, {B, L, H, D}).transpose(1, 2);
}

// A bool mask [Lq, Lk] (true = may attend), about 70% true, with query row 1 fully masked.
Tensor bool_mask(std::mt19937_64& r, int64_t Lq, int64_t Lk) {
  std::vector<double> row(Lq, 1.0);
  row[1] = 0.0;
  return uniform_f64(r, {Lq, Lk}, 0.01, 1) * from_vector(row, {Lq, 1}) > 0.3;
}

// An additive mask [B, 1, Lq, Lk]: normal values, a few -inf, query row 2 all -inf.
Tensor additive_mask(std::mt19937_64& r, int64_t B, int64_t Lq, int64_t Lk) {
  std::vector<double> m = randn_f64(r, {B, 1, Lq, Lk}).to_vector<double>();
  const double ninf = -std::numeric_limits<double>::infinity();
  for (size_t e = 0; e < m.size(); e += 7) m[e] = ninf;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Lk; ++j) m[(b * Lq + 2) * Lk + j] = ninf;
  return from_vector(m, {B, 1, Lq, Lk});
}

Tensor sdpa(const Inputs& x, bool causal, double p = 0.0, std::optional<double> scale = {}) {
  Generator gen(1234);  // fresh per call: the dropout mask is the same in every evaluation
  return scaled_dot_product_attention(x[0], x[1], x[2], x.size() > 3 ? x[3] : Tensor(), causal, p,
                                      scale, gen);
}

// q, k, v: Lq != Lk, D != Dv, strided heads, zero-size. Small, for the f64 gradcheck.
Cases plain_cases(std::mt19937_64& r) {
  return {
      {"[1, 2, 5, 4] x 7 keys, Dv 3",
       {randn_f64(r, {1, 2, 5, 4}), randn_f64(r, {1, 2, 7, 4}), randn_f64(r, {1, 2, 7, 3})}},
      {"more queries than keys",
       {randn_f64(r, {1, 1, 9, 3}), randn_f64(r, {1, 1, 6, 3}), randn_f64(r, {1, 1, 6, 2})}},
      {"transposed [B, L, H, D] views",
       {heads_view(r, 2, 3, 6, 4), heads_view(r, 2, 3, 5, 4), heads_view(r, 2, 3, 5, 2)}},
      {"non-contiguous",
       {noncontiguous(randn_f64(r, {2, 1, 4, 3})), noncontiguous(randn_f64(r, {2, 1, 6, 3})),
        noncontiguous(randn_f64(r, {2, 1, 6, 5}))}},
      {"zero-size batch",
       {randn_f64(r, {0, 2, 3, 4}), randn_f64(r, {0, 2, 5, 4}), randn_f64(r, {0, 2, 5, 4})}},
      {"no keys",
       {randn_f64(r, {1, 1, 3, 2}), randn_f64(r, {1, 1, 0, 2}), randn_f64(r, {1, 1, 0, 2})}},
  };
}

Cases mask_cases(std::mt19937_64& r) {
  return {
      {"bool [Lq, Lk] with a fully masked row",
       {randn_f64(r, {2, 2, 6, 3}), randn_f64(r, {2, 2, 8, 3}), randn_f64(r, {2, 2, 8, 4}),
        bool_mask(r, 6, 8)}},
      {"additive [B, 1, Lq, Lk] with -inf",
       {heads_view(r, 2, 2, 5, 3), randn_f64(r, {2, 2, 7, 3}), randn_f64(r, {2, 2, 7, 2}),
        additive_mask(r, 2, 5, 7)}},
  };
}

Cases causal_cases(std::mt19937_64& r) {
  return {
      {"square",
       {randn_f64(r, {1, 2, 6, 3}), randn_f64(r, {1, 2, 6, 3}), randn_f64(r, {1, 2, 6, 4})}},
      {"Lq < Lk (top-left)",
       {randn_f64(r, {1, 1, 4, 3}), randn_f64(r, {1, 1, 9, 3}), randn_f64(r, {1, 1, 9, 3})}},
      {"Lq > Lk",
       {randn_f64(r, {1, 1, 9, 3}), randn_f64(r, {1, 1, 4, 3}), randn_f64(r, {1, 1, 4, 2})}},
      {"with a bool mask",
       {randn_f64(r, {1, 2, 6, 3}), randn_f64(r, {1, 2, 7, 3}), randn_f64(r, {1, 2, 7, 3}),
        bool_mask(r, 6, 7)}},
  };
}

// Past the CPU kernel's 128-row and 128-key tiles with ragged tails: forward and the backward
// kernel against the reference (the gradcheck runs on the small cases above).
Cases tile_cases(std::mt19937_64& r) {
  return {
      {"140 queries, 133 keys",
       {randn_f64(r, {1, 1, 140, 2}), randn_f64(r, {1, 1, 133, 2}), randn_f64(r, {1, 1, 133, 3})}},
      {"9 queries, 2 key tiles",
       {randn_f64(r, {1, 1, 9, 3}), randn_f64(r, {1, 1, 130, 3}), randn_f64(r, {1, 1, 130, 2})}},
      {"260 x 260, 3 tiles each way",
       {randn_f64(r, {1, 1, 260, 2}), randn_f64(r, {1, 1, 260, 2}), heads_view(r, 1, 1, 260, 2)}},
      {"bool mask, 131 x 135",
       {randn_f64(r, {1, 1, 131, 2}), randn_f64(r, {1, 1, 135, 2}), randn_f64(r, {1, 1, 135, 2}),
        bool_mask(r, 131, 135)}},
  };
}

// The CUDA kernels' tiles (kernels/cuda/attention_plan.h): 64-query and 64-key forward tiles,
// 32-query tiles and 64- (head dim <= 64) or 32-key (head dim 128) dK/dV tiles, 64-query and
// 32-key dQ tiles, in the head-dim instances 32, 64 and 128, with ragged last tiles; f64 and
// head dims above 128 take the generic kernels. Forward and backward kernel vs reference.
Cases cuda_tile_cases(std::mt19937_64& r) {
  return {
      {"head dim 32, 70 x 100",
       {randn_f64(r, {1, 2, 70, 32}), randn_f64(r, {1, 2, 100, 32}),
        randn_f64(r, {1, 2, 100, 32})}},
      {"head dim 64, Dv 48, 100 x 70",
       {randn_f64(r, {1, 1, 100, 64}), randn_f64(r, {1, 1, 70, 64}), randn_f64(r, {1, 1, 70, 48})}},
      {"head dim 128, 40 x 70, strided heads",
       {heads_view(r, 1, 2, 40, 128), heads_view(r, 1, 2, 70, 128), heads_view(r, 1, 2, 70, 128)}},
      {"head dim 100 (instance 128), Dv 8, 65 x 33",
       {randn_f64(r, {1, 1, 65, 100}), randn_f64(r, {1, 1, 33, 100}), randn_f64(r, {1, 1, 33, 8})}},
      {"head dim 160 (generic), 9 x 11",
       {randn_f64(r, {1, 1, 9, 160}), randn_f64(r, {1, 1, 11, 160}), randn_f64(r, {1, 1, 11, 20})}},
      {"head dim 32, bool mask 70 x 100",
       {randn_f64(r, {1, 2, 70, 32}), randn_f64(r, {1, 2, 100, 32}), randn_f64(r, {1, 2, 100, 16}),
        bool_mask(r, 70, 100)}},
      {"head dim 64, additive mask [B, 1, Lq, Lk] 66 x 65",
       {randn_f64(r, {2, 1, 66, 64}), randn_f64(r, {2, 1, 65, 64}), randn_f64(r, {2, 1, 65, 64}),
        additive_mask(r, 2, 66, 65)}},
  };
}

void spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
          std::function<Cases(std::mt19937_64&)> cases, bool differentiable = true,
          double rtol_f32 = 1e-4, double atol_f32 = 1e-5) {
  OpSpec s;
  s.rtol_f32 = rtol_f32;
  s.atol_f32 = atol_f32;
  s.op = op;
  s.fn = std::move(fn);
  s.cases = std::move(cases);
  s.differentiable = differentiable;
  s.grad_inputs = {0, 1, 2};  // never the mask
  register_op_spec(std::move(s));
}

// bf16 and f16 inputs (cast from the cases' f64 values; an additive mask too): computed in f32
// and rounded once to the half type, against the reference's exact sums of the same half values
// rounded once. Results are compared as f32, so the tolerance is about one ulp of the half type
// (bf16: 2^-8 relative) plus the backward's use of the rounded O in D_i = rowsum(dO o O).
void half_spec(const std::string& op, std::function<Tensor(const Inputs&)> fn,
               std::function<Cases(std::mt19937_64&)> cases) {
  OpSpec s;
  s.op = op;
  s.fn = [fn = std::move(fn)](const Inputs& x) { return fn(x).to(DType::f32); };
  s.cases = std::move(cases);
  s.dtypes = {DType::bf16, DType::f16};
  s.differentiable = false;  // the f32 and f64 specs gradcheck; the backward kernel is below
  s.rtol_f32 = 1e-2;
  s.atol_f32 = 1e-2;
  register_op_spec(std::move(s));
}

// The backward kernel on its own: inputs q, k, v, dO (and a mask); returns dq, dk, dv flattened
// (as f32 for half inputs).
Tensor sdpa_grads(const Inputs& x, const AttentionParams& params) {
  const Tensor mask = x.size() > 4 ? x[4] : Tensor();
  std::vector<Tensor> ol = scaled_dot_product_attention_forward(x[0], x[1], x[2], mask, params);
  std::vector<Tensor> g =
      scaled_dot_product_attention_backward(x[0], x[1], x[2], mask, ol[0], ol[1], x[3], params);
  for (Tensor& t : g)
    if (is_half(t.dtype())) t = t.to(DType::f32);
  return cat({g[0].flatten(), g[1].flatten(), g[2].flatten()});
}

const bool registered = [] {
  const std::string op = "scaled_dot_product_attention";
  spec(
      op, [](const Inputs& x) { return sdpa(x, false); }, plain_cases);
  spec(
      op, [](const Inputs& x) { return sdpa(x, false, 0.0, 0.7); }, plain_cases);
  spec(
      op, [](const Inputs& x) { return sdpa(x, false); }, mask_cases);
  spec(
      op, [](const Inputs& x) { return sdpa(x, true); }, causal_cases);
  // Dropout with a fixed seed: the same mask in the reference, the CPU kernel and every
  // gradcheck evaluation.
  spec(
      op, [](const Inputs& x) { return sdpa(x, false, 0.3); }, mask_cases);
  spec(
      op, [](const Inputs& x) { return sdpa(x, true, 0.2); }, causal_cases);
  // Tiles: forward only (differentiable = false skips the gradcheck, not the forward test).
  spec(
      op, [](const Inputs& x) { return sdpa(x, false); }, tile_cases, false);
  spec(
      op, [](const Inputs& x) { return sdpa(x, true, 0.25); }, tile_cases, false);
  spec(
      op, [](const Inputs& x) { return sdpa(x, false); }, cuda_tile_cases, false);
  spec(
      op, [](const Inputs& x) { return sdpa(x, true); }, cuda_tile_cases, false);
  spec(
      op, [](const Inputs& x) { return sdpa(x, true, 0.2, 0.3); }, cuda_tile_cases, false);

  auto with_dout = [](Cases part, std::mt19937_64& r, Cases& into) {
    for (OpCase& k : part) {
      const Shape& qs = k.inputs[0].shape();
      Tensor dout = randn_f64(r, {qs[0], qs[1], qs[2], k.inputs[2].shape()[3]});
      k.inputs.insert(k.inputs.begin() + 3, dout);
      into.push_back(std::move(k));
    }
  };
  auto backward_cases = [with_dout](std::mt19937_64& r) {
    Cases c;
    with_dout(plain_cases(r), r, c);
    with_dout(mask_cases(r), r, c);
    with_dout(tile_cases(r), r, c);
    return c;
  };
  // Head dims up to 160 with dropout: f32 gradients carry the cancellation in
  // dS = Pd dPd - P D (terms of size |dO| |v| sqrt(D)), so their f32 tolerance is 10x looser.
  auto cuda_backward_cases = [with_dout](std::mt19937_64& r) {
    Cases c;
    with_dout(cuda_tile_cases(r), r, c);
    return c;
  };
  spec(
      op + "_backward", [](const Inputs& x) { return sdpa_grads(x, {}); }, backward_cases, false);
  spec(
      op + "_backward",
      [](const Inputs& x) {
        return sdpa_grads(x, {true, 0.5, 0.25, 99, 1000});
      },
      backward_cases, false);
  spec(
      op + "_backward", [](const Inputs& x) { return sdpa_grads(x, {}); }, cuda_backward_cases,
      false, 1e-3, 1e-4);
  spec(
      op + "_backward",
      [](const Inputs& x) {
        return sdpa_grads(x, {true, 0.5, 0.25, 99, 1000});
      },
      cuda_backward_cases, false, 1e-3, 1e-4);

  // Half inputs: forward on every case family (the CUDA tiles included, where bf16 and f16 take
  // the tiled kernels), with dropout and causal; the backward kernel likewise.
  half_spec(
      op, [](const Inputs& x) { return sdpa(x, false); }, plain_cases);
  half_spec(
      op, [](const Inputs& x) { return sdpa(x, false, 0.3); }, mask_cases);
  half_spec(
      op, [](const Inputs& x) { return sdpa(x, true, 0.2); }, causal_cases);
  half_spec(
      op, [](const Inputs& x) { return sdpa(x, true); }, tile_cases);
  half_spec(
      op, [](const Inputs& x) { return sdpa(x, false); }, cuda_tile_cases);
  half_spec(
      op, [](const Inputs& x) { return sdpa(x, true, 0.2, 0.3); }, cuda_tile_cases);
  half_spec(
      op + "_backward", [](const Inputs& x) { return sdpa_grads(x, {}); }, backward_cases);
  half_spec(
      op + "_backward",
      [](const Inputs& x) {
        return sdpa_grads(x, {true, 0.5, 0.25, 99, 1000});
      },
      cuda_backward_cases);
  return true;
}();

}  // namespace
}  // namespace stackgrad::testing
