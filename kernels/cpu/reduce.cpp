// CPU reductions, scans and softmax.
//
// Reductions. The op layer permutes the reduced dims last; here kept and reduced dims are each
// coalesced (size-1 dims dropped, neighbours merged where memory allows) and one of two walks
// runs:
//   - row walk, when the innermost reduced dim is contiguous (or nothing is): each output reads
//     its elements as runs along that dim into kLanes independent accumulators (so the compiler
//     can vectorise and the dependency chain is short), merged in lane order;
//   - column walk, when the innermost kept dim is contiguous and the reduced ones are not (a
//     leading dim, e.g. [N, C] -> [C]): a task owns a block of up to kColumnBlock adjacent
//     outputs and walks the reduced rows, adding each row into the block's accumulators, so
//     every load is contiguous instead of one strided column per output.
// When there are fewer than kFewOutputs outputs (or column blocks) for a long reduction, each
// reduction is also cut into chunks of about kChunk elements; chunks reduce in parallel into
// partial states that are merged in chunk order. Chunking depends only on the shape, never on
// the thread count, so the result is the same bits for any number of threads.
//
// Each reduction is an Op: State init(), add(State&, x, index), merge(State&, later State) and
// finish(State, n). f32 accumulates in double; integer sums and products wrap modulo 2^64.
//
// Line kernels (cumsum, softmax, log_softmax) get input and output permuted so that the dim
// they work along is last. Lines are split over threads; when the line dim is strided but
// another dim is contiguous in both tensors, a task processes a block of adjacent lines side by
// side for the same reason as the column walk.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/vec_math.h"

