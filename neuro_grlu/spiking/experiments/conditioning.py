"""Dopamine as a reward-prediction error: the conditioning protocol of Schultz, Dayan &
Montague (1997) through the TD critic (``[dopamine] critic = "td"``).

Each trial (``trial_s`` long) starts quiet; at ``cue_s`` a cue population spikes once, and
``reward_delay_s`` later a reward of ``amount`` arrives, except on omission probes. The
critic learns the value of the time since the cue; its TD error moves ``d``, and the
dopamine neurons fire at ``max(0, base_rate + gain*(d - tonic))``. The three classic
responses are read from the dopamine neurons' spikes:

* before learning (trial 1): a burst after the reward, none after the cue;
* after learning (rewarded trials late in training): a burst after the cue, none after
  the reward;
* omission (probe trials after learning): a dip below the background rate when the
  reward was due.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import parse_spiking

WINDOW_S = 0.3  # response window after the cue / the (expected) reward (s)
BASELINE_S = 0.4  # baseline window before the cue (s)


@dataclass(frozen=True)
class Protocol:
    """Conditioning schedule. Times in seconds; trials are numbered from 0."""

    n_trials: int = 150
    trial_s: float = 3.0
    cue_s: float = 0.5
    reward_delay_s: float = 1.0
    amount: float = 1.0
    probe_from: int = 100  # omission probes: every `probe_every`-th trial from here on
    probe_every: int = 5

    def probes(self) -> np.ndarray:
        """Indices of the omission trials (no reward)."""
        k = np.arange(self.n_trials)
        return k[(k >= self.probe_from) & ((k - self.probe_from) % self.probe_every == self.probe_every - 1)]

    def cue_times(self) -> np.ndarray:
        return np.arange(self.n_trials) * self.trial_s + self.cue_s

    def reward_times(self) -> np.ndarray:
        """Times the reward is due on every trial (also the omitted ones), shape (n_trials,)."""
        return self.cue_times() + self.reward_delay_s


def definition(protocol: Protocol = Protocol(), *, dopamine: dict | None = None, dt_ms: float = 1.0,
               seed: int = 1) -> dict:
    """The spiking definition (a dict, as parsed from TOML) of the conditioning run: a cue
    generator, rewards at the due times of the rewarded trials, the TD critic and 20
    dopamine neurons. `dopamine` overrides keys of the ``[dopamine]`` table."""
    p = protocol
    rewarded = np.setdiff1d(np.arange(p.n_trials), p.probes())
    dop = {"critic": "td", "cue": "cue", "tonic": 0.0, "tau_d_ms": 200.0, "td_bin_ms": 50.0, "td_units": 30,
           "td_gamma": 0.98, "td_alpha": 0.2, "td_gain": 1.0, "neurons": 20, "base_rate_hz": 5.0, "gain_hz": 40.0}
    dop.update(dopamine or {})
    return {
        "kind": "spiking", "name": "td-conditioning",
        "description": "Cue then reward: TD critic and dopamine neurons (Schultz, Dayan & Montague 1997)",
        "simulation": {"duration_s": p.n_trials * p.trial_s, "chunk_s": p.n_trials * p.trial_s, "dt_ms": dt_ms,
                       "seed": seed},
        "populations": {"cue": {"model": "generator", "n": 1, "indices": [0] * p.n_trials,
                                "times_ms": [round(1000.0 * t, 6) for t in p.cue_times()]}},
        "input": {"kind": "none"},
        "dopamine": dop,
        "reward": {"kind": "times", "amount": p.amount, "times_s": [round(float(t), 6) for t in p.reward_times()[rewarded]]},
        "recording": {"spikes": False, "state_dt_ms": dop["td_bin_ms"]},
    }


def run_conditioning(raw: dict, protocol: Protocol = Protocol(), target: str = "runtime") -> dict:
    """Simulate the definition `raw` (see :func:`definition`) and return the recorded
    signals.

    Returns
    -------
    dict with ``t_bin`` (s, shape (n_bins,)), ``delta`` and ``value`` (TD error and value
    at each bin boundary, same shape), ``t_d``/``d`` (dopamine concentration), ``spike_i``
    and ``spike_t`` (dopamine-neuron spikes, s), ``n_neurons`` and the protocol.
    """
    import brian2 as b2
    from brian2 import second

    from ..build import build_network

    cfg = parse_spiking(raw, raw.get("name", "td-conditioning"))
    b2.prefs.codegen.target = {"runtime": "cython", "numpy": "numpy"}[target]
    built = build_network(cfg)
    built.net.run(cfg.simulation.duration_s * second, namespace={})
    td, dmon = built.monitors["td"], built.monitors["dopamine"]
    out = {"t_bin": np.asarray(td.t_), "delta": np.asarray(td.delta[0]), "value": np.asarray(td.V[0]),
           "t_d": np.asarray(dmon.t_), "d": np.asarray(dmon.d[0]), "n_neurons": cfg.dopamine.neurons,
           "base_rate_hz": cfg.dopamine.base_rate_hz, "protocol": protocol, "config": cfg.to_dict()}
    if "dopamine_spikes" in built.monitors:
        m = built.monitors["dopamine_spikes"]
        out["spike_i"], out["spike_t"] = np.asarray(m.i[:]), np.asarray(m.t_[:])
    return out


def rate_in(result: dict, trials, start_s: float, width_s: float) -> float:
    """Mean dopamine-neuron rate (Hz) over `trials` in ``[t0 + start_s, t0 + start_s +
    width_s)`` with ``t0`` the trial's cue time."""
    cues = result["protocol"].cue_times()[np.asarray(trials)]
    t = result["spike_t"]
    count = sum(np.count_nonzero((t >= c + start_s) & (t < c + start_s + width_s)) for c in cues)
    return count / (len(cues) * width_s * result["n_neurons"])


