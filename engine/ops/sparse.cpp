// Sparse CSR: pattern construction on the host, kernel calls, and backward formulas side by side.
//
// Value-level rearrangements (summing duplicate COO entries, moving values into a pattern with
// inserted diagonal entries) are products with a 0/1 CSR matrix S, values_out = S values_in, so
// their gradient is the spmm gradient S^T g and needs no extra kernel.
#include "engine/ops/sparse.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <numeric>
#include <tuple>

#include "engine/autograd/node.h"
#include "engine/dispatch/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"

namespace stackgrad {

namespace {

using Grads = std::vector<Tensor>;
using Index = std::vector<int64_t>;

// Wraps components that already satisfy the CSR invariants (no checks).
Tensor make_csr(const Tensor& crow, const Tensor& col, const Tensor& values, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->layout = Layout::sparse_csr;
  impl->shape = shape;
  impl->strides = Strides(shape.size(), 0);
  impl->dtype = values.dtype();
  impl->storage = values.storage();
  impl->crow = crow.impl();
  impl->col = col.impl();
  impl->values = values.impl();
  impl->requires_grad = values.requires_grad();
  return Tensor(impl);
}

Tensor index_tensor(const Index& v) { return from_vector(v); }

void check_csr(const char* op, const Tensor& t, const char* arg) {
  check_defined(op, t, arg);
  SG_CHECK(t.is_sparse(), op, ": argument '", arg, "' must be a sparse CSR tensor, got ",
           describe(t), " (build one with sparse_csr, from_edge_list or dense_to_csr)");
}

void check_square(const char* op, const Tensor& A) {
  SG_CHECK(A.size(0) == A.size(1), op, ": expected a square matrix, got ", describe(A));
}

void check_on_cpu(const char* op, const Tensor& t, const char* arg) {
  SG_CHECK(t.device().is_cpu(), op, ": builds the sparsity pattern on the host and needs '", arg,
           "' on the cpu, got ", describe(t));
}

// An i64 vector [n] (n = -1: any length), checked for shape and dtype.
void check_index(const char* op, const Tensor& t, const char* arg, int64_t n = -1) {
  check_strided(op, t, arg);
  SG_CHECK(t.dtype() == DType::i64 && t.dim() == 1 && (n < 0 || t.size(0) == n), op, ": expected '",
           arg, "' to be i64 [", n < 0 ? std::string("n") : std::to_string(n), "], got ",
           describe(t), t.dtype() == DType::i64 ? "" : " (convert with .to(DType::i64))");
}

void check_values(const char* op, const Tensor& t, const char* arg, int64_t n) {
  check_strided(op, t, arg);
  SG_CHECK(is_floating(t.dtype()) && t.dim() == 1 && t.size(0) == n, op, ": expected '", arg,
           "' to be f32 or f64 [", n, "], got ", describe(t));
}

void check_dense_matrix(const char* op, const Tensor& t, const char* arg) {
  check_strided(op, t, arg);
  SG_CHECK(t.dim() == 2 && is_floating(t.dtype()), op, ": expected '", arg,
           "' to be a 2-D f32 or f64 tensor, got ", describe(t));
}

// The values an op records as its differentiable input (see "Autograd" in sparse.h).
Tensor values_for(const char* op, const Tensor& A) {
  Tensor v = csr_values(A);
  if (!A.requires_grad()) return v.requires_grad() ? v.detach() : v;
  SG_CHECK(v.requires_grad(), op, ": the sparse tensor ", describe(A),
           " requires grad but its values do not; build it from values that require grad");
  return v;
}

// --- kernels with their backward ---------------------------------------------------------------

Tensor to_dense_impl(const Tensor& crow, const Tensor& col, const Tensor& values,
                     const Shape& shape);

// x's entries at the pattern's nonzeros, [nnz]. Adjoint of to_dense_impl.
Tensor mask_impl(const Tensor& x, const Tensor& crow, const Tensor& col) {
  Tensor out = empty({col.numel()}, Options(x.dtype(), x.device()));
  run_kernel(OpId::sparse_mask, {crow, col, x}, {out});
  record("sparse_mask", {x}, {out}, [crow, col, shape = x.shape()](const Grads& g) {
    return Grads{to_dense_impl(crow, col, g[0], shape)};
  });
  return out;
}

Tensor to_dense_impl(const Tensor& crow, const Tensor& col, const Tensor& values,
                     const Shape& shape) {
  Tensor out = empty(shape, Options(values.dtype(), values.device()));
  run_kernel(OpId::to_dense, {crow, col, values}, {out});
  record("to_dense", {values}, {out},
         [crow, col](const Grads& g) { return Grads{mask_impl(g[0], crow, col)}; });
  return out;
}

// CSR of the transpose of the [rows, cols] matrix (crow, col, values).
Tensor transpose_impl(const Tensor& crow, const Tensor& col, const Tensor& values, int64_t rows,
                      int64_t cols) {
  const Device dev = values.device();
  Tensor crow_t = empty({cols + 1}, Options(DType::i64, dev));
  Tensor col_t = empty({col.numel()}, Options(DType::i64, dev));
  Tensor values_t = empty({col.numel()}, Options(values.dtype(), dev));
  run_kernel(OpId::sparse_transpose, {crow, col, values}, {crow_t, col_t, values_t});
  // The values move by a permutation; its adjoint (the inverse permutation) is transposing back.
  record("sparse_transpose", {values}, {values_t}, [crow_t, col_t, rows, cols](const Grads& g) {
    return Grads{csr_values(transpose_impl(crow_t, col_t, g[0], cols, rows))};
  });
  return make_csr(crow_t, col_t, values_t, {cols, rows});
}

// --- the transposed pattern, cached ----------------------------------------------------------
//
// Backward passes need A^T (dX = A^T dC for spmm, dY = W^T X for sddmm), and a training loop
// multiplies by the same A every step. Transposing the values is a permutation fixed by the
// pattern, so the pattern's transpose is computed once and kept with that permutation:
// A^T's values are then values[perm], one gather. The cache holds weak references to the
// pattern (so a freed pattern is never matched by a new one at the same address), checks the
// storage versions (an in-place write to crow or col invalidates), and keeps the few most recent.
// It also keeps the last transposed values with a weak reference to the values' storage, their
// view and version: when A's values are constant (a fixed graph) even the gather is skipped.

struct TransposedPattern {
  Tensor crow_t, col_t, perm;  // A^T's row pointers and columns; perm[e_t] = e in A
};

// Which values a cached A^T values tensor was gathered from.
struct ValuesKey {
  std::weak_ptr<Storage> storage;
  int64_t offset = 0, stride = 0;
  DType dtype = DType::f32;
  uint64_t version = 0;

