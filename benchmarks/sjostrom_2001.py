"""Sjöström et al. (2001) frequency dependence on the model synapses: pair vs triplet STDP.

Runs the pairing protocol of ``data/sjostrom_2001.csv`` (5 pairs per burst x 15 bursts at
10-50 Hz, 50 pairs at 0.1 Hz, dt = ±10 ms) through each definition below and writes
``benchmarks/results/sjostrom/``: ``results.json`` (everything), ``table.csv``, ``table.md``
and ``frequency.png``. Also fits the best additive pair rule (both amplitudes free, weighted
least squares) with the event-by-event NumPy reference of the synapse.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/sjostrom_2001.py [--dt-ms 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import brian2
import numpy as np

from neuro_grlu.figures.common import save_png
from neuro_grlu.figures.plasticity_data import fig_frequency
from neuro_grlu.definitions import load_raw
from neuro_grlu.spiking.config import parse_spiking
from neuro_grlu.spiking.experiments.sjostrom import (fit_pair_amplitudes, pairing_times, read_data, run_protocol,
                                                     table_rows, triplet_reference)

OUT = Path(__file__).resolve().parent / "results" / "sjostrom"
RUNS = [  # (label, definition, overrides)
    ("pair, nearest (stdp-window: Bi & Poo fit)", "stdp-window", []),
    ("pair, all-to-all (stdp-window: Bi & Poo fit)", "stdp-window", ["plasticity.traces=\"all_to_all\""]),
    ("triplet, all-to-all minimal (P&G 2006)", "stdp-triplet", []),
    ("triplet, nearest-spike full (P&G 2006)", "stdp-triplet-nearest", []),
]
UNIT = 0.005  # amplitude of the unit runs of the pair fit (small: no bound is reached)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dt-ms", type=float, default=1.0, help="simulation time step (ms)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cache", type=Path, default=Path("runs/sjostrom-cache"),
                    help="finished protocol runs are kept here and reused when the script is re-run")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = read_data()
    dt = [f"simulation.dt_ms={args.dt_ms}"]
    t0 = time.time()
    results = []
    args.cache.mkdir(parents=True, exist_ok=True)
    for label, model, over in RUNS:
        cached = args.cache / f"{model}{'-' + '-'.join(o.split('=')[1].strip(chr(34)) for o in over) if over else ''}-dt{args.dt_ms}.json"
        if cached.exists():  # a finished run of an interrupted invocation
            res = json.loads(cached.read_text())
        else:
            res = run_protocol(model, rows=rows, overrides=[*over, *dt, "recording.state_dt_ms=1000"])
            res["label"], res["overrides"] = label, over + dt
            cached.write_text(json.dumps(res))
        results.append(res)
        print(f"{label}: chi2 {res['chi2']:.2f}, within SEM {res['within_sem']}/{res['n_points']}", flush=True)
    # The best additive pair rule for these data (A+ and A- free): the change is linear in the
    # amplitudes, computed event by event with the reference that tests/test_spiking_triplet.py
    # checks against the Brian2 synapse (per-synapse traces, zero triplet terms).
    for traces in ("nearest", "all_to_all"):
        raw, name = load_raw("stdp-window")
        unit = []
        for a_plus, a_minus in ((UNIT, 0.0), (0.0, UNIT)):
            raw["plasticity"].update(window="triplet", a3_plus=0.0, a3_minus=0.0, traces=traces, a_plus=a_plus,
                                     a_minus=a_minus)
            p = parse_spiking(raw, name).plasticity
            unit.append({"model_ratio": [1.0 + triplet_reference(*pairing_times(r), p) for r in rows]})
        fit = fit_pair_amplitudes(unit[0], unit[1], rows)
        label = f"best pair rule, {traces.replace('_', '-')} (A± fitted to these data; NumPy reference)"
        fit.update(label=label, model="stdp-window (fitted)", rows=rows,
                   a_plus=fit["scale_plus"] * UNIT, a_minus=fit["scale_minus"] * UNIT, traces=traces)
        results.append(fit)
        print(f"{label}: A+ {fit['a_plus']:.4g}, A- {fit['a_minus']:.4g}, chi2 {fit['chi2']:.2f}, "
              f"within SEM {fit['within_sem']}/{fit['n_points']}", flush=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {"command": f"python benchmarks/sjostrom_2001.py --dt-ms {args.dt_ms}", "git_commit": commit,
            "brian2": brian2.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "wall_s": time.time() - t0, "load_average": os.getloadavg()[0], "dt_ms": args.dt_ms}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    table = table_rows(results)
    labels = [r["label"] for r in results]
    with open(args.out / "table.csv", "w") as f:
        f.write("frequency_hz,dt_ms,data,sem,n," + ",".join(f'"{x}"' for x in labels) + "\n")
        for r in table:
            f.write(f"{r['frequency_hz']:g},{r['dt_ms']:g},{r['data']:.4f},{r['sem']:.4f},{r['n']},"
                    + ",".join(f"{r[x]:.4f}" for x in labels) + "\n")
    short = [f"({k + 1})" for k in range(len(labels))]
    md = ["| f (Hz) | Δt (ms) | data ± SEM (n) | " + " | ".join(short) + " |",
          "|---|---|---|" + "---|" * len(labels)]
    for r in table:
        cells = []
        for x in labels:
            v = r[x]
            cells.append(f"**{v:.3f}**" if abs(v - r["data"]) <= r["sem"] else f"{v:.3f}")
        md.append(f"| {r['frequency_hz']:g} | {r['dt_ms']:+g} | {r['data']:.3f} ± {r['sem']:.3f} ({r['n']}) | "
                  + " | ".join(cells) + " |")
    md.append("| | | **χ²** | " + " | ".join(f"{x['chi2']:.1f}" for x in results) + " |")
    md.append("| | | **RMSE/SEM** | " + " | ".join(f"{x['rmse_over_sem']:.2f}" for x in results) + " |")
    md.append("| | | **within SEM** | " + " | ".join(f"{x['within_sem']}/{x['n_points']}" for x in results) + " |")
    md.append("")
    md += [f"({k + 1}) {x}" for k, x in enumerate(labels)]
    md.append("\nBold: within one SEM of the data. Model value: w_final / w_initial.")
    (args.out / "table.md").write_text("\n".join(md) + "\n")
    save_png(fig_frequency(results), args.out / "frequency.png")
    print("\n".join(md))


if __name__ == "__main__":
    main()
