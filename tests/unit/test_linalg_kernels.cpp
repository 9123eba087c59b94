// Properties of the linear algebra kernels in kernels/cpu/linalg.h: factorizations multiply
// back, bases are orthonormal, spectra match closed forms and the dense solvers, and errors
// name the function and the sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "kernels/cpu/linalg.h"

namespace k = stackgrad::kernels;

namespace {

template <typename T>
constexpr bool kIsF64 = std::is_same_v<T, double>;

// Relative tolerance of the assertions: f64 to 1e-10, f32 to 1e-4.
template <typename T>
constexpr double kTol = kIsF64<T> ? 1e-10 : 1e-4;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Row-major dense matrix in double, the test's own arithmetic.
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> d;
  Mat(int64_t r, int64_t c, double fill = 0.0) : rows(r), cols(c), d(r * c, fill) {}
  double& operator()(int64_t i, int64_t j) { return d[i * cols + j]; }
  double operator()(int64_t i, int64_t j) const { return d[i * cols + j]; }
};

Mat identity(int64_t n) {
  Mat m(n, n);
  for (int64_t i = 0; i < n; ++i) m(i, i) = 1.0;
  return m;
}

Mat matmul(const Mat& a, const Mat& b) {
  Mat c(a.rows, b.cols);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t l = 0; l < a.cols; ++l)
      for (int64_t j = 0; j < b.cols; ++j) c(i, j) += a(i, l) * b(l, j);
  return c;
}

Mat transpose(const Mat& a) {
  Mat t(a.cols, a.rows);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < a.cols; ++j) t(j, i) = a(i, j);
  return t;
}

double max_abs_diff(const Mat& a, const Mat& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  double m = 0.0;
  for (size_t i = 0; i < a.d.size(); ++i) {
    const double diff = std::abs(a.d[i] - b.d[i]);
    if (!(diff <= m)) m = diff;  // a NaN sticks
  }
  return m;
}

double max_abs(const Mat& a) {
  double m = 0.0;
  for (double x : a.d)
    if (!(std::abs(x) <= m)) m = std::abs(x);  // a NaN sticks
  return m;
}

Mat random_matrix(int64_t r, int64_t c, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  Mat m(r, c);
  for (double& x : m.d) x = dist(gen);
  return m;
}

Mat random_symmetric(int64_t n, uint64_t seed) {
  Mat m = random_matrix(n, n, seed);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) m(j, i) = m(i, j);
  return m;
}

Mat random_spd(int64_t n, uint64_t seed) {
  Mat b = random_matrix(n, n, seed);
  Mat a = matmul(b, transpose(b));
  for (int64_t i = 0; i < n; ++i) a(i, i) += n;
  return a;
}

Mat path_laplacian(int64_t n) {
  Mat l(n, n);
  for (int64_t i = 0; i + 1 < n; ++i) {
    l(i, i) += 1.0;
    l(i + 1, i + 1) += 1.0;
    l(i, i + 1) = l(i + 1, i) = -1.0;
  }
  return l;
}

// Copies into a T buffer with leading dimension ld (padding filled with NaN, so reading it
// would show up).
template <typename T>
std::vector<T> to_buffer(const Mat& m, int64_t ld) {
  std::vector<T> out(std::max<int64_t>(m.rows * ld, 1), static_cast<T>(kNaN));
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) out[i * ld + j] = static_cast<T>(m(i, j));
  return out;
}

template <typename T>
Mat from_buffer(const T* p, int64_t rows, int64_t cols, int64_t ld) {
  Mat m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = p[i * ld + j];
  return m;
}

// ||QᵀQ - I||_max for the columns of q.
double orthonormality_error(const Mat& q) {
  return max_abs_diff(matmul(transpose(q), q), identity(q.cols));
}

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const sg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A sparse symmetric matrix as adjacency lists, applied as an operator.
struct SparseSym {
  int64_t n = 0;
  std::vector<std::vector<std::pair<int64_t, double>>> rows;
  template <typename T>
  void apply(const T* x, T* y) const {
    for (int64_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (const auto& [j, v] : rows[i]) s += v * x[j];
      y[i] = static_cast<T>(s);
    }
  }
  Mat dense() const {
    Mat m(n, n);
    for (int64_t i = 0; i < n; ++i)
      for (const auto& [j, v] : rows[i]) m(i, j) += v;
    return m;
  }
};

// Laplacian D - W of a random graph: a ring (so it is connected) plus `extra` random edges
// per node with weights in [0.5, 1.5).
SparseSym random_graph_laplacian(int64_t n, int64_t extra, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int64_t> node(0, n - 1);
  std::uniform_real_distribution<double> weight(0.5, 1.5);
  std::set<std::pair<int64_t, int64_t>> edges;
  for (int64_t i = 0; i < n; ++i)
    edges.insert({std::min(i, (i + 1) % n), std::max(i, (i + 1) % n)});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t e = 0; e < extra; ++e) {
      const int64_t j = node(gen);
      if (j != i) edges.insert({std::min(i, j), std::max(i, j)});
    }
  SparseSym l;
  l.n = n;
  l.rows.resize(n);
  std::vector<double> degree(n, 0.0);
  for (const auto& [i, j] : edges) {
    const double w = weight(gen);
    l.rows[i].push_back({j, -w});
    l.rows[j].push_back({i, -w});
    degree[i] += w;
    degree[j] += w;
  }
  for (int64_t i = 0; i < n; ++i) l.rows[i].push_back({i, degree[i]});
  return l;
}

template <typename T>
class LinalgTyped : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(LinalgTyped, Dtypes);

// Runs eigh on m (only the lower triangle is passed; the upper holds NaN) with padding.
template <typename T>
std::pair<std::vector<double>, Mat> run_eigh(const Mat& m, int64_t pad = 0) {
  const int64_t n = m.rows, ld = n + pad;
  Mat lower = m;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) lower(i, j) = kNaN;
  std::vector<T> a = to_buffer<T>(lower, ld), w(std::max<int64_t>(n, 1)),
                 v(std::max<int64_t>(n * ld, 1));
  k::eigh<T>(n, a.data(), ld, w.data(), v.data(), ld);
  return {std::vector<double>(w.begin(), w.begin() + n), from_buffer(v.data(), n, n, ld)};
}

// ---------------------------------------------------------------------------------------------
// eigh

TYPED_TEST(LinalgTyped, EighPathLaplacianMatchesClosedForm) {
  using T = TypeParam;
  const int64_t n = 50;
  auto [w, v] = run_eigh<T>(path_laplacian(n));
  for (int64_t i = 0; i < n; ++i)
    EXPECT_NEAR(w[i], 2.0 - 2.0 * std::cos(std::numbers::pi * i / n), 4.0 * kTol<T>) << i;
  EXPECT_LT(orthonormality_error(v), kTol<T>);
}

