#!/usr/bin/env bash
# Installs the Debian packages stackgrad needs (when missing) and builds it in Release.
#   bash scripts/setup.sh            # build into ./build
#   BUILD_DIR=out bash scripts/setup.sh
# Works as root or with sudo on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

# libcli11-dev: the executables' command line (train/cli.h); libstb-dev: image decoding in
# datasets/; dataset-fashion-mnist: the data the example executables default to.
packages=(build-essential cmake ninja-build zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
          clang libclang-rt-14-dev libcli11-dev libstb-dev dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR"
echo "setup: built into $BUILD_DIR"