namespace stackgrad::kernels {
namespace {

constexpr int64_t kChunk = 16384;       // elements one task reduces between merges
constexpr int kLanes = 8;               // accumulators per output in the row walk
constexpr int64_t kColumnBlock = 2048;  // adjacent outputs one column-walk task owns
constexpr int64_t kColumnTasks = 64;    // tasks a chunked column walk aims for
constexpr int64_t kFewOutputs = 16;     // below this, long reductions are chunked too
constexpr int64_t kLineBlock = 256;     // adjacent lines one line-kernel task owns

// --- layouts ---------------------------------------------------------------------------------

// Dims (C order) of one or two tensors of the same shape.
struct Layout {
  int n = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[2][kMaxDims] = {};
  int64_t numel() const {
    int64_t m = 1;
    for (int d = 0; d < n; ++d) m *= size[d];
    return m;
  }
  // The same layout without dim d.
  Layout without(int d) const {
    Layout l = *this;
    for (int i = d; i + 1 < n; ++i) {
      l.size[i] = size[i + 1];
      l.stride[0][i] = stride[0][i + 1];
      l.stride[1][i] = stride[1][i + 1];
    }
    l.n = n - 1;
    return l;
  }
};

// Dims [from, to) of a (and b), size-1 dims dropped and a dim merged into the previous one when
// every tensor's strides allow it, which keeps the C-order enumeration of elements unchanged.
Layout make_layout(const TensorArg& a, const TensorArg* b, int from, int to) {
  Layout l;
  for (int d = from; d < to; ++d) {
    const int64_t n = a.shape[d], sa = a.strides[d], sb = b ? b->strides[d] : 0;
    if (n == 1) continue;
    const int p = l.n - 1;
    if (p >= 0 && l.stride[0][p] == sa * n && l.stride[1][p] == sb * n) {
      l.size[p] *= n;
      l.stride[0][p] = sa;
      l.stride[1][p] = sb;
    } else {
      l.size[l.n] = n;
      l.stride[0][l.n] = sa;
      l.stride[1][l.n] = sb;
      ++l.n;
    }
  }
  return l;
}

// Odometer over a Layout: the element offsets of C-order index i, advanced one step at a time.
struct Walker {
  const Layout& l;
  int64_t idx[kMaxDims] = {};
  int64_t off[2] = {0, 0};
  Walker(const Layout& layout, int64_t start) : l(layout) {
    for (int d = l.n - 1; d >= 0; --d) {
      idx[d] = start % l.size[d];
      start /= l.size[d];
      off[0] += idx[d] * l.stride[0][d];
      off[1] += idx[d] * l.stride[1][d];
    }
  }
  void next() {
    for (int d = l.n - 1; d >= 0; --d) {
      off[0] += l.stride[0][d];
      off[1] += l.stride[1][d];
      if (++idx[d] < l.size[d]) return;
      off[0] -= l.stride[0][d] * l.size[d];
      off[1] -= l.stride[1][d] * l.size[d];
      idx[d] = 0;
    }
  }
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// vexp (exp without calls or branches, for arguments <= 0) and select (a branch-free ternary)
// come from kernels/cpu/vec_math.h; loops over them vectorise.
using vec::select;
using vec::vexp;

// --- reduction ops ---------------------------------------------------------------------------

template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return v != v;
  else
    return false;
}

template <typename T>
struct SumOp {
  using In = T;
  using Out = T;
  using State = acc_t<T>;
  State init() const { return 0; }
  void add(State& s, T x, int64_t) const { s += static_cast<State>(x); }
  void merge(State& a, const State& b) const { a += b; }
  Out finish(const State& s, int64_t) const { return static_cast<Out>(s); }
};

template <typename T>
struct ProdOp {
  using In = T;
  using Out = T;
  using State = acc_t<T>;
  State init() const { return 1; }
  void add(State& s, T x, int64_t) const { s *= static_cast<State>(x); }
  void merge(State& a, const State& b) const { a *= b; }
  Out finish(const State& s, int64_t) const { return static_cast<Out>(s); }
};

// max/min; a NaN, once seen, stays.
template <typename T, bool kMax>
struct ExtremumOp {
  using In = T;
  using Out = T;
  using State = T;
  State init() const {
    if constexpr (std::is_floating_point_v<T>)
      return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  // `|`, not `||`: both comparisons always run, so there is no branch and the lanes vectorise.
  void add(State& s, T x, int64_t) const { s = (is_nan(x) | (kMax ? x > s : x < s)) ? x : s; }
  void merge(State& a, const State& b) const { add(a, b, 0); }
  Out finish(const State& s, int64_t) const { return s; }
};

// argmax/argmin: the first index of the extreme; a NaN counts as the extreme.
template <typename T, bool kMax>
struct ArgExtremumOp {
  using In = T;
  using Out = int64_t;
  struct State {
    T v;
    int64_t i;
  };
  static bool better(T x, T v) { return (is_nan(x) & !is_nan(v)) | (kMax ? x > v : x < v); }
  static bool same(T x, T v) { return (x == v) | (is_nan(x) & is_nan(v)); }
  // The initial value loses to every element except an equal one; then index 0 is the answer
  // anyway (every element equals the initial value), so a lane that saw nothing is harmless.
  State init() const { return {ExtremumOp<T, kMax>{}.init(), 0}; }
  void add(State& s, T x, int64_t i) const {  // branch-free, so the column walk vectorises
    const bool take = better(x, s.v);
    s.v = take ? x : s.v;
    s.i = take ? i : s.i;
  }
  void merge(State& a, const State& b) const {
    if (better(b.v, a.v) || (same(b.v, a.v) && b.i < a.i)) a = b;
  }
  Out finish(const State& s, int64_t) const { return s.i; }
};

// Welford's running mean and sum of squared deviations; partial states merge with Chan's
// formula. Stable without a second pass over the data.
template <typename T>
struct VarOp {
  using In = T;
  using Out = T;
  struct State {
    double n, mean, m2;
  };
  double correction;
  State init() const { return {0, 0, 0}; }
  void add(State& s, T x, int64_t) const {
    s.n += 1;
    const double d = static_cast<double>(x) - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (static_cast<double>(x) - s.mean);
  }
  void merge(State& a, const State& b) const {
    if (b.n == 0) return;
    if (a.n == 0) {
      a = b;
      return;
    }
    const double n = a.n + b.n, d = b.mean - a.mean;
    a.mean += d * (b.n / n);
    a.m2 += b.m2 + d * d * (a.n * b.n / n);
    a.n = n;
  }
  Out finish(const State& s, int64_t n) const {
    return static_cast<Out>(s.m2 / std::max(0.0, static_cast<double>(n) - correction));
  }
};

// Online logsumexp: the running maximum m and sum(exp(x - m)), rescaled when m grows.
template <typename T>
struct LogSumExpOp {
  using In = T;
  using Out = T;
  struct State {
    double m, s;
  };
  State init() const { return {-std::numeric_limits<double>::infinity(), 0}; }
  // Without branches, so the lanes vectorise. A term equal to the new maximum contributes 1 even
  // when it is infinite (where v - m would be NaN); a NaN x poisons s.
  void add(State& st, T x, int64_t) const {
    const double v = x;
    const double m = select(v > st.m, v, st.m);
    const double rescale = select(st.m == m, 1.0, vexp(st.m - m));
    const double term = select(v == m, 1.0, vexp(v - m));
    st.s = st.s * rescale + term;
    st.m = m;
  }
  void merge(State& a, const State& b) const {
    const double m = select(b.m > a.m, b.m, a.m);
    const double ra = select(a.m == m, 1.0, vexp(a.m - m));
    const double rb = select(b.m == m, 1.0, vexp(b.m - m));
    a.s = a.s * ra + b.s * rb;
    a.m = m;
  }
  Out finish(const State& st, int64_t) const {
    if (std::isnan(st.s)) return std::numeric_limits<T>::quiet_NaN();
    if (std::isinf(st.m)) return static_cast<Out>(st.m);
    return static_cast<Out>(st.m + std::log(st.s));
  }
};

template <typename T, int kP>  // kP = 1, 2, or 0 for the infinity norm
struct NormOp {
  using In = T;
  using Out = T;
  using State = double;
  State init() const { return 0; }
  void add(State& s, T x, int64_t) const {
    const double v = std::fabs(static_cast<double>(x));
    if constexpr (kP == 1)
      s += v;
    else if constexpr (kP == 2)
      s += v * v;
    else
      s = ((v != v) | (v > s)) ? v : s;
  }
  void merge(State& a, const State& b) const {
    if constexpr (kP == 0)
      a = ((b != b) | (b > a)) ? b : a;
    else
      a += b;
  }
  Out finish(const State& s, int64_t) const { return static_cast<Out>(kP == 2 ? std::sqrt(s) : s); }
};

// --- reduction walks -------------------------------------------------------------------------

// Adds `len` elements p[0], p[stride], ... (reduced indices idx, idx + 1, ...) into the lanes.
template <typename Op, bool kUnit>
inline void add_run(const Op& op, typename Op::State* lanes, const typename Op::In* p, int64_t len,
                    int64_t stride, int64_t idx) {
  typename Op::State acc[kLanes];
  for (int j = 0; j < kLanes; ++j) acc[j] = lanes[j];
  const int64_t s = kUnit ? 1 : stride;
  int64_t i = 0;
  for (; i + kLanes <= len; i += kLanes)
    for (int j = 0; j < kLanes; ++j) op.add(acc[j], p[(i + j) * s], idx + i + j);
  for (int j = 0; i < len; ++i, ++j) op.add(acc[j], p[i * s], idx + i);
  for (int j = 0; j < kLanes; ++j) lanes[j] = acc[j];
}

// How the row walk reads the reduced elements of one output: runs of `len` elements `stride`
// apart (the innermost reduced dim), whose starts the `starts` layout enumerates.
struct Runs {
  Layout starts;
  int64_t len = 1, stride = 1;
  explicit Runs(const Layout& red) : starts(red.n ? red.without(red.n - 1) : red) {
    if (red.n) {
      len = red.size[red.n - 1];
      stride = red.stride[0][red.n - 1];
    }
  }
};

// Sum of n contiguous floats as a double. The generic lanes convert every float to double,
// which keeps the loop at one element per cycle; here four F8 accumulators add 32 floats a
// step and are flushed into four double lanes every kFlushSteps steps, so each float lane sums
// at most kFlushSteps values (relative rounding about kFlushSteps * 2^-24 of a block's
// magnitude) while the running total stays in double. The order of operations depends only on
// n, so the bits do not depend on the thread count.
constexpr int64_t kFlushSteps = 16;
inline double sum_f32_run(const float* p, int64_t n) {
  using vec::D4;
  using vec::F8;
  D4 total = {};
  int64_t i = 0;
  while (i + 32 <= n) {
    F8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
    const int64_t end = std::min(i + 32 * kFlushSteps, n - (n - i) % 32);
    for (; i < end; i += 32) {
      F8 v0, v1, v2, v3;
      std::memcpy(&v0, p + i, sizeof(F8));
      std::memcpy(&v1, p + i + 8, sizeof(F8));
      std::memcpy(&v2, p + i + 16, sizeof(F8));
      std::memcpy(&v3, p + i + 24, sizeof(F8));
      a0 += v0;
      a1 += v1;
      a2 += v2;
      a3 += v3;
    }
    const F8 s = (a0 + a1) + (a2 + a3);
    total += __builtin_convertvector(__builtin_shufflevector(s, s, 0, 1, 2, 3), D4);
    total += __builtin_convertvector(__builtin_shufflevector(s, s, 4, 5, 6, 7), D4);
  }
  double r = (total[0] + total[1]) + (total[2] + total[3]);
  for (; i < n; ++i) r += static_cast<double>(p[i]);
  return r;
}

// Reduced elements [lo, hi) of the output whose first element is at x + base.
template <typename Op>
typename Op::State reduce_range(const Op& op, const typename Op::In* x, int64_t base,
                                const Runs& runs, int64_t lo, int64_t hi) {
  using State = typename Op::State;
  if constexpr (std::is_same_v<Op, SumOp<float>>) {
    if (runs.stride == 1) {  // f32 sums of contiguous runs: the vector path above
      double total = 0;
      Walker w(runs.starts, lo / runs.len);
      for (int64_t i = lo, col = lo % runs.len; i < hi; col = 0, w.next()) {
        const int64_t n = std::min(runs.len - col, hi - i);
        total += sum_f32_run(x + base + w.off[0] + col, n);
        i += n;
      }
      return total;
    }
  }
  State lanes[kLanes];
  for (auto& l : lanes) l = op.init();
  Walker w(runs.starts, lo / runs.len);
  for (int64_t i = lo, col = lo % runs.len; i < hi; col = 0, w.next()) {
    const int64_t n = std::min(runs.len - col, hi - i);
    const typename Op::In* p = x + base + w.off[0] + col * runs.stride;
    if (runs.stride == 1)
      add_run<Op, true>(op, lanes, p, n, 1, i);
    else
      add_run<Op, false>(op, lanes, p, n, runs.stride, i);
    i += n;
  }
  for (int j = 1; j < kLanes; ++j) op.merge(lanes[0], lanes[j]);
  return lanes[0];
}

template <typename Op>
void row_walk(const Op& op, const typename Op::In* x, typename Op::Out* y, const Layout& kept,
              const Layout& red, int64_t n_out, int64_t n_red) {
  using State = typename Op::State;
  const Runs runs(red);
  if (runs.starts.n == 0 && n_red < 2 * kLanes) {  // short rows: a plain loop per output
    parallel_for(0, n_out, std::max<int64_t>(1, kChunk / n_red), [&](int64_t lo, int64_t hi) {
      Walker w(kept, lo);
      for (int64_t o = lo; o < hi; ++o, w.next()) {
        State s = op.init();
        const typename Op::In* p = x + w.off[0];
        for (int64_t i = 0; i < n_red; ++i) op.add(s, p[i * runs.stride], i);
        y[o] = op.finish(s, n_red);
      }
    });
    return;
  }
  if (n_out < kFewOutputs && n_red >= 2 * kChunk) {
    const int64_t chunks = ceil_div(n_red, kChunk);
    std::vector<State> partial(n_out * chunks);
    parallel_for(0, n_out * chunks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t o = t / chunks, c = t % chunks;
        partial[t] = reduce_range(op, x, Walker(kept, o).off[0], runs, c * kChunk,
                                  std::min(n_red, (c + 1) * kChunk));
      }
    });
    for (int64_t o = 0; o < n_out; ++o) {
      State s = partial[o * chunks];
      for (int64_t c = 1; c < chunks; ++c) op.merge(s, partial[o * chunks + c]);
      y[o] = op.finish(s, n_red);
    }
    return;
  }
  parallel_for(0, n_out, std::max<int64_t>(1, kChunk / n_red), [&](int64_t lo, int64_t hi) {
    Walker w(kept, lo);
    for (int64_t o = lo; o < hi; ++o, w.next())
      y[o] = op.finish(reduce_range(op, x, w.off[0], runs, 0, n_red), n_red);
  });
}

// Kept dims end in a contiguous dim of C outputs; reduced elements are rows of C elements. A
// task owns a block of up to kColumnBlock outputs (accumulators that stay in cache) and a range
// of rows, read front to back. With few blocks, the rows are cut into chunks so that there are
// about kColumnTasks tasks; the partial states (at most kColumnBlock * (kColumnTasks + 16) of
// them) are merged in chunk order.
template <typename Op>
void column_walk(const Op& op, const typename Op::In* x, typename Op::Out* y, const Layout& kept,
                 const Layout& red, int64_t n_out, int64_t n_red) {
  using State = typename Op::State;
  const int64_t C = kept.size[kept.n - 1], Q = n_out / C;
  const Layout outer = kept.without(kept.n - 1);
  const int64_t block = std::min(C, kColumnBlock), blocks = ceil_div(C, block);
  int64_t chunks = 1;
  if (Q * blocks < kFewOutputs)
    chunks = std::clamp<int64_t>(n_red * block / kChunk, 1,
                                 std::min(n_red, ceil_div(kColumnTasks, Q * blocks)));
  const int64_t rows = ceil_div(n_red, chunks);
  chunks = ceil_div(n_red, rows);
  std::vector<State> partial(chunks > 1 ? Q * chunks * C : 0);

  // Task t: rows chunk t % chunks of column block (t / chunks) % blocks of outer index q.
  auto task = [&](int64_t t, State* acc) {
    const int64_t chunk = t % chunks, b = (t / chunks) % blocks, q = t / (chunks * blocks);
    const int64_t c0 = b * block, cn = std::min(block, C - c0);
    const int64_t r0 = chunk * rows, r1 = std::min(n_red, r0 + rows);
    for (int64_t j = 0; j < cn; ++j) acc[j] = op.init();
    const typename Op::In* base = x + Walker(outer, q).off[0] + c0;
    Walker r(red, r0);
    for (int64_t i = r0; i < r1; ++i, r.next()) {
      const typename Op::In* row = base + r.off[0];
      for (int64_t j = 0; j < cn; ++j) op.add(acc[j], row[j], i);
    }
    if (chunks == 1) {
      for (int64_t j = 0; j < cn; ++j) y[q * C + c0 + j] = op.finish(acc[j], n_red);
    } else {
      State* dst = partial.data() + (q * chunks + chunk) * C + c0;
      for (int64_t j = 0; j < cn; ++j) dst[j] = acc[j];
    }
  };
  const int64_t grain = std::max<int64_t>(1, kChunk / (rows * block));
  parallel_for(0, Q * blocks * chunks, grain, [&](int64_t lo, int64_t hi) {
    std::vector<State> acc(block);
    for (int64_t t = lo; t < hi; ++t) task(t, acc.data());
  });
  if (chunks == 1) return;
  parallel_for(0, n_out, std::max<int64_t>(1, kChunk / chunks), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      const State* src = partial.data() + (o / C) * chunks * C + o % C;
      State s = src[0];
      for (int64_t c = 1; c < chunks; ++c) op.merge(s, src[c * C]);
      y[o] = op.finish(s, n_red);
    }
  });
}

