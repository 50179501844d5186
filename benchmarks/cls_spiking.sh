#!/usr/bin/env bash
# Spiking hippocampus (issue 6, learner "spiking-rstdp"): Brian2 runtime (Cython) target, one
# process at a time, one BLAS thread. Experiment 1 rows (split-MNIST, class-incremental) and
# experiment 3 (readout at scale: all ten digits as one task, the full 10,000-image test set).
# TRAIN=N sets the training images per task of the split-MNIST rows (default 1000 of ~12,000:
# the spiking network simulates 220 ms per image, ~80 ms of wall time on one core), TEST=N their
# test images (default the first 2000 of 10,000; they also run the few-shot experiment on it);
# READOUT_TRAIN=N the training images of experiment 3 (default 10000, full test set).
# STAGE=readout|split|pixels|bursts runs one part only (default: all, in that order).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/cls/runs
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
TRAIN=${TRAIN:-1000}
TEST=${TEST:-2000}
STAGE=${STAGE:-all}
READOUT_TRAIN=${READOUT_TRAIN:-10000}
run() {  # run NAME-FOR-FILE MODEL [--set ...]
  local tag=$1 model=$2; shift 2
  echo "== $tag"
  neuro-grlu continual "$model" --out "$OUT/$tag.h5" --overwrite --no-progress "$@" 2>&1 \
    | grep --line-buffered -v -e '^WARNING' -e '^ \[brian2' | tee "$OUT/$tag.log"
}
ALL='[[0,1,2,3,4,5,6,7,8,9]]'
# experiment 3: readout at scale through the frozen GRLU cortex trained on all ten digits
want() { [ "$STAGE" = all ] || [ "$STAGE" = "$1" ]; }
SPLIT=(--set "protocol.train_limit_per_task=$TRAIN" --set "protocol.test_limit=$TEST" --set "protocol.fewshot=[1,5,10,100]")
want readout && run "readout--cortex-grlu09-hippocampus-spiking" cls-cortex-grlu-hippocampus-spiking \
    --set "protocol.tasks=$ALL" --set "protocol.train_limit_per_task=$READOUT_TRAIN" \
    --set "cortex.classes=[0,1,2,3,4,5,6,7,8,9]"
# experiment 1: class-incremental split-MNIST rows
want split && run "split-mnist--cortex-grlu04-hippocampus-spiking" cls-cortex-grlu-hippocampus-spiking "${SPLIT[@]}"
want pixels && run "split-mnist--hippocampus-pixels-spiking" cls-hippocampus-pixels-spiking "${SPLIT[@]}"
want bursts && run "split-mnist--cortex-grlu04-hippocampus-spiking-bursts" cls-cortex-grlu-hippocampus-spiking \
    "${SPLIT[@]}" --set hippocampus.negative_rpe=0.0
python benchmarks/summarize_cls.py "$OUT" benchmarks/results/cls
