"""Summarise stored run files as markdown: final/best test accuracy against the published value.

Usage: python benchmarks/summarize_runs.py benchmarks/results/grlu-table > benchmarks/results/grlu-table/README.md
       python benchmarks/summarize_runs.py benchmarks/results/beyond-pairs1 > benchmarks/results/beyond-pairs1/README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from neuro_grlu.io import read_run
from neuro_grlu.results import PUBLISHED_GRLU

#: Test accuracies (%) published with the original GRLU implementation (10 epochs, batch 1, seed 42).
PUBLISHED = PUBLISHED_GRLU


def describe(run) -> str:
    net, rule = run.config["network"], run.config["rule"]
    act = "ReLU" if net["activation"] == "relu" else f"top-k k={net['k']}"
    return (f"{'-'.join(map(str, net['hidden']))} {act}{' skip' if net['skip'] != 'none' else ''}, "
            f"pairs {rule['pairs']}, lr {rule['lr_max']}→{rule['lr_min']}, σ {rule['sigma_max']}→{rule['sigma_min']}, "
            f"{rule['schedule']}{', /σ²' if rule.get('normalize') == 'sigma2' else ''}")


def main(folder: str) -> int:
    paths = sorted(Path(folder).glob("*.h5"))
    print(f"# Runs in `{folder}`\n")
    print("| run | settings | published test % | test % (epoch 10) | best test % | train % | status | wall s | command |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        run = read_run(path)
        m = run.metrics
        # Only an unmodified named definition is compared with the published number.
        pub = PUBLISHED.get(run.model, ("", "-"))[1] if "--set" not in run.command else "-"
        last = 100 * m["test_accuracy"][-1] if run.epochs_completed else float("nan")
        best = 100 * max(m["test_accuracy"]) if run.epochs_completed else float("nan")
        train = 100 * m["train_accuracy"][-1] if run.epochs_completed else float("nan")
        print(f"| {path.stem} | {describe(run)} | {pub} | {last:.2f} | {best:.2f} | {train:.1f} | "
              f"{run.status} {run.epochs_completed}/{run.epochs_planned} | {run.wall_time_s:.0f} | `{run.command}` |")
    print("\nPer-epoch tables: the `*.txt` files beside each run (`neuro-grlu inspect RUN.h5`).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/grlu-table"))
