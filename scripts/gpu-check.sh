#!/usr/bin/env bash
# One prepared check for a machine with an NVIDIA GPU: builds stackgrad with CUDA for sm_90,
# runs every CUDA test (device tensors and the caching allocator, the support matrix, the
# CPU-vs-CUDA parity of every op with a CUDA kernel, the launch-plan unit tests), runs the GPU
# benchmarks (bench/bench_cuda_*: ours against cuBLAS, cuSPARSE, cuDNN or a device copy, plus
# the PyTorch peers bench/peers/peer_cuda_*.py) into a ratio table, then the kernel labs in the
# time left, and writes a report. Budget: under 8 minutes on one H100 (the build is the long
# part: only the targets the check needs are built; BUILD_DIR may name a build to reuse).
#
# A machine without Google Benchmark (or with little time) can run a folder built elsewhere by
# scripts/gpu-prebuild.sh: BUILD_DIR=build-gpu bash scripts/gpu-check.sh.
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

# --- what the machine has ----------------------------------------------------------------------
section "Tools"
PY=$(command -v python3 || true)
have() { command -v "$1" > /dev/null && echo yes || echo NO; }
torch_v=none
[ -n "$PY" ] && torch_v=$("$PY" -c "import torch; print(torch.__version__, 'cuda', torch.version.cuda, 'available' if torch.cuda.is_available() else 'NO-GPU')" 2>/dev/null || echo none)
{
  echo "- cmake $(have cmake), ninja $(have ninja), nvcc $(have nvcc), ccache $(have ccache)"
  echo "- GoogleTest headers: $([ -f /usr/include/gtest/gtest.h ] && echo yes || echo NO)," \
       "Google Benchmark headers: $([ -f /usr/include/benchmark/benchmark.h ] && echo yes || echo NO)"
  echo "- PyTorch: $torch_v"
} >> "$REPORT"

