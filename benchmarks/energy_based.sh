#!/usr/bin/env bash
# Issue 20: predictive coding (pc) and equilibrium propagation (eqprop) in the lab's protocols.
# Every stage writes full run files to $RUNS (default runs/energy under the repository root, outside git) and is
# resumable: a run whose log ends with "final ..." is skipped (delete the log to redo it).
# The committed summaries (benchmarks/results/energy-based/) are made from those run files with
#   python benchmarks/summarize_energy.py $RUNS benchmarks/results/energy-based
#
# Stages (bash benchmarks/energy_based.sh STAGE ...):
#   tune      784-256-10, 3 epochs, seed 1, trained on the first 50,000 training images and
#             scored on the last 10,000 (data.validation = 10000); test images never read
#             (data.score_test = false). The grid is below.
#   final     the setting chosen on validation (written into models/pc-mnist.toml and
#             models/eqprop-mnist.toml), all 60,000 training images, test set scored, seeds 1-3.
#   depth     the depth study's protocol (benchmarks/depth.sh): width 128, 1/2/4/6 hidden layers,
#             first 20,000 training images, 5 epochs, seed 42, full test set.
#   continual split-MNIST fine-tuning (models/cls-finetune-pc.toml), as cls-finetune-{backprop,fa,grlu}.
#   cost      python benchmarks/bench_rule_cost.py (inference iterations, µs per example).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
RUNS=${RUNS:-runs/energy}
mkdir -p "$RUNS"/tune "$RUNS"/final "$RUNS"/depth "$RUNS"/continual
cli="nice -n 5 python -m neuro_grlu.cli"

run() {  # run NAME-DIR NAME ARGS...: train once, log to DIR/NAME.log, skip if done
  local dir=$1 name=$2; shift 2
  if grep -q "^final " "$dir/$name.log" 2>/dev/null; then echo "skip $name (done)"; return; fi
  echo "\$ neuro-grlu train $*" | tee "$dir/$name.log"
  $cli train "$@" --out "$dir/$name.h5" --overwrite --no-progress --no-plot 2>&1 | tee -a "$dir/$name.log"
}

tune() {
  # 3 epochs (not 10) to fit the shared 2-core machine: the ranking of learning rates after
  # 3 epochs of the cosine schedule is taken as the ranking after 10 (a stated shortcut).
  local val="--set data.validation=10000 --set data.score_test=false --seed 1 --epochs 3"
  for lr in 0.02 0.05 0.1; do
    run "$RUNS/tune" "pc-lr$lr" pc-mnist --set rule.lr_max=$lr $val
  done
  for lr in 0.05 0.1; do
    run "$RUNS/tune" "pc-lr$lr-w0.1" pc-mnist --set rule.lr_max=$lr --set rule.output_weight=0.1 $val
  done
  for lr in 0.05 0.1; do
    run "$RUNS/tune" "eqprop-lr$lr" eqprop-mnist --set rule.lr_max=$lr $val
  done
  run "$RUNS/tune" "eqprop-adam-lr0.001" eqprop-mnist --set rule.optimizer=adam --set rule.lr_max=0.001 $val
}

final() {
  for seed in ${SEEDS:-1 2 3}; do
    for m in ${MODELS:-pc-mnist eqprop-mnist}; do
      run "$RUNS/final" "$m-seed$seed" $m --seed $seed --set training.alignment_every=20000
    done
  done
}

depth() {
  # Relaxation needs about one step per layer to carry the error down, so the step counts grow
  # with depth: PC inference_steps = 5 L + 5; EqProp free_steps = 5 L + 5, nudged_steps = 4 L + 4
  # (L hidden layers; L = 1 gives the 784-256-10 settings).
  local common="--train-limit 20000 --epochs 5 --seed 42 --set training.alignment_every=20000"
  for d in ${DEPTHS:-1 2 4 6}; do
    hidden="[$(printf '128,%.0s' $(seq $d) | sed 's/,$//')]"
    run "$RUNS/depth" "pc-depth$d" pc-mnist --set network.hidden=$hidden --set rule.inference_steps=$((5 * d + 5)) $common
    run "$RUNS/depth" "eqprop-depth$d" eqprop-mnist --set network.hidden=$hidden --set rule.free_steps=$((5 * d + 5)) \
        --set rule.nudged_steps=$((4 * d + 4)) $common
  done
}

continual() {
  # backprop, FA and GRLU: the stored runs of benchmarks/results/cls/runs (same protocol and seed)
  for m in pc; do
    local name="cls-finetune-$m"
    if grep -q "average" "$RUNS/continual/$name.log" 2>/dev/null; then echo "skip $name (done)"; continue; fi
    echo "\$ neuro-grlu continual $name" | tee "$RUNS/continual/$name.log"
    $cli continual $name --out "$RUNS/continual/$name.h5" --overwrite --no-progress 2>&1 | tee -a "$RUNS/continual/$name.log"
  done
}

cost() {
  uptime | tee "$RUNS/cost.log"
  nice -n 5 python benchmarks/bench_rule_cost.py --seconds 8 --repeats 3 --out "$RUNS/cost" backprop-mnist "backprop-mnist:training.batch_size=32,rule.lr_max=0.05,rule.momentum=0.9" pc-mnist eqprop-mnist 2>&1 | tee -a "$RUNS/cost.log"
}

for stage in "${@:-tune}"; do "$stage"; done