TYPED_TEST(LinalgTyped, EighRandomSymmetricIsAnEigendecomposition) {
  using T = TypeParam;
  for (int64_t n : {1, 2, 7, 64}) {
    const Mat a = random_symmetric(n, 100 + n);
    auto [w, v] = run_eigh<T>(a, /*pad=*/3);
    Mat vw = v;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) vw(i, j) *= w[j];
    const double scale = std::max(1.0, std::abs(w.front()) + std::abs(w.back()));
    EXPECT_LT(max_abs_diff(matmul(a, v), vw), kTol<T> * scale) << "n=" << n;
    EXPECT_LT(orthonormality_error(v), kTol<T>) << "n=" << n;
    EXPECT_TRUE(std::is_sorted(w.begin(), w.end())) << "n=" << n;
  }
}

TEST(LinalgEigh, MatchesLargeRandomSymmetricTo1e12) {
  const int64_t n = 200;
  const Mat a = random_symmetric(n, 7);
  auto [w, v] = run_eigh<double>(a);
  Mat vw = v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) vw(i, j) *= w[j];
  const double norm = std::max(std::abs(w.front()), std::abs(w.back()));
  EXPECT_LT(max_abs_diff(matmul(a, v), vw) / norm, 1e-12);
  EXPECT_LT(orthonormality_error(v), 1e-12);
}

TEST(LinalgEigh, RepeatedEigenvalues) {
  {  // identity
    auto [w, v] = run_eigh<double>(identity(6));
    for (double x : w) EXPECT_NEAR(x, 1.0, 1e-14);
    EXPECT_LT(orthonormality_error(v), 1e-14);
  }
  {  // block diagonal with two copies of [[2, 1], [1, 2]] plus a 3: eigenvalues 1, 1, 3, 3, 3
    Mat a(5, 5);
    for (int64_t b : {0, 2}) {
      a(b, b) = a(b + 1, b + 1) = 2.0;
      a(b, b + 1) = a(b + 1, b) = 1.0;
    }
    a(4, 4) = 3.0;
    auto [w, v] = run_eigh<double>(a);
    const std::vector<double> expected = {1, 1, 3, 3, 3};
    for (int64_t i = 0; i < 5; ++i) EXPECT_NEAR(w[i], expected[i], 1e-14);
    EXPECT_LT(orthonormality_error(v), 1e-14);
    Mat vw = v;
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j) vw(i, j) *= w[j];
    EXPECT_LT(max_abs_diff(matmul(a, v), vw), 1e-14);
  }
  {  // Q diag(1, 1, 1, 5, 5, -2) Qᵀ for a random orthogonal Q
    const int64_t n = 6;
    std::vector<double> q(n * n), r(n * n);
    const Mat g = random_matrix(n, n, 3);
    k::qr<double>(n, n, g.d.data(), n, q.data(), r.data(), true);
    const Mat qm = from_buffer(q.data(), n, n, n);
    Mat dq = transpose(qm);
    const std::vector<double> lambda = {1, 1, 1, 5, 5, -2};
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) dq(i, j) *= lambda[i];
    const Mat a = matmul(qm, dq);
    auto [w, v] = run_eigh<double>(a);
    const std::vector<double> expected = {-2, 1, 1, 1, 5, 5};
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(w[i], expected[i], 1e-13);
    EXPECT_LT(orthonormality_error(v), 1e-13);
  }
}

TEST(LinalgEigh, DiagonalZeroAndTrivialSizes) {
  Mat a(4, 4);
  a(0, 0) = 3.0;
  a(1, 1) = -1.0;
  a(2, 2) = 0.5;
  a(3, 3) = -1.0;
  auto [w, v] = run_eigh<double>(a);
  EXPECT_EQ(w, (std::vector<double>{-1.0, -1.0, 0.5, 3.0}));
  for (int64_t j = 0; j < 4; ++j) {  // each column is a signed unit vector
    double norm = 0.0, big = 0.0;
    for (int64_t i = 0; i < 4; ++i) {
      norm += v(i, j) * v(i, j);
      big = std::max(big, std::abs(v(i, j)));
    }
    EXPECT_DOUBLE_EQ(norm, 1.0);
    EXPECT_DOUBLE_EQ(big, 1.0);
  }
  auto [wz, vz] = run_eigh<double>(Mat(3, 3));
  EXPECT_EQ(wz, (std::vector<double>{0.0, 0.0, 0.0}));
  EXPECT_LT(orthonormality_error(vz), 1e-15);

  Mat one(1, 1);
  one(0, 0) = -4.5;
  auto [w1, v1] = run_eigh<double>(one);
  EXPECT_EQ(w1[0], -4.5);
  EXPECT_EQ(std::abs(v1(0, 0)), 1.0);

  k::eigh<double>(0, nullptr, 0, nullptr, nullptr, 0);  // nothing to do, no error

  double bad[4] = {1.0, 0.0, kNaN, 1.0};
  double w2[2], v2[4];
  const std::string msg = error_message([&] { k::eigh<double>(2, bad, 2, w2, v2, 2); });
  EXPECT_NE(msg.find("eigh: entry (1, 0) of the 2x2 matrix is not finite"), std::string::npos)
      << msg;
}

// ---------------------------------------------------------------------------------------------
// cholesky

TYPED_TEST(LinalgTyped, CholeskyMultipliesBack) {
  using T = TypeParam;
  for (int64_t n : {1, 6, 40}) {
    const Mat a = random_spd(n, 200 + n);
    for (bool upper : {false, true}) {
      // Only the chosen triangle is read: poison the other one.
      Mat input = a;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          if (upper ? j < i : j > i) input(i, j) = kNaN;
      std::vector<T> buf = to_buffer<T>(input, n + 1);
      k::cholesky<T>(n, buf.data(), n + 1, upper);
      const Mat f = from_buffer(buf.data(), n, n, n + 1);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          if (upper ? j < i : j > i) {
            EXPECT_EQ(f(i, j), 0.0) << i << "," << j;
          }
      const Mat back = upper ? matmul(transpose(f), f) : matmul(f, transpose(f));
      EXPECT_LT(max_abs_diff(back, a), kTol<T> * max_abs(a)) << "n=" << n << " upper=" << upper;
    }
  }
}

TEST(LinalgCholesky, NotPositiveDefiniteNamesThePivot) {
  double a[4] = {1.0, 2.0, 2.0, 1.0};  // eigenvalues 3 and -1; pivot 1 is 1 - 4 = -3
  const std::string msg = error_message([&] { k::cholesky<double>(2, a, 2, false); });
  EXPECT_NE(msg.find("cholesky: 2x2 matrix is not positive definite (pivot 1 is -3)"),
            std::string::npos)
      << msg;
  float b[1] = {0.0f};
  EXPECT_NE(error_message([&] { k::cholesky<float>(1, b, 1, true); }).find("pivot 0 is 0"),
            std::string::npos);
  k::cholesky<double>(0, nullptr, 0, false);
}

// ---------------------------------------------------------------------------------------------
// triangular, LU, solve, inverse