# --- build: only what the check runs -----------------------------------------------------------
# An existing $BUILD_DIR (configured for CUDA) is reused: ninja rebuilds only what changed.
section "Build (CUDA, sm_90)"
BIN=${BUILD_DIR:-build-gpu}
TESTS=(test_block_allocator test_support_matrix test_tensor test_sparse test_ops)
# Every tests/unit/test_cuda_*.cpp: the device tests and the kernels' launch-plan tests.
for t in tests/unit/test_cuda_*.cpp; do [ -f "$t" ] && TESTS+=("$(basename "$t" .cpp)"); done
BENCHES=()
for b in bench/bench_cuda_*.cpp; do [ -f "$b" ] && BENCHES+=("$(basename "$b" .cpp)"); done
LABS=()
for l in kernels/lab/*/*_cuda_lab.cu; do [ -f "$l" ] && LABS+=("$(basename "$l" .cu)"); done
opts=(-DSTACKGRAD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
if [ ${#BENCHES[@]} -gt 0 ] && [ -f /usr/include/benchmark/benchmark.h ]; then
  opts+=(-DSTACKGRAD_BENCH=ON)
else
  BENCHES=()
fi
command -v ccache > /dev/null && opts+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
built=0
if [ -f "$BIN/.prebuilt" ]; then
  # Built elsewhere by scripts/gpu-prebuild.sh and carried here: run what is there.
  export LD_LIBRARY_PATH="$PWD/$BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  built=1
  BENCHES=()
  for b in bench/bench_cuda_*.cpp; do [ -x "$BIN/$(basename "$b" .cpp)" ] && BENCHES+=("$(basename "$b" .cpp)"); done
  echo "- prebuilt $BIN (scripts/gpu-prebuild.sh): not rebuilt here" >> "$REPORT"
elif cmake -S . -B "$BIN" -G Ninja -DCMAKE_BUILD_TYPE=Release "${opts[@]}" > "$DEST/configure.txt" 2>&1 \
   && timeout 330 cmake --build "$BIN" -j "$(nproc)" --target "${TESTS[@]}" > "$DEST/build.txt" 2>&1; then
  built=1
  echo "- built ${TESTS[*]} in $BIN in $(elapsed) s: $(grep -o 'CUDA compiler .*' "$DEST/configure.txt" | head -1)" >> "$REPORT"
  # Benchmarks and labs: a failure here must not cost the tests their run.
  extra=("${BENCHES[@]}" "${LABS[@]}")
  if [ ${#extra[@]} -gt 0 ]; then
    if timeout 200 cmake --build "$BIN" -j "$(nproc)" -k 0 --target "${extra[@]}" >> "$DEST/build.txt" 2>&1; then
      echo "- built ${#BENCHES[@]} GPU benchmarks and ${#LABS[@]} labs by $(elapsed) s" >> "$REPORT"
    else
      echo "- some benchmarks or labs FAILED to build (build.txt):" >> "$REPORT"
      { echo '```'; grep -E 'error|FAILED' "$DEST/build.txt" | head -30; echo '```'; } >> "$REPORT"
    fi
  fi
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
  for t in "${TESTS[@]}"; do
    case $t in
      test_ops) run_suite test_ops '*Cuda*' ;;  # the parity suites and the GPU-only op tests
      *) run_suite "$t" '*' ;;
    esac
  done
  { echo; echo '<details><summary>support matrix</summary>'; echo; echo '```';
    grep -E '^[a-z_0-9]+ +[a-z]+ +(kernel|composite)|^[0-9]+ ops' "$DEST/test_support_matrix.txt"; echo '```'; echo '</details>'; } >> "$REPORT"
  echo "- skipped parity cases (composites using ops without CUDA kernels):" >> "$REPORT"
  grep -B1 '^\[  SKIPPED \]' "$DEST/test_ops.txt" | grep -o 'composite op .*' | head -40 | sed 's/^/  - /' >> "$REPORT"
fi

# --- GPU benchmarks --------------------------------------------------------------------------------
# Every bench/bench_cuda_<suite> (ours against cuBLAS / cuSPARSE / cuDNN / a device copy in the
# same process) and its PyTorch peer bench/peers/peer_<suite>.py, one round, then the ratio table
# of bench/peers/ratio_table.py with the targets of bench/targets.txt.
section "GPU benchmarks (ratios within this run)"
RUN="$DEST/bench"
mkdir -p "$RUN/round1"
have_torch_cuda=0
case $torch_v in *available*) have_torch_cuda=1 ;; esac
if [ ${#BENCHES[@]} -eq 0 ]; then
  echo "- none run (no bench/bench_cuda_*.cpp, or no Google Benchmark headers)" >> "$REPORT"
elif [ $built = 1 ]; then
  "$PY" - "$RUN/meta.json" <<PYEOF
import json, sys
json.dump({"date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
           "gpu": """$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)""",
           "cuda": """$(nvcc --version 2>/dev/null | tail -1)""", "torch": """$torch_v""",
           "commit": "${GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}",
           "command": "bash scripts/gpu-check.sh"}, open(sys.argv[1], "w"), indent=1)
PYEOF
  for b in "${BENCHES[@]}"; do
    suite=${b#bench_}
    left=$(( 420 - $(elapsed) ))
    [ $left -gt 15 ] || { echo "- $b: skipped, time budget spent" >> "$REPORT"; continue; }
    [ -x "$BIN/$b" ] || { echo "- $b: not built" >> "$REPORT"; continue; }
    timeout $left "$BIN/$b" --benchmark_min_time=0.2 --benchmark_out="$RUN/round1/$suite.json" \
      --benchmark_out_format=json > "$DEST/$b.txt" 2>&1 || echo "- $b: exit $? (see $b.txt)" >> "$REPORT"
    left=$(( 420 - $(elapsed) ))
    if [ $have_torch_cuda = 1 ] && [ -f "bench/peers/peer_$suite.py" ] && [ $left -gt 15 ]; then
      timeout $left "$PY" bench/peers/torch_peer.py --suite "$suite" --min-time 0.2 \
        > "$RUN/round1/$suite.torch.jsonl" 2> "$DEST/peer_$suite.txt" || echo "- peer_$suite: failed (peer_$suite.txt)" >> "$REPORT"
    fi
  done
  "$PY" bench/peers/ratio_table.py "$RUN" > "$RUN/table.md" 2>> "$LOG" && cat "$RUN/table.md" >> "$REPORT"
else
  echo "- benchmarks not run (the build failed)" >> "$REPORT"
fi

# --- kernel labs ---------------------------------------------------------------------------------
# Every CUDA version of a kernel, validated against the CPU and timed: which one kernels/cuda/
# should use. Run with their default sizes in the time that is left.
section "Kernel labs"
if [ $built = 1 ]; then
  for l in "${LABS[@]}"; do
    left=$(( 465 - $(elapsed) ))
    [ $left -gt 10 ] || { echo "- $l: skipped, time budget spent" >> "$REPORT"; continue; }
    [ -x "$BIN/$l" ] || { echo "- $l: not built" >> "$REPORT"; continue; }
    timeout $(( left < 60 ? left : 60 )) "$BIN/$l" > "$DEST/$l.txt" 2>&1
    rc=$?
    { echo "<details><summary>$l (exit $rc)</summary>"; echo; echo '```'; tail -40 "$DEST/$l.txt"; echo '```'; echo '</details>'; } >> "$REPORT"
  done
fi

echo "- total time: $(elapsed) s" >> "$REPORT"
cat "$REPORT"
