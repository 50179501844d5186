"""Figures of spiking runs: raster (neuron index against s), chosen/tracked weights (mV),
weight histograms and dopamine (µM) against time (s)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..errors import RunFileError
from ..io import Run


def population_ranges(run: Run) -> dict[str, tuple[int, int]]:
    """Neuron index range ``[start, stop)`` of each simulated population (spike sources excluded),
    in the order the network numbers them (``spike_i`` indexes this range)."""
    out, start = {}, 0
    for name, pop in run.config.get("populations", {}).items():
        if pop.get("model") in ("poisson", "generator"):
            continue
        out[name] = (start, start + int(pop["n"]))
        start += int(pop["n"])
    return out


def _duration(run: Run) -> float:
    if run.epochs_completed and "time_s" in run.metrics:
        return float(run.metrics["time_s"][-1])
    return float(run.config.get("simulation", {}).get("duration_s", 0.0))


def fig_raster(run: Run, excerpt_s: float | None = None) -> Figure:
    """Spike raster (neuron index against time in s) of the first and the last `excerpt_s`
    (default ``recording.raster_excerpt_s``, else 1 s); one panel if the run is that short."""
    st, si = run.arrays["spike_t"], run.arrays["spike_i"]
    end = _duration(run) or (float(st.max()) if len(st) else 1.0)
    length = excerpt_s or run.config.get("recording", {}).get("raster_excerpt_s") or 1.0
    length = min(float(length), end)
    windows = [(0.0, length)] if end <= 2 * length else [(0.0, length), (end - length, end)]
    fig = Figure(figsize=(5.5 * len(windows), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(windows), sharey=True))
    ranges = population_ranges(run)
    for ax, (lo, hi) in zip(axes, windows):
        sel = (st >= lo) & (st < hi)
        for k, (name, (a, b)) in enumerate(ranges.items()):
            pop = sel & (si >= a) & (si < b)
            ax.plot(st[pop], si[pop], ".", ms=1.5, color=f"C{k}", label=f"{name} ({a}-{b - 1})")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("time (s)")
        ax.set_title(f"{lo:g}-{hi:g} s")
    axes[0].set_ylabel("neuron index")
    if ranges:
        axes[0].set_ylim(-0.5, max(b for _, b in ranges.values()) - 0.5)
        axes[-1].legend(fontsize=7, loc="upper right", markerscale=6)
    fig.suptitle(f"{run.model}: spikes (seed {run.seed})")
    return fig


def fig_weights(run: Run, control: Run | None = None) -> Figure:
    """Weight of the chosen (rewarded) synapse and the tracked others (mV) against time (s),
    rewards marked, the control run's chosen synapse if given; below, its eligibility trace."""
    w_max = run.config["plasticity"]["w_max"]
    t, w = run.arrays["state_t"], run.arrays["tracked_w"]
    c = run.arrays.get("tracked_c")
    rewards = run.arrays.get("reward_t", np.zeros(0))
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    if c is not None:
        ax, axc = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        ax, axc = fig.subplots(), None
    ax.plot(t, w[:, 0], color="C0", lw=1.2, label="chosen synapse (rewarded)")
    for k in range(1, w.shape[1]):
        ax.plot(t, w[:, k], color="0.6", lw=0.5, label="other synapses (random sample)" if k == 1 else None)
    if control is not None:
        ax.plot(control.arrays["state_t"], control.arrays["tracked_w"][:, 0], color="C3", lw=1.0,
                label="chosen synapse, control (no reward)")
    ax.plot(rewards, np.full(len(rewards), -0.12 * w_max), "|", color="C2", ms=6, label="rewards")
    ax.set_ylim(-0.2 * w_max, 1.05 * w_max)
    ax.set_ylabel("synaptic weight (mV)")
    ax.legend(loc="center right", fontsize=8)
    ax.set_title(f"{run.model}: chosen synapse (seed {run.seed})")
    if axc is not None:
        axc.plot(t, c[:, 0], color="C1", lw=0.6)
        axc.set_ylabel("eligibility c (a.u.)")
        axc.set_xlabel("time (s)")
    else:
        ax.set_xlabel("time (s)")
    return fig


