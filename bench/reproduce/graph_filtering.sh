#!/usr/bin/env bash
# Regenerates the reproduction tables of the three graph-filtering papers (AGC, DSGC,
# gradient-free linearized GCNs) on Cora and CiteSeer:
#   bash bench/reproduce/graph_filtering.sh      # from the checkout, after scripts/setup.sh
# Each part writes its table into its algorithm's README (see the scripts it runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
bash bench/reproduce/agc.sh
bash bench/reproduce/dsgc.sh
bash bench/reproduce/gradient_free_gcn.sh
echo "graph_filtering: total wall time $(( $(date +%s) - start )) s on $(nproc) cores"
