"""Figures of continual runs: accuracy matrix (%), forgetting per task (points) and few-shot
accuracy (%) against examples per class."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..io import Run


def _task_labels(run: Run) -> list[str]:
    tasks = run.arrays.get("tasks")
    if tasks is None:
        n = run.arrays["accuracy_matrix_class"].shape[1]
        return [f"task {i + 1}" for i in range(n)]
    return [",".join(str(c) for c in row if c >= 0) for row in tasks]


def fig_accuracy_matrix(run: Run) -> Figure:
    """Accuracy (%) on every task (columns) after learning each task (rows), class- and
    task-incremental; the titles give the final average accuracy and mean forgetting."""
    labels = _task_labels(run)
    fig = Figure(figsize=(10, 4.3), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, scen, name in zip(axes, ("class", "task"), ("class-incremental", "task-incremental")):
        A = 100 * run.arrays[f"accuracy_matrix_{scen}"]
        T = A.shape[0]
        image = ax.imshow(np.ma.masked_invalid(A), vmin=0, vmax=100, cmap="viridis")
        for i in range(T):
            for j in range(A.shape[1]):
                if np.isfinite(A[i, j]):
                    ax.text(j, i, f"{A[i, j]:.0f}", ha="center", va="center", fontsize=8,
                            color="w" if A[i, j] < 60 else "k")
        ax.set_xticks(range(A.shape[1]), labels, fontsize=8)
        ax.set_yticks(range(T), labels[:T], fontsize=8)
        ax.set_xlabel("evaluated on task (classes)")
        ax.set_ylabel("after learning task (classes)")
        done = np.flatnonzero(np.isfinite(A).all(axis=1))
        last = done[-1] if len(done) else None
        avg = f"{np.mean(A[last, :last + 1]):.1f}%" if last is not None else "-"
        f = 100 * run.arrays.get(f"forgetting_{scen}", np.full(T, np.nan))
        forget = f"{np.nanmean(f):.1f} pp" if np.isfinite(f).any() else "-"
        ax.set_title(f"{name}\naverage {avg}, mean forgetting {forget}", fontsize=9)
    fig.colorbar(image, ax=axes, label="test accuracy (%)", shrink=0.8)
    fig.suptitle(f"{run.model}: accuracy matrix")
    return fig


def fig_forgetting(runs: list[Run]) -> Figure:
    """Forgetting per task (best earlier accuracy minus final accuracy, percentage points),
    class- and task-incremental, one bar group per run (the last task has none)."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / max(len(runs), 1)
    for ax, scen in zip(axes, ("class", "task")):
        for k, run in enumerate(runs):
            f = 100 * run.arrays[f"forgetting_{scen}"]
            x = np.arange(len(f)) + (k - (len(runs) - 1) / 2) * width
            ax.bar(x, np.nan_to_num(f), width=width, color=f"C{k}", label=run.model)
        ax.set_xticks(range(len(_task_labels(runs[0]))), _task_labels(runs[0]), fontsize=8)
        ax.set(xlabel="task (classes)", title=f"{scen}-incremental")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("forgetting (percentage points)")
    axes[-1].legend(fontsize=7)
    return fig


def fig_fewshot(runs: list[Run]) -> Figure:
    """Few-shot accuracy (%) on the new classes against examples per class (log axis),
    mean ± s.d. over the independent draws, one line per run; chance level dashed."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    n_new = None
    for k, run in enumerate(runs):
        shots = run.arrays["fewshot_shots"]
        acc = 100 * np.atleast_2d(run.arrays["fewshot_accuracy"])
        ax.errorbar(shots, acc.mean(axis=0), yerr=acc.std(axis=0) if len(acc) > 1 else None, marker="o",
                    ms=4, capsize=3, color=f"C{k}", label=f"{run.model} ({len(acc)} draws)")
        n_new = len(run.config.get("protocol", {}).get("fewshot_classes", ())) or n_new
    if n_new:
        ax.axhline(100 / n_new, color="0.5", ls="--", lw=0.8, label=f"chance ({n_new} new classes)")
    ax.set_xscale("log")
    ax.set(xlabel="training examples per new class", ylabel="test accuracy on the new classes (%)",
           ylim=(0, 100), title="few-shot learning of new classes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
