"""Figure dispatch (app layer): which figures suit a run's kind, drawing them, writing PNGs.

Every kind registers its figures (:class:`~neuro_grlu.kinds.registry.FigureSpec` by name,
:mod:`neuro_grlu.kinds`); :func:`figures` picks those the runs' content supports,
:func:`plot_runs` writes them as PNGs (``neuro-grlu plot``), and ``Run.plot()`` calls
:func:`figures` for one run. The drawing itself is in :mod:`neuro_grlu.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import NeuroGRLUError, RunFileError
from ..figures.common import FigureSet, _save
from ..io import Run
from ..kinds import kinds

class _ByKind(Mapping):
    """A read-only view of the registry: run kind -> what `attr` of the kind gives (read on
    every access, so a kind registered later is seen)."""

    def __init__(self, attr):
        self._attr = attr

    def _items(self) -> dict:
        return {kind.name: self._attr(kind) for kind in kinds() if self._attr(kind)}

    def __getitem__(self, name):
        return self._items()[name]

    def __iter__(self):
        return iter(self._items())

    def __len__(self):
        return len(self._items())


#: run kind -> figure name -> FigureSpec (draw(runs) -> Figure, overlay, the data it needs), from the registry
FIGURES = _ByKind(lambda kind: dict(kind.figures))

#: The figures drawn when none are named, where a kind says (rate runs: the learning curves).
DEFAULT_FIGURES = _ByKind(lambda kind: kind.default_figures)


def _stripped_reason(run: Run, name: str) -> str | None:
    """One line saying figure `name` needs data that stripping dropped from `run`, else None."""
    for group, item in FIGURES[run.kind][name].data:
        if run.missing(group, item):
            return (f"figure {name!r} needs {group}/{item}, which `neuro-grlu strip` dropped from {run.path}; "
                    "draw it from the full run file (re-run the command stored in the file)")
    return None


def skipped_notes(runs: list[Run]) -> list[str]:
    """For stripped runs, why each figure of their kind that they cannot draw is skipped."""
    notes = []
    for run in (r for r in runs if r.stripped):
        for name in sorted(set(FIGURES.get(run.kind, {})) - set(figure_names(run))):
            reason = _stripped_reason(run, name)
            if reason:
                notes.append(reason)
    return notes


def figure_names(run: Run) -> list[str]:
    """Names of the figures the run's kind defines and its content supports, in drawing order."""
    table = FIGURES.get(run.kind)
    if table is None:
        raise NeuroGRLUError(f"run file {run.path} has kind {run.kind!r}, which has no figures; "
                             f"plot supports {', '.join(FIGURES)}")
    return [name for name, spec in table.items() if spec.available(run)]


def _check_names(runs: list[Run], names) -> list[str]:
    kinds = sorted({run.kind for run in runs})
    if len(kinds) > 1:
        raise NeuroGRLUError(f"cannot draw runs of different kinds ({', '.join(kinds)}) together; "
                             "plot each kind separately")
    kind = kinds[0]
    have = [figure_names(run) for run in runs]
    if names is None or len(names) == 0:
        defaults = DEFAULT_FIGURES.get(kind)
        names = [n for n in (defaults or FIGURES[kind]) if all(n in h for h in have)]
        if not names and runs[0].stripped:
            reasons = [r for r in (_stripped_reason(runs[0], n) for n in FIGURES[kind]) if r]
            if reasons:
                raise RunFileError(reasons[0])
        if not names:
            raise RunFileError(f"run file {runs[0].path} ({kind}) holds none of the data its figures need "
                               f"({', '.join(FIGURES[kind])}); was it recorded with them?")
        return names
    for name in names:
        if name not in FIGURES[kind]:
            raise NeuroGRLUError(f"no figure {name!r} for {kind} runs; choose from {', '.join(FIGURES[kind])}")
        for run, h in zip(runs, have):
            if name not in h and _stripped_reason(run, name):
                raise RunFileError(_stripped_reason(run, name))
            if name not in h:
                raise RunFileError(f"run file {run.path} lacks the data of figure {name!r} "
                                   f"(it can draw: {', '.join(h) or 'nothing'})")
    return list(names)


def figures(runs: Run | list[Run], names: list[str] | str | None = None) -> "FigureSet":
    """Draw the figures that suit the runs' kind.

    Parameters
    ----------
    runs : Run or list of Run
        Runs of one kind. Figures that overlay runs (``curves``, ``alignment``,
        ``forgetting``, ``fewshot``) draw them all in one figure; the others draw one figure
        per run.
    names : str or list of str, optional
        Figure names (see :data:`FIGURES`); default: all the runs' content supports
        (``curves`` only for rate runs).

    Returns
    -------
    FigureSet (a dict) mapping ``name`` (one run or an overlay) or ``"<file stem>-<name>"`` (per run, several
    runs) to a matplotlib Figure.

    Raises
    ------
    NeuroGRLUError
        Unknown run kind or figure name, runs of different kinds, or content missing
        (one-line message; ``RunFileError`` for damaged content).
    """
    runs = [runs] if isinstance(runs, Run) else list(runs)
    if not runs:
        raise NeuroGRLUError("no runs to plot")
    if isinstance(names, str):
        names = [names]
    names = _check_names(runs, names)
    table = FIGURES[runs[0].kind]
    out = FigureSet()
    for name in names:
        spec = table[name]
        groups = [runs] if spec.overlay or len(runs) == 1 else [[r] for r in runs]
        for group in groups:
            key = name if len(groups) == 1 else f"{group[0].path.stem}-{name}"
            try:
                out[key] = spec.draw(group)
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise RunFileError(f"cannot draw {name!r} from run file {group[0].path}: its content is "
                                   f"incomplete or inconsistent ({type(exc).__name__}: {exc})") from exc
    return out


def plot_runs(runs: list[Run], out=None, names=None) -> list[Path]:
    """Write :func:`figures` as PNGs; returns the paths.

    One figure goes to `out` (default: the first run's path with ``.png``); several go to
    ``<out without suffix>-<name>.png`` (default prefix: the first run's path without suffix).
    """
    figs = figures(runs, names)
    runs = [runs] if isinstance(runs, Run) else list(runs)
    base = Path(out) if out else runs[0].path.with_suffix(".png")
    if len(figs) == 1:
        return [_save(next(iter(figs.values())), base if base.suffix else base.with_suffix(".png"))]
    paths = []
    for key, fig in figs.items():
        stem = key if len(runs) > 1 and key.startswith(tuple(f"{r.path.stem}-" for r in runs)) else \
            f"{base.with_suffix('').name}-{key}"
        paths.append(_save(fig, base.parent / f"{stem}.png"))
    return paths