TYPED_TEST(LinalgTyped, SolveTriangularAllFlagCombinations) {
  using T = TypeParam;
  const int64_t n = 9, nrhs = 4;
  const Mat b = random_matrix(n, nrhs, 11);
  for (int flags = 0; flags < 8; ++flags) {
    const bool upper = flags & 1, transpose_a = flags & 2, unit = flags & 4;
    // A well-conditioned triangle; the other triangle (and a unit diagonal) are poisoned.
    Mat a = random_matrix(n, n, 20 + flags);
    Mat tri(n, n);  // the matrix the solve should see
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const bool in = upper ? j > i : j < i;
        if (i == j) {
          a(i, j) = unit ? kNaN : 1.5 + 0.5 * a(i, j);
          tri(i, j) = unit ? 1.0 : a(i, j);
        } else if (in) {
          a(i, j) *= 0.3;
          tri(i, j) = a(i, j);
        } else {
          a(i, j) = kNaN;
        }
      }
    std::vector<T> abuf = to_buffer<T>(a, n + 2), bbuf = to_buffer<T>(b, nrhs + 1);
    k::solve_triangular<T>(n, nrhs, abuf.data(), n + 2, bbuf.data(), nrhs + 1, upper, transpose_a,
                           unit);
    const Mat x = from_buffer(bbuf.data(), n, nrhs, nrhs + 1);
    const Mat op = transpose_a ? transpose(tri) : tri;
    EXPECT_LT(max_abs_diff(matmul(op, x), b), kTol<T>)
        << "upper=" << upper << " transpose=" << transpose_a << " unit=" << unit;
  }
}

TEST(LinalgTriangular, ZeroDiagonalAndEmpty) {
  double a[4] = {1.0, 0.0, 3.0, 0.0};
  double b[2] = {1.0, 2.0};
  const std::string msg =
      error_message([&] { k::solve_triangular<double>(2, 1, a, 2, b, 1, false, false, false); });
  EXPECT_NE(msg.find("solve_triangular: zero on the diagonal at row 1 of the 2x2"),
            std::string::npos)
      << msg;
  EXPECT_EQ(b[0], 1.0);                                               // b untouched on error
  k::solve_triangular<double>(2, 1, a, 2, b, 1, false, false, true);  // unit: fine
  EXPECT_EQ(b[1], 2.0 - 3.0 * 1.0);
  k::solve_triangular<double>(0, 3, nullptr, 0, nullptr, 3, true, true, false);
  k::solve_triangular<double>(2, 0, a, 2, nullptr, 0, true, false, true);
}

TYPED_TEST(LinalgTyped, SolveAndInverseResiduals) {
  using T = TypeParam;
  for (int64_t n : {1, 5, 30}) {
    Mat a = random_matrix(n, n, 300 + n);
    for (int64_t i = 0; i < n; ++i) a(i, i) += 2.0;  // keep the condition number modest
    const Mat b = random_matrix(n, 3, 400 + n);
    std::vector<T> abuf = to_buffer<T>(a, n), bbuf = to_buffer<T>(b, 3);
    k::solve<T>(n, 3, abuf.data(), n, bbuf.data(), 3);
    const Mat x = from_buffer(bbuf.data(), n, 3, 3);
    EXPECT_LT(max_abs_diff(matmul(a, x), b), kTol<T> * n) << "n=" << n;

    std::vector<T> inv = to_buffer<T>(a, n + 1);
    k::inverse<T>(n, inv.data(), n + 1);
    const Mat ainv = from_buffer(inv.data(), n, n, n + 1);
    EXPECT_LT(max_abs_diff(matmul(a, ainv), identity(n)), kTol<T> * n) << "n=" << n;
    EXPECT_LT(max_abs_diff(matmul(ainv, a), identity(n)), kTol<T> * n) << "n=" << n;

    // lu_factor + lu_solve reused for a second right-hand side
    std::vector<T> lu = to_buffer<T>(a, n);
    std::vector<int64_t> piv(n);
    k::lu_factor<T>(n, lu.data(), n, piv.data());
    std::vector<T> b2 = to_buffer<T>(b, 3);
    k::lu_solve<T>(n, 3, lu.data(), n, piv.data(), b2.data(), 3);
    EXPECT_LT(max_abs_diff(from_buffer(b2.data(), n, 3, 3), x), kTol<T> * n);
  }
}

TEST(LinalgLu, SingularNamesTheColumn) {
  double a[9] = {1, 2, 3, 2, 4, 6, 1, 0, 1};  // row 1 = 2 row 0
  std::vector<int64_t> piv(3);
  const std::string msg = error_message([&] { k::lu_factor<double>(3, a, 3, piv.data()); });
  EXPECT_NE(msg.find("lu_factor: 3x3 matrix is singular (column 2"), std::string::npos) << msg;
  double z[4] = {0, 1, 0, 1};
  double b[2] = {1, 1};
  EXPECT_NE(error_message([&] { k::solve<double>(2, 1, z, 2, b, 1); }).find("column 0"),
            std::string::npos);
  float s[4] = {1, 2, 2, 4};
  EXPECT_NE(error_message([&] { k::inverse<float>(2, s, 2); }).find("singular (column 1"),
            std::string::npos);
  k::inverse<double>(0, nullptr, 0);
  k::solve<double>(0, 2, nullptr, 0, nullptr, 2);
}

// ---------------------------------------------------------------------------------------------
// QR

TYPED_TEST(LinalgTyped, QrShapesAndProperties) {
  using T = TypeParam;
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{7, 4}, {4, 7}, {5, 5}, {1, 1},
                                                           {6, 1}, {1, 6}, {5, 3}};
  for (const auto& [m, n] : shapes) {
    Mat a = random_matrix(m, n, 500 + m * 10 + n);
    if (m == 5 && n == 3)
      for (int64_t i = 0; i < m; ++i) a(i, 1) = 0.0;  // rank-deficient: a zero column
    const int64_t kk = std::min(m, n);
    for (bool reduced : {true, false}) {
      const int64_t qc = reduced ? kk : m;
      std::vector<T> abuf = to_buffer<T>(a, n + 1), q(m * qc), r(qc * n);
      k::qr<T>(m, n, abuf.data(), n + 1, q.data(), r.data(), reduced);
      const Mat qm = from_buffer(q.data(), m, qc, qc), rm = from_buffer(r.data(), qc, n, n);
      EXPECT_LT(orthonormality_error(qm), kTol<T>) << m << "x" << n << " reduced=" << reduced;
      EXPECT_LT(max_abs_diff(matmul(qm, rm), a), kTol<T>) << m << "x" << n;
      for (int64_t i = 0; i < qc; ++i) {
        for (int64_t j = 0; j < std::min(i, n); ++j) EXPECT_EQ(rm(i, j), 0.0);
        if (i < n) {
          EXPECT_GE(rm(i, i), 0.0);
        }
      }
    }
  }
}

TEST(LinalgQr, ZeroSizesAndROnly) {
  double q[9], r[1];
  k::qr<double>(3, 0, nullptr, 0, q, r, /*reduced=*/false);  // Q = I (3x3), R is 3x0
  EXPECT_LT(orthonormality_error(from_buffer(q, 3, 3, 3)), 1e-15);
  k::qr<double>(0, 4, nullptr, 4, nullptr, nullptr, true);
  k::qr<double>(3, 0, nullptr, 0, nullptr, nullptr, true);

  const Mat a = random_matrix(6, 3, 9);
  std::vector<double> q1(18), r1(9), r2(9);
  k::qr<double>(6, 3, a.d.data(), 3, q1.data(), r1.data(), true);
  k::qr<double>(6, 3, a.d.data(), 3, nullptr, r2.data(), true);
  EXPECT_EQ(r1, r2);
}

