#!/usr/bin/env bash
# Complementary learning systems (issue 6): sequential tasks + few-shot, every system through
# the same protocol. One process at a time, one BLAS thread. Writes run files, then the
# tables and plots (benchmarks/summarize_cls.py) into benchmarks/results/cls/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/cls/runs
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() {  # run NAME-FOR-FILE MODEL [--set ...]
  local tag=$1 model=$2; shift 2
  echo "== $tag"
  neuro-grlu continual "$model" --out "$OUT/$tag.h5" --overwrite --no-progress "$@" | tee "$OUT/$tag.log"
}
for seq in split-mnist halves; do
  extra=(--set "protocol.tasks=\"$seq\"")
  [ "$seq" = halves ] && extra+=(--set "protocol.fewshot=[]")
  run "$seq--finetune-backprop" cls-finetune-backprop "${extra[@]}"
  run "$seq--finetune-fa" cls-finetune-fa "${extra[@]}"
  run "$seq--finetune-grlu" cls-finetune-grlu "${extra[@]}"
  run "$seq--hippocampus-pixels" cls-hippocampus-pixels "${extra[@]}"
  run "$seq--hippocampus-pixels-reward" cls-hippocampus-pixels-reward "${extra[@]}"
  run "$seq--cortex-grlu04-hippocampus" cls-cortex-grlu-hippocampus "${extra[@]}"
  run "$seq--cortex-grlu04-hippocampus-reward" cls-cortex-grlu-hippocampus-reward "${extra[@]}"
  run "$seq--cortex-random-hippocampus" cls-cortex-grlu-hippocampus --set cortex.rule=none "${extra[@]}"
  run "$seq--cortex-grlu09-hippocampus" cls-cortex-grlu-hippocampus \
      --set "cortex.classes=[0,1,2,3,4,5,6,7,8,9]" "${extra[@]}"
done
python benchmarks/summarize_cls.py "$OUT" benchmarks/results/cls
