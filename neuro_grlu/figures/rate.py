"""Figures of rate runs: learning curves (accuracy %, reward in nat, alignment in degree) and
gradient alignment per layer against epoch."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..io import Run
from .common import LAYER_STYLES, _save


def fig_learning_curves(runs: list[Run], title: str | None = None) -> Figure:
    """Train/test accuracy (%) and mean training reward against epoch, one line per run;
    a third panel with the gradient alignment when any run recorded it."""
    with_alignment = any("alignment_deg" in run.arrays for run in runs)
    ncols = 3 if with_alignment else 2
    fig = Figure(figsize=(5 * ncols, 4), layout="constrained")
    axes = fig.subplots(1, ncols)
    ax_acc, ax_rew = axes[0], axes[1]
    for run in runs:
        m = run.metrics
        epochs = range(1, run.epochs_completed + 1)
        label = run.model + ("" if run.complete else " (incomplete)")
        line, = ax_acc.plot(epochs, 100 * m["test_accuracy"], marker="o", ms=3, label=f"{label} test")
        if "train_accuracy" in m:
            ax_acc.plot(epochs, 100 * m["train_accuracy"], ls="--", color=line.get_color(), label=f"{label} train")
        if "validation_accuracy" in m:
            ax_acc.plot(epochs, 100 * m["validation_accuracy"], ls=":", color=line.get_color(),
                        label=f"{label} validation")
        if "mean_reward" in m:
            ax_rew.plot(epochs, m["mean_reward"], marker="o", ms=3, color=line.get_color(), label=label)
        if with_alignment and "alignment_deg" in run.arrays:
            plot_alignment(axes[2], run, color=line.get_color(), label=run.model)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_rew.set(xlabel="epoch", ylabel="mean reward, log p(true class) (nat)", title="training reward")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_learning_curves(runs: list[Run], out: str | Path, title: str | None = None) -> Path:
    """:func:`fig_learning_curves` saved as a PNG at `out`; returns the path."""
    return _save(fig_learning_curves(runs, title), out)


def plot_alignment(ax, run: Run, color=None, label: str | None = None) -> None:
    """Angle (degrees) between the rule's update and the true gradient, per weight layer,
    against training progress in epochs (``alignment_samples`` / training-set size)."""
    deg = run.arrays["alignment_deg"]
    samples = run.arrays["alignment_samples"].astype(float)
    n_train = run.config.get("data", {}).get("train_limit") or 60000
    per_epoch = samples[-1] / max(run.epochs_completed, 1) if run.epochs_completed and samples[-1] else n_train
    x = samples / per_epoch
    for layer in range(deg.shape[1]):
        name = "output" if layer == deg.shape[1] - 1 else f"hidden {layer + 1}"
        ax.plot(x, deg[:, layer], ls=LAYER_STYLES[layer % len(LAYER_STYLES)], color=color, marker=".", ms=3,
                label=f"{label} {name}" if label else name)
    ax.axhline(90, color="0.6", lw=0.8)
    ax.set(xlabel="epoch", ylabel="angle to the true gradient (degree)", ylim=(0, 100),
           title="gradient alignment (0° = gradient, 90° = random)")


def fig_alignment(runs: list[Run]) -> Figure:
    """Gradient alignment of one or more rate runs (degree per weight layer against epoch)."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for i, run in enumerate(r for r in runs if "alignment_deg" in r.arrays):
        plot_alignment(ax, run, color=f"C{i}", label=run.model)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