  static ValuesKey of(const Tensor& v) {
    return {v.storage(), v.offset(), v.stride(0), v.dtype(), v.storage()->version()};
  }
  bool matches(const Tensor& v) const {
    return storage.lock() == v.storage() && offset == v.offset() && stride == v.stride(0) &&
           dtype == v.dtype() && version == v.storage()->version();
  }
};

struct PatternCacheEntry {
  std::weak_ptr<TensorImpl> crow, col;
  uint64_t crow_version = 0, col_version = 0;
  TransposedPattern t;
  ValuesKey values_key;
  Tensor values_t;  // values[perm] for values_key, or undefined
};

constexpr size_t kPatternCacheSize = 8;

// Never destroyed: entries hold tensors, whose storage must not be freed during static
// destruction, after the allocator may be gone.
std::mutex& pattern_cache_mutex = *new std::mutex;
std::vector<PatternCacheEntry>& pattern_cache =
    *new std::vector<PatternCacheEntry>;  // most recently used last

// The entry of (crow, col), moved to the back; nullptr if absent. Needs the mutex.
PatternCacheEntry* find_pattern(const Tensor& crow, const Tensor& col) {
  std::erase_if(pattern_cache, [](const PatternCacheEntry& e) { return e.crow.expired(); });
  const uint64_t cv = crow.storage()->version(), lv = col.storage()->version();
  for (size_t i = 0; i < pattern_cache.size(); ++i) {
    const PatternCacheEntry& e = pattern_cache[i];
    if (e.crow.lock() == crow.impl() && e.col.lock() == col.impl() && e.crow_version == cv &&
        e.col_version == lv) {
      std::rotate(pattern_cache.begin() + i, pattern_cache.begin() + i + 1, pattern_cache.end());
      return &pattern_cache.back();
    }
  }
  return nullptr;
}

TransposedPattern transpose_pattern(const Tensor& crow, const Tensor& col, int64_t cols) {
  // Transposing the positions 0..nnz-1 (exact in f64) yields the permutation.
  NoGradGuard no_grad;
  const Device dev = crow.device();
  const int64_t nnz = col.numel();
  TransposedPattern t{empty({cols + 1}, Options(DType::i64, dev)),
                      empty({nnz}, Options(DType::i64, dev)), Tensor()};
  Tensor positions_t = empty({nnz}, Options(DType::f64, dev));
  run_kernel(OpId::sparse_transpose, {crow, col, arange(nnz, Options(DType::f64, dev))},
             {t.crow_t, t.col_t, positions_t});
  t.perm = positions_t.to(DType::i64);
  return t;
}

// A^T as CSR [cols, rows] for the backward passes (values not recorded for autograd).
Tensor cached_transpose(const Tensor& crow, const Tensor& col, const Tensor& values, int64_t rows,
                        int64_t cols) {
  TransposedPattern t;
  {
    std::lock_guard<std::mutex> lock(pattern_cache_mutex);
    if (PatternCacheEntry* e = find_pattern(crow, col)) {
      if (e->values_t.defined() && e->values_key.matches(values))
        return make_csr(e->t.crow_t, e->t.col_t, e->values_t, {cols, rows});
      t = e->t;
    }
  }
  const bool miss = !t.perm.defined();
  if (miss) t = transpose_pattern(crow, col, cols);
  Tensor values_t = index_select(values, 0, t.perm);
  std::lock_guard<std::mutex> lock(pattern_cache_mutex);
  PatternCacheEntry* e = miss ? nullptr : find_pattern(crow, col);
  if (!e) {
    if (pattern_cache.size() >= kPatternCacheSize) pattern_cache.erase(pattern_cache.begin());
    pattern_cache.push_back({crow.impl(),
                             col.impl(),
                             crow.storage()->version(),
                             col.storage()->version(),
                             t,
                             {},
                             Tensor()});
    e = &pattern_cache.back();
  }
  e->values_key = ValuesKey::of(values);
  e->values_t = values_t;
  return make_csr(t.crow_t, t.col_t, values_t, {cols, rows});
}

// out[e] = w[e] dot(X[row(e)], Y[col(e)]) over the pattern, w = v or 1 when v is undefined.
Tensor sddmm_impl(const Tensor& crow, const Tensor& col, const Shape& shape, const Tensor& X,
                  const Tensor& Y, const Tensor& v) {
  const bool scaled = v.defined();
  Tensor out = empty({col.numel()}, Options(X.dtype(), X.device()));
  OpAttrs attrs;
  attrs.flag = scaled;
  std::vector<Tensor> in{crow, col, X, Y};
  if (scaled) in.push_back(v);
  run_kernel(OpId::sddmm, in, {out}, attrs);
  const bool gx = X.requires_grad(), gy = Y.requires_grad(), gv = scaled && v.requires_grad();
  std::vector<Tensor> diff{X, Y};
  if (scaled) diff.push_back(v);
  record("sddmm", diff, {out},
         [crow, col, shape, scaled, gx, gy, gv, sx = SavedTensor(gy || gv ? X : Tensor(), "sddmm"),
          sy = SavedTensor(gx || gv ? Y : Tensor(), "sddmm"),
          sv = SavedTensor(scaled && (gx || gy) ? v : Tensor(), "sddmm")](const Grads& g) {
           // With W the CSR of weights g[e] w[e]: dX = W Y, dY = W^T X, dv = g * (X Y^T)[pattern].
           Tensor w = scaled && (gx || gy) ? g[0] * sv.get() : g[0];
           Grads out(scaled ? 3 : 2);
           if (gx) out[0] = spmm(make_csr(crow, col, w, shape), sy.get());
           if (gy) out[1] = spmm(cached_transpose(crow, col, w, shape[0], shape[1]), sx.get());
           if (gv) out[2] = g[0] * sddmm_impl(crow, col, shape, sx.get(), sy.get(), Tensor());
           return out;
         });
  return out;
}

void check_spmm_operands(const char* op, const Tensor& A, const Tensor& X, const char* x_name) {
  check_csr(op, A, "A");
  check_strided(op, X, x_name);
  check_same_device(op, A, X);
  check_same_dtype(op, A, X);
}

Tensor spmm_impl(const char* op, const Tensor& A, const Tensor& X) {
  Tensor v = values_for(op, A);
  Tensor crow = csr_crow(A), col = csr_col(A);
  Tensor out = empty({A.size(0), X.size(1)}, Options(X.dtype(), X.device()));
  run_kernel(OpId::spmm, {crow, col, v, X}, {out});
  const bool gv = v.requires_grad(), gx = X.requires_grad();
  record("spmm", {v, X}, {out},
         [crow, col, shape = A.shape(), gv, gx, sv = SavedTensor(gx ? v : Tensor(), "spmm"),
          sx = SavedTensor(gv ? X : Tensor(), "spmm")](const Grads& g) {
           Tensor dv, dx;
           if (gv) dv = sddmm_impl(crow, col, shape, g[0], sx.get(), Tensor());
           if (gx) dx = spmm(cached_transpose(crow, col, sv.get(), shape[0], shape[1]), g[0]);
           return Grads{dv, dx};
         });
  return out;
}

// --- host-side pattern building ----------------------------------------------------------------

const int64_t* index_data(const Tensor& t) { return t.data_ptr<int64_t>(); }

void validate_pattern(const char* op, const int64_t* crow, const int64_t* col, int64_t rows,
                      int64_t cols, int64_t nnz) {
  SG_CHECK(crow[0] == 0, op, ": crow[0] must be 0, got ", crow[0]);
  for (int64_t r = 0; r < rows; ++r) {
    SG_CHECK(crow[r + 1] >= crow[r], op, ": row ", r, ": crow[", r + 1, "] = ", crow[r + 1],
             " is less than crow[", r, "] = ", crow[r], " (row pointers must not decrease)");
    SG_CHECK(crow[r + 1] <= nnz, op, ": row ", r, ": crow[", r + 1, "] = ", crow[r + 1],
             " is past the end of col (nnz = ", nnz, ")");
    for (int64_t e = crow[r]; e < crow[r + 1]; ++e) {
      SG_CHECK(col[e] >= 0 && col[e] < cols, op, ": row ", r, ": column ", col[e], " (entry ", e,
               ") is out of range for ", cols, " columns");
      SG_CHECK(e == crow[r] || col[e] > col[e - 1], op, ": row ", r,
               ": columns must be sorted and unique, got ", col[e - 1], " then ", col[e],
               " (entries ", e - 1, " and ", e,
               "); use sparse_csr_from_coo for unsorted or "
               "duplicate entries");
    }
  }
  SG_CHECK(crow[rows] == nnz, op, ": crow[", rows, "] = ", crow[rows], " must equal nnz = ", nnz,
           " (the length of col)");
}

// COO entries (row, col, source) merged into a pattern: the CSR rows and columns, and the 0/1
// matrix S [nnz, num_sources] that sums each nonzero's sources (columns of S sorted per row).
struct Merged {
  Tensor crow, col;
  Tensor s_crow, s_col;
  int64_t nnz = 0;
};

Merged merge_entries(const Index& r, const Index& c, const Index& src, int64_t rows) {
  const int64_t n = static_cast<int64_t>(r.size());
  Index order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::tie(r[a], c[a], src[a]) < std::tie(r[b], c[b], src[b]);
  });
  Index crow(rows + 1, 0), col, s_crow, s_col(n);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = order[k];
    if (k == 0 || r[i] != r[order[k - 1]] || c[i] != c[order[k - 1]]) {
      s_crow.push_back(k);
      col.push_back(c[i]);
      ++crow[r[i] + 1];
    }
    s_col[k] = src[i];
  }
  s_crow.push_back(n);
  std::partial_sum(crow.begin(), crow.end(), crow.begin());
  Merged m;
  m.nnz = static_cast<int64_t>(col.size());
  m.crow = index_tensor(crow);
  m.col = index_tensor(col);
  m.s_crow = index_tensor(s_crow);
  m.s_col = index_tensor(s_col);
  return m;
}