// ---------------------------------------------------------------------------------------------
// SVD

template <typename T>
void check_svd(const Mat& a, bool full, double tol, const std::string& what) {
  const int64_t m = a.rows, n = a.cols, kk = std::min(m, n);
  const int64_t uc = full ? m : kk, vr = full ? n : kk;
  std::vector<T> abuf = to_buffer<T>(a, n + 2), u(std::max<int64_t>(m * uc, 1)),
                 s(std::max<int64_t>(kk, 1)), vt(std::max<int64_t>(vr * n, 1));
  k::svd<T>(m, n, abuf.data(), n + 2, u.data(), s.data(), vt.data(), full);
  const Mat um = from_buffer(u.data(), m, uc, uc), vtm = from_buffer(vt.data(), vr, n, n);
  EXPECT_LT(orthonormality_error(um), tol) << what;
  EXPECT_LT(orthonormality_error(transpose(vtm)), tol) << what;
  for (int64_t i = 0; i < kk; ++i) {
    EXPECT_GE(s[i], 0.0) << what;
    if (i > 0) {
      EXPECT_LE(s[i], s[i - 1]) << what;
    }
  }
  Mat us(m, n);  // U[:, :k] diag(s) Vt[:k, :]
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < kk; ++l) us(i, j) += um(i, l) * s[l] * vtm(l, j);
  EXPECT_LT(max_abs_diff(us, a), tol * std::max(1.0, max_abs(a))) << what;
}

TYPED_TEST(LinalgTyped, SvdReconstructsWithOrthonormalFactors) {
  using T = TypeParam;
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{8, 5}, {5, 8}, {6, 6},  {1, 4},
                                                           {4, 1}, {1, 1}, {30, 12}};
  for (const auto& [m, n] : shapes)
    for (bool full : {false, true})
      check_svd<T>(random_matrix(m, n, 600 + m * 10 + n), full, kTol<T>,
                   std::to_string(m) + "x" + std::to_string(n) + (full ? " full" : ""));
}

TYPED_TEST(LinalgTyped, SvdRankDeficient) {
  using T = TypeParam;
  // Rank 2: x yᵀ + z wᵀ, 7 x 5 and its transpose; and the zero matrix.
  const Mat x = random_matrix(7, 1, 1), y = random_matrix(1, 5, 2), z = random_matrix(7, 1, 3),
            w = random_matrix(1, 5, 4);
  Mat a = matmul(x, y);
  const Mat b = matmul(z, w);
  for (size_t i = 0; i < a.d.size(); ++i) a.d[i] += b.d[i];
  for (bool full : {false, true}) {
    check_svd<T>(a, full, kTol<T>, "rank 2");
    check_svd<T>(transpose(a), full, kTol<T>, "rank 2 transposed");
    check_svd<T>(Mat(4, 3), full, kTol<T>, "zero 4x3");
    check_svd<T>(Mat(3, 4), full, kTol<T>, "zero 3x4");
  }
  std::vector<T> abuf = to_buffer<T>(a, 5), u(35), s(5), vt(25);
  k::svd<T>(7, 5, abuf.data(), 5, u.data(), s.data(), vt.data());
  EXPECT_GT(s[1], 0.1);
  for (int i = 2; i < 5; ++i) EXPECT_LT(s[i], kTol<T> * s[0]);
}

// Exactly rank-deficient matrices with exactly representable entries. With fused multiply-adds
// (the project builds with -march=x86-64-v3) a column that is zero in exact arithmetic keeps
// rounding noise that is never orthogonal to the others relative to its own norm; these used
// to end in "one-sided Jacobi did not converge".
Mat from_rows(int64_t rows, int64_t cols, std::vector<double> values) {
  Mat m(rows, cols);
  m.d = std::move(values);
  return m;
}

struct RankDeficientCase {
  std::string name;
  Mat a;
  int64_t rank;
};

std::vector<RankDeficientCase> rank_deficient_cases() {
  std::vector<RankDeficientCase> cases;
  // u vᵀ with u = (1, 2, 2), v = (3, 0, 4, 0): σ = |u| |v| = 15.
  cases.push_back(
      {"rank 1 3x4", matmul(from_rows(3, 1, {1, 2, 2}), from_rows(1, 4, {3, 0, 4, 0})), 1});
  // P Q with integer P (5x2) and Q (2x4): rank 2.
  const Mat p = from_rows(5, 2, {1, 2, -1, 3, 2, 0, 0, -2, 3, 1});
  const Mat q = from_rows(2, 4, {1, -1, 2, 0, 3, 1, 0, -2});
  cases.push_back({"rank 2 5x4", matmul(p, q), 2});
  cases.push_back({"zero 5x4", Mat(5, 4), 0});
  cases.push_back({"ones 3x3", Mat(3, 3, 1.0), 1});
  cases.push_back({"ones 5x4", Mat(5, 4, 1.0), 1});
  const size_t count = cases.size();
  for (size_t i = 0; i < count; ++i)
    cases.push_back({cases[i].name + " transposed", transpose(cases[i].a), cases[i].rank});
  return cases;
}

TYPED_TEST(LinalgTyped, SvdExactlyRankDeficient) {
  using T = TypeParam;
  for (const auto& [name, a, rank] : rank_deficient_cases()) {
    for (bool full : {false, true}) check_svd<T>(a, full, kTol<T>, name + (full ? " full" : ""));
    const int64_t m = a.rows, n = a.cols, kk = std::min(m, n);
    std::vector<T> abuf = to_buffer<T>(a, n), s(kk);
    k::svd<T>(m, n, abuf.data(), n, nullptr, s.data(), nullptr);
    // The nonzero singular values are the square roots of the top eigenvalues of AᵀA.
    auto [w, v] = run_eigh<double>(matmul(transpose(a), a));
    for (int64_t i = 0; i < rank; ++i)
      EXPECT_NEAR(s[i], std::sqrt(w[n - 1 - i]), kTol<T> * std::sqrt(w[n - 1])) << name << " " << i;
    // The factorization runs in double, so the zero ones are zero to double precision.
    for (int64_t i = rank; i < kk; ++i)
      EXPECT_LE(s[i], 1e-14 * std::max(1.0, static_cast<double>(s[0]))) << name << " " << i;
  }
}

TEST(LinalgSvd, RankDeficientTinyAndHugeMatricesKeepTheirScale) {
  // Squared column norms of these under- or overflow unless the kernel rescales first.
  for (const double scale : {0x1p-600, 0x1p-1000, 0x1p+600}) {
    for (const auto& [name, a0, rank] : rank_deficient_cases()) {
      if (rank == 0) continue;
      Mat a = a0;
      for (double& x : a.d) x *= scale;
      const int64_t m = a.rows, n = a.cols, kk = std::min(m, n);
      std::vector<double> s0(kk), s(kk), u(m * m), vt(n * n);
      k::svd<double>(m, n, a0.d.data(), n, nullptr, s0.data(), nullptr);
      k::svd<double>(m, n, a.d.data(), n, u.data(), s.data(), vt.data(), /*full_matrices=*/true);
      for (int64_t i = 0; i < kk; ++i)
        EXPECT_NEAR(s[i] / scale, s0[i], 1e-13 * s0[0]) << name << " scale " << scale << " " << i;
      EXPECT_LT(orthonormality_error(from_buffer(u.data(), m, m, m)), 1e-13) << name;
      EXPECT_LT(orthonormality_error(transpose(from_buffer(vt.data(), n, n, n))), 1e-13) << name;
    }
  }
}

