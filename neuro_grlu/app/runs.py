"""The run record users get from ``neuro_grlu.read_run``: the io layer's record plus the views
that need the kinds (headline numbers, figures).

::

    from neuro_grlu import read_run
    run = read_run("runs/grlu-mnist-pairs1-seed42.h5"); run.plot(); run.summary(); run.table()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import io


@dataclass
class Run(io.Run):
    """A run file's content (:class:`neuro_grlu.io.Run`) with :meth:`summary`, :meth:`plot`
    and :meth:`figure_names`, which dispatch on the run's kind."""

    @classmethod
    def of(cls, record: io.Run) -> "Run":
        """The same content as `record` (no copies of the arrays)."""
        return cls(**{f.name: getattr(record, f.name) for f in dataclasses.fields(io.Run)})

    def summary(self) -> dict:
        """Headline numbers suited to the run's kind (:func:`neuro_grlu.app.report.summary`)."""
        from .report import summary

        return summary(self)

    def figure_names(self) -> list[str]:
        """Names of the figures :meth:`plot` can draw from this run."""
        from .figures import figure_names

        return figure_names(self)

    def plot(self, *names: str, out=None):
        """Draw the figures that suit the run's kind (:mod:`neuro_grlu.app.figures`).

        Parameters
        ----------
        *names : str
            Figure names (default: all the run's content supports, see :meth:`figure_names`),
            e.g. ``run.plot("raster", "dopamine")``.
        out : path-like, optional
            Write PNGs as ``neuro-grlu plot --out`` does and return their paths instead.

        Returns
        -------
        FigureSet (a dict of name -> matplotlib Figure; shows the figures in a notebook), or
        the list of PNG paths if `out` is given.
        """
        from .figures import figures, plot_runs

        if out is not None:
            return plot_runs([self], out, list(names) or None)
        return figures(self, list(names) or None)


def read_run(path) -> Run:
    """Read a run file (:func:`neuro_grlu.io.read_run`; same errors) as a :class:`Run`."""
    return Run.of(io.read_run(path))