// S values_in for the 0/1 matrix S [nnz, values_in.numel()] given by its rows and columns.
Tensor gather_sum(const Tensor& s_crow, const Tensor& s_col, const Tensor& values_in, int64_t nnz) {
  Tensor ones_s = ones({s_col.numel()}, Options(values_in.dtype(), values_in.device()));
  return spmv(make_csr(s_crow, s_col, ones_s, {nnz, values_in.numel()}), values_in);
}

Tensor row_sums(const Tensor& A) {
  return spmv(A, ones({A.size(1)}, Options(A.dtype(), A.device())));
}

// 1/d (or 1/sqrt(d)) where d is usable, else 0. The unused branch sees 1, not 0, so no inf
// reaches the gradient through where().
Tensor safe_inverse(const Tensor& d, bool sqrt_) {
  Tensor ok = sqrt_ ? d > 0.0 : d != 0.0;
  Tensor safe = where(ok, d, scalar_like(1.0, d));
  Tensor inv = sqrt_ ? rsqrt(safe) : 1.0 / safe;
  return where(ok, inv, scalar_like(0.0, d));
}

// values[e] * left[row(e)] * right[col(e)], an sddmm with one-column factors.
Tensor scale_rows_cols(const char* op, const Tensor& A, const Tensor& left, const Tensor& right) {
  Tensor crow = csr_crow(A), col = csr_col(A);
  Tensor v =
      sddmm_impl(crow, col, A.shape(), left.unsqueeze(1), right.unsqueeze(1), values_for(op, A));
  return make_csr(crow, col, v, A.shape());
}

