#!/usr/bin/env bash
# Regenerates the tables of RPC (clustering uncertain data via representative possible worlds)
# and SBG (graph convolution for personalized product search):
#   bash bench/reproduce/rpc_sbg.sh              # from the checkout, after scripts/setup.sh
# Each part writes its table into its algorithm's README (see the scripts it runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
bash bench/reproduce/rpc.sh
bash bench/reproduce/sbg.sh
echo "rpc_sbg: total wall time $(( $(date +%s) - start )) s on $(nproc) cores"
