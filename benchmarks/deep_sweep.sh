#!/usr/bin/env bash
# Step-size sweep for the deep GRLU model (grlu-mnist-deep128) on a 10,000-image subset,
# 3 epochs each, to choose settings before a full 10-epoch run. "n" variants divide the
# update by sigma^2 (rule.normalize = "sigma2") and hold sigma constant, so lr alone sets
# the gradient step. Results land in benchmarks/results/deep-sweep/.
# Usage: bash benchmarks/deep_sweep.sh [NAME ...]   (default: every variant below)
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/deep-sweep
mkdir -p "$out"
common="--train-limit 10000 --epochs 3"
declare -A variants=(
  [base]=""
  [n-lr0.003]="--set rule.normalize=sigma2 --set rule.sigma_min=0.1 --set rule.lr_max=0.003"
  [n-lr0.01]="--set rule.normalize=sigma2 --set rule.sigma_min=0.1 --set rule.lr_max=0.01"
  [n-lr0.03]="--set rule.normalize=sigma2 --set rule.sigma_min=0.1 --set rule.lr_max=0.03"
  [n-lr0.01-s0.03]="--set rule.normalize=sigma2 --set rule.sigma_max=0.03 --set rule.sigma_min=0.03 --set rule.lr_max=0.01"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(base n-lr0.003 n-lr0.01 n-lr0.03 n-lr0.01-s0.03)
for v in "${names[@]}"; do
  cmd="neuro-grlu train grlu-mnist-deep128 $common ${variants[$v]} --out $out/deep128-$v.h5 --overwrite --no-progress --no-plot"
  echo "\$ $cmd" | tee "$out/deep128-$v.log"
  $cmd 2>&1 | tee -a "$out/deep128-$v.log"
done
