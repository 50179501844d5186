"""Old path of the figures: kept so that ``from neuro_grlu.plotting import ...`` still works.

Canonical places: drawing in :mod:`neuro_grlu.figures` (``figures.rate``, ``figures.spiking``,
``figures.continual``, ``figures.stdp_window``, ``figures.sweep``, ``figures.common``); which
figures suit a run, and writing them, in :mod:`neuro_grlu.app.figures`.
"""

from .app.figures import DEFAULT_FIGURES, FIGURES, figure_names, figures, plot_runs, skipped_notes  # noqa: F401
from .figures.common import LAYER_STYLES, FigureSet, _save, save_png  # noqa: F401
from .figures.continual import fig_accuracy_matrix, fig_fewshot, fig_forgetting  # noqa: F401
from .figures.rate import fig_alignment, fig_learning_curves, plot_alignment, plot_learning_curves  # noqa: F401
from .figures.spiking import (fig_dopamine, fig_raster, fig_weight_histograms, fig_weights,  # noqa: F401
                              population_ranges)
from .figures.stdp_window import fig_stdp_window  # noqa: F401
from .figures.sweep import fig_sweep  # noqa: F401


def __getattr__(name):
    # ``from neuro_grlu.plotting import plt``: pyplot on the Agg backend, only when asked for.
    if name == "plt":
        from .figures import common

        return common.plt
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