template <typename Op>
void reduce(const KernelCall& c, const Op& op) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const int outer_nd = in.ndim - static_cast<int>(c.attrs.k);
  const Layout kept = make_layout(in, nullptr, 0, outer_nd);
  const Layout red = make_layout(in, nullptr, outer_nd, in.ndim);
  const int64_t n_out = out.numel, n_red = red.numel();
  auto* y = out.ptr<typename Op::Out>();
  if (n_out == 0) return;
  if (n_red == 0) {
    for (int64_t o = 0; o < n_out; ++o) y[o] = op.finish(op.init(), 0);
    return;
  }
  const auto* x = in.ptr<typename Op::In>();
  const bool column =
      kept.n > 0 && red.n > 0 && kept.stride[0][kept.n - 1] == 1 && red.stride[0][red.n - 1] != 1;
  if (column)
    column_walk(op, x, y, kept, red, n_out, n_red);
  else
    row_walk(op, x, y, kept, red, n_out, n_red);
}

void cpu_sum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "sum", [&] { reduce(c, SumOp<scalar_t>{}); });
}
void cpu_prod(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "prod", [&] { reduce(c, ProdOp<scalar_t>{}); });
}
template <bool kMax>
void cpu_extremum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, kMax ? "max" : "min",
                      [&] { reduce(c, ExtremumOp<scalar_t, kMax>{}); });
}
template <bool kMax>
void cpu_arg_extremum(const KernelCall& c) {
  SG_DISPATCH_NUMERIC(c.in[0].dtype, kMax ? "argmax" : "argmin",
                      [&] { reduce(c, ArgExtremumOp<scalar_t, kMax>{}); });
}
void cpu_var(const KernelCall& c) {
  SG_DISPATCH_FLOAT(c.in[0].dtype, "var", [&] { reduce(c, VarOp<scalar_t>{c.attrs.alpha}); });
}
void cpu_logsumexp(const KernelCall& c) {
  SG_DISPATCH_FLOAT(c.in[0].dtype, "logsumexp", [&] { reduce(c, LogSumExpOp<scalar_t>{}); });
}
void cpu_norm(const KernelCall& c) {
  const double p = c.attrs.alpha;
  SG_DISPATCH_FLOAT(c.in[0].dtype, "norm", [&] {
    if (p == 1.0)
      reduce(c, NormOp<scalar_t, 1>{});
    else if (p == 2.0)
      reduce(c, NormOp<scalar_t, 2>{});
    else
      reduce(c, NormOp<scalar_t, 0>{});
  });
}

