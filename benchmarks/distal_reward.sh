#!/usr/bin/env bash
# Izhikevich (2007) Fig. 1, "Solving the distal reward problem": one hour of simulated
# time of the 800 RS + 200 FS network with dopamine-modulated STDP, on the C++
# standalone target, then the same network and seed without reward (control).
# Results (run files, logs, summaries, figures) go to benchmarks/results/distal-reward/.
# The machine load is logged before and after each run (timings are wall-clock).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/distal-reward
TARGET=${TARGET:-standalone}
mkdir -p "$OUT"
load() { echo "== $1: $(date -u +%FT%TZ) nproc=$(nproc) $(uptime | sed 's/.*load/load/')"; }
{
  load "before control"
  neuro-grlu simulate izhikevich-distal-reward-control --target "$TARGET" \
      --out "$OUT/control.h5" --overwrite --no-plot --no-progress
  load "after control"
} 2>&1 | tee "$OUT/control.log"
{
  load "before distal-reward"
  neuro-grlu simulate izhikevich-distal-reward --target "$TARGET" \
      --out "$OUT/distal-reward.h5" --overwrite --control "$OUT/control.h5" --no-progress
  load "after distal-reward"
} 2>&1 | tee "$OUT/distal-reward.log"
python -m neuro_grlu.spiking.experiments.distal_reward "$OUT" "$OUT/distal-reward.h5" "$OUT/control.h5" > "$OUT/table.md"
