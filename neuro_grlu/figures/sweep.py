"""Many runs in one figure: a value (mean ± s.d. over seeds) against a setting."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def fig_sweep(series: dict, x, y: str = "test_accuracy", *, xlabel: str, ylabel: str = "test accuracy (%)",
              scale: float = 100.0, logx: bool = False, title: str | None = None, ax=None) -> Figure:
    """One value of many runs against a setting: mean ± s.d. over the runs (seeds) at each x.

    Parameters
    ----------
    series : dict of str to list of dict
        Label -> rows (:func:`neuro_grlu.results.report` / ``Run.summary()`` dicts). A label
        starting with ``"stored"`` is drawn with open markers, one starting with ``"published"``
        with crosses and no line.
    x : str or callable
        Row key of the setting (e.g. ``"pairs"``) or a function of the row (e.g. the depth
        ``lambda r: len(r["hidden"])``).
    y : str
        Row key of the value (default ``"test_accuracy"``), multiplied by `scale`.
    """
    fig = None
    if ax is None:
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
    get_x = x if callable(x) else (lambda row: row.get(x))
    for k, (label, rows) in enumerate(series.items()):
        groups: dict = {}
        for row in rows:
            if row.get(y) is not None and get_x(row) is not None:
                groups.setdefault(get_x(row), []).append(scale * float(row[y]))
        if not groups:
            continue
        xs = sorted(groups)
        mean = np.array([np.mean(groups[v]) for v in xs])
        sd = np.array([np.std(groups[v]) for v in xs])
        n = max(len(groups[v]) for v in xs)
        style = dict(marker="o", ms=5, capsize=3, color=f"C{k}")
        if label.startswith("stored"):
            style.update(mfc="none", ls="--")
        if label.startswith("published"):
            style.update(marker="x", ms=8, ls="none", mew=2)
        ax.errorbar(xs, mean, yerr=sd if n > 1 else None, label=label + (f" (mean ± s.d., {n} seeds)" if n > 1 else ""),
                    **style)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig if fig is not None else ax.figure
