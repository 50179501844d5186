"""Sjöström et al. (2001) frequency dependence on the model synapses: pair vs triplet STDP.

Runs the pairing protocol of ``data/sjostrom_2001.csv`` (5 pairs per burst x 15 bursts at
10-50 Hz, 50 pairs at 0.1 Hz, dt = ±10 ms) through each definition below and writes
``benchmarks/results/sjostrom/``: ``results.json`` (everything), ``table.csv``, ``table.md``
and ``frequency.png``. Also fits the best additive pair rule (both amplitudes free, weighted
least squares) from two unit-amplitude runs of each pair window.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/sjostrom_2001.py [--dt-ms 0.5]
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

from neuro_grlu.plotting import _save
from neuro_grlu.spiking.experiments.sjostrom import (fig_frequency, fit_pair_amplitudes, read_data, run_protocol,
                                                     table_rows)

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
    ap.add_argument("--dt-ms", type=float, default=0.5, help="simulation time step (ms)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = read_data()
    dt = [f"simulation.dt_ms={args.dt_ms}"]
    t0 = time.time()
    results = []
    for label, model, over in RUNS:
        res = run_protocol(model, rows=rows, overrides=[*over, *dt])
        res["label"], res["overrides"] = label, over + dt
        results.append(res)
        print(f"{label}: chi2 {res['chi2']:.2f}, within SEM {res['within_sem']}/{res['n_points']}", flush=True)
    for traces in ("nearest", "all_to_all"):
        base = [f"plasticity.traces=\"{traces}\"", *dt]
        ltp = run_protocol("stdp-window", rows=rows, overrides=[*base, f"plasticity.a_plus={UNIT}", "plasticity.a_minus=0.0"])
        ltd = run_protocol("stdp-window", rows=rows, overrides=[*base, "plasticity.a_plus=0.0", f"plasticity.a_minus={UNIT}"])
        fit = fit_pair_amplitudes(ltp, ltd, rows)
        label = f"best pair rule, {traces.replace('_', '-')} (A± fitted to these data)"
        fit.update(label=label, model="stdp-window (fitted)", rows=rows,
                   a_plus=fit["scale_plus"] * UNIT, a_minus=fit["scale_minus"] * UNIT, overrides=base)
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
    _save(fig_frequency(results), args.out / "frequency.png")
    print("\n".join(md))


if __name__ == "__main__":
    main()
