"""Figures drawn from run files (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .io import Run  # noqa: E402


def plot_learning_curves(runs: list[Run], out: str | Path, title: str | None = None) -> Path:
    """Train/test accuracy (%) and mean training reward against epoch, one line per run."""
    fig, (ax_acc, ax_rew) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for run in runs:
        m = run.metrics
        epochs = range(1, run.epochs_completed + 1)
        label = run.model + ("" if run.complete else " (incomplete)")
        line, = ax_acc.plot(epochs, 100 * m["test_accuracy"], marker="o", ms=3, label=f"{label} test")
        if "train_accuracy" in m:
            ax_acc.plot(epochs, 100 * m["train_accuracy"], ls="--", color=line.get_color(), label=f"{label} train")
        if "mean_reward" in m:
            ax_rew.plot(epochs, m["mean_reward"], marker="o", ms=3, color=line.get_color(), label=label)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_rew.set(xlabel="epoch", ylabel="mean reward, log p(true class) (nat)", title="training reward (under noise)")
    for ax in (ax_acc, ax_rew):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
