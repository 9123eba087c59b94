#!/usr/bin/env bash
# Runs the test suite: a short bounded fuzz of the file parsers, then every GoogleTest suite
# through ctest. Expects scripts/setup.sh to have built ./build (or $BUILD_DIR).
#   FUZZ_SECONDS=0 bash scripts/test.sh   # skip fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
JOBS=${JOBS:-$(nproc)}

[ -d "$BUILD_DIR" ] || { echo "test: no build in $BUILD_DIR; run scripts/setup.sh first" >&2; exit 2; }
cmake --build "$BUILD_DIR"

if [ "$FUZZ_SECONDS" != "0" ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSTACKGRAD_FUZZ=ON -DSTACKGRAD_CUDA=OFF >/dev/null
  cmake --build build-fuzz
  FUZZ_SECONDS=$FUZZ_SECONDS bash scripts/fuzz.sh build-fuzz
fi

ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
