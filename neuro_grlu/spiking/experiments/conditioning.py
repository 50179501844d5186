"""Dopamine as a reward-prediction error: the conditioning protocol of Schultz, Dayan &
Montague (1997) through the TD critic (``[dopamine] critic = "td"``).

Each trial (``trial_s`` long) starts quiet; at ``cue_s`` a cue population spikes once, and
``reward_delay_s`` later a reward of ``amount`` arrives, except on omission probes. The
critic learns the value of the time since the cue; its TD error moves ``d``, and the
dopamine neurons fire at ``max(0, base_rate + gain*(d - tonic))``. The three classic
responses are read from the dopamine neurons' spikes:

* before learning (trial 1): a burst after the reward, none after the cue;
* after learning (the rewarded trials just before the first omission probe): a burst
  after the cue, none after the reward;
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
    after_block: int = 20  # "after learning": the rewarded trials just before the first probe

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
    and ``spike_t`` (dopamine-neuron spikes, s), ``n_neurons``, the protocol and its
    ``after_trials`` (:func:`after_trials`). Draw it with
    :func:`neuro_grlu.figures.plasticity_data.fig_schultz`.
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
           "base_rate_hz": cfg.dopamine.base_rate_hz, "protocol": protocol, "config": cfg.to_dict(),
           "after_trials": after_trials(protocol)}
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


def after_trials(p: Protocol) -> np.ndarray:
    """The "after learning" trials: the ``after_block`` rewarded trials just before the first
    omission probe (a trained critic not yet disturbed by an omission)."""
    return np.arange(max(0, p.probe_from - p.after_block), p.probe_from)


def responses(result: dict) -> dict:
    """The three classic responses as rates (Hz) of the dopamine neurons.

    ``before``: trial 0; ``after``: :func:`after_trials`; ``omission``: the probe trials. For each: ``cue`` (``WINDOW_S``
    after the cue), ``reward`` (``WINDOW_S`` after the reward was due) and ``baseline``
    (``BASELINE_S`` before the cue), in Hz.
    """
    p = result["protocol"]
    probes = p.probes()
    after = after_trials(p)
    out = {}
    for name, trials in (("before", [0]), ("after", after), ("omission", probes)):
        if len(trials) == 0:
            continue
        out[name] = {"cue": rate_in(result, trials, 0.0, WINDOW_S),
                     "reward": rate_in(result, trials, p.reward_delay_s, WINDOW_S),
                     "pre_reward": rate_in(result, trials, p.reward_delay_s - WINDOW_S, WINDOW_S),
                     "baseline": rate_in(result, trials, -BASELINE_S, BASELINE_S), "trials": len(trials)}
    return out
