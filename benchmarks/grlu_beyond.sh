#!/usr/bin/env bash
# Issue 17, item 4 (reduced): GRLU 784-256-10 ReLU, batch 1, published lr/sigma schedule, with
# the hidden noise after the activation (published), before it (input), and before it with
# decorrelation of the first layer's inputs; chosen on a validation split (the last 10,000
# training images), test images never read (data.score_test = false).
# Usage (from the repository root):
#   bash benchmarks/grlu_beyond.sh PAIRS:VARIANT[:SEED] ...      e.g.  1:published 16:input:43
# Environment: EPOCHS (default 3: a shortened cosine schedule), OUT (default runs/grlu/beyond, outside git),
#   DECOR_LR (default 3e-6: rule.decorrelate_lr of the "decor" variant, chosen on validation),
#   TRAIN_LIMIT (default 60000: use the first N training images; the last 10,000 of them validate),
#   MODEL (default grlu-mnist-pairs1; e.g. grlu-mnist-deep128 for the two-hidden-layer network, whose
#   files are named deep128-pairsN-...), SKIP (network.skip; default: the model's), RNG (rule.rng;
#   default: numpy). SKIP and RNG, when given, are added to the file name.
# Then: python benchmarks/summarize_grlu_beyond.py OUT  (writes benchmarks/results/grlu-beyond/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
EPOCHS=${EPOCHS:-3}
OUT=${OUT:-runs/grlu/beyond}
DECOR_LR=${DECOR_LR:-3e-6}
TRAIN_LIMIT=${TRAIN_LIMIT:-60000}
MODEL=${MODEL:-grlu-mnist-pairs1}
SKIP=${SKIP:-}
RNG=${RNG:-}
mkdir -p "$OUT"
for spec in "$@"; do
  IFS=: read -r pairs variant seed <<<"$spec"
  seed=${seed:-42}
  case "$variant" in
    published) extra=() ;;
    input) extra=(--set rule.noise_at=input) ;;
    decor) extra=(--set rule.noise_at=input --set rule.decorrelate=antihebbian --set rule.decorrelate_lr="$DECOR_LR") ;;
    *) echo "unknown variant $variant (published|input|decor)" >&2; exit 2 ;;
  esac
  tag="pairs$pairs-$variant"
  [ "$MODEL" != grlu-mnist-pairs1 ] && tag="${MODEL#grlu-mnist-}-$tag"
  [ "$variant" = decor ] && tag="$tag-$DECOR_LR"
  if [ -n "$SKIP" ]; then extra+=(--set network.skip="$SKIP"); tag="$tag-skip$SKIP"; fi
  if [ -n "$RNG" ]; then extra+=(--set rule.rng="$RNG"); tag="$tag-$RNG"; fi
  file="$OUT/$tag-s$seed-e$EPOCHS.h5"
  [ "$TRAIN_LIMIT" != 60000 ] && file="$OUT/$tag-s$seed-e$EPOCHS-n$TRAIN_LIMIT.h5"
  echo "== $(date -u +%H:%M:%S) $file (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  nice -n 10 python -m neuro_grlu.cli train "$MODEL" --set rule.pairs="$pairs" "${extra[@]}" \
    --set data.validation=10000 --set data.score_test=false --epochs "$EPOCHS" --seed "$seed" \
    --train-limit "$TRAIN_LIMIT" --out "$file" --overwrite --no-progress --no-plot
done
