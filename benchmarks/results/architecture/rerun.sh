#!/bin/sh
# Rerun the three baseline commands of issue 14 with this checkout's code and compare them,
# bit for bit, with the run files the coordinator made from main before the change
# (/work/baseline, made by /work/baseline/run.sh). Usage, from the repository root:
#   sh benchmarks/results/architecture/rerun.sh [BASELINE_DIR] [OUT_DIR]
set -e
BASE=${1:-/work/baseline}
OUT=${2:-/work/runs/arch/rerun}
ROOT=$(pwd)
mkdir -p "$OUT"
export PYTHONPATH="$ROOT" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
cd "$OUT"
python -m neuro_grlu.cli train grlu-mnist-pairs1 --epochs 1 --out grlu-pairs1-e1.h5 --no-progress --no-plot --overwrite
python -m neuro_grlu.cli train backprop-mnist --epochs 1 --out backprop-e1.h5 --no-progress --no-plot --overwrite
python -m neuro_grlu.cli simulate izhikevich-distal-reward --duration 10 --out distal-10s.h5 --no-plot --no-progress --overwrite
cd "$ROOT"
python benchmarks/compare_runs.py \
    "$BASE/grlu-pairs1-e1.h5" "$OUT/grlu-pairs1-e1.h5" \
    "$BASE/backprop-e1.h5" "$OUT/backprop-e1.h5" \
    "$BASE/distal-10s.h5" "$OUT/distal-10s.h5" \
    --json benchmarks/results/architecture/rerun-compare.json
