#!/usr/bin/env bash
# One prepared check for a machine with an NVIDIA GPU: builds stackgrad with CUDA where the
# build tools are there, runs every test suite with all cores, the benchmarks and the PyTorch
# oracle, and writes a report. Must finish in well under 10 minutes.
#   OUT=/tmp/gpu-report bash scripts/gpu-check.sh
# Prebuilt binaries (tests, benchmarks, oracle_cases) can be supplied in $PREBUILT (a folder):
# they are used when this machine lacks GoogleTest or Google Benchmark to build them.
# SKIP_BUILD=1 uses only $PREBUILT (a dry run of the script itself).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/stackgrad-gpu-check}
mkdir -p "$OUT"
# $OUT receives a few files only (report.md, log.txt, oracle.txt, benchmarks.txt, build.txt);
# per-suite logs stay in a scratch folder and their failures are copied into the report.
WORK=$(mktemp -d)
REPORT="$OUT/report.md"
LOG="$OUT/log.txt"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
start=$(date +%s)
section() { printf '\n## %s\n\n' "$*" >> "$REPORT"; echo "== $*"; }

{
  echo "# stackgrad GPU check"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: ${GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  echo "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"
  echo "- PyTorch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || echo none)"
} > "$REPORT"

# --- build ------------------------------------------------------------------------------------
section "Build"
BIN=build-gpu
have_gtest=0; [ -f /usr/include/gtest/gtest.h ] && have_gtest=1
have_bench=0; [ -f /usr/include/benchmark/benchmark.h ] && have_bench=1
opts=(-DSTACKGRAD_CUDA=AUTO -DCMAKE_CUDA_ARCHITECTURES=90)
[ $have_gtest = 1 ] || opts+=(-DSTACKGRAD_TESTS=OFF)
[ $have_bench = 1 ] && opts+=(-DSTACKGRAD_BENCH=ON)
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  echo "- build skipped (SKIP_BUILD=1)" >> "$REPORT"
elif cmake -S . -B "$BIN" -G Ninja -DCMAKE_BUILD_TYPE=Release "${opts[@]}" > "$WORK/configure.txt" 2>&1 \
   && cmake --build "$BIN" -j "$(nproc)" > "$WORK/build.txt" 2>&1; then
  echo "- built in $BIN with $(grep -o 'CUDA compiler .*' "$WORK/configure.txt" | head -1)" >> "$REPORT"
  echo "- CUDA sources compiled: $(ls kernels/cuda/*.cu engine/runtime/*.cu 2>/dev/null | wc -l)" >> "$REPORT"
else
  echo "- BUILD FAILED: see build.txt / configure.txt" >> "$REPORT"
  tail -30 "$WORK/build.txt" "$WORK/configure.txt"
fi
[ $have_gtest = 1 ] || echo "- GoogleTest headers missing here: tests come from \$PREBUILT" >> "$REPORT"

find_bin() {  # a binary from this build, else from $PREBUILT
  if [ -x "$BIN/$1" ]; then echo "$BIN/$1"; elif [ -n "${PREBUILT:-}" ] && [ -x "$PREBUILT/$1" ]; then echo "$PREBUILT/$1"; fi
}

# --- tests: every suite, all cores ---------------------------------------------------------------
section "Tests (STACKGRAD_NUM_THREADS=$(nproc))"
export STACKGRAD_NUM_THREADS=$(nproc) STACKGRAD_SOURCE_DIR=$PWD
pass=0; fail=0
for t in $( (ls "$BIN"/test_* 2>/dev/null; [ -n "${PREBUILT:-}" ] && ls "$PREBUILT"/test_* 2>/dev/null) | xargs -rn1 basename | sort -u); do
  b=$(find_bin "$t"); [ -n "$b" ] || continue
  if timeout 300 "$b" --gtest_brief=1 > "$WORK/$t.txt" 2>&1; then
    pass=$((pass + 1)); echo "- $t: $(grep -E '^\[  PASSED  \]' "$WORK/$t.txt" | head -1)" >> "$REPORT"
  else
    fail=$((fail + 1)); echo "- $t: FAILED" >> "$REPORT"; grep -E 'FAILED|Failure' "$WORK/$t.txt" | head -20 >> "$REPORT"
  fi
done
echo "- suites: $pass passed, $fail failed" >> "$REPORT"

# --- CUDA tests ------------------------------------------------------------------------------
section "CUDA"
if ls kernels/cuda/*.cu >/dev/null 2>&1; then
  echo "- CUDA kernels present: see the suites above (parity tests run when a GPU is visible)" >> "$REPORT"
else
  echo "- no CUDA kernels yet: the CUDA backend arrives in its own piece of work" >> "$REPORT"
fi

# --- benchmarks ------------------------------------------------------------------------------
section "Benchmarks (ratios within one run)"
for bench in bench_elementwise; do
  b=$(find_bin $bench); [ -n "$b" ] || { echo "- $bench: not built" >> "$REPORT"; continue; }
  timeout 120 "$b" --benchmark_min_time=0.2 --benchmark_format=console > "$WORK/$bench.txt" 2>&1
  echo '```' >> "$REPORT"; grep -E '^(BM_|[a-z_]+/)' "$WORK/$bench.txt" >> "$REPORT"; echo '```' >> "$REPORT"
done

# --- PyTorch oracle --------------------------------------------------------------------------
section "PyTorch oracle (bench/peers/torch_oracle.py)"
oc=$(find_bin oracle_cases)
if [ -n "$oc" ] && python3 -c 'import torch, numpy' 2>/dev/null; then
  "$oc" "$WORK/oracle-cases" > /dev/null && python3 bench/peers/torch_oracle.py "$WORK/oracle-cases" > "$OUT/oracle.txt" 2>&1
  echo '```' >> "$REPORT"; tail -1 "$OUT/oracle.txt" >> "$REPORT"; grep FAIL "$OUT/oracle.txt" >> "$REPORT"; echo '```' >> "$REPORT"
else
  echo "- skipped (no oracle_cases binary or no torch)" >> "$REPORT"
fi
{ echo '```'; python3 bench/peers/torch_peer.py --suite elementwise --threads "$STACKGRAD_NUM_THREADS" 2>&1; echo '```'; } >> "$REPORT" || echo "- CPU peer timing skipped" >> "$REPORT"

cat "$WORK"/bench_*.txt > "$OUT/benchmarks.txt" 2>/dev/null
tail -50 "$WORK/build.txt" > "$OUT/build.txt" 2>/dev/null
rm -rf "$WORK"
echo "- total time: $(( $(date +%s) - start )) s" >> "$REPORT"
cat "$REPORT"
