#!/usr/bin/env bash
# Beyond the published single-pair result: the most biologically plausible GRLU learner
# (one antithetic noise pair, batch 1, 10 epochs, seed 42) with other schedules, step sizes
# and widths. Each variant is grlu-mnist-pairs1 plus --set overrides; run files, logs and
# `inspect` dumps land in benchmarks/results/beyond-pairs1/.
# Usage: bash benchmarks/beyond_pairs1.sh [NAME ...]   (default: every variant below)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/beyond-pairs1
mkdir -p "$out"
declare -A variants=(
  [lr0.3]="--set rule.lr_max=0.3"
  [lr1.0]="--set rule.lr_max=1.0"
  [lr0.3-sigconst]="--set rule.lr_max=0.3 --set rule.sigma_min=0.1"
  [lr1.0-sigconst]="--set rule.lr_max=1.0 --set rule.sigma_min=0.1"
  [w1024-lr0.3]="--set network.hidden=[1024] --set rule.lr_max=0.3"
  [w1024]="--set network.hidden=[1024]"
  [w2048-lr0.3]="--set network.hidden=[2048] --set rule.lr_max=0.3"
  [w2048]="--set network.hidden=[2048]"
  [topk50]="--set network.activation=topk --set network.k=0.5"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(lr0.3 lr1.0 lr0.3-sigconst lr1.0-sigconst w1024-lr0.3 w1024 w2048-lr0.3 w2048 topk50)
for v in "${names[@]}"; do
  cmd="neuro-grlu train grlu-mnist-pairs1 ${variants[$v]} --out $out/pairs1-$v.h5 --overwrite --no-progress --no-plot"
  echo "\$ $cmd" | tee "$out/pairs1-$v.log"
  $cmd 2>&1 | tee -a "$out/pairs1-$v.log"
done
