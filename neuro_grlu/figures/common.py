"""What every figure module shares: saving a figure as PNG, a dict of figures that shows in a
notebook, line styles, and pyplot on request (``from neuro_grlu.figures.common import plt``)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

LAYER_STYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 3)), (0, (3, 1, 1, 1, 1, 1)))


def __getattr__(name):
    # ``from neuro_grlu.figures.common import plt`` (benchmark scripts): pyplot on the Agg backend,
    # imported only when asked for, so importing this module never picks a backend.
    if name == "plt":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def save_png(fig: Figure, out) -> Path:
    """Write `fig` as a PNG (120 dpi) at `out`, creating its directory; returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


_save = save_png  # the name the modules used before the figures package


class FigureSet(dict):
    """Figures by name (what :func:`figures` and ``Run.plot()`` return).

    A plain dict of :class:`matplotlib.figure.Figure`; in a notebook it shows every figure,
    and :meth:`save` writes them as PNGs.
    """

    def save(self, directory, prefix: str = "") -> list[Path]:
        """Write ``<directory>/<prefix><name>.png`` for every figure; returns the paths."""
        return [_save(fig, Path(directory) / f"{prefix}{name}.png") for name, fig in self.items()]

    def _ipython_display_(self):  # pragma: no cover - exercised in the notebooks
        from IPython.display import display

        for fig in self.values():
            display(fig)
