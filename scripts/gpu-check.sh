#!/usr/bin/env bash
# One prepared check for a machine with an NVIDIA GPU: builds stackgrad with CUDA for sm_90,
# runs every CUDA test (device tensors and the caching allocator, the support matrix, the
# CPU-vs-CUDA parity of every op with a CUDA kernel), runs the GPU benchmarks that exist, and
# writes a report. Budget: under 8 minutes on one H100 (the build is the long part: only the
# targets the check needs are built).
#
#   bash scripts/gpu-check.sh /tmp/gpu-report      # report directory; default $OUT, else /tmp/stackgrad-gpu-check
#
# HONESTY NOTE: this script was written on machines without a GPU and has never run on one.
# The CUDA code it builds compiles there (nvcc, sm_90) but no kernel of kernels/cuda/ has
# executed yet; expect the first run to find problems, and read the report's failures first.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
DEST=${1:-${OUT:-/tmp/stackgrad-gpu-check}}
mkdir -p "$DEST"
REPORT="$DEST/report.md"
LOG="$DEST/log.txt"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
section() { printf '\n## %s\n\n' "$*" >> "$REPORT"; echo "== $* ($(elapsed) s)"; }

{
  echo "# stackgrad GPU check"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: ${GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  echo "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"
} > "$REPORT"

# --- build: only what the check runs -----------------------------------------------------------
section "Build (CUDA, sm_90)"
BIN=${BUILD_DIR:-build-gpu}
TESTS=(test_block_allocator test_cuda_device test_support_matrix test_tensor test_ops)
BENCHES=()
for b in bench/bench_cuda_*.cpp; do [ -f "$b" ] && BENCHES+=("$(basename "$b" .cpp)"); done
opts=(-DSTACKGRAD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
[ ${#BENCHES[@]} -gt 0 ] && [ -f /usr/include/benchmark/benchmark.h ] && opts+=(-DSTACKGRAD_BENCH=ON)
command -v ccache > /dev/null && opts+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
built=0
if cmake -S . -B "$BIN" -G Ninja -DCMAKE_BUILD_TYPE=Release "${opts[@]}" > "$DEST/configure.txt" 2>&1 \
   && timeout 330 cmake --build "$BIN" -j "$(nproc)" --target "${TESTS[@]}" > "$DEST/build.txt" 2>&1; then
  built=1
  echo "- built ${TESTS[*]} in $BIN in $(elapsed) s: $(grep -o 'CUDA compiler .*' "$DEST/configure.txt" | head -1)" >> "$REPORT"
else
  echo "- BUILD FAILED after $(elapsed) s (configure.txt, build.txt; last lines below)" >> "$REPORT"
  { echo '```'; tail -40 "$DEST/build.txt" "$DEST/configure.txt" 2>/dev/null; echo '```'; } >> "$REPORT"
fi

# --- CUDA tests ----------------------------------------------------------------------------------
section "CUDA tests"
export STACKGRAD_SOURCE_DIR=$PWD STACKGRAD_NUM_THREADS=$(nproc)
run_suite() {  # name, gtest filter
  local t=$1 filter=$2 f="$DEST/$1.txt"
  [ -x "$BIN/$t" ] || { echo "- $t: not built" >> "$REPORT"; return; }
  timeout 150 "$BIN/$t" --gtest_filter="$filter" --gtest_brief=0 > "$f" 2>&1
  local rc=$?
  # gtest's summary lines: "[  PASSED  ] 12 tests.", "[  SKIPPED ] 3 tests, listed below:".
  count() { local n; n=$(grep -E "^\[  $1 *\] [0-9]+ test" "$f" | head -1 | grep -oE '[0-9]+' | head -1); echo "${n:-0}"; }
  echo "- $t ($filter): exit $rc, $(count PASSED) passed, $(count SKIPPED) skipped, $(count FAILED) failed" >> "$REPORT"
  if [ $rc -ne 0 ]; then
    { echo '```'; grep -E -A12 'Failure|FAILED|error' "$f" | head -80; echo '```'; } >> "$REPORT"
  fi
}
if [ $built = 1 ]; then
  run_suite test_block_allocator '*'
  run_suite test_cuda_device '*'
  run_suite test_support_matrix '*'
  run_suite test_tensor '*'
  run_suite test_ops 'Ops/CudaParity.*'
  { echo; echo '<details><summary>support matrix</summary>'; echo; echo '```';
    grep -E '^[a-z_0-9]+ +[a-z]+ +(kernel|composite)|^[0-9]+ ops' "$DEST/test_support_matrix.txt"; echo '```'; echo '</details>'; } >> "$REPORT"
  echo "- skipped parity cases (composites using ops without CUDA kernels):" >> "$REPORT"
  grep -B1 '^\[  SKIPPED \]' "$DEST/test_ops.txt" | grep -o 'composite op .*' | head -40 | sed 's/^/  - /' >> "$REPORT"
fi

# --- GPU benchmarks --------------------------------------------------------------------------------
section "GPU benchmarks (ratios within this run)"
if [ ${#BENCHES[@]} -eq 0 ]; then
  echo "- none yet (bench/bench_cuda_*.cpp do not exist)" >> "$REPORT"
elif [ $built = 1 ] && timeout 120 cmake --build "$BIN" -j "$(nproc)" --target "${BENCHES[@]}" >> "$DEST/build.txt" 2>&1; then
  for b in "${BENCHES[@]}"; do
    left=$(( 450 - $(elapsed) ))
    [ $left -gt 20 ] || { echo "- $b: skipped, time budget spent" >> "$REPORT"; continue; }
    timeout $left "$BIN/$b" --benchmark_min_time=0.2 > "$DEST/$b.txt" 2>&1
    { echo '```'; grep -E '^(BM_|[a-z_]+/)' "$DEST/$b.txt"; echo '```'; } >> "$REPORT"
  done
else
  echo "- benchmarks not built (see build.txt)" >> "$REPORT"
fi

echo "- total time: $(elapsed) s" >> "$REPORT"
cat "$REPORT"
