#!/usr/bin/env bash
# The standalone build cache (neuro_grlu.spiking.simulate.standalone_cache_key): the same
# distal-reward network, 120 s simulated, four times in a row with an empty cache
# directory at the start: (1) cold, (2) the same command again, (3) another seed,
# (4) another reward amount and duration (numbers only: same structure, same build
# directory; Brian2 rewrites the changed files and make recompiles only those).
# Log with the load average before each run: benchmarks/results/spiking-speed/cache.log
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/spiking-speed
mkdir -p "$OUT"
load() { echo "== $1: $(date -u +%FT%TZ) nproc=$(nproc) $(uptime | sed 's/.*load/load/')"; }
export NEURO_GRLU_CACHE_DIR=$(mktemp -d)
TMP=$(mktemp -d)
run() { neuro-grlu simulate izhikevich-distal-reward --target standalone --chunk 60 --no-plot --no-progress \
          --overwrite --out "$TMP/run.h5" "$@" 2>&1 | grep "^done"; }
{
  load "1. empty cache, 120 s, seed 1"; run --duration 120
  load "2. same command again"; run --duration 120
  load "3. seed 2"; run --duration 120 --seed 2
  load "4. seed 2, reward.amount 0.25, 180 s"; run --duration 180 --seed 2 --set reward.amount=0.25
  load "end"
  echo "build directories: $(ls "$NEURO_GRLU_CACHE_DIR/standalone" | grep -v lock | tr '\n' ' ')"
} | tee "$OUT/cache.log"
rm -rf "$NEURO_GRLU_CACHE_DIR" "$TMP"