Tensor add_self_loops_impl(const char* op, const Tensor& A, double fill) {
  check_csr(op, A, "A");
  check_square(op, A);
  check_on_cpu(op, A, "A");
  const int64_t n = A.size(0), nnz_in = nnz(A);
  const int64_t* crow = index_data(csr_crow(A));
  const int64_t* col = index_data(csr_col(A));
  // New pattern: each row's columns with the diagonal merged in. S moves old values to their
  // new positions (one entry per old nonzero); `diag` holds the fill at the diagonal.
  Index crow2(n + 1, 0), col2, s_crow{0}, s_col;
  std::vector<double> diag;
  col2.reserve(nnz_in + n);
  auto emit = [&](int64_t c, int64_t source, bool on_diag) {
    col2.push_back(c);
    if (source >= 0) s_col.push_back(source);
    s_crow.push_back(static_cast<int64_t>(s_col.size()));
    diag.push_back(on_diag ? fill : 0.0);
  };
  for (int64_t r = 0; r < n; ++r) {
    bool placed = false;
    for (int64_t e = crow[r]; e < crow[r + 1]; ++e) {
      if (!placed && col[e] > r) {
        emit(r, -1, true);
        placed = true;
      }
      if (col[e] == r) placed = true;
      emit(col[e], e, col[e] == r);
    }
    if (!placed) emit(r, -1, true);
    crow2[r + 1] = static_cast<int64_t>(col2.size());
  }
  const int64_t nnz_out = static_cast<int64_t>(col2.size());
  Tensor moved = gather_sum(index_tensor(s_crow), index_tensor(s_col), values_for(op, A), nnz_out);
  Tensor values = moved + from_vector(diag, {nnz_out}, Options(A.dtype(), A.device()));
  return make_csr(index_tensor(crow2), index_tensor(col2), values, A.shape());
}

