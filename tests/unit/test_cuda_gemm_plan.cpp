// The host-side decisions of the CUDA GEMM (kernels/cuda/gemm_plan.h), checked on the CPU: the
// kernel per shape, the loader per operand layout and alignment, launch geometry and grid caps,
// the tile order (a bijection), and how bmm's batch dims fold into launches.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "kernels/cuda/gemm_plan.h"

namespace stackgrad::kernels::gpu {
namespace {

constexpr uint64_t kBase = 0x10000;  // a 256-byte aligned address

// A row-major f32 problem C[M, N] = A[M, K] · B[K, N], all contiguous.
GemmShapeDesc row_major(int64_t M, int64_t N, int64_t K, int64_t batch = 1) {
  GemmShapeDesc s;
  s.batch = batch;
  s.M = M;
  s.N = N;
  s.K = K;
  s.a = OperandDesc{kBase, M * K, K, 1, M};  // x = m: row stride K, k stride 1
  s.b = OperandDesc{kBase, K * N, 1, N, N};  // x = n: column stride 1, k stride N
  s.c_addr = kBase;
  s.c_bs = M * N;
  s.c_rs = N;
  s.c_cs = 1;
  return s;
}

TEST(CudaGemmPlan, KernelPerShape) {
  EXPECT_EQ(plan_gemm(row_major(0, 5, 5)).kernel, GemmKernel::none);
  EXPECT_EQ(plan_gemm(row_major(5, 0, 5)).kernel, GemmKernel::none);
  EXPECT_EQ(plan_gemm(row_major(5, 5, 5, 0)).kernel, GemmKernel::none);
  // K == 0 still writes C (zeros, or beta * C).
  EXPECT_NE(plan_gemm(row_major(5, 5, 0)).kernel, GemmKernel::none);
  EXPECT_EQ(plan_gemm(row_major(8, 8, 8)).kernel, GemmKernel::tiled);
  // Thin: one side below 32 rows takes the 16x16 tiles whatever the rest.
  EXPECT_EQ(plan_gemm(row_major(16, 4096, 4096)).kernel, GemmKernel::tiled);
  EXPECT_EQ(plan_gemm(row_major(4096, 1, 4096)).kernel, GemmKernel::tiled);
  // Mid-sized: too few 128-wide tiles for two waves on 132 SMs (4 x 4 = 16 tiles).
  EXPECT_EQ(plan_gemm(row_major(512, 512, 512)).kernel, GemmKernel::reg64);
  // ... unless the batch supplies them (16 x 32 = 512 tiles).
  EXPECT_EQ(plan_gemm(row_major(512, 512, 512, 32)).kernel, GemmKernel::reg128);
  EXPECT_EQ(plan_gemm(row_major(4096, 4096, 4096)).kernel, GemmKernel::reg128);
  // f64 always takes the tiled kernel.
  GemmShapeDesc d = row_major(4096, 4096, 4096);
  d.elem_bytes = 8;
  EXPECT_EQ(plan_gemm(d).kernel, GemmKernel::tiled);
}

TEST(CudaGemmPlan, Tf32OnlyWhenAllowedOnF32OnCapableDevices) {
  GemmShapeDesc s = row_major(4096, 4096, 4096);
  EXPECT_EQ(plan_gemm(s).kernel, GemmKernel::reg128);
  s.allow_tf32 = true;
  EXPECT_EQ(plan_gemm(s).kernel, GemmKernel::tf32);
  s.cc_major = 7;
  EXPECT_EQ(plan_gemm(s).kernel, GemmKernel::reg128);
  s.cc_major = 9;
  s.elem_bytes = 8;
  EXPECT_EQ(plan_gemm(s).kernel, GemmKernel::tiled);
  // Small or thin products stay exact f32 even when TF32 is allowed.
  GemmShapeDesc small = row_major(48, 300, 300);
  small.allow_tf32 = true;
  EXPECT_EQ(plan_gemm(small).kernel, GemmKernel::reg64);
  small = row_major(8, 8, 8);
  small.allow_tf32 = true;
  EXPECT_EQ(plan_gemm(small).kernel, GemmKernel::tiled);
}

TEST(CudaGemmPlan, LoaderFollowsLayoutAndAlignment) {
  GemmShapeDesc s = row_major(256, 256, 256);
  GemmPlan p = plan_gemm(s);
  EXPECT_EQ(p.a_load, TileLoad::vec_k);  // row-major A: k contiguous
  EXPECT_EQ(p.b_load, TileLoad::vec_x);  // row-major B: n contiguous
  EXPECT_TRUE(p.c_vec);
  EXPECT_FALSE(p.a_x_fast);
  EXPECT_TRUE(p.b_x_fast);

  // Transposed views: A column-major (m contiguous), B column-major (k contiguous).
  s.a = OperandDesc{kBase, 256 * 256, 1, 256, 256};
  s.b = OperandDesc{kBase, 256 * 256, 256, 1, 256};
  p = plan_gemm(s);
  EXPECT_EQ(p.a_load, TileLoad::vec_x);
  EXPECT_EQ(p.b_load, TileLoad::vec_k);
  EXPECT_TRUE(p.a_x_fast);
  EXPECT_FALSE(p.b_x_fast);

  // A base 4 bytes off 16, a leading dim not a multiple of 4, a batch stride not a multiple of
  // 4: each forces the scalar loader for that operand only.
  s = row_major(256, 256, 256);
  s.a.addr = kBase + 4;
  EXPECT_EQ(plan_gemm(s).a_load, TileLoad::scalar);
  EXPECT_EQ(plan_gemm(s).b_load, TileLoad::vec_x);
  s = row_major(256, 256, 258);  // lda = 258
  EXPECT_EQ(plan_gemm(s).a_load, TileLoad::scalar);
  s = row_major(256, 256, 256, 2);
  s.b.batch_stride = 256 * 256 + 2;
  EXPECT_EQ(plan_gemm(s).b_load, TileLoad::scalar);
  EXPECT_EQ(plan_gemm(s).a_load, TileLoad::vec_k);
  // A single problem ignores its batch stride.
  s.batch = 1;
  EXPECT_EQ(plan_gemm(s).b_load, TileLoad::vec_x);

  // Non-unit strides on both dims (a strided view) and broadcast (stride 0) along k.
  s = row_major(256, 256, 256);
  s.a.k_stride = 2;
  s.a.x_stride = 512;
  EXPECT_EQ(plan_gemm(s).a_load, TileLoad::scalar);
  EXPECT_FALSE(plan_gemm(s).a_x_fast);
  s.b.k_stride = 0;  // every row of B the same
  EXPECT_EQ(plan_gemm(s).b_load, TileLoad::vec_x);
  EXPECT_TRUE(plan_gemm(s).b_x_fast);
  s.b.x_stride = -1;  // flipped columns
  EXPECT_EQ(plan_gemm(s).b_load, TileLoad::scalar);

  // f64 never takes the vector loaders (the f64 kernel has none).
  s = row_major(256, 256, 256);
  s.elem_bytes = 8;
  EXPECT_EQ(plan_gemm(s).a_load, TileLoad::scalar);
  EXPECT_FALSE(plan_gemm(s).c_vec);

  // C: float4 stores need unit column stride and aligned rows.
  s = row_major(256, 250, 256);  // ldc = 250
  EXPECT_FALSE(plan_gemm(s).c_vec);
  s = row_major(256, 256, 256);
  s.c_cs = 256;
  s.c_rs = 1;
  EXPECT_FALSE(plan_gemm(s).c_vec);
}

TEST(CudaGemmPlan, SizeOneDimsDoNotBlockVectorLoads) {
  // A [1, K] row with an arbitrary row stride, a [K, 1] column of B with an odd column stride.
  GemmShapeDesc s = row_major(1, 1, 512);
  s.a.x_stride = 7;
  s.b.x_stride = 3;
  s.b.k_stride = 1;
  const GemmPlan p = plan_gemm(s);
  EXPECT_EQ(p.a_load, TileLoad::vec_k);
  EXPECT_EQ(p.b_load, TileLoad::vec_k);
}

// Every 16-byte access the kernels make on a vector path, replayed on the host with the raw
// (unnormalized) strides the kernels receive: a planned vector loader must only ever see 16-byte
// aligned addresses of 4 adjacent elements, and so must the float4 C stores. The address maps are
// those of load_tile (vec_k: z*bs + x*sx + k, k a multiple of 4 with k + 3 < K; vec_x:
// z*bs + x + k*sk, x a multiple of 4 with x + 3 < X) and of sgemm_reg's epilogue.
TEST(CudaGemmPlan, VectorPathsOnlyEverSeeAlignedAdjacentQuads) {
  const int64_t strides[] = {0, 1, 2, 3, 4, 5, 8, 12, 65, -1, -4};
  const int64_t batch_strides[] = {0, 2, 4, 6, 64};
  const uint64_t offsets[] = {0, 4, 8, 16};
  int vec_plans = 0;
  for (int64_t batch : {1, 3})
    for (int64_t X : {1, 3, 4, 9})
      for (int64_t K : {1, 3, 4, 9})
        for (int64_t sx : strides)
          for (int64_t sk : strides)
            for (int64_t bs : batch_strides)
              for (uint64_t off : offsets) {
                const OperandDesc d{kBase + off, bs, sx, sk, X};
                const TileLoad load = choose_load(d, batch, K, 4);
                if (load == TileLoad::scalar) continue;
                ++vec_plans;
                for (int64_t z = 0; z < batch; ++z)
                  for (int64_t x = 0; x < X; ++x)
                    for (int64_t k = 0; k < K; ++k) {
                      int64_t first = 0, step = 0;
                      if (load == TileLoad::vec_k) {
                        if (k % 4 != 0 || k + 3 >= K) continue;
                        first = z * bs + x * sx + k;
                        step = sk;  // the kernel assumes 1
                      } else {
                        if (x % 4 != 0 || x + 3 >= X) continue;
                        first = z * bs + x + k * sk;
                        step = sx;
                      }
                      const uint64_t byte = d.addr + static_cast<uint64_t>(first * 4);
                      ASSERT_EQ(byte % 16, 0u)
                          << "batch " << batch << " X " << X << " K " << K << " sx " << sx << " sk "
                          << sk << " bs " << bs << " off " << off;
                      ASSERT_EQ(step, 1) << "quad of non-adjacent elements";
                    }
              }
  EXPECT_GT(vec_plans, 0);

  // C: float4 stores of (m, n..n+3), n a multiple of 4 with n + 3 < N, at z*c_bs + m*c_rs + n.
  for (int64_t batch : {1, 2})
    for (int64_t M : {1, 3})
      for (int64_t N : {1, 4, 9})
        for (int64_t rs : strides)
          for (int64_t cs : strides)
            for (int64_t bs : batch_strides)
              for (uint64_t off : offsets) {
                GemmShapeDesc s = row_major(M, N, 8, batch);
                s.c_addr = kBase + off;
                s.c_bs = bs;
                s.c_rs = rs;
                s.c_cs = cs;
                if (!plan_gemm(s).c_vec) continue;
                for (int64_t z = 0; z < batch; ++z)
                  for (int64_t m = 0; m < M; ++m)
                    for (int64_t n = 0; n + 3 < N; n += 4) {
                      const uint64_t byte =
                          s.c_addr + static_cast<uint64_t>((z * bs + m * rs + n) * 4);
                      ASSERT_EQ(byte % 16, 0u) << "C rs " << rs << " bs " << bs << " off " << off;
                      ASSERT_EQ(cs, 1) << "C quad of non-adjacent elements";
                    }
              }
}

TEST(CudaGemmPlan, GridCoversTilesAndCapsBatch) {
  GemmPlan p = plan_gemm(row_major(4096, 2000, 4096));
  EXPECT_EQ(p.kernel, GemmKernel::reg128);
  EXPECT_EQ(p.tile, 128);
  EXPECT_EQ(p.tiles_m, 32);
  EXPECT_EQ(p.tiles_n, 16);  // 2000 = 15 * 128 + 80: a remainder tile
  EXPECT_EQ(p.grid_x, 32 * 16);
  EXPECT_EQ(p.grid_z, 1);
  // Many tiny problems: 16x16 tiles (a 128-wide tile would be mostly padding), the batch capped
  // at gridDim.z's limit; the kernel loops over the rest.
  p = plan_gemm(row_major(33, 33, 33, 100000));
  EXPECT_EQ(p.kernel, GemmKernel::tiled);
  EXPECT_EQ(p.grid_z, kMaxGridZ);
  EXPECT_EQ(p.tiles_m, 3);
  EXPECT_EQ(p.grid_x, 9);
  p = plan_gemm(row_major(40, 40, 40));
  EXPECT_EQ(p.kernel, GemmKernel::tiled);
  EXPECT_EQ(p.tiles_m, 3);  // 40 = 2 * 16 + 8
  EXPECT_EQ(p.grid_x, 9);
}

TEST(CudaGemmPlan, ForcedKernelKeepsLoadersAndRecomputesGeometry) {
  const GemmShapeDesc s = row_major(300, 200, 64);
  const GemmPlan planned = plan_gemm(s);
  ASSERT_EQ(planned.kernel, GemmKernel::reg64);
  const GemmPlan forced = with_kernel(planned, s, GemmKernel::tf32);
  EXPECT_EQ(forced.kernel, GemmKernel::tf32);
  EXPECT_EQ(forced.tile, 128);
  EXPECT_EQ(forced.tiles_m, 3);
  EXPECT_EQ(forced.tiles_n, 2);
  EXPECT_EQ(forced.grid_x, 6);
  EXPECT_EQ(forced.a_load, planned.a_load);
  EXPECT_EQ(forced.b_load, planned.b_load);
  const GemmPlan tiled = with_kernel(planned, s, GemmKernel::tiled);
  EXPECT_EQ(tiled.tiles_m, 19);
  EXPECT_EQ(tiled.tiles_n, 13);
  // Nothing to do stays nothing to do.
  const GemmShapeDesc empty = row_major(0, 200, 64);
  EXPECT_EQ(with_kernel(plan_gemm(empty), empty, GemmKernel::reg128).kernel, GemmKernel::none);
}

TEST(CudaGemmPlan, TileOrderIsABijection) {
  for (auto [tm_count, tn_count] : {std::pair<int64_t, int64_t>{1, 1},
                                    {3, 5},
                                    {8, 8},
                                    {17, 4},
                                    {32, 32},
                                    {9, 1},
                                    {1, 9},
                                    {20, 3}}) {
    std::set<std::pair<int64_t, int64_t>> seen;
    for (int64_t t = 0; t < tm_count * tn_count; ++t) {
      int64_t tm = -1, tn = -1;
      tile_coords(t, tm_count, tn_count, &tm, &tn);
      ASSERT_GE(tm, 0);
      ASSERT_LT(tm, tm_count);
      ASSERT_GE(tn, 0);
      ASSERT_LT(tn, tn_count);
      seen.insert({tm, tn});
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), tm_count * tn_count)
        << tm_count << " x " << tn_count;
  }
  // Within a group, consecutive tiles walk down kTileGroup rows before moving right.
  int64_t tm, tn;
  tile_coords(1, 32, 32, &tm, &tn);
  EXPECT_EQ(tm, 1);
  EXPECT_EQ(tn, 0);
  tile_coords(kTileGroup, 32, 32, &tm, &tn);
  EXPECT_EQ(tm, 0);
  EXPECT_EQ(tn, 1);
}

// The quads of the 256 threads cover an operand tile exactly once, in both mappings, for the
// tile shapes of the kernels (reg128: 128 x 8, reg64: 64 x 16, tf32: 128 x 16).
TEST(CudaGemmPlan, TileQuadsCoverTheTileOnce) {
  for (auto [bx, bk] : {std::pair<int, int>{128, 8}, {64, 16}, {128, 16}}) {
    for (bool along_x : {true, false}) {
      std::vector<int> hits(static_cast<size_t>(bx * bk), 0);
      const int quads = bx * bk / 4;
      ASSERT_EQ(quads % 256, 0);
      for (int id = 0; id < quads; ++id) {
        int x = -1, k = -1;
        tile_quad(id, bx, bk, along_x, &x, &k);
        if (along_x) {
          EXPECT_EQ(x % 4, 0);  // float4 along x: 16-byte aligned in S[k][x]
        } else {
          EXPECT_EQ(k % 4, 0);  // float4 along k: aligned in global memory
        }
        for (int e = 0; e < 4; ++e) {
          const int xe = along_x ? x + e : x, ke = along_x ? k : k + e;
          ASSERT_GE(xe, 0);
          ASSERT_LT(xe, bx);
          ASSERT_GE(ke, 0);
          ASSERT_LT(ke, bk);
          ++hits[static_cast<size_t>(ke * bx + xe)];
        }
      }
      for (int h : hits)
        EXPECT_EQ(h, 1) << bx << " x " << bk << (along_x ? " along x" : " along k");
    }
  }
}

// The 16 thread coordinates x TM registers cover BM rows (and columns) once, and the first
// register of each strip is float4 (TM 8) or float2 (TM 4) aligned.
TEST(CudaGemmPlan, RegisterTilesCoverTheBlockTileOnce) {
  for (auto [bm, tm] : {std::pair<int, int>{128, 8}, {64, 4}}) {
    std::vector<int> hits(static_cast<size_t>(bm), 0);
    for (int t = 0; t < 16; ++t)
      for (int i = 0; i < tm; ++i) {
        const int pos = reg_tile_pos(bm, tm, t, i);
        ASSERT_GE(pos, 0);
        ASSERT_LT(pos, bm);
        ++hits[static_cast<size_t>(pos)];
        if (i % (tm / 2) == 0) {
          EXPECT_EQ(pos % (tm / 2), 0);
        } else {
          EXPECT_EQ(pos, reg_tile_pos(bm, tm, t, i - 1) + 1);
        }
      }
    for (int h : hits) EXPECT_EQ(h, 1) << bm;
  }
}

// The tensor-core kernel's accumulators (8 warps x 32 lanes x 4 x 4 tiles x 4) cover the
// 128 x 128 block tile once, and each m16n8 tile is one warp's.
TEST(CudaGemmPlan, Tf32AccumulatorsCoverTheBlockTileOnce) {
  std::vector<int> owner(128 * 128, -1);
  for (int warp = 0; warp < 8; ++warp)
    for (int lane = 0; lane < 32; ++lane)
      for (int mi = 0; mi < 4; ++mi)
        for (int ni = 0; ni < 4; ++ni)
          for (int r = 0; r < 4; ++r) {
            int row = -1, col = -1;
            tf32_acc_pos(warp, lane, mi, ni, r, &row, &col);
            ASSERT_GE(row, 0);
            ASSERT_LT(row, 128);
            ASSERT_GE(col, 0);
            ASSERT_LT(col, 128);
            int& o = owner[static_cast<size_t>(row * 128 + col)];
            EXPECT_EQ(o, -1) << "(" << row << ", " << col << ") twice";
            o = warp;
            // Same m16n8 tile for every lane and register of (warp, mi, ni).
            EXPECT_EQ(row / 16, (warp / 4) * 4 + mi);
            EXPECT_EQ(col / 8, (warp % 4) * 4 + ni);
          }
  for (int o : owner) EXPECT_GE(o, 0);
}

TEST(CudaGemmPlan, BatchFoldMergesContiguousAndBroadcastDims) {
  // [2, 3] batch of contiguous [4, 5] x [5, 6] -> [4, 6]: one launch of 6 problems.
  {
    const int64_t size[2] = {2, 3};
    const int64_t a[2] = {3 * 20, 20}, b[2] = {3 * 30, 30}, c[2] = {3 * 24, 24};
    const int64_t* st[3] = {a, b, c};
    const BatchFold f = fold_batch(2, size, st);
    EXPECT_EQ(f.inner, 6);
    EXPECT_EQ(f.launches(), 1);
    EXPECT_EQ(f.inner_stride[0], 20);
    EXPECT_EQ(f.inner_stride[1], 30);
    EXPECT_EQ(f.inner_stride[2], 24);
  }
  // a broadcast over the first dim, b over the second: cannot merge, 2 launches of 3.
  {
    const int64_t size[2] = {2, 3};
    const int64_t a[2] = {0, 20}, b[2] = {30, 0}, c[2] = {3 * 24, 24};
    const int64_t* st[3] = {a, b, c};
    const BatchFold f = fold_batch(2, size, st);
    EXPECT_EQ(f.inner, 3);
    EXPECT_EQ(f.launches(), 2);
    EXPECT_EQ(f.inner_stride[0], 20);
    EXPECT_EQ(f.inner_stride[1], 0);
    int64_t off[3];
    f.offsets(1, off);
    EXPECT_EQ(off[0], 0);
    EXPECT_EQ(off[1], 30);
    EXPECT_EQ(off[2], 72);
  }
  // Size-1 dims drop out; no batch dims at all is one problem.
  {
    const int64_t size[3] = {1, 4, 1};
    const int64_t a[3] = {99, 7, 5}, b[3] = {0, 0, 3}, c[3] = {1, 11, 13};
    const int64_t* st[3] = {a, b, c};
    const BatchFold f = fold_batch(3, size, st);
    EXPECT_EQ(f.inner, 4);
    EXPECT_EQ(f.launches(), 1);
    EXPECT_EQ(f.inner_stride[0], 7);
    EXPECT_EQ(f.inner_stride[1], 0);
    EXPECT_EQ(f.inner_stride[2], 11);
    const BatchFold none = fold_batch(0, size, st);
    EXPECT_EQ(none.inner, 1);
    EXPECT_EQ(none.launches(), 1);
  }
  // Three dims, the middle one not mergeable: outer offsets walk C order.
  {
    const int64_t size[3] = {2, 2, 3};
    const int64_t a[3] = {1000, 100, 10}, b[3] = {0, 0, 0}, c[3] = {600, 300, 100};
    const int64_t* st[3] = {a, b, c};
    const BatchFold f = fold_batch(3, size, st);
    // a: 100 != 10 * 3 -> no merge of dims 1 and 2; 1000 != 100 * 2 -> no merge of dims 0, 1.
    EXPECT_EQ(f.inner, 3);
    EXPECT_EQ(f.launches(), 4);
    int64_t off[3];
    f.offsets(3, off);  // (1, 1)
    EXPECT_EQ(off[0], 1100);
    EXPECT_EQ(off[1], 0);
    EXPECT_EQ(off[2], 900);
  }
}

}  // namespace
}  // namespace stackgrad::kernels::gpu