TEST(LinalgSvd, MatchesEigenvaluesOfGramAndEdgeCases) {
  const Mat a = random_matrix(9, 6, 77);
  std::vector<double> s(6);
  k::svd<double>(9, 6, a.d.data(), 6, nullptr, s.data(), nullptr);
  auto [w, v] = run_eigh<double>(matmul(transpose(a), a));
  for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(s[i] * s[i], w[5 - i], 1e-12);

  // A diagonal with mixed signs: singular values are the sorted magnitudes.
  Mat d(3, 3);
  d(0, 0) = -2.0;
  d(1, 1) = 5.0;
  d(2, 2) = 0.5;
  k::svd<double>(3, 3, d.d.data(), 3, nullptr, s.data(), nullptr);
  EXPECT_DOUBLE_EQ(s[0], 5.0);
  EXPECT_DOUBLE_EQ(s[1], 2.0);
  EXPECT_DOUBLE_EQ(s[2], 0.5);

  double u[9], vt[16];
  k::svd<double>(3, 0, nullptr, 0, u, nullptr, vt, /*full_matrices=*/true);  // U = I(3)
  EXPECT_LT(orthonormality_error(from_buffer(u, 3, 3, 3)), 1e-15);
  k::svd<double>(0, 4, nullptr, 4, nullptr, nullptr, vt, true);  // Vt = I(4)
  EXPECT_LT(orthonormality_error(from_buffer(vt, 4, 4, 4)), 1e-15);
  k::svd<double>(0, 0, nullptr, 0, nullptr, nullptr, nullptr, false);
}

// ---------------------------------------------------------------------------------------------
// conjugate gradient

TYPED_TEST(LinalgTyped, ConjugateGradientRandomSpd) {
  using T = TypeParam;
  const int64_t n = 50;
  const Mat a = random_spd(n, 42);
  const Mat b = random_matrix(n, 1, 43);
  auto apply = [&](const T* x, T* y) {
    for (int64_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += a(i, j) * x[j];
      y[i] = static_cast<T>(s);
    }
  };
  std::vector<T> bb(b.d.begin(), b.d.end()), x(n, T(0));
  const double tol = kIsF64<T> ? 1e-12 : 1e-5;
  const k::CgResult res = k::conjugate_gradient(n, apply, bb.data(), x.data(), tol, 200);
  EXPECT_TRUE(res.converged);
  EXPECT_LE(res.residual_norm, tol);
  EXPECT_LE(res.iterations, n);
  std::vector<T> ax(n);
  apply(x.data(), ax.data());
  double r = 0.0, bn = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    r += std::pow(double(ax[i]) - b.d[i], 2);
    bn += b.d[i] * b.d[i];
  }
  EXPECT_LT(std::sqrt(r / bn), 10 * std::max(tol, kTol<T> / 10));
}

TYPED_TEST(LinalgTyped, ConjugateGradientShiftedLaplacian) {
  using T = TypeParam;
  // (L + 0.1 I) x = b for the 1-D Dirichlet Laplacian tridiag(-1, 2, -1): eigenvalues in
  // (0.1, 4.1), condition number below 41, so CG needs at most about
  // 0.5 sqrt(41) ln(2 / tol) iterations.
  const int64_t n = 200;
  const double shift = 0.1;
  auto apply = [&](const T* x, T* y) {
    for (int64_t i = 0; i < n; ++i) {
      double s = (2.0 + shift) * x[i];
      if (i > 0) s -= x[i - 1];
      if (i + 1 < n) s -= x[i + 1];
      y[i] = static_cast<T>(s);
    }
  };
  std::vector<T> b(n), x(n, T(0));
  for (int64_t i = 0; i < n; ++i) b[i] = static_cast<T>(std::sin(0.1 * i) + 0.5);
  const double tol = kIsF64<T> ? 1e-10 : 1e-5;
  const k::CgResult res = k::conjugate_gradient(n, apply, b.data(), x.data(), tol, 1000);
  EXPECT_TRUE(res.converged);
  EXPECT_LE(res.iterations, static_cast<int64_t>(0.5 * std::sqrt(41.0) * std::log(2.0 / tol)) + 1);
  std::vector<T> ax(n);
  apply(x.data(), ax.data());
  double r = 0.0, bn = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    r += std::pow(double(ax[i]) - double(b[i]), 2);
    bn += double(b[i]) * b[i];
  }
  EXPECT_LT(std::sqrt(r / bn), kIsF64<T> ? 1e-9 : 1e-4);
}

TEST(LinalgCg, JacobiPreconditionerHelpsBadScaling) {
  // A = D (L + I) D with D spanning four orders of magnitude: Jacobi undoes most of D.
  const int64_t n = 100;
  std::vector<double> dscale(n);
  for (int64_t i = 0; i < n; ++i) dscale[i] = std::pow(10.0, 4.0 * i / (n - 1));
  auto apply = [&](const double* x, double* y) {
    for (int64_t i = 0; i < n; ++i) {
      double s = 3.0 * dscale[i] * x[i];
      if (i > 0) s -= dscale[i - 1] * x[i - 1];
      if (i + 1 < n) s -= dscale[i + 1] * x[i + 1];
      y[i] = dscale[i] * s;
    }
  };
  k::LinOp<double> jacobi = [&](const double* r, double* z) {
    for (int64_t i = 0; i < n; ++i) z[i] = r[i] / (3.0 * dscale[i] * dscale[i]);
  };
  std::vector<double> b(n, 1.0), x1(n, 0.0), x2(n, 0.0);
  const auto plain = k::conjugate_gradient(n, apply, b.data(), x1.data(), 1e-10, 5000);
  const auto pre = k::conjugate_gradient(n, apply, b.data(), x2.data(), 1e-10, 5000, &jacobi);
  EXPECT_TRUE(pre.converged);
  EXPECT_LT(pre.iterations * 2, plain.iterations);
  EXPECT_LE(pre.iterations, 40);
}

