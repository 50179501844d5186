#!/usr/bin/env bash
# Reproduce the published GRLU MNIST table: every row is a named definition in models/,
# 10 epochs, batch 1, seed 42, full MNIST. Run files and per-epoch tables land in
# benchmarks/results/grlu-table/. Usage: bash benchmarks/reproduce_grlu_table.sh [MODEL ...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/grlu-table
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(grlu-mnist-pairs1 grlu-mnist-pairs16 grlu-mnist-pairs16-topk25 \
  grlu-mnist-pairs128 grlu-mnist-pairs128-topk50 grlu-mnist-deep128)
for m in "${models[@]}"; do
  cmd="neuro-grlu train $m --out $out/$m.h5 --overwrite --no-progress"
  echo "\$ $cmd" | tee "$out/$m.log"
  $cmd 2>&1 | tee -a "$out/$m.log"
  neuro-grlu inspect "$out/$m.h5" > "$out/$m.txt"
done
