"""Headline numbers of run files, one row per run, without pandas.

::

    from neuro_grlu import read_run, report
    run = read_run("runs/grlu-mnist-pairs1-seed42.h5")
    run.summary()["test_accuracy"], run.plot()           # one run
    rows = report("benchmarks/results/rule-comparison/*.h5")   # many runs: a list of dicts
    rows.column("test_accuracy"), rows                   # a NumPy column; a table in a notebook

:func:`summary` picks the numbers that suit the run's kind; :func:`report` reads many files.
Accuracies are fractions in [0, 1], angles in degrees, times in seconds, rates in Hz.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from ..errors import RunFileError
from ..io import Run, read_run


def _last(m: dict, key: str):
    v = m.get(key)
    return float(v[-1]) if v is not None and len(v) else None


def _finite(x):
    return None if x is None or not np.isfinite(x) else float(x)


def summary(run: Run) -> dict:
    """Headline numbers of one run as a flat dict of plain Python values.

    Every run: ``file``, ``name`` (file name without suffix), ``model``, ``kind``, ``seed``, ``status``, ``epochs`` (completed),
    ``wall_time_s``. Then, by kind:

    * ``rate``: ``rule``, ``pairs``, ``hidden``, ``activation``, ``test_accuracy`` (last epoch),
      ``best_test_accuracy``, ``train_accuracy``, ``validation_accuracy``, ``alignment_deg`` (list, last measurement per layer);
    * ``spiking``: ``simulated_s``, ``rate_<population>_hz`` (mean over chunks), ``n_spikes``,
      ``rewards``, ``chosen_weight`` (final, mV);
    * ``continual``: ``system``, ``average_accuracy_class``/``_task`` (after the last task),
      ``forgetting_class``/``_task`` (mean over tasks), ``fewshot_<n>`` (mean accuracy with n
      examples per class);
    * ``stdp-window``: ``tau_plus_ms``, ``tau_minus_ms``, ``a_plus``, ``a_minus`` (%), and the
      same for the reference data (``data_*``).
    """
    m, cfg = run.metrics, run.config
    row = {"file": str(run.path), "name": run.path.stem, "model": run.model, "kind": run.kind, "seed": run.seed, "status": run.status,
           "epochs": run.epochs_completed, "wall_time_s": run.wall_time_s}
    if run.kind == "rate":
        rule, net = cfg.get("rule", {}), cfg.get("network", {})
        acc = m.get("test_accuracy")
        align = run.arrays.get("alignment_deg")
        row.update(rule=rule.get("name"), pairs=rule.get("pairs"), hidden=list(net.get("hidden", [])),
                   activation=net.get("activation"), test_accuracy=_last(m, "test_accuracy"),
                   best_test_accuracy=float(np.max(acc)) if acc is not None and len(acc) else None,
                   train_accuracy=_last(m, "train_accuracy"), validation_accuracy=_last(m, "validation_accuracy"),
                   alignment_deg=None if align is None or not len(align) else [_finite(a) for a in align[-1]])
    elif run.kind == "spiking":
        row["simulated_s"] = _last(m, "time_s")
        for k, v in m.items():
            if k.startswith("rate_") and k.endswith("_hz"):
                row[k] = float(np.mean(v)) if len(v) else None
        dropped = run.strip_info.get("dropped", {}).get("arrays/spike_t")
        row["n_spikes"] = int(dropped["shape"][0]) if dropped and "spike_t" not in run.arrays else \
            int(len(run.arrays.get("spike_t", ())))
        row["rewards"] = int(len(run.arrays.get("reward_t", ()))) if cfg.get("reward", {}).get("kind") != "none" else 0
        row["chosen_weight"] = _finite(_last(m, "chosen_weight"))
    elif run.kind == "continual":
        row["system"] = cfg.get("system")
        for scen in ("class", "task"):
            A = run.arrays.get(f"accuracy_matrix_{scen}")
            done = np.flatnonzero(np.isfinite(A).all(axis=1)) if A is not None else []
            row[f"average_accuracy_{scen}"] = float(np.mean(A[done[-1], : done[-1] + 1])) if len(done) else None
            f = run.arrays.get(f"forgetting_{scen}")
            row[f"forgetting_{scen}"] = float(np.nanmean(f)) if f is not None and np.isfinite(f).any() else None
        if "fewshot_accuracy" in run.arrays:
            acc = np.atleast_2d(run.arrays["fewshot_accuracy"]).mean(axis=0)
            for n, a in zip(run.arrays["fewshot_shots"], acc):
                row[f"fewshot_{int(n)}"] = float(a)
    elif run.kind == "stdp-window":
        for k in m:
            row[k] = _last(m, k)
    return row


class Markdown(str):
    """A markdown string that a notebook renders (``_repr_markdown_``); otherwise a plain str."""

    def _repr_markdown_(self):  # pragma: no cover - notebook display
        return str(self)


class Rows(list):
    """A list of :func:`summary` dicts; shows as a table in a notebook.

    ``rows.column("test_accuracy")`` gives one column as a NumPy array (missing values NaN
    or None), ``rows.markdown(columns)`` a markdown table.
    """

    def columns(self) -> list[str]:
        """Every key of any row, in first-seen order."""
        out: dict[str, None] = {}
        for row in self:
            out.update(dict.fromkeys(row))
        return list(out)

    def column(self, name: str) -> np.ndarray:
        values = [row.get(name) for row in self]
        try:
            return np.array([np.nan if v is None else v for v in values], dtype=float)
        except (TypeError, ValueError):
            return np.array(values, dtype=object)

    def where(self, **equal) -> "Rows":
        """The rows whose values equal the given ones, e.g. ``rows.where(rule="grlu", pairs=16)``."""
        return Rows(r for r in self if all(r.get(k) == v for k, v in equal.items()))

    def markdown(self, columns: list[str] | None = None) -> "Markdown":
        """A markdown table of `columns` (default: all but ``file``); shows as a table in a notebook."""
        columns = columns or [c for c in self.columns() if c != "file"]

        def cell(v):
            if v is None:
                return "-"
            if isinstance(v, float):
                return f"{v:.4g}"
            if isinstance(v, list):
                return "/".join(cell(x) for x in v)
            return str(v)

        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in self]
        return Markdown("\n".join(lines))

    def _repr_markdown_(self):  # pragma: no cover - notebook display
        return self.markdown()


def _expand(paths) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        text = os.fspath(p)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text))
            if not matches:
                raise RunFileError(f"no run files match {text!r}; check the pattern")
            out += [Path(m) for m in matches]
        else:
            out.append(Path(p))
    return out


def report(paths) -> Rows:
    """:func:`summary` of every run file in `paths` (paths, or glob patterns such as
    ``"runs/*.h5"``), in the given order. Raises ``RunFileError`` (one line) on a bad file."""
    return Rows(summary(read_run(p)) for p in _expand(paths))


#: Test accuracies (%) published with the original GRLU implementation (MNIST, 784-256-10 unless
#: noted, 10 epochs, batch 1, seed 42): model name -> (hidden nonlinearity, published value).
PUBLISHED_GRLU = {
    "grlu-mnist-pairs1": ("ReLU", "~90"),
    "grlu-mnist-pairs16": ("top-k, k=0.5", "92.83"),
    "grlu-mnist-pairs16-topk25": ("top-k, k=0.25", "92.52"),
    "grlu-mnist-pairs128": ("ReLU", "94.45"),
    "grlu-mnist-pairs128-topk50": ("top-k, k=0.5", "94.13"),
    "grlu-mnist-deep128": ("2 hidden layers, skip", "~98"),
}

#: Where the stored full-size results live in a source checkout.
RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def stored(*parts: str) -> Path:
    """Path of a stored result in ``benchmarks/results/`` of the source checkout, e.g.
    ``stored("distal-reward", "distal-reward.h5")`` or a pattern for :func:`report`,
    ``stored("grlu-table", "*.h5")``. Raises ``RunFileError`` (one line) if it is
    missing (an installed package without the repository has no stored results)."""
    path = RESULTS_DIR.joinpath(*parts)
    found = glob.glob(str(path)) if any(ch in str(path) for ch in "*?[") else path.exists()
    if not found:
        raise RunFileError(f"stored result {path} not found; the stored results ship with the source "
                           "repository (git clone), not with the installed package")
    return path
