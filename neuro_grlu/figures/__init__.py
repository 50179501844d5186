"""Figures drawn from run files, one module per run kind (the figures layer, below the kinds).

Every ``fig_*`` function returns a :class:`matplotlib.figure.Figure` built without pyplot,
so nothing here selects a backend: the same code saves PNGs on a headless machine and
shows inline in a notebook. Which figures suit a run
(dispatch, ``neuro-grlu plot``, ``Run.plot()``) is decided in :mod:`neuro_grlu.app.figures`.

========== ============= ============================================================
run kind   figure        content
========== ============= ============================================================
rate       curves        test/train accuracy (%), training reward (nat) and gradient
                         alignment (degree) against epoch; several runs overlaid
rate       alignment     gradient alignment alone (degree per weight layer)
spiking    raster        spikes (neuron index against time, s) in the first and the
                         last excerpt, populations marked
spiking    weights       chosen synapse and tracked synapses (mV) with rewards, and the
                         chosen synapse's eligibility trace, against time (s)
spiking    histogram     weight distribution of all plastic synapses over time (counts
                         per bin, log colour) and at start vs end
spiking    dopamine      dopamine concentration against time (s), rewards marked
continual  matrix        accuracy matrix (%) after each task on every task, class- and
                         task-incremental, with average accuracy and forgetting
continual  forgetting    forgetting per task (percentage points); several runs side by side
continual  fewshot       accuracy (%) on the new classes against examples per class
                         (mean ± s.d. over draws); several runs overlaid
stdp-window window       weight change (%) against spike timing (ms), model vs
                         Bi & Poo (1998) with exponential fits
(results)  frequency     EPSP ratio against pairing frequency, models vs Sjöström et
                         al. (2001) (``plasticity_data.fig_frequency``)
(results)  schultz       dopamine-neuron PSTHs and rasters in the layout of Schultz,
                         Dayan & Montague (1997) (``plasticity_data.fig_schultz``)
========== ============= ============================================================
"""

from .common import FigureSet, save_png  # noqa: F401
from .continual import fig_accuracy_matrix, fig_fewshot, fig_forgetting  # noqa: F401
from .rate import fig_alignment, fig_learning_curves, plot_alignment, plot_learning_curves  # noqa: F401
from .spiking import fig_dopamine, fig_raster, fig_weight_histograms, fig_weights, population_ranges  # noqa: F401
from .stdp_window import fig_stdp_window  # noqa: F401
from .sweep import fig_sweep  # noqa: F401
