"""Issue 5 tables from stored run files: the rule comparison (accuracy, information used,
gradient alignment, cost) and the depth study (accuracy vs hidden layers, with a plot).

Usage:
  python benchmarks/summarize_rules.py compare benchmarks/results/rule-comparison
  python benchmarks/summarize_rules.py depth benchmarks/results/depth
Each writes README.md (markdown table) and a PNG into the folder and prints the table.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from neuro_grlu.config import parse_config
from neuro_grlu.io import read_run
from neuro_grlu.plotting import plot_alignment, plt
from neuro_grlu.rules import RULES

#: Published anchors quoted in issue 5 (MNIST, this network size).
ANCHORS = {"backprop": "≈98", "fa": "BP − ≤0.5", "dfa": "BP − ≤0.5", "grlu": "90 / 94.45 (1 / 128 pairs)",
           "ff": "98.64 (4×2000, 60 ep.)", "noprop": "≈99.5 (conv; reprod. ≈99.0)"}


def _rule_label(run) -> str:
    rule = run.config["rule"]
    name = rule["name"]
    if name == "grlu":
        return f"GRLU, {rule['pairs']} pair{'s' if rule['pairs'] > 1 else ''}"
    if name == "es":
        return f"ES, {rule['pairs']} pairs"
    if name == "eki":
        return f"EKI, {rule['ensemble']} members"
    return {"backprop": "backprop", "fa": "FA", "dfa": "DFA", "rm-hebbian": "3-factor Hebbian",
            "ff": "Forward-Forward", "noprop": "NoProp-DT"}.get(name, name)


def _fmt_alignment(run) -> str:
    deg = run.arrays.get("alignment_deg")
    if deg is None or not len(deg):
        return "-"
    return " / ".join("-" if not np.isfinite(a) else f"{a:.0f}" for a in deg[-1])


def compare(folder: Path) -> str:
    runs = [read_run(p) for p in sorted(folder.glob("*.h5"))]
    order = ["backprop", "fa", "dfa", "grlu", "es", "rm-hebbian", "ff", "noprop", "eki"]
    runs.sort(key=lambda r: (order.index(r.config["rule"]["name"]) if r.config["rule"]["name"] in order else 99,
                             r.config["rule"].get("pairs", 0)))
    lines = [f"# Rate rules side by side (`{folder}`)", "",
             "MNIST, seed 42, same example order, full 10,000-image test set. Issue 5's rules: 784-256-10, "
             "10 epochs; the other families (issue 8) run their own published-style network and epochs "
             "(columns network and epochs). "
             "Alignment: mean angle (degrees) between the rule's update and the true gradient on 16 probe "
             "batches, per weight layer (hidden / output), at the end of training.", "",
             "| rule | information used | network | epochs | batch | test % (final) | best test % | train % | anchor % | "
             "alignment ° (hidden / output) | passes / example | samples/s | wall s | status |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        m, name = run.metrics, run.config["rule"]["name"]
        cls = RULES.get(name)
        uses = ", ".join(u.replace("_", " ") for u in cls.uses) if cls else "-"
        cfg = parse_config(run.config, run.model)
        arch = cfg.architecture()
        rule = cfg.make_rule(arch)
        network = "-".join(str(n) for n in (arch.n_in, *arch.hidden, arch.n_out))
        if name == "noprop":
            network = f"{cfg.rule.blocks} blocks × {network}"
        elif name == "eki":
            network = f"{cfg.rule.ensemble} × {network}"
        fwd = f"{rule.forward_passes_per_example:g} + {rule.backward_passes_per_example:g} backward"
        sps = np.mean(m["samples_per_second"]) if run.epochs_completed else float("nan")
        lines.append(
            f"| {_rule_label(run)} | {uses} | {network} | {run.config['training']['epochs']} | "
            f"{run.config['training']['batch_size']} | "
            f"{100 * m['test_accuracy'][-1]:.2f} | {100 * max(m['test_accuracy']):.2f} | "
            f"{100 * m['train_accuracy'][-1]:.1f} | {ANCHORS.get(name, '-')} | {_fmt_alignment(run)} | {fwd} | "
            f"{sps:.0f} | {run.wall_time_s:.0f} | {run.status} {run.epochs_completed}/{run.epochs_planned} |")
    lines += ["", "samples/s and wall time were measured while other jobs shared the 2 cores: "
              "they are not a speed comparison (see the cost benchmark for that).", "",
              "Commands: first line of each `*.log`; per-epoch tables: `neuro-grlu inspect RUN.h5`.", "",
              "![alignment](alignment.png)"]
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for i, run in enumerate(r for r in runs if "alignment_deg" in r.arrays):
        plot_alignment(ax, run, color=f"C{i}", label=_rule_label(run))
    ax.legend(fontsize=6, ncol=2)
    fig.savefig(folder / "alignment.png", dpi=130)
    plt.close(fig)
    return "\n".join(lines) + "\n"


def depth(folder: Path) -> str:
    rows: dict[str, dict[int, float]] = {}
    info = {}
    for path in sorted(folder.glob("*.h5")):
        match = re.fullmatch(r"(.+)-depth(\d+)", path.stem)
        if not match:
            continue
        run = read_run(path)
        if not run.epochs_completed:
            continue
        rule, d = match.group(1), int(match.group(2))
        rows.setdefault(rule, {})[d] = 100 * run.metrics["test_accuracy"][-1]
        info[(rule, d)] = run
    depths = sorted({d for r in rows.values() for d in r})
    lines = [f"# Accuracy vs depth (`{folder}`)", "",
             "Hidden layers of width 128; first 20,000 training images, 5 epochs, seed 42, full test set. "
             "`grlu` = 16 noise pairs, chain; `grlu-skip` = the same with the readout skip (the output layer "
             "reads every hidden layer). Test accuracy %, final epoch:", "",
             "| rule | " + " | ".join(f"{d} hidden" for d in depths) + " |",
             "|---|" + "---|" * len(depths)]
    for rule, by_depth in rows.items():
        lines.append(f"| {rule} | " + " | ".join(f"{by_depth[d]:.2f}" if d in by_depth else "-" for d in depths) + " |")
    lines += ["", "Alignment at the end of training (degrees, first hidden layer / last hidden layer):", "",
              "| rule | " + " | ".join(f"{d} hidden" for d in depths) + " |", "|---|" + "---|" * len(depths)]
    for rule in rows:
        cells = []
        for d in depths:
            run = info.get((rule, d))
            deg = None if run is None else run.arrays.get("alignment_deg")
            cells.append("-" if deg is None else f"{deg[-1][0]:.0f} / {deg[-1][-2]:.0f}")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    lines += ["", "Commands: first line of each `*.log`.", "", "![depth](depth.png)"]
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for rule, by_depth in rows.items():
        ds = sorted(by_depth)
        ax.plot(ds, [by_depth[d] for d in ds], marker="o", label=rule)
    ax.set(xlabel="hidden layers", ylabel="test accuracy (%)", xticks=depths,
           title="MNIST, width 128, 20k images x 5 epochs")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(folder / "depth.png", dpi=130)
    plt.close(fig)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("compare", "depth"):
        print(__doc__)
        return 2
    folder = Path(argv[1])
    text = (compare if argv[0] == "compare" else depth)(folder)
    (folder / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
