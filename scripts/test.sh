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

# ctest runs $JOBS suites at once, each with STACKGRAD_NUM_THREADS threads, so the cores are
# oversubscribed; GNU OpenMP's default spin-waiting then burns the time slices other threads
# need (a 3 s test took 15-40 s on a busy 2-core machine, 3 s with passive waiting).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