def weight_histograms(run: Run) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Counts of all plastic weights per ``w_hist_edges`` bin at the start and at the end, shape
    ``(n_bins,)`` each, and the chosen (first tracked) synapse's final weight in mV (None if no
    synapse is tracked). From the weights, or, in a stripped file, from the numbers
    ``neuro-grlu strip`` kept (:func:`neuro_grlu.strip.derived_numbers`)."""
    edges = run.arrays["w_hist_edges"]
    if "w_initial" in run.weights and "w_final" in run.weights:
        w0, w1 = run.weights["w_initial"], run.weights["w_final"]
        chosen = int(run.arrays["tracked_synapses"][0]) if "tracked_synapses" in run.arrays else None
        return (np.histogram(w0, bins=edges)[0], np.histogram(w1, bins=edges)[0],
                None if chosen is None else float(w1[chosen]))
    derived = run.strip_info.get("derived", {}) if getattr(run, "stripped", False) else {}
    if "w_hist_initial" not in derived or "w_hist_final" not in derived:
        raise RunFileError(run.missing("weights", "w_final")
                           or f"run file {run.path} holds no plastic weights (w_initial, w_final)")
    return (np.asarray(derived["w_hist_initial"]), np.asarray(derived["w_hist_final"]),
            derived.get("chosen_w_final"))


def fig_weight_histograms(run: Run) -> Figure:
    """Weights of all plastic synapses: the histogram at the start of every chunk and at the
    end as an image (time in s against weight in mV, log colour), and start vs end overlaid
    with the chosen synapse marked."""
    edges = run.arrays["w_hist_edges"]
    h0, h1, chosen_w = weight_histograms(run)
    hist = np.vstack([run.arrays["w_hist"], h1[None, :]]).astype(float)
    chunk = run.config.get("simulation", {}).get("chunk_s", 1.0)
    times = np.arange(len(hist) + 1) * chunk - chunk / 2  # row k: weights at k * chunk_s
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_t, ax_h = fig.subplots(1, 2, width_ratios=[1.4, 1])
    image = ax_t.pcolormesh(times, edges, np.ma.masked_equal(hist, 0).T, cmap="viridis",
                            norm="log", shading="flat")
    fig.colorbar(image, ax=ax_t, label="synapses per bin")
    ax_t.set(xlabel="time (s)", ylabel="synaptic weight (mV)", xlim=(0, max(_duration(run), chunk / 2)),
             title=f"weight distribution, snapshots every {chunk:g} s")
    ax_h.stairs(h0, edges, color="0.5", label="start")
    ax_h.stairs(h1, edges, fill=True, alpha=0.5, color="C0", label=f"end ({_duration(run):g} s)")
    if chosen_w is not None and run.config.get("reward", {}).get("projection"):
        ax_h.plot([chosen_w], [1], "v", color="C3", ms=10, label=f"chosen synapse at end ({chosen_w:.2f} mV)")
    ax_h.set_yscale("log")
    ax_h.set(xlabel="synaptic weight (mV)", ylabel="synapses", title="start vs end")
    ax_h.legend(fontsize=8)
    return fig


def fig_dopamine(run: Run, window_s: float = 60.0) -> Figure:
    """Dopamine concentration (µM, the scale of Izhikevich 2007) over `window_s` seconds
    starting 5 s before the first reward (or at 0 s), rewards marked."""
    t, d = run.arrays["state_t"], run.arrays["dopamine"]
    rewards = run.arrays.get("reward_t", np.zeros(0))
    lo = max(0.0, float(rewards[0]) - 5.0) if len(rewards) else 0.0
    sel = (t >= lo) & (t < lo + window_s)
    fig = Figure(figsize=(9, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(t[sel], d[sel], color="C2", lw=0.8, label="dopamine d")
    rs = rewards[(rewards >= lo) & (rewards < lo + window_s)]
    ax.plot(rs, np.zeros(len(rs)), "x", color="C3", label="reward (dopamine release)")
    tonic = run.config.get("dopamine", {}).get("tonic")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("dopamine d (µM)")
    ax.set_title("dopamine concentration (tonic level + decaying releases)"
                 + (f"; tonic input {tonic:g} µM/s" if tonic is not None else ""))
    ax.legend(fontsize=8)
    return fig
