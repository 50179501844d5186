#!/usr/bin/env bash
# Speed of the distal-reward network (800 RS + 200 FS, 80,000 plastic synapses) per
# Brian2 target. The one-hour standalone runs (compile time, real-time factor, peak
# memory) come from benchmarks/distal_reward.sh; here: the runtime target (Cython) on
# 60 s of simulated time, once with an empty Cython cache (compilation included, cache
# in a temporary directory) and once warm; then the standalone target on 120 s twice
# with the same build directory (cold compile, then Brian2 rewrites only changed files
# and make rebuilds only those). Logs the load at each step.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/spiking-speed
mkdir -p "$OUT"
load() { echo "== $1: $(date -u +%FT%TZ) nproc=$(nproc) $(uptime | sed 's/.*load/load/')"; }
COLD=$(mktemp -d)
{
  load "runtime, cold Cython cache"
  # Brian2 keeps its Cython cache in ~/.cython/brian_extensions; point it elsewhere
  BRIAN_CACHE="$COLD" python - <<'PY'
import brian2, os
brian2.prefs.codegen.runtime.cython.cache_dir = os.environ["BRIAN_CACHE"]
import sys
from neuro_grlu.cli import main
sys.argv = ["neuro-grlu", "simulate", "izhikevich-distal-reward", "--duration", "60", "--chunk", "30",
            "--target", "runtime", "--out", "benchmarks/results/spiking-speed/runtime-cold-60s.h5",
            "--overwrite", "--no-plot", "--no-progress"]
sys.exit(main(sys.argv[1:]))
PY
  load "runtime, warm cache"
  neuro-grlu simulate izhikevich-distal-reward --duration 60 --chunk 30 --target runtime \
      --out "$OUT/runtime-warm-60s.h5" --overwrite --no-plot --no-progress
  BUILD=$(mktemp -d)
  load "standalone, empty build directory"
  neuro-grlu simulate izhikevich-distal-reward --duration 120 --chunk 60 --target standalone \
      --build-dir "$BUILD" --out "$OUT/standalone-cold-120s.h5" --overwrite --no-plot --no-progress
  load "standalone, same build directory"
  neuro-grlu simulate izhikevich-distal-reward --duration 120 --chunk 60 --target standalone \
      --build-dir "$BUILD" --out "$OUT/standalone-warm-120s.h5" --overwrite --no-plot --no-progress
  rm -rf "$BUILD"
  load "end"
} 2>&1 | grep -v "Abstract code\|brian2.codegen.generators" | tee "$OUT/speed.log"
rm -rf "$COLD"