Tensor sym_normalize_impl(const char* op, const Tensor& A) {
  check_csr(op, A, "A");
  check_square(op, A);
  Tensor dinv = safe_inverse(row_sums(A), true);
  return scale_rows_cols(op, A, dinv, dinv);
}

Tensor row_normalize_impl(const char* op, const Tensor& A) {
  check_csr(op, A, "A");
  Tensor ones_c = ones({A.size(1)}, Options(A.dtype(), A.device()));
  return scale_rows_cols(op, A, safe_inverse(row_sums(A), false), ones_c);
}

}  // namespace

// --- construction --------------------------------------------------------------------------------

Tensor sparse_csr(const Tensor& crow_in, const Tensor& col_in, const Tensor& values_in,
                  const Shape& shape) {
  const char* op = "sparse_csr";
  SG_CHECK(shape.size() == 2, op, ": expected a 2-D shape [rows, cols], got ", shape_str(shape));
  check_shape(op, shape);
  const int64_t rows = shape[0], cols = shape[1];
  check_index(op, crow_in, "crow", rows + 1);
  check_index(op, col_in, "col");
  check_values(op, values_in, "values", col_in.size(0));
  check_same_device(op, crow_in, col_in);
  check_same_device(op, col_in, values_in);
  check_on_cpu(op, crow_in, "crow");
  Tensor crow = crow_in.contiguous(), col = col_in.contiguous();
  validate_pattern(op, index_data(crow), index_data(col), rows, cols, col.numel());
  return make_csr(crow, col, values_in.contiguous(), shape);
}