// --- line kernels ----------------------------------------------------------------------------

// Calls line(x, sx, y, sy, n) for single lines, or block(x, sx, y, sy, n, count) for `count`
// adjacent lines (unit stride between them), covering every line of the call once.
template <typename T, typename Line, typename Block>
void for_each_line(const KernelCall& c, Line line, Block block) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const int nd = in.ndim;
  const int64_t n = in.shape[nd - 1], sx = in.strides[nd - 1], sy = out.strides[nd - 1];
  if (out.numel == 0) return;
  const T* x = in.ptr<T>();
  T* y = out.ptr<T>();
  const Layout lines = make_layout(in, &out, 0, nd - 1);
  int col = -1;
  if (sx != 1 && n > 1)
    for (int d = lines.n - 1; d >= 0 && col < 0; --d)
      if (lines.stride[0][d] == 1 && lines.stride[1][d] == 1) col = d;
  if (col < 0) {
    parallel_for(0, lines.numel(), std::max<int64_t>(1, kChunk / n), [&](int64_t lo, int64_t hi) {
      Walker w(lines, lo);
      for (int64_t r = lo; r < hi; ++r, w.next()) line(x + w.off[0], sx, y + w.off[1], sy, n);
    });
    return;
  }
  const int64_t C = lines.size[col], width = std::min(C, kLineBlock), blocks = ceil_div(C, width);
  const Layout outer = lines.without(col);
  auto task = [&](int64_t t) {  // block t % blocks of the lines at outer index t / blocks
    const int64_t c0 = (t % blocks) * width;
    Walker w(outer, t / blocks);
    block(x + w.off[0] + c0, sx, y + w.off[1] + c0, sy, n, std::min(width, C - c0));
  };
  const int64_t grain = std::max<int64_t>(1, kChunk / (n * width));
  parallel_for(0, outer.numel() * blocks, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) task(t);
  });
}

