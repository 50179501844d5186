"""Sweep speed-up: the same 8-run sweep on 1 local Dask worker and on 2.

The sweep is ``grlu-mnist-pairs1`` on the first 10,000 MNIST training images, 2 epochs,
seeds 1..8 (a few seconds per run). Each configuration runs ``neuro-grlu sweep`` as a fresh
subprocess into a fresh out directory, so its wall time is what a user waits for: start-up,
the local cluster, data loading in every worker, the 8 runs and the summary. The runs' own
wall times (from ``summary.h5``) are reported too, so the cluster overhead shows separately.

The machine's load average is recorded before and after: on a machine shared with other
jobs the speed-up is lower than on a quiet one.

Run:  python benchmarks/bench_sweep.py [--workers 1 2] [--out benchmarks/results/sweep-speedup]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from neuro_grlu.io import write_text_atomic

REPO = Path(__file__).resolve().parent.parent
SWEEP = """\
description = "benchmark: 8 short grlu-mnist-pairs1 runs (10,000 images, 2 epochs), one per seed"
model = "grlu-mnist-pairs1"
seeds = [1, 2, 3, 4, 5, 6, 7, 8]
set = ["data.train_limit=10000", "training.epochs=2"]
"""


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_config(sweep_file: Path, workers: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "neuro_grlu.cli", "sweep", str(sweep_file), "--workers", str(workers),
           "--out", str(out)]
    load_before = os.getloadavg()
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    load_after = os.getloadavg()
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit(f"sweep with {workers} worker(s) failed (exit {res.returncode})")
    from neuro_grlu.sweep import read_summary

    rows = read_summary(out)
    assert len(rows) == 8 and all(r["status"] == "complete" for r in rows), rows
    run_times = [r["wall_time_s"] for r in rows]
    return {
        "workers": workers,
        "command": "neuro-grlu sweep SWEEP.toml --workers %d --out DIR" % workers,
        "wall_time_s": wall,
        "sum_of_run_times_s": sum(run_times),
        "mean_run_time_s": sum(run_times) / len(run_times),
        "test_accuracy": [r["test_accuracy"] for r in rows],
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "log": res.stdout,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "sweep-speedup"),
                    help="result path without extension (.md and .json are written)")
    args = ap.parse_args()

    up_before = uptime()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        sweep_file = Path(tmp) / "bench-8-seeds.toml"
        sweep_file.write_text(SWEEP)
        for w in args.workers:
            print(f"{w} worker(s) ...", flush=True)
            r = run_config(sweep_file, w, Path(tmp) / f"out-{w}")
            print(f"  {r['wall_time_s']:.1f} s wall, runs {r['mean_run_time_s']:.1f} s each on average", flush=True)
            results.append(r)
    up_after = uptime()
    base = results[0]
    for r in results:
        r["speedup_vs_first"] = base["wall_time_s"] / r["wall_time_s"]
    same = all(r["test_accuracy"] == base["test_accuracy"] for r in results)

    record = {
        "benchmark": "sweep speed-up, 8 runs",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "sweep_toml": SWEEP,
        "script": "python benchmarks/bench_sweep.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "uptime_before": up_before, "uptime_after": up_after,
        "identical_results": same,
        "results": results,
    }
    out = Path(args.out)
    write_text_atomic(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")

    lines = [
        "# Sweep speed-up: 8 short runs on 1 vs 2 local Dask workers",
        "",
        f"Measured {record['date']} on {record['cpus']} CPUs (Python {record['python']}) with",
        f"`{record['script'].strip()}`. Each configuration is one `neuro-grlu sweep` subprocess",
        "into a fresh directory; wall time includes start-up, the local cluster, MNIST loading",
        "in every worker and the summary. The sweep file:",
        "",
        "```toml",
        SWEEP.rstrip(),
        "```",
        "",
        "| workers | wall time (s) | speed-up | mean run time (s) | sum of run times (s) | load avg (1 min) before → after |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['workers']} | {r['wall_time_s']:.1f} | {r['speedup_vs_first']:.2f}× | "
                     f"{r['mean_run_time_s']:.2f} | {r['sum_of_run_times_s']:.1f} | "
                     f"{r['load_average_before'][0]:.2f} → {r['load_average_after'][0]:.2f} |")
    lines += [
        "",
        f"Same test accuracies in every configuration: {'yes' if same else 'NO'}.",
        "",
        f"Machine load: `{up_before}` before, `{up_after}` after.",
        "",
    ]
    # The load average *after* a configuration includes the benchmark's own workers (and decays
    # slowly), so only the load before the first configuration says whether other jobs ran.
    before = results[0]["load_average_before"][0]
    if before > 0.5:
        lines += [f"**Other jobs shared the machine** (1-minute load average {before:.2f} on "
                  f"{record['cpus']} CPUs before the first configuration): the 2-worker configuration "
                  "competed with them for the cores, so this speed-up understates what a quiet machine "
                  "gives. Re-run `python benchmarks/bench_sweep.py` on an idle machine for the clean number.", ""]
    else:
        lines += [f"The machine was otherwise idle (1-minute load average {before:.2f} before the first "
                  "configuration; the load after a configuration includes the benchmark's own workers). "
                  "The speed-up stays below 2× because each worker process starts, imports the package "
                  "and loads MNIST itself, and the local cluster takes a few seconds to start: compare "
                  "the sum of run times with the wall time.", ""]
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
