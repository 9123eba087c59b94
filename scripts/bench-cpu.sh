#!/usr/bin/env bash
# CPU benchmarks of stackgrad against its comparators, as one command on a clean clone:
#   bash scripts/bench-cpu.sh
# Installs what is missing (libbenchmark-dev, libopenblas-dev, python3-torch; as root or with
# sudo on Debian 12), builds build-bench (-DSTACKGRAD_BENCH=ON, ccache when present), then for
# BENCH_ROUNDS rounds runs every build-bench/bench_<suite> and, right after (or before: the order
# alternates by round), its PyTorch peer bench/peers/peer_<suite>.py. Prints a markdown ratio
# table (bench/peers/ratio_table.py, targets in bench/targets.txt) and keeps the raw JSON under
# bench-results/<UTC time>/ (bench-results/latest points at it).
# Environment:
#   BENCH_ROUNDS=3       rounds (medians are taken over them)
#   BENCH_THREADS=2      threads for ours, torch and OpenBLAS
#   BENCH_SUITES="..."   only these suites (default: every build-bench/bench_* binary)
#   BENCH_MIN_TIME=0.2   seconds per benchmark (Google Benchmark); the peer driver uses 0.5
#   BENCH_JOBS=N         build parallelism (default: ninja's)
#   BENCH_NO_BUILD=1     skip install and build
set -euo pipefail
cd "$(dirname "$0")/.."
COMMAND="BENCH_ROUNDS=${BENCH_ROUNDS:-3} BENCH_THREADS=${BENCH_THREADS:-2}${BENCH_MIN_TIME:+ BENCH_MIN_TIME=$BENCH_MIN_TIME}${BENCH_SUITES:+ BENCH_SUITES=\"$BENCH_SUITES\"} bash scripts/bench-cpu.sh"
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}
MIN_TIME=${BENCH_MIN_TIME:-0.2}
PEER_MIN_TIME=${BENCH_PEER_MIN_TIME:-0.5}
BUILD=build-bench
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  packages=(build-essential cmake ninja-build zlib1g-dev libbenchmark-dev libopenblas-dev
            python3-torch)
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench-cpu: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
  fi
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTACKGRAD_BENCH=ON \
    -DSTACKGRAD_TESTS=OFF "${launcher[@]}" >/dev/null
  # Only the suites: a broken lab executable must not stop the benchmarks.
  # (bench_cuda_* are the GPU suites: scripts/gpu-check.sh runs them.)
  mapfile -t targets < <(ninja -C "$BUILD" -t targets all | sed -n 's/^\(bench_[A-Za-z0-9_]*\): .*/\1/p' |
                         grep -v '^bench_cuda_' | sort -u)
  ninja -C "$BUILD" ${BENCH_JOBS:+-j "$BENCH_JOBS"} "${targets[@]}"
fi

suites=()
if [ -n "${BENCH_SUITES:-}" ]; then
  read -r -a suites <<<"$BENCH_SUITES"
else
  for bin in "$BUILD"/bench_*; do
    case "$bin" in */bench_cuda_*) continue ;; esac
    [ -x "$bin" ] && [ -f "$bin" ] && suites+=("${bin##*/bench_}")
  done
fi
[ ${#suites[@]} -gt 0 ] || { echo "bench-cpu: no $BUILD/bench_* binaries" >&2; exit 1; }

have_torch=1
"$PY" -c "import torch" 2>/dev/null || { have_torch=0; echo "bench-cpu: no torch, peers skipped" >&2; }

OUT=bench-results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
ln -sfn "$(basename "$OUT")" bench-results/latest
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
torch_v=$([ $have_torch = 1 ] && "$PY" -c "import torch; print(torch.__version__)" || echo none)
blas_v=$(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null ||
         dpkg-query -W -f='${Version}' libopenblas-dev 2>/dev/null || echo none)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
"$PY" - "$OUT/meta.json" <<PYEOF
import json, sys
json.dump({"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "cpu": """$cpu""", "threads": $THREADS,
           "torch": "$torch_v", "openblas": "$blas_v", "commit": "$commit",
           "command": """$COMMAND""", "suites": "${suites[*]}"}, open(sys.argv[1], "w"), indent=1)
PYEOF

export STACKGRAD_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
run_ours() {  # suite round_dir
  local bin="$BUILD/bench_$1"
  [ -x "$bin" ] || { echo "bench-cpu: $bin missing" >&2; return 0; }
  echo "== round $r: bench_$1" >&2
  # A suite with an in-process threaded comparator (OpenBLAS in bench_gemm) runs with both
  # libraries' idle threads asleep, so neither side's spinning threads steal the other's cores.
  local sleepy=()
  grep -q openblas "bench/bench_$1.cpp" 2>/dev/null && sleepy=(OMP_WAIT_POLICY=passive OPENBLAS_THREAD_TIMEOUT=4)
  env "${sleepy[@]}" "$bin" --benchmark_min_time="$MIN_TIME" --benchmark_out="$2/$1.json" \
    --benchmark_out_format=json >&2 || echo "bench-cpu: bench_$1 failed" >&2
}
run_peer() {  # suite round_dir
  [ $have_torch = 1 ] && [ -f "bench/peers/peer_$1.py" ] || return 0
  echo "== round $r: peer_$1 (torch)" >&2
  "$PY" bench/peers/torch_peer.py --suite "$1" --threads "$THREADS" --min-time "$PEER_MIN_TIME" \
    > "$2/$1.torch.jsonl" || echo "bench-cpu: peer_$1 failed" >&2
  cat "$2/$1.torch.jsonl" >&2
}
for ((r = 1; r <= ROUNDS; r++)); do
  dir="$OUT/round$r"
  mkdir -p "$dir"
  for s in "${suites[@]}"; do
    # Alternate who goes first so slow drift of the machine's load does not favour one side.
    if ((r % 2)); then run_ours "$s" "$dir"; run_peer "$s" "$dir"
    else run_peer "$s" "$dir"; run_ours "$s" "$dir"; fi
  done
done

"$PY" bench/peers/ratio_table.py "$OUT" | tee "$OUT/table.md"
echo "bench-cpu: raw JSON and table.md in $OUT" >&2
