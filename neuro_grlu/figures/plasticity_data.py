"""Figures of the plasticity and dopamine comparisons with measured data (issue 19).

* :func:`fig_frequency`: EPSP ratio against pairing frequency, model vs Sjöström et al. (2001);
* :func:`fig_schultz`: dopamine-neuron responses in the layout of Schultz, Dayan & Montague
  (1997, Fig. 1).

Both take plain dicts (results of :mod:`neuro_grlu.spiking.experiments.sjostrom` and
:mod:`~neuro_grlu.spiking.experiments.conditioning`), so this layer needs no Brian2.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def fig_frequency(results: list[dict]):
    """Two panels (dt = +10 ms, dt = -10 ms): EPSP ratio against pairing frequency, data
    mean ± SEM and one line per model (its chi2 and points within SEM in the legend)."""
    rows = results[0]["rows"]
    f = np.array([r["frequency_hz"] for r in rows])
    dt = np.array([r["dt_ms"] for r in rows])
    d = np.array([r["epsp_ratio"] for r in rows])
    s = np.array([r["sem"] for r in rows])
    fig = Figure(figsize=(9, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, sign in zip(axes, (1, -1)):
        sel = np.flatnonzero(np.sign(dt) == sign)
        sel = sel[np.argsort(f[sel])]
        ax.axhline(1.0, color="0.8", lw=0.8)
        ax.errorbar(f[sel], d[sel], yerr=s[sel], fmt="ks", mfc="white", capsize=3, label="Sjöström et al. 2001 (mean ± SEM)")
        for k, res in enumerate(results):
            m = np.asarray(res["model_ratio"])
            ax.plot(f[sel], m[sel], "o-", color=f"C{k}", ms=4,
                    label=f"{res['label']}: χ² {res['chi2']:.1f}, {res['within_sem']}/{res['n_points']} within SEM")
        ax.set_xlabel("pairing frequency (Hz)")
        ax.set_title(f"Δt = t_post − t_pre = {sign * 10:+d} ms")
    axes[0].set_ylabel("EPSP after / before")
    axes[1].legend(fontsize=6.5, loc="upper left")
    return fig


def fig_schultz(result: dict, bin_s: float = 0.05):
    """The layout of Schultz, Dayan & Montague (1997, Fig. 1): three rows (no prediction,
    reward occurs / reward predicted, reward occurs / reward predicted, no reward), each a
    histogram of the dopamine neurons' rate over time from the cue above a raster, plus
    the TD error of the same trials."""
    p = result["protocol"]
    probes = p.probes()
    after = result["after_trials"]
    rows = (("No prediction, reward occurs (trial 1)", [0], True),
            (f"Reward predicted, reward occurs (trials {after[0] + 1}-{after[-1] + 1})", after, True),
            (f"Reward predicted, no reward occurs ({len(probes)} probe trials from trial {probes[0] + 1})", probes, False))
    fig = Figure(figsize=(6.5, 8.5), layout="constrained")
    axes = fig.subplots(6, 1, gridspec_kw={"height_ratios": [1.2, 1] * 3}, sharex=True)
    lo, hi = -0.5, p.reward_delay_s + 1.0
    edges = np.arange(lo, hi + 1e-9, bin_s)
    cues = p.cue_times()
    t, i = result["spike_t"], result["spike_i"]
    for k, (title, trials, rewarded) in enumerate(rows):
        ax_h, ax_r = axes[2 * k], axes[2 * k + 1]
        rel = np.concatenate([t[(t >= cues[j] + lo) & (t < cues[j] + hi)] - cues[j] for j in trials])
        counts, _ = np.histogram(rel, bins=edges)
        ax_h.bar(edges[:-1], counts / (len(trials) * result["n_neurons"] * bin_s), width=bin_s, align="edge",
                 color="k")
        ax_h.axhline(result["base_rate_hz"], color="0.6", lw=0.8, ls=":")
        ax_h.set_ylabel("rate (Hz)", fontsize=8)
        ax_h.set_title(title, fontsize=9, loc="left")
        ax_d = ax_h.twinx()
        tb = result["t_bin"]
        sel = [(tb >= cues[j] + lo) & (tb < cues[j] + hi) for j in trials]
        m = np.mean([result["delta"][s][: min(map(np.sum, sel))] for s in sel], axis=0)
        ax_d.step(tb[sel[0]][: len(m)] - cues[trials[0]], m, where="post", color="C3", lw=1)
        ax_d.set_ylabel("TD error δ", color="C3", fontsize=8)
        ax_d.tick_params(axis="y", labelcolor="C3", labelsize=7)
        # raster: the trials (at most 10) x the neurons (at most 5 each)
        shown = list(trials)[-10:]
        row = 0
        for j in shown:
            for n in range(min(5, result["n_neurons"])):
                s = t[(i == n) & (t >= cues[j] + lo) & (t < cues[j] + hi)] - cues[j]
                ax_r.plot(s, np.full(len(s), row), "|", color="k", ms=2.5)
                row += 1
        ax_r.set_yticks([])
        ax_r.set_ylabel(f"{len(shown)} trials\nx 5 cells", fontsize=7)
        for ax in (ax_h, ax_r):
            ax.axvline(0.0, color="C0", lw=0.8)
            ax.axvline(p.reward_delay_s, color="C2" if rewarded else "C2", lw=0.8, ls="-" if rewarded else "--")
        ax_h.text(0.0, 1.0, " CS", color="C0", transform=ax_h.get_xaxis_transform(), fontsize=8, va="top")
        ax_h.text(p.reward_delay_s, 1.0, " R" if rewarded else " (no R)", color="C2",
                  transform=ax_h.get_xaxis_transform(), fontsize=8, va="top")
    axes[-1].set_xlabel("time from cue (s)")
    axes[-1].set_xlim(lo, hi)
    return fig
