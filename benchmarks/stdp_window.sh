#!/usr/bin/env bash
# STDP window vs Bi & Poo (1998): 60 pairings at 1 Hz per lag (-100..+100 ms, step 5 ms)
# on the model synapse, fitted with exponentials; then the same protocol on the
# window of the distal-reward model (Izhikevich 2007: A+ 1, A- 1.5, tau 20/20 ms,
# scaled so that 60 pairs give +77.7 % at lag 0) to show how it differs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/stdp-window
mkdir -p "$OUT"
{
  echo "== $(date -u +%FT%TZ) nproc=$(nproc) $(uptime | sed 's/.*load/load/')"
  neuro-grlu stdp-window stdp-window --out "$OUT" --overwrite
  cp models/stdp-window.toml "$OUT/stdp-window.toml"
  # Izhikevich's window shape: tau+ = tau- = 20 ms, A-/A+ = 1.5 (same LTP peak as above)
  sed -e 's/^tau_plus_ms = .*/tau_plus_ms = 20.0/' -e 's/^tau_minus_ms = .*/tau_minus_ms = 20.0/' \
      -e 's/^a_minus = .*/a_minus = 0.019425/' \
      -e 's/^description = .*/description = "STDP window of the distal-reward synapse (Izhikevich 2007: tau 20\/20 ms, A-\/A+ = 1.5)"/' \
      models/stdp-window.toml > "$OUT/stdp-window-izhikevich2007.toml"
  neuro-grlu stdp-window "$OUT/stdp-window-izhikevich2007.toml" --out "$OUT" --overwrite
  echo "== $(date -u +%FT%TZ) $(uptime | sed 's/.*load/load/')"
} 2>&1 | tee "$OUT/stdp-window.log"
