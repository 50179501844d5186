"""Firing statistics of spike trains, for comparing simulated networks with cortex.

Spikes are given as two arrays of equal length, ``spike_i`` (neuron index, int) and
``spike_t`` (time in s), as stored in spiking run files (``/arrays/spike_i``, ``spike_t``).

* :func:`firing_rates`: spikes per second of every neuron (Hz);
* :func:`isi_cv`: coefficient of variation of the inter-spike intervals per neuron
  (standard deviation / mean; 0 for a regular train, 1 for a Poisson process);
* :func:`fano_factor`: variance / mean of the spike count in consecutive windows per neuron
  (0 for a regular train counted over whole periods, 1 for a Poisson process);
* :func:`pairwise_correlation`: Pearson correlation of binned spike counts between neurons;
* :func:`run_statistics`: all of them per population of a run file, over a time range;
* :data:`CORTEX`: ranges reported for cortical neurons in vivo, with their sources.
"""

from __future__ import annotations

import numpy as np

#: Ranges reported for cortical neurons in vivo: (low, high, source). Firing rates are
#: those of the bulk of neurons in awake/spontaneous conditions; the irregularity figures
#: are for neurons firing at sustained rates.
CORTEX = {
    "rate_hz": (0.1, 10.0, "mean rates of a few Hz or below, skewed towards low rates "
                           "(Barth & Poulet 2012, Trends Neurosci 35:345; Hromadka, DeWeese & Zador 2008, "
                           "PLoS Biol 6:e16)"),
    "cv_isi": (0.5, 1.5, "CV of ISI close to 1 (irregular, near Poisson) in V1 and MT "
                         "(Softky & Koch 1993, J Neurosci 13:334)"),
    "fano": (1.0, 1.5, "spike-count variance / mean of about 1-1.5 across trials "
                       "(Shadlen & Newsome 1998, J Neurosci 18:3870)"),
    "correlation": (0.0, 0.3, "spike-count correlations between nearby neurons, typically 0.01-0.3 depending on "
                              "the counting window and state (Cohen & Kohn 2011, Nat Neurosci 14:811; "
                              "Ecker et al. 2010, Science 327:584 report ~0.01 in awake V1)"),
}


def _check(spike_i, spike_t):
    i = np.asarray(spike_i).astype(np.int64, copy=False).ravel()
    t = np.asarray(spike_t, dtype=float).ravel()
    if i.shape != t.shape:
        raise ValueError(f"spike_i and spike_t must have the same length (got {i.size} and {t.size})")
    return i, t


def firing_rates(spike_i, spike_t, n: int, t_start: float, t_stop: float) -> np.ndarray:
    """Firing rate (Hz) of neurons ``0..n-1`` in ``[t_start, t_stop)`` (s); shape (n,)."""
    i, t = _check(spike_i, spike_t)
    if t_stop <= t_start:
        raise ValueError(f"t_stop ({t_stop}) must exceed t_start ({t_start})")
    sel = (t >= t_start) & (t < t_stop) & (i >= 0) & (i < n)
    return np.bincount(i[sel], minlength=n).astype(float) / (t_stop - t_start)


