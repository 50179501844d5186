"""Dopamine as a reward-prediction error (Schultz, Dayan & Montague 1997) through the TD
critic of a spiking definition (``[dopamine] critic = "td"``).

200 trials of 3 s: cue at 0.5 s, reward 1 s later; from trial 150 every 5th trial omits
the reward; critic: 30 units of 50 ms, gamma 0.98, alpha 0.5. Writes ``benchmarks/results/td-conditioning/``: ``responses.json`` (rates of
the 20 dopamine neurons after the cue / after the reward / before the reward / baseline,
per block), ``definition.json`` (the spiking definition) and ``schultz.png`` (the
classic layout).

    PYTHONPATH=. python benchmarks/td_conditioning.py
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import brian2

from neuro_grlu.figures.common import save_png
from neuro_grlu.figures.plasticity_data import fig_schultz
from neuro_grlu.spiking.experiments.conditioning import Protocol, definition, responses, run_conditioning

OUT = Path(__file__).resolve().parent / "results" / "td-conditioning"
N_TRIALS, PROBE_FROM, ALPHA = 200, 150, 0.5


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    p = Protocol(n_trials=N_TRIALS, probe_from=PROBE_FROM)
    raw = definition(p, dopamine={"td_alpha": ALPHA}, seed=1)
    t0 = time.time()
    result = run_conditioning(raw, p)
    r = responses(result)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"command": "python benchmarks/td_conditioning.py", "git_commit": commit, "brian2": brian2.__version__,
            "wall_s": time.time() - t0, "load_average": os.getloadavg()[0], "protocol": p.__dict__,
            "window_s": 0.3, "probes": p.probes().tolist()}
    (OUT / "responses.json").write_text(json.dumps({"meta": meta, "responses": r}, indent=1, default=float) + "\n")
    (OUT / "definition.json").write_text(json.dumps(raw, indent=1) + "\n")
    save_png(fig_schultz(result), OUT / "schultz.png")
    print(json.dumps(r, indent=1, default=float))


if __name__ == "__main__":
    main()
