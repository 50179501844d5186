#!/usr/bin/env bash
# Issue 5, depth: test accuracy vs number of hidden layers (1, 2, 4, 6; width 128) for
# backprop, FA, DFA and GRLU (16 pairs), plus GRLU with the readout skip of grlu-mnist-deep128
# (every hidden layer one synapse from the output). A reduced protocol so that 20 runs fit in
# about an hour of one core: the first 20,000 training images, 5 epochs, seed 42, full test set.
# The other families (issue 8) run with their own rule settings (models/ff-mnist.toml,
# noprop-mnist.toml, eki-mnist.toml) and the same hidden widths: for NoProp, "hidden layers" are
# the layers inside each of its 10 blocks; for EKI, every ensemble member has that network.
# A run whose log ends with its final accuracy is skipped (delete it to redo), so the script resumes.
# Results: benchmarks/results/depth/; table and plot with
#   python benchmarks/summarize_depth.py benchmarks/results/depth
# Usage: bash benchmarks/depth.sh [RULE ...]   (default: backprop fa dfa grlu grlu-skip ff noprop eki)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/depth
mkdir -p "$out"
common="--train-limit 20000 --epochs 5 --set training.alignment_every=20000 --no-progress --no-plot --overwrite"
declare -A model=([backprop]=backprop-mnist [fa]=fa-mnist [dfa]=dfa-mnist [grlu]=grlu-mnist-pairs16-relu [grlu-skip]=grlu-mnist-pairs16-relu [ff]=ff-mnist [noprop]=noprop-mnist [eki]=eki-mnist)
declare -A extra=([grlu-skip]="--set network.skip=readout")
rules=("$@")
[ ${#rules[@]} -gt 0 ] || rules=(backprop fa dfa grlu grlu-skip ff noprop eki)
for depth in 1 2 4 6; do
  hidden="[$(printf '128,%.0s' $(seq $depth) | sed 's/,$//')]"
  for r in "${rules[@]}"; do
    name="$r-depth$depth"
    if [ -f "$out/$name.h5" ] && grep -q "final test accuracy" "$out/$name.log" 2>/dev/null; then
      echo "skip $name (done)"; continue
    fi
    cmd="neuro-grlu train ${model[$r]} --set network.hidden=$hidden ${extra[$r]:-} $common --out $out/$name.h5"
    echo "\$ $cmd" | tee "$out/$name.log"
    $cmd 2>&1 | tee -a "$out/$name.log"
  done
done