def isi_cv(spike_i, spike_t, n: int, t_start: float = 0.0, t_stop: float = np.inf,
           min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each neuron; shape (n,).

    ``CV = std(ISI) / mean(ISI)`` (population standard deviation) over the spikes in
    ``[t_start, t_stop)``; NaN for neurons with fewer than `min_spikes` spikes there.
    """
    i, t = _check(spike_i, spike_t)
    sel = (t >= t_start) & (t < t_stop) & (i >= 0) & (i < n)
    i, t = i[sel], t[sel]
    order = np.lexsort((t, i))
    i, t = i[order], t[order]
    same = i[1:] == i[:-1]
    isi, owner = np.diff(t)[same], i[1:][same]
    count = np.bincount(owner, minlength=n).astype(float)
    total = np.bincount(owner, weights=isi, minlength=n)
    total_sq = np.bincount(owner, weights=isi * isi, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = np.maximum(total_sq / count - mean * mean, 0.0)
        cv = np.sqrt(var) / mean
    cv[count < max(min_spikes - 1, 1)] = np.nan
    return cv


def spike_counts(spike_i, spike_t, n: int, window_s: float, t_start: float, t_stop: float) -> np.ndarray:
    """Spike counts in consecutive windows of `window_s` (s) from `t_start`; shape (n, n_windows).
    Only whole windows before `t_stop` count."""
    i, t = _check(spike_i, spike_t)
    n_win = int(np.floor((t_stop - t_start) / window_s + 1e-9))
    if n_win < 1:
        raise ValueError(f"no whole {window_s} s window fits in [{t_start}, {t_stop})")
    k = np.floor((t - t_start) / window_s + 1e-9).astype(np.int64)
    sel = (k >= 0) & (k < n_win) & (i >= 0) & (i < n)
    counts = np.bincount(i[sel] * n_win + k[sel], minlength=n * n_win)
    return counts.reshape(n, n_win)


def fano_factor(spike_i, spike_t, n: int, window_s: float, t_start: float, t_stop: float) -> np.ndarray:
    """Fano factor (variance / mean of the spike count in consecutive windows of `window_s`)
    of each neuron; shape (n,); NaN for neurons without spikes or fewer than 2 windows."""
    counts = spike_counts(spike_i, spike_t, n, window_s, t_start, t_stop).astype(float)
    mean = counts.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fano = counts.var(axis=1) / mean
    fano[(mean == 0) | (counts.shape[1] < 2)] = np.nan
    return fano


def pairwise_correlation(spike_i, spike_t, n: int, bin_s: float, t_start: float, t_stop: float) -> np.ndarray:
    """Pearson correlation of the binned spike counts of every pair of neurons; shape (n, n).

    Counts in consecutive bins of `bin_s` (s) from `t_start` (only whole bins before
    `t_stop`); ``C[a, b] = cov(x_a, x_b) / (std(x_a) std(x_b))``, 1 on the diagonal, NaN
    for a neuron with a constant count (e.g. no spikes). The same definition as Elephant's
    ``correlation_coefficient`` on a ``BinnedSpikeTrain`` (without binarising).
    """
    x = spike_counts(spike_i, spike_t, n, bin_s, t_start, t_stop).astype(float)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (x @ x.T) / np.outer(norm, norm)
    c[norm == 0, :] = np.nan
    c[:, norm == 0] = np.nan
    return c


def mean_pairwise_correlation(c: np.ndarray) -> float:
    """Mean of the off-diagonal, finite entries of a correlation matrix (NaN if none)."""
    off = c[~np.eye(len(c), dtype=bool)]
    off = off[np.isfinite(off)]
    return float(off.mean()) if off.size else float("nan")


def run_statistics(run, t_start: float = 0.0, t_stop: float | None = None, window_s: float = 1.0,
                   min_spikes: int = 3, corr_bin_s: float = 0.05, max_pairs_neurons: int = 200) -> dict:
    """Rate, CV of ISI and Fano factor of every simulated population of a spiking run.

    Parameters
    ----------
    run : neuro_grlu.io.Run
        A spiking run with ``spike_i`` and ``spike_t``.
    t_start, t_stop : float
        Time range in s (default: the whole run).
    window_s : float
        Counting window of the Fano factor (s).
    min_spikes : int
        Neurons with fewer spikes get no CV.
    corr_bin_s : float
        Bin of the pairwise count correlation (s).
    max_pairs_neurons : int
        The correlation is averaged over the pairs of the first this many neurons.

    Returns
    -------
    dict mapping population name to a dict with ``n`` (neurons), ``rate_hz`` (per neuron,
    shape (n,)), ``cv_isi`` and ``fano`` (per neuron, NaN where undefined), and the summaries
    ``mean_rate_hz``, ``median_cv_isi``, ``median_fano`` and ``mean_correlation`` (mean
    pairwise count correlation in ``corr_bin_s`` bins).
    """
    from ..figures.spiking import population_ranges

    if "spike_t" not in run.arrays or "spike_i" not in run.arrays:
        from ..errors import RunFileError

        stored = _stored_statistics(run, dict(t_start=t_start, t_stop=t_stop, window_s=window_s, min_spikes=min_spikes,
                                              corr_bin_s=corr_bin_s, max_pairs_neurons=max_pairs_neurons))
        if stored is not None:
            return stored
        raise RunFileError(run.missing("arrays", "spike_t") or
                           f"run file {run.path} holds no spike trains (spike_i, spike_t); record them to compute statistics")
    i, t = run.arrays["spike_i"], run.arrays["spike_t"]
    if t_stop is None:
        t_stop = float(run.metrics["time_s"][-1]) if run.epochs_completed else float(t.max(initial=0.0))
    out = {}
    for name, (a, b) in population_ranges(run).items():
        sel = (i >= a) & (i < b)
        pi, pt, n = i[sel] - a, t[sel], b - a
        rate = firing_rates(pi, pt, n, t_start, t_stop)
        cv = isi_cv(pi, pt, n, t_start, t_stop, min_spikes=min_spikes)
        fano = fano_factor(pi, pt, n, window_s, t_start, t_stop)
        k = min(n, max_pairs_neurons)  # the first k neurons: an (k, k) matrix stays small
        corr = pairwise_correlation(pi, pt, k, corr_bin_s, t_start, t_stop)
        out[name] = {"n": n, "rate_hz": rate, "cv_isi": cv, "fano": fano,
                     "mean_correlation": mean_pairwise_correlation(corr),
                     "mean_rate_hz": float(rate.mean()),
                     "median_cv_isi": float(np.nanmedian(cv)) if np.isfinite(cv).any() else float("nan"),
                     "median_fano": float(np.nanmedian(fano)) if np.isfinite(fano).any() else float("nan")}
    return out


#: Seconds at the end of a spiking run whose statistics a stripped run file keeps
#: (``neuro-grlu strip`` drops the spike trains; see :func:`stripped_statistics`).
STRIPPED_WINDOW_S = 600.0


def stripped_statistics(run) -> dict | None:
    """The :func:`run_statistics` of the last :data:`STRIPPED_WINDOW_S` seconds, with default
    settings, as plain JSON values with the arguments used (``None`` for a run without spikes).

    ``neuro-grlu strip`` stores this before it drops the spike trains, so that a stripped file
    still answers :func:`run_statistics` for that window (the documents quote the last 600 s
    of the stored hour).
    """
    if "spike_t" not in run.arrays or "spike_i" not in run.arrays:
        return None
    t_stop = float(run.metrics["time_s"][-1]) if run.epochs_completed else float(run.arrays["spike_t"].max(initial=0.0))
    args = dict(t_start=max(0.0, t_stop - STRIPPED_WINDOW_S), t_stop=t_stop, window_s=1.0, min_spikes=3,
                corr_bin_s=0.05, max_pairs_neurons=200)
    stats = run_statistics(run, **args)
    plain = {name: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
             for name, s in stats.items()}
    return {"args": args, "populations": plain}


def _stored_statistics(run, args: dict) -> dict | None:
    """Statistics that ``neuro-grlu strip`` kept in a stripped file, if `args` are the ones
    they were computed with (``t_stop=None`` means the end of the run); else ``None``."""
    if not getattr(run, "stripped", False):
        return None
    kept = (getattr(run, "strip_info", None) or {}).get("derived", {}).get("spike_statistics")
    if not kept:
        return None
    want = dict(args)
    if want["t_stop"] is None:
        want["t_stop"] = kept["args"]["t_stop"]
    if any(not np.isclose(float(want[k]), float(v)) for k, v in kept["args"].items()):
        return None
    return {name: {k: (np.asarray(v, dtype=float) if isinstance(v, list) else v) for k, v in s.items()}
            for name, s in kept["populations"].items()}


def fig_statistics(stats: dict, title: str = ""):
    """Histograms of rate (Hz), CV of ISI and Fano factor per population, the cortical
    ranges of :data:`CORTEX` shaded; `stats` from :func:`run_statistics`."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    specs = (("rate_hz", "firing rate (Hz)", np.linspace(0, 20, 41)),
             ("cv_isi", "CV of inter-spike intervals", np.linspace(0, 3, 31)),
             ("fano", "Fano factor of spike counts", np.linspace(0, 4, 41)))
    for ax, (key, label, bins) in zip(axes, specs):
        lo, hi, _ = CORTEX[key]
        ax.axvspan(lo, hi, color="0.85", label="cortex, reported range")
        for k, (name, s) in enumerate(stats.items()):
            v = s[key][np.isfinite(s[key])]
            ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, histtype="step", color=f"C{k}", lw=1.3,
                    label=f"{name} ({len(v)} neurons)")
        ax.set(xlabel=label, ylabel="neurons")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
