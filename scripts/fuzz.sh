#!/usr/bin/env bash
# Runs each libFuzzer target for a while on a scratch copy of its seed corpus.
#
#   cmake -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DSTACKGRAD_FUZZ=ON -DSTACKGRAD_TESTS=OFF
#   cmake --build build-fuzz --target fuzz_npy fuzz_safetensors
#   FUZZ_SECONDS=120 scripts/fuzz.sh build-fuzz
#
# Fails if a target crashes, reports a sanitizer error, throws anything but stackgrad::Error,
# exceeds the memory limit, or breaks a round trip. Crash inputs are copied to
# <build dir>/fuzz-artifacts/ so they can be replayed: ./fuzz_npy <file>.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 <build dir configured with clang and -DSTACKGRAD_FUZZ=ON>" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${FUZZ_SECONDS:-30}
targets=(npy safetensors)

# Undefined behaviour must stop the run like an ASan report does, not just print a line.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

find_target() {
  local name=$1 found
  found=$(find "$build_dir" -type f -name "$name" -perm -u+x -print -quit)
  if [[ -z "$found" ]]; then
    echo "fuzz.sh: no executable '$name' under $build_dir (configure with -DSTACKGRAD_FUZZ=ON)" >&2
    exit 2
  fi
  echo "$found"
}

failed=()
for target in "${targets[@]}"; do
  binary=$(find_target "fuzz_$target")
  corpus="$scratch/$target/corpus"
  artifacts="$scratch/$target/artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp "$source_dir/tests/fuzz/corpus/$target/"* "$corpus/"
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=25
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [[ -f "$source_dir/tests/fuzz/$target.dict" ]]; then
    args+=(-dict="$source_dir/tests/fuzz/$target.dict")
  fi
  log="$scratch/$target/fuzz.log"
  echo "== fuzz_$target for ${seconds}s"
  if "$binary" "${args[@]}" "$corpus" >"$log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
    echo "   ok: no crash in $(ls "$corpus" | wc -l) corpus inputs"
  else
    echo "   FAILED: fuzz_$target; last lines of its log:"
    tail -n 40 "$log" | sed 's/^/   | /'
    mkdir -p "$build_dir/fuzz-artifacts"
    cp "$artifacts"/* "$build_dir/fuzz-artifacts/" 2>/dev/null || true
    cp "$log" "$build_dir/fuzz-artifacts/fuzz_$target.log"
    echo "   inputs and log copied to $build_dir/fuzz-artifacts/"
    failed+=("fuzz_$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: failures in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all targets ran ${seconds}s without a crash"