template <typename T>
T nan_max(T m, T v) {
  return ((v != v) | (v > m)) ? v : m;
}

void cpu_cumsum(const KernelCall& c) {
  const bool reverse = c.attrs.flag;
  SG_DISPATCH_NUMERIC(c.in[0].dtype, "cumsum", [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    auto line = [reverse](const T* x, int64_t sx, T* y, int64_t sy, int64_t n) {
      A acc = 0;
      for (int64_t j = 0; j < n; ++j) {
        const int64_t i = reverse ? n - 1 - j : j;
        acc += static_cast<A>(x[i * sx]);
        y[i * sy] = static_cast<T>(acc);
      }
    };
    auto block = [reverse](const T* x, int64_t sx, T* y, int64_t sy, int64_t n, int64_t w) {
      A acc[kLineBlock] = {};
      for (int64_t j = 0; j < n; ++j) {
        const int64_t i = reverse ? n - 1 - j : j;
        const T* xr = x + i * sx;
        T* yr = y + i * sy;
        for (int64_t k = 0; k < w; ++k) {
          acc[k] += static_cast<A>(xr[k]);
          yr[k] = static_cast<T>(acc[k]);
        }
      }
    };
    for_each_line<T>(c, line, block);
  });
}

// softmax / log_softmax: the maximum m, then s = sum(exp(x - m)) in double, then the outputs.
// The two reductions run in kLanes accumulators so that they vectorise.
template <typename T, bool kLog, bool kUnit>
void softmax_line(const T* x, int64_t sx_, T* y, int64_t sy_, int64_t n) {
  const int64_t sx = kUnit ? 1 : sx_, sy = kUnit ? 1 : sy_;
  const int64_t body = n - n % kLanes;
  T ml[kLanes];
  for (auto& v : ml) v = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < body; i += kLanes)
    for (int j = 0; j < kLanes; ++j) ml[j] = nan_max(ml[j], x[(i + j) * sx]);
  for (int64_t i = body; i < n; ++i) ml[0] = nan_max(ml[0], x[i * sx]);
  T m = ml[0];
  for (int j = 1; j < kLanes; ++j) m = nan_max(m, ml[j]);

  if constexpr (std::is_same_v<T, float> && kUnit) {
    // f32 rows: exp8 on 8 floats at a time, the sum in float vector blocks flushed to double
    // (as sum_f32_run), instead of a double vexp per element: about twice as fast.
    using vec::D4;
    using vec::F8;
    D4 total = {};
    int64_t i = 0;
    const F8 mv = F8{} + m;
    while (i + 8 <= n) {
      F8 acc = {};
      const int64_t end = std::min(i + 8 * kFlushSteps, n - (n - i) % 8);
      for (; i < end; i += 8) {
        F8 v;
        std::memcpy(&v, x + i, sizeof(F8));
        const F8 e = vec::exp8(v - mv);
        if constexpr (!kLog) std::memcpy(y + i, &e, sizeof(F8));
        acc += e;
      }
      total += __builtin_convertvector(__builtin_shufflevector(acc, acc, 0, 1, 2, 3), D4);
      total += __builtin_convertvector(__builtin_shufflevector(acc, acc, 4, 5, 6, 7), D4);
    }
    double s = (total[0] + total[1]) + (total[2] + total[3]);
    for (; i < n; ++i) {
      const double e = vexp(static_cast<double>(x[i]) - m);
      if constexpr (!kLog) y[i] = static_cast<T>(e);
      s += e;
    }
    if constexpr (kLog) {
      const double lse = m + std::log(s);
      for (int64_t k = 0; k < n; ++k) y[k] = static_cast<float>(x[k] - lse);
    } else {
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t k = 0; k < n; ++k) y[k] *= inv;
    }
    return;
  }
  double sl[kLanes] = {};
  auto term = [&](int64_t i, int j) {
    const double e = vexp(static_cast<double>(x[i * sx]) - m);
    if constexpr (!kLog) y[i * sy] = static_cast<T>(e);
    sl[j] += e;
  };
  for (int64_t i = 0; i < body; i += kLanes)
    for (int j = 0; j < kLanes; ++j) term(i + j, j);
  for (int64_t i = body; i < n; ++i) term(i, 0);
  double s = sl[0];
  for (int j = 1; j < kLanes; ++j) s += sl[j];

  if constexpr (kLog) {
    const double lse = m + std::log(s);
    for (int64_t i = 0; i < n; ++i) y[i * sy] = static_cast<T>(x[i * sx] - lse);
  } else {
    const double inv = 1.0 / s;
    for (int64_t i = 0; i < n; ++i) y[i * sy] = static_cast<T>(y[i * sy] * inv);
  }
}

