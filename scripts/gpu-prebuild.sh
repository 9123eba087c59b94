#!/usr/bin/env bash
# Builds, on a machine without a GPU, everything scripts/gpu-check.sh runs (CUDA tests, GPU
# benchmarks, CUDA labs; sm_90), so that a GPU machine without Google Benchmark, or with little
# time, only runs them: carry the folder to the GPU machine and run the check there with
#   BUILD_DIR=build-gpu bash scripts/gpu-check.sh "$OUT"
# (gpu-check sees build-gpu/.prebuilt and skips its own configure and build). The shared
# libraries the binaries need that a CUDA machine may lack (Google Benchmark) are copied into
# build-gpu/lib, which gpu-check puts on LD_LIBRARY_PATH; binaries are stripped to keep the folder
# small. Prints the folder's size.
#   bash scripts/gpu-prebuild.sh [build-gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-gpu}
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake -S . -B "$BIN" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTACKGRAD_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DSTACKGRAD_BENCH=ON "${launcher[@]}" > /dev/null
targets=(test_block_allocator test_support_matrix test_tensor test_sparse test_ops)
for t in tests/unit/test_cuda_*.cpp; do targets+=("$(basename "$t" .cpp)"); done
for b in bench/bench_cuda_*.cpp; do targets+=("$(basename "$b" .cpp)"); done
for l in kernels/lab/*/*_cuda_lab.cu; do targets+=("$(basename "$l" .cu)"); done
ninja -C "$BIN" "${targets[@]}"
mkdir -p "$BIN/lib"
for lib in libbenchmark.so; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 ~ "^"l {print $NF; exit}')
  [ -n "$path" ] && cp -L "$path" "$BIN/lib/$(basename "$(readlink -f "$path")")" &&
    ln -sf "$(basename "$(readlink -f "$path")")" "$BIN/lib/$(basename "$path").1debian" 2>/dev/null || true
done
for t in "${targets[@]}"; do [ -f "$BIN/$t" ] && strip "$BIN/$t"; done
touch "$BIN/.prebuilt"
du -sh --exclude='*.o' --exclude='*.a' "$BIN"
echo "gpu-prebuild: carry $BIN (the binaries, lib/, .prebuilt; the object files are not needed)"