Tensor sparse_csr_from_coo(const Tensor& rows, const Tensor& cols, const Tensor& values,
                           const Shape& shape) {
  const char* op = "sparse_csr_from_coo";
  SG_CHECK(shape.size() == 2, op, ": expected a 2-D shape [rows, cols], got ", shape_str(shape));
  check_shape(op, shape);
  check_index(op, rows, "rows");
  const int64_t n = rows.size(0);
  check_index(op, cols, "cols", n);
  check_values(op, values, "values", n);
  check_same_device(op, rows, cols);
  check_same_device(op, rows, values);
  check_on_cpu(op, rows, "rows");
  Index r = rows.to_vector<int64_t>(), c = cols.to_vector<int64_t>(), src(n);
  for (int64_t i = 0; i < n; ++i) {
    SG_CHECK(r[i] >= 0 && r[i] < shape[0], op, ": entry ", i, ": row ", r[i],
             " is out of range for ", shape[0], " rows");
    SG_CHECK(c[i] >= 0 && c[i] < shape[1], op, ": entry ", i, ": column ", c[i],
             " is out of range for ", shape[1], " columns");
  }
  std::iota(src.begin(), src.end(), 0);
  Merged m = merge_entries(r, c, src, shape[0]);
  return make_csr(m.crow, m.col, gather_sum(m.s_crow, m.s_col, values, m.nnz), shape);
}