def after_trials(p: Protocol, after_from: int | None = None) -> np.ndarray:
    """Rewarded trials from `after_from` (default ``p.probe_from``) on, except those right
    after an omission probe (whose prediction the probe has just lowered)."""
    probes = p.probes()
    start = p.probe_from if after_from is None else after_from
    k = np.arange(start, p.n_trials)
    return k[~np.isin(k, probes) & ~np.isin(k - 1, probes)]


def responses(result: dict, *, after_from: int | None = None) -> dict:
    """The three classic responses as rates (Hz) of the dopamine neurons.

    ``before``: trial 0; ``after``: :func:`after_trials`; ``omission``: the probe trials. For each: ``cue`` (``WINDOW_S``
    after the cue), ``reward`` (``WINDOW_S`` after the reward was due) and ``baseline``
    (``BASELINE_S`` before the cue), in Hz.
    """
    p = result["protocol"]
    probes = p.probes()
    after = after_trials(p, after_from)
    out = {}
    for name, trials in (("before", [0]), ("after", after), ("omission", probes)):
        if len(trials) == 0:
            continue
        out[name] = {"cue": rate_in(result, trials, 0.0, WINDOW_S),
                     "reward": rate_in(result, trials, p.reward_delay_s, WINDOW_S),
                     "pre_reward": rate_in(result, trials, p.reward_delay_s - WINDOW_S, WINDOW_S),
                     "baseline": rate_in(result, trials, -BASELINE_S, BASELINE_S), "trials": len(trials)}
    return out


def fig_schultz(result: dict, bin_s: float = 0.05):
    """The layout of Schultz, Dayan & Montague (1997, Fig. 1): three rows (no prediction,
    reward occurs / reward predicted, reward occurs / reward predicted, no reward), each a
    histogram of the dopamine neurons' rate over time from the cue above a raster, plus
    the TD error of the same trials."""
    from matplotlib.figure import Figure

    p = result["protocol"]
    probes = p.probes()
    after = after_trials(p)
    rows = (("No prediction, reward occurs (trial 1)", [0], True),
            (f"Reward predicted, reward occurs ({len(after)} trials after learning)", after, True),
            (f"Reward predicted, no reward occurs ({len(probes)} probe trials)", probes, False))
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