TEST(LinalgCg, EdgeCasesAndErrors) {
  auto ident = [](const double* x, double* y) {
    y[0] = x[0];
    y[1] = x[1];
  };
  double b0[2] = {0.0, 0.0}, x[2] = {5.0, -1.0};
  auto res = k::conjugate_gradient(2, ident, b0, x, 1e-10, 10);
  EXPECT_TRUE(res.converged);
  EXPECT_EQ(res.iterations, 0);
  EXPECT_EQ(x[0], 0.0);
  EXPECT_EQ(x[1], 0.0);

  double b[2] = {3.0, 4.0}, exact[2] = {3.0, 4.0};  // the initial guess already solves it
  res = k::conjugate_gradient(2, ident, b, exact, 1e-10, 10);
  EXPECT_EQ(res.iterations, 0);
  EXPECT_TRUE(res.converged);

  double y[2] = {0.0, 0.0};
  res = k::conjugate_gradient(2, ident, b, y, 1e-10, 0);  // no iterations allowed
  EXPECT_FALSE(res.converged);
  EXPECT_DOUBLE_EQ(res.residual_norm, 1.0);

  auto indefinite = [](const double* x, double* y) {
    y[0] = x[0];
    y[1] = -x[1];
  };
  double z[2] = {0.0, 0.0}, bb[2] = {0.0, 1.0};
  EXPECT_NE(error_message([&] {
              k::conjugate_gradient(2, indefinite, bb, z, 1e-10, 10);
            }).find("conjugate_gradient: operator is not positive definite"),
            std::string::npos);
  k::conjugate_gradient<double>(0, ident, nullptr, nullptr, 1e-10, 10);
}

// ---------------------------------------------------------------------------------------------
// eigsh_topk and svds_topk

// Checks ||A x - θ x|| and orthonormality of the returned vectors.
template <typename T>
void check_eigenpairs(const SparseSym& a, int64_t kk, const std::vector<T>& values,
                      const std::vector<T>& vectors, double tol, const std::string& what) {
  const int64_t n = a.n;
  Mat v = from_buffer(vectors.data(), n, kk, kk);
  EXPECT_LT(orthonormality_error(v), tol) << what;
  std::vector<double> x(n), y(n);
  double scale = 0.0;
  for (T t : values) scale = std::max(scale, std::abs(double(t)));
  for (int64_t j = 0; j < kk; ++j) {
    int64_t arg = 0;  // the sign convention: the largest-magnitude entry is positive
    for (int64_t i = 0; i < n; ++i) {
      x[i] = v(i, j);
      if (std::abs(x[i]) > std::abs(x[arg])) arg = i;
    }
    EXPECT_GT(x[arg], 0.0) << what << " pair " << j;
    a.apply(x.data(), y.data());
    double r = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double diff = std::abs(y[i] - values[j] * x[i]);
      if (!(diff <= r)) r = diff;  // a NaN sticks
    }
    EXPECT_LT(r, tol * scale) << what << " pair " << j;
  }
}