Tensor from_edge_list(const Tensor& src, const Tensor& dst, int64_t num_nodes,
                      const Tensor& weights, bool symmetric, DType dtype) {
  const char* op = "from_edge_list";
  SG_CHECK(num_nodes >= 0, op, ": num_nodes must be non-negative, got ", num_nodes);
  check_index(op, src, "src");
  const int64_t n = src.size(0);
  check_index(op, dst, "dst", n);
  check_same_device(op, src, dst);
  check_on_cpu(op, src, "src");
  if (weights.defined()) {
    check_values(op, weights, "weights", n);
    check_same_device(op, src, weights);
  } else {
    SG_CHECK(is_floating(dtype), op, ": dtype must be f32 or f64, got ", dtype_name(dtype));
  }
  Index s = src.to_vector<int64_t>(), d = dst.to_vector<int64_t>();
  Index r, c, from;
  r.reserve(symmetric ? 2 * n : n);
  for (int64_t i = 0; i < n; ++i) {
    SG_CHECK(s[i] >= 0 && s[i] < num_nodes && d[i] >= 0 && d[i] < num_nodes, op, ": edge ", i, " (",
             s[i], " -> ", d[i], ") is out of range for ", num_nodes, " nodes");
    r.push_back(s[i]);
    c.push_back(d[i]);
    from.push_back(i);
    if (symmetric && s[i] != d[i]) {
      r.push_back(d[i]);
      c.push_back(s[i]);
      from.push_back(i);
    }
  }
  Merged m = merge_entries(r, c, from, num_nodes);
  Tensor values = weights.defined() ? gather_sum(m.s_crow, m.s_col, weights, m.nnz)
                                    : ones({m.nnz}, Options(dtype, src.device()));
  return make_csr(m.crow, m.col, values, {num_nodes, num_nodes});
}

Tensor csr_with_values(const Tensor& pattern, const Tensor& values) {
  check_csr("csr_with_values", pattern, "pattern");
  check_values("csr_with_values", values, "values", nnz(pattern));
  check_same_device("csr_with_values", pattern, values);
  return make_csr(csr_crow(pattern), csr_col(pattern), values.contiguous(), pattern.shape());
}

// --- accessors -----------------------------------------------------------------------------------

Tensor csr_crow(const Tensor& t) {
  check_csr("csr_crow", t, "t");
  return Tensor(t.impl()->crow);
}

Tensor csr_col(const Tensor& t) {
  check_csr("csr_col", t, "t");
  return Tensor(t.impl()->col);
}

Tensor csr_values(const Tensor& t) {
  check_csr("csr_values", t, "t");
  return Tensor(t.impl()->values);
}

int64_t nnz(const Tensor& t) {
  check_csr("nnz", t, "t");
  return t.impl()->col->shape[0];
}

// --- conversion ----------------------------------------------------------------------------------

Tensor to_dense(const Tensor& t) {
  check_csr("to_dense", t, "t");
  return to_dense_impl(csr_crow(t), csr_col(t), values_for("to_dense", t), t.shape());
}

Tensor sparse_mask(const Tensor& x, const Tensor& pattern) {
  const char* op = "sparse_mask";
  check_dense_matrix(op, x, "x");
  check_csr(op, pattern, "pattern");
  check_same_device(op, x, pattern);
  SG_CHECK(x.shape() == pattern.shape(), op, ": x ", describe(x), " and pattern ",
           describe(pattern), " differ in shape");
  Tensor crow = csr_crow(pattern), col = csr_col(pattern);
  return make_csr(crow, col, mask_impl(x, crow, col), x.shape());
}

