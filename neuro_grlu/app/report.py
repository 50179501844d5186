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

from ..errors import NeuroGRLUError, RunFileError
from ..io import Run, read_run
from ..kinds import get_kind
from ..paths import source_checkout


def summary(run: Run) -> dict:
    """Headline numbers of one run as a flat dict of plain Python values.

    Every run: ``file``, ``name`` (file name without suffix), ``model``, ``kind``, ``seed``, ``status``, ``epochs`` (completed),
    ``wall_time_s``. Then the kind's own (its registered ``summary``, :mod:`neuro_grlu.kinds`):

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
    row = {"file": str(run.path), "name": run.path.stem, "model": run.model, "kind": run.kind, "seed": run.seed, "status": run.status,
           "epochs": run.epochs_completed, "wall_time_s": run.wall_time_s}
    try:
        kind = get_kind(run.kind)
    except NeuroGRLUError:
        return row  # a kind this version does not know: the common numbers only
    row.update(kind.summary(run))
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

#: Where the stored full-size results live in a source checkout (None for an installed copy).
RESULTS_DIR = None if source_checkout() is None else source_checkout() / "benchmarks" / "results"


def stored(*parts: str) -> Path:
    """Path of a stored result in ``benchmarks/results/`` of the source checkout, e.g.
    ``stored("distal-reward", "distal-reward.h5")`` or a pattern for :func:`report`,
    ``stored("grlu-table", "*.h5")``. Raises ``RunFileError`` (one line) if it is
    missing (an installed package without the repository has no stored results)."""
    if RESULTS_DIR is None:
        raise RunFileError(f"stored result {'/'.join(parts)} not found: the stored results ship with the source "
                           "repository (git clone), not with the installed package")
    path = RESULTS_DIR.joinpath(*parts)
    found = glob.glob(str(path)) if any(ch in str(path) for ch in "*?[") else path.exists()
    if not found:
        raise RunFileError(f"stored result {path} not found; the stored results ship with the source "
                           "repository (git clone), not with the installed package")
    return path