TYPED_TEST(LinalgTyped, EigshPathLaplacianMatchesClosedForm) {
  using T = TypeParam;
  const int64_t n = 100, kk = 5;
  SparseSym l;
  l.n = n;
  l.rows.resize(n);
  const Mat dense = path_laplacian(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (dense(i, j) != 0.0) l.rows[i].push_back({j, dense(i, j)});
  auto apply = [&](const T* x, T* y) { l.apply(x, y); };
  std::vector<T> values(kk), vectors(n * kk);
  const double tol = kIsF64<T> ? 1e-12 : 1e-6;
  const auto res = k::eigsh_topk(n, kk, apply, values.data(), vectors.data(), 1, tol, 2000);
  EXPECT_TRUE(res.converged) << res.max_residual;
  for (int64_t i = 0; i < kk; ++i)
    EXPECT_NEAR(values[i], 2.0 - 2.0 * std::cos(std::numbers::pi * (n - 1 - i) / n),
                kIsF64<T> ? 1e-10 : 1e-5)
        << i;
  check_eigenpairs<T>(l, kk, values, vectors, kIsF64<T> ? 1e-9 : 1e-4, "path");
}

TYPED_TEST(LinalgTyped, EigshRandomGraphMatchesDenseEigh) {
  using T = TypeParam;
  const int64_t n = 300, kk = 8;
  const SparseSym l = random_graph_laplacian(n, 3, 5);
  auto [w, v] = run_eigh<double>(l.dense());
  auto apply = [&](const T* x, T* y) { l.apply(x, y); };
  std::vector<T> values(kk), vectors(n * kk);
  const double tol = kIsF64<T> ? 1e-12 : 1e-6;
  const auto res = k::eigsh_topk(n, kk, apply, values.data(), vectors.data(), 7, tol, 500);
  EXPECT_TRUE(res.converged) << res.max_residual;
  for (int64_t i = 0; i < kk; ++i) EXPECT_NEAR(values[i], w[n - 1 - i], kTol<T> * w[n - 1]) << i;
  check_eigenpairs<T>(l, kk, values, vectors, kIsF64<T> ? 1e-9 : 1e-4, "graph");

  // Largest magnitude on an indefinite operator: shift the Laplacian by -0.6 λ_max.
  const double shift = 0.6 * w[n - 1];
  auto shifted = [&](const T* x, T* y) {
    l.apply(x, y);
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(y[i] - shift * x[i]);
  };
  std::vector<double> mags(w);
  for (double& x : mags) x -= shift;
  std::sort(mags.begin(), mags.end(), [](double p, double q) { return std::abs(p) > std::abs(q); });
  const auto res2 = k::eigsh_topk(n, kk, shifted, values.data(), vectors.data(), 8, tol, 500, true);
  EXPECT_TRUE(res2.converged) << res2.max_residual;
  for (int64_t i = 0; i < kk; ++i) EXPECT_NEAR(values[i], mags[i], kTol<T> * w[n - 1]) << i;
  EXPECT_LT(values[kk - 1], 0.0);  // the magnitude ranking reaches the negative end
}

TEST(LinalgEigsh, Sparse2000NodeGraphIsFastAndDeterministic) {
  const int64_t n = 2000, kk = 10;
  const SparseSym l = random_graph_laplacian(n, 2, 11);
  auto apply = [&](const double* x, double* y) { l.apply(x, y); };
  std::vector<double> values(kk), vectors(n * kk), values2(kk), vectors2(n * kk);
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = k::eigsh_topk(n, kk, apply, values.data(), vectors.data(), 3, 1e-10, 1000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(res.converged) << res.max_residual;
  std::printf("eigsh_topk n=%lld k=%lld: %lld restarts, %lld operator applications, %.3f s\n",
              static_cast<long long>(n), static_cast<long long>(kk),
              static_cast<long long>(res.iterations),
              static_cast<long long>(res.operator_applications), seconds);
  check_eigenpairs<double>(l, kk, values, vectors, 1e-8, "2000-node graph");
  for (int64_t i = 1; i < kk; ++i) EXPECT_LE(values[i], values[i - 1]);
  k::eigsh_topk(n, kk, apply, values2.data(), vectors2.data(), 3, 1e-10, 1000);
  EXPECT_EQ(values, values2);
  EXPECT_EQ(vectors, vectors2);
}

TEST(LinalgEigsh, SmallAndEdgeCases) {
  // n = k: the Krylov space is the whole space.
  const Mat a = random_symmetric(6, 21);
  auto apply = [&](const double* x, double* y) {
    for (int64_t i = 0; i < 6; ++i) {
      y[i] = 0.0;
      for (int64_t j = 0; j < 6; ++j) y[i] += a(i, j) * x[j];
    }
  };
  auto [w, v] = run_eigh<double>(a);
  std::vector<double> values(6), vectors(36);
  auto res = k::eigsh_topk(6, 6, apply, values.data(), vectors.data(), 0, 1e-12, 10);
  EXPECT_TRUE(res.converged);
  for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(values[i], w[5 - i], 1e-12);

  // An operator with a large null space (rank 1): k = 3 needs fresh directions after breakdown.
  auto rank1 = [](const double* x, double* y) {
    double s = 0.0;
    for (int i = 0; i < 40; ++i) s += x[i];
    for (int i = 0; i < 40; ++i) y[i] = s;
  };
  std::vector<double> v3(3), vec3(120);
  res = k::eigsh_topk(40, 3, rank1, v3.data(), vec3.data(), 5, 1e-12, 50);
  EXPECT_TRUE(res.converged);
  EXPECT_NEAR(v3[0], 40.0, 1e-10);
  EXPECT_NEAR(v3[1], 0.0, 1e-10);
  EXPECT_NEAR(v3[2], 0.0, 1e-10);
  EXPECT_LT(orthonormality_error(from_buffer(vec3.data(), 40, 3, 3)), 1e-10);

  res = k::eigsh_topk<double>(5, 0, apply, nullptr, nullptr, 0, 1e-10, 10);
  EXPECT_TRUE(res.converged);
  EXPECT_NE(error_message([&] {
              k::eigsh_topk(5, 6, apply, values.data(), vectors.data(), 0, 1e-10, 10);
            }).find("eigsh_topk: need 0 <= k <= n, got k=6, n=5"),
            std::string::npos);
}

TYPED_TEST(LinalgTyped, SvdsMatchesDenseSvd) {
  using T = TypeParam;
  for (const auto& [m, n] : std::vector<std::pair<int64_t, int64_t>>{{60, 35}, {35, 60}}) {
    const int64_t kk = 4;
    const Mat a = random_matrix(m, n, 900 + m);
    auto apply_a = [&](const T* x, T* y) {
      for (int64_t i = 0; i < m; ++i) {
        double s = 0.0;
        for (int64_t j = 0; j < n; ++j) s += a(i, j) * x[j];
        y[i] = static_cast<T>(s);
      }
    };
    auto apply_at = [&](const T* x, T* y) {
      for (int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        for (int64_t i = 0; i < m; ++i) s += a(i, j) * x[i];
        y[j] = static_cast<T>(s);
      }
    };
    const int64_t kd = std::min(m, n);
    std::vector<double> ud(m * kd), sd(kd), vtd(kd * n);
    k::svd<double>(m, n, a.d.data(), n, ud.data(), sd.data(), vtd.data());

    std::vector<T> u(m * kk), s(kk), v(n * kk);
    const double tol = kIsF64<T> ? 1e-13 : 1e-6;
    const auto res =
        k::svds_topk(m, n, kk, apply_a, apply_at, u.data(), s.data(), v.data(), 4, tol, 500);
    EXPECT_TRUE(res.converged) << res.max_residual;
    const Mat um = from_buffer(u.data(), m, kk, kk), vm = from_buffer(v.data(), n, kk, kk);
    EXPECT_LT(orthonormality_error(um), kTol<T>);
    EXPECT_LT(orthonormality_error(vm), kTol<T>);
    for (int64_t j = 0; j < kk; ++j) {
      EXPECT_NEAR(s[j], sd[j], kTol<T> * sd[0]) << j;
      double cu = 0.0, cv = 0.0;  // agreement with the dense vectors up to sign
      for (int64_t i = 0; i < m; ++i) cu += um(i, j) * ud[i * kd + j];
      for (int64_t i = 0; i < n; ++i) cv += vm(i, j) * vtd[j * n + i];
      EXPECT_NEAR(std::abs(cu), 1.0, 10 * kTol<T>) << j;
      EXPECT_NEAR(cu * cv, 1.0, 10 * kTol<T>) << j;  // the same relative sign on both sides
    }
  }
}

TEST(LinalgSvds, RankDeficientCompletesU) {
  // A = x yᵀ (rank 1), ask for 3 triplets: σ = (|x||y|, 0, 0), U still orthonormal.
  const int64_t m = 30, n = 20;
  const Mat x = random_matrix(m, 1, 1), y = random_matrix(1, n, 2);
  const Mat a = matmul(x, y);
  auto apply_a = [&](const double* in, double* out) {
    for (int64_t i = 0; i < m; ++i) {
      out[i] = 0.0;
      for (int64_t j = 0; j < n; ++j) out[i] += a(i, j) * in[j];
    }
  };
  auto apply_at = [&](const double* in, double* out) {
    for (int64_t j = 0; j < n; ++j) {
      out[j] = 0.0;
      for (int64_t i = 0; i < m; ++i) out[j] += a(i, j) * in[i];
    }
  };
  std::vector<double> u(m * 3), s(3), v(n * 3);
  const auto res =
      k::svds_topk(m, n, 3, apply_a, apply_at, u.data(), s.data(), v.data(), 9, 1e-12, 100);
  EXPECT_TRUE(res.converged);
  double nx = 0.0, ny = 0.0;
  for (double t : x.d) nx += t * t;
  for (double t : y.d) ny += t * t;
  EXPECT_NEAR(s[0], std::sqrt(nx * ny), 1e-10);
  EXPECT_LT(s[1], 1e-6);
  EXPECT_LT(orthonormality_error(from_buffer(u.data(), m, 3, 3)), 1e-10);
  EXPECT_LT(orthonormality_error(from_buffer(v.data(), n, 3, 3)), 1e-10);
  EXPECT_NE(error_message([&] {
              k::svds_topk(m, n, 21, apply_a, apply_at, u.data(), s.data(), v.data(), 0, 1e-8, 10);
            }).find("svds_topk: need 0 <= k <= min(m, n), got k=21 for a 30x20 operator"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The accuracy and timing table of docs/kernels/linalg.md. Disabled by default; run with
//   --gtest_also_run_disabled_tests --gtest_filter='LinalgReport.*'

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(LinalgReport, DISABLED_AccuracyAndTime) {
  using Clock = std::chrono::steady_clock;
  for (int64_t n : {50, 200, 400}) {
    const Mat a = random_symmetric(n, n);
    const auto t0 = Clock::now();
    auto [w, v] = run_eigh<double>(a);
    const double t = seconds_since(t0);
    Mat vw = v;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) vw(i, j) *= w[j];
    const double norm = std::max(std::abs(w.front()), std::abs(w.back()));
    auto [wf, vf] = run_eigh<float>(a);
    Mat vwf = vf;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) vwf(i, j) *= wf[j];
    std::printf("eigh n=%lld: f64 |AV-VW|/|A| %.1e |VtV-I| %.1e (%.3f s); f32 %.1e %.1e\n",
                static_cast<long long>(n), max_abs_diff(matmul(a, v), vw) / norm,
                orthonormality_error(v), t, max_abs_diff(matmul(a, vf), vwf) / norm,
                orthonormality_error(vf));
  }
  {
    const int64_t n = 400;
    const Mat a = random_spd(n, 5);
    std::vector<double> l = a.d;
    auto t0 = Clock::now();
    k::cholesky<double>(n, l.data(), n, false);
    double t = seconds_since(t0);
    const Mat lm = from_buffer(l.data(), n, n, n);
    std::printf("cholesky n=%lld: |LLt-A|/|A| %.1e (%.3f s)\n", static_cast<long long>(n),
                max_abs_diff(matmul(lm, transpose(lm)), a) / max_abs(a), t);
    Mat g = random_matrix(n, n, 6);
    for (int64_t i = 0; i < n; ++i) g(i, i) += 2.0;
    const Mat b = random_matrix(n, 3, 7);
    std::vector<double> lu = g.d, x = b.d, inv = g.d;
    t0 = Clock::now();
    k::solve<double>(n, 3, lu.data(), n, x.data(), 3);
    t = seconds_since(t0);
    std::printf("solve n=%lld nrhs=3: |AX-B| %.1e (%.3f s)\n", static_cast<long long>(n),
                max_abs_diff(matmul(g, from_buffer(x.data(), n, 3, 3)), b), t);
    t0 = Clock::now();
    k::inverse<double>(n, inv.data(), n);
    t = seconds_since(t0);
    std::printf("inverse n=%lld: |A A^-1 - I| %.1e (%.3f s)\n", static_cast<long long>(n),
                max_abs_diff(matmul(g, from_buffer(inv.data(), n, n, n)), identity(n)), t);
  }
  for (const auto& [m, n] : std::vector<std::pair<int64_t, int64_t>>{{200, 80}, {150, 150}}) {
    const Mat a = random_matrix(m, n, m + n);
    const int64_t kk = std::min(m, n);
    std::vector<double> q(m * kk), r(kk * n), u(m * kk), s(kk), vt(kk * n);
    auto t0 = Clock::now();
    k::qr<double>(m, n, a.d.data(), n, q.data(), r.data(), true);
    double t = seconds_since(t0);
    const Mat qm = from_buffer(q.data(), m, kk, kk);
    std::printf("qr %lldx%lld: |QR-A| %.1e |QtQ-I| %.1e (%.3f s)\n", static_cast<long long>(m),
                static_cast<long long>(n),
                max_abs_diff(matmul(qm, from_buffer(r.data(), kk, n, n)), a),
                orthonormality_error(qm), t);
    t0 = Clock::now();
    k::svd<double>(m, n, a.d.data(), n, u.data(), s.data(), vt.data());
    t = seconds_since(t0);
    Mat us = from_buffer(u.data(), m, kk, kk);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < kk; ++j) us(i, j) *= s[j];
    const Mat vtm = from_buffer(vt.data(), kk, n, n);
    std::printf("svd %lldx%lld: |USVt-A|/s0 %.1e |UtU-I| %.1e |VVt-I| %.1e (%.3f s)\n",
                static_cast<long long>(m), static_cast<long long>(n),
                max_abs_diff(matmul(us, vtm), a) / s[0],
                orthonormality_error(from_buffer(u.data(), m, kk, kk)),
                orthonormality_error(transpose(vtm)), t);
  }
  for (double shift : {0.1, 0.01}) {
    const int64_t n = 10000;
    auto apply = [&](const double* x, double* y) {
      for (int64_t i = 0; i < n; ++i) {
        double sum = (2.0 + shift) * x[i];
        if (i > 0) sum -= x[i - 1];
        if (i + 1 < n) sum -= x[i + 1];
        y[i] = sum;
      }
    };
    std::vector<double> b(n), x(n, 0.0), ax(n);
    for (int64_t i = 0; i < n; ++i) b[i] = std::sin(0.01 * i) + 0.5;
    const auto t0 = Clock::now();
    const auto res = k::conjugate_gradient(n, apply, b.data(), x.data(), 1e-10, 10000);
    const double t = seconds_since(t0);
    apply(x.data(), ax.data());
    double rr = 0.0, bb = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      rr += (ax[i] - b[i]) * (ax[i] - b[i]);
      bb += b[i] * b[i];
    }
    std::printf(
        "cg 1-D Laplacian + %.2f, n=%lld, tol 1e-10: %lld iterations, true residual %.1e "
        "(%.3f s)\n",
        shift, static_cast<long long>(n), static_cast<long long>(res.iterations),
        std::sqrt(rr / bb), t);
  }
  for (const auto& [n, kk] : std::vector<std::pair<int64_t, int64_t>>{{2000, 10}, {20000, 10}}) {
    const SparseSym l = random_graph_laplacian(n, 2, 11);
    std::vector<double> values(kk), vectors(n * kk);
    auto apply = [&](const double* x, double* y) { l.apply(x, y); };
    auto t0 = Clock::now();
    const auto res = k::eigsh_topk(n, kk, apply, values.data(), vectors.data(), 3, 1e-10, 1000);
    const double t = seconds_since(t0);
    std::vector<float> vf(kk), vecf(n * kk);
    auto apply_f = [&](const float* x, float* y) { l.apply(x, y); };
    t0 = Clock::now();
    const auto res_f = k::eigsh_topk(n, kk, apply_f, vf.data(), vecf.data(), 3, 1e-6, 1000);
    const double tf = seconds_since(t0);
    double diff = 0.0;
    for (int64_t i = 0; i < kk; ++i) diff = std::max(diff, std::abs(vf[i] - values[i]) / values[0]);
    std::printf(
        "eigsh_topk graph n=%lld k=%lld: f64 tol 1e-10 %lld restarts %lld applications "
        "residual %.1e (%.3f s); f32 tol 1e-6 residual %.1e |l32-l64|/l0 %.1e (%.3f s)\n",
        static_cast<long long>(n), static_cast<long long>(kk),
        static_cast<long long>(res.iterations), static_cast<long long>(res.operator_applications),
        res.max_residual, t, res_f.max_residual, diff, tf);
  }
  {
    const int64_t m = 500, n = 300, kk = 10;
    const Mat a = random_matrix(m, n, 3);
    auto apply_a = [&](const double* x, double* y) {
      for (int64_t i = 0; i < m; ++i) {
        y[i] = 0.0;
        for (int64_t j = 0; j < n; ++j) y[i] += a(i, j) * x[j];
      }
    };
    auto apply_at = [&](const double* x, double* y) {
      for (int64_t j = 0; j < n; ++j) y[j] = 0.0;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) y[j] += a(i, j) * x[i];
    };
    std::vector<double> u(m * kk), s(kk), v(n * kk), sd(n);
    auto t0 = Clock::now();
    const auto res =
        k::svds_topk(m, n, kk, apply_a, apply_at, u.data(), s.data(), v.data(), 1, 1e-12, 1000);
    const double t = seconds_since(t0);
    t0 = Clock::now();
    k::svd<double>(m, n, a.d.data(), n, nullptr, sd.data(), nullptr);
    const double td = seconds_since(t0);
    double diff = 0.0;
    for (int64_t i = 0; i < kk; ++i) diff = std::max(diff, std::abs(s[i] - sd[i]) / sd[0]);
    std::printf(
        "svds_topk 500x300 k=10 tol 1e-12: %lld applications, |s-s_svd|/s0 %.1e "
        "(%.3f s; dense svd %.3f s)\n",
        static_cast<long long>(res.operator_applications), diff, t, td);
  }
}

}  // namespace
