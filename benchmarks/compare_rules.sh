#!/usr/bin/env bash
# Issue 5, table 1 + gradient alignment: every rate rule on MNIST 784-256-10, 10 epochs,
# seed 42, same data order, full test set. Alignment with the true gradient is measured every
# 10,000 training examples on the first 16 training batches. Run files, logs and plots land
# in benchmarks/results/rule-comparison/; summarize with
#   python benchmarks/summarize_rules.py benchmarks/results/rule-comparison
# Usage: bash benchmarks/compare_rules.sh [MODEL ...]   (default: all rows of the table)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/rule-comparison
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(backprop-mnist fa-mnist dfa-mnist grlu-mnist-pairs1 grlu-mnist-pairs16-relu grlu-mnist-pairs128 es-mnist hebbian-mnist ff-mnist noprop-mnist eki-mnist)
for m in "${models[@]}"; do
  cmd="neuro-grlu train $m --set training.alignment_every=10000 --out $out/$m.h5 --overwrite --no-progress"
  echo "\$ $cmd" | tee "$out/$m.log"
  $cmd 2>&1 | tee -a "$out/$m.log"
done