Tensor dense_to_csr(const Tensor& x) {
  const char* op = "dense_to_csr";
  check_dense_matrix(op, x, "x");
  check_on_cpu(op, x, "x");
  const int64_t rows = x.size(0), cols = x.size(1);
  Index crow(rows + 1, 0), col;
  Tensor xc;
  {
    NoGradGuard no_grad;
    xc = x.contiguous();
  }
  SG_DISPATCH_FLOAT(x.dtype(), op, [&] {
    const scalar_t* p = xc.data_ptr<scalar_t>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c)
        if (p[r * cols + c] != scalar_t(0)) col.push_back(c);
      crow[r + 1] = static_cast<int64_t>(col.size());
    }
  });
  Tensor crow_t = index_tensor(crow), col_t = index_tensor(col);
  return make_csr(crow_t, col_t, mask_impl(x, crow_t, col_t), x.shape());
}

Tensor sparse_transpose(const Tensor& t) {
  check_csr("sparse_transpose", t, "t");
  return transpose_impl(csr_crow(t), csr_col(t), values_for("sparse_transpose", t), t.size(0),
                        t.size(1));
}

// --- products ------------------------------------------------------------------------------------

Tensor spmm(const Tensor& A, const Tensor& X) {
  check_spmm_operands("spmm", A, X, "X");
  SG_CHECK(X.dim() == 2 && X.size(0) == A.size(1), "spmm: expected X of shape [", A.size(1),
           ", N] for A ", describe(A), ", got ", describe(X));
  return spmm_impl("spmm", A, X);
}

Tensor spmv(const Tensor& A, const Tensor& x) {
  check_spmm_operands("spmv", A, x, "x");
  SG_CHECK(x.dim() == 1 && x.size(0) == A.size(1), "spmv: expected x of shape [", A.size(1),
           "] for A ", describe(A), ", got ", describe(x));
  return spmm_impl("spmv", A, x.unsqueeze(1)).squeeze(1);
}

Tensor sddmm(const Tensor& A, const Tensor& X, const Tensor& Y, bool scale_by_values) {
  const char* op = "sddmm";
  check_csr(op, A, "A");
  check_dense_matrix(op, X, "X");
  check_dense_matrix(op, Y, "Y");
  check_same_device(op, X, Y);
  check_same_device(op, A, X);
  check_same_dtype(op, X, Y);
  if (scale_by_values) check_same_dtype(op, A, X);
  SG_CHECK(X.size(0) == A.size(0) && Y.size(0) == A.size(1) && X.size(1) == Y.size(1), op,
           ": expected X [", A.size(0), ", D] and Y [", A.size(1), ", D] for A ", describe(A),
           ", got X ", describe(X), " and Y ", describe(Y));
  Tensor crow = csr_crow(A), col = csr_col(A);
  Tensor v = sddmm_impl(crow, col, A.shape(), X, Y, scale_by_values ? values_for(op, A) : Tensor());
  return make_csr(crow, col, v, A.shape());
}

// --- graph normalisation -------------------------------------------------------------------------

Tensor add_self_loops(const Tensor& A, double fill) {
  return add_self_loops_impl("add_self_loops", A, fill);
}

Tensor sym_normalize(const Tensor& A) { return sym_normalize_impl("sym_normalize", A); }

Tensor row_normalize(const Tensor& A) { return row_normalize_impl("row_normalize", A); }

Tensor column_normalize(const Tensor& A) {
  const char* op = "column_normalize";
  check_csr(op, A, "A");
  Tensor col_sums = spmv(sparse_transpose(A), ones({A.size(0)}, Options(A.dtype(), A.device())));
  Tensor ones_r = ones({A.size(0)}, Options(A.dtype(), A.device()));
  return scale_rows_cols(op, A, ones_r, safe_inverse(col_sums, false));
}

Tensor gcn_norm(const Tensor& A) {
  return sym_normalize_impl("gcn_norm", add_self_loops_impl("gcn_norm", A, 1.0));
}

Tensor rw_norm(const Tensor& A) {
  return row_normalize_impl("rw_norm", add_self_loops_impl("rw_norm", A, 1.0));
}

}  // namespace stackgrad