template <typename T, bool kLog>
void softmax_block(const T* x, int64_t sx, T* y, int64_t sy, int64_t n, int64_t w) {
  T m[kLineBlock];
  double s[kLineBlock];
  for (int64_t k = 0; k < w; ++k) {
    m[k] = -std::numeric_limits<T>::infinity();
    s[k] = 0;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < w; ++k) m[k] = nan_max(m[k], x[i * sx + k]);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < w; ++k) {
      const double e = vexp(static_cast<double>(x[i * sx + k]) - m[k]);
      if constexpr (!kLog) y[i * sy + k] = static_cast<T>(e);
      s[k] += e;
    }
  }
  for (int64_t k = 0; k < w; ++k) s[k] = kLog ? m[k] + std::log(s[k]) : 1.0 / s[k];
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < w; ++k) {
      if constexpr (kLog)
        y[i * sy + k] = static_cast<T>(x[i * sx + k] - s[k]);
      else
        y[i * sy + k] = static_cast<T>(y[i * sy + k] * s[k]);
    }
  }
}

template <bool kLog>
void cpu_softmax(const KernelCall& c) {
  SG_DISPATCH_FLOAT(c.in[0].dtype, kLog ? "log_softmax" : "softmax", [&] {
    using T = scalar_t;
    auto line = [](const T* x, int64_t sx, T* y, int64_t sy, int64_t n) {
      if (sx == 1 && sy == 1)
        softmax_line<T, kLog, true>(x, 1, y, 1, n);
      else
        softmax_line<T, kLog, false>(x, sx, y, sy, n);
    };
    for_each_line<T>(c, line, softmax_block<T, kLog>);
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_cpu_reduce() {
  using namespace kernels;
  register_kernel(OpId::sum, Backend::cpu, cpu_sum);
  register_kernel(OpId::prod, Backend::cpu, cpu_prod);
  register_kernel(OpId::max, Backend::cpu, cpu_extremum<true>);
  register_kernel(OpId::min, Backend::cpu, cpu_extremum<false>);
  register_kernel(OpId::argmax, Backend::cpu, cpu_arg_extremum<true>);
  register_kernel(OpId::argmin, Backend::cpu, cpu_arg_extremum<false>);
  register_kernel(OpId::var, Backend::cpu, cpu_var);
  register_kernel(OpId::logsumexp, Backend::cpu, cpu_logsumexp);
  register_kernel(OpId::norm, Backend::cpu, cpu_norm);
  register_kernel(OpId::cumsum, Backend::cpu, cpu_cumsum);
  register_kernel(OpId::softmax, Backend::cpu, cpu_softmax<false>);
  register_kernel(OpId::log_softmax, Backend::cpu, cpu_softmax<true>);
}
}  // namespace stackgrad
