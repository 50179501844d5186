"""The STDP-window figure: weight change (%) against spike timing (ms) with the reference."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..reference import read_reference


def fig_stdp_window(result: dict, ref_lag=None, ref_dw=None) -> Figure:
    """The simulated STDP window (weight change in % against t_post - t_pre in ms) over the
    reference points (default: Bi & Poo 1998, ``data/bi_poo_1998.csv``), with both fits."""
    if ref_lag is None or ref_dw is None:
        ref_lag, ref_dw = read_reference()
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(ref_lag, ref_dw, "s", mfc="none", color="0.4", label="Bi & Poo (1998), reconstructed from published fit")
    lag = np.asarray(result["lags_ms"])
    ax.plot(lag, result["dw_percent"], "o", color="C0", ms=4,
            label=f"model, {result['n_pairs']} pairs at {result['pair_rate_hz']:g} Hz")
    s = np.linspace(-100, 100, 801)
    for fit, color, label in ((result["fit"], "C0", "fit to model"), (result["data_fit"], "0.4", "fit to reference")):
        y = np.where(s > 0, fit["a_plus"] * np.exp(-s / fit["tau_plus_ms"]), -fit["a_minus"] * np.exp(s / fit["tau_minus_ms"]))
        ax.plot(s[s > 0], y[s > 0], "-", color=color, lw=1,
                label=f"{label}: τ+ {fit['tau_plus_ms']:.1f} ms, τ− {fit['tau_minus_ms']:.1f} ms")
        ax.plot(s[s < 0], y[s < 0], "-", color=color, lw=1)
    ax.set_xlabel("spike timing t_post − t_pre (ms)")
    ax.set_ylabel("change in synaptic weight (%)")
    ax.set_title(f"STDP window: {result['model']}")
    ax.legend(fontsize=7, loc="upper left")
    return fig
