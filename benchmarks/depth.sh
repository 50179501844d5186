#!/usr/bin/env bash
# Issue 5, depth: test accuracy vs number of hidden layers (1, 2, 4, 6; width 128) for
# backprop, FA, DFA and GRLU (16 pairs), plus GRLU with the readout skip of grlu-mnist-deep128
# (every hidden layer one synapse from the output). A reduced protocol so that 20 runs fit in
# about an hour of one core: the first 20,000 training images, 5 epochs, seed 42, full test set.
# Results: benchmarks/results/depth/; table and plot with
#   python benchmarks/summarize_depth.py benchmarks/results/depth
# Usage: bash benchmarks/depth.sh [RULE ...]   (default: backprop fa dfa grlu grlu-skip)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/depth
mkdir -p "$out"
common="--train-limit 20000 --epochs 5 --set training.alignment_every=20000 --no-progress --no-plot --overwrite"
declare -A model=([backprop]=backprop-mnist [fa]=fa-mnist [dfa]=dfa-mnist [grlu]=grlu-mnist-pairs16-relu [grlu-skip]=grlu-mnist-pairs16-relu)
declare -A extra=([grlu-skip]="--set network.skip=readout")
rules=("$@")
[ ${#rules[@]} -gt 0 ] || rules=(backprop fa dfa grlu grlu-skip)
for depth in 1 2 4 6; do
  hidden="[$(printf '128,%.0s' $(seq $depth) | sed 's/,$//')]"
  for r in "${rules[@]}"; do
    name="$r-depth$depth"
    cmd="neuro-grlu train ${model[$r]} --set network.hidden=$hidden ${extra[$r]:-} $common --out $out/$name.h5"
    echo "\$ $cmd" | tee "$out/$name.log"
    $cmd 2>&1 | tee -a "$out/$name.log"
  done
done
