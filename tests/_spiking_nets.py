"""Tiny spiking definitions shared by the spiking tests (dicts as parsed from TOML)."""

from __future__ import annotations

import copy

PLASTICITY = {"rule": "additive", "traces": "nearest", "a_plus": 1.0, "a_minus": 1.5,
              "tau_plus_ms": 20.0, "tau_minus_ms": 20.0, "w_min": 0.0, "w_max": 4.0,
              "modulation": "dopamine", "tau_c_ms": 1000.0, "eta_per_s": 10.0, "update_dt_ms": 10.0}


def pairing(pre_ms, post_ms, *, reward_s=(), amount=0.5, tonic=0.0, duration_s=2.0, generator_pre=False,
            plasticity=None, seed=3):
    """One plastic synapse pre -> post (Izhikevich RS), each neuron forced to spike by a
    100 mV kick from a spike generator at the given times (the kick lands 1 ms later and
    the neuron fires one step after that); the plastic weight starts at 1 (cap 4) and
    rewards are delivered at `reward_s`. With `generator_pre` the presynaptic side is the
    generator itself (per-synapse traces instead of the neurons' last-spike times)."""
    pops = {"post": {"model": "izhikevich", "preset": "RS", "n": 1}}
    if generator_pre:
        pops["pre"] = {"model": "generator", "n": 1, "indices": [0] * len(pre_ms), "times_ms": list(pre_ms)}
        pops["drive"] = {"model": "generator", "n": 1, "indices": [0] * len(post_ms), "times_ms": list(post_ms)}
        kick = {"pre": "drive", "post": ["post"], "connectivity": "all", "weight": 100.0, "delay_ms": 1.0}
    else:
        pops = {"pre": {"model": "izhikevich", "preset": "RS", "n": 1}, **pops}
        times = sorted([(t, 0) for t in pre_ms] + [(t, 1) for t in post_ms])
        pops["drive"] = {"model": "generator", "n": 2, "indices": [k for _, k in times],
                         "times_ms": [t for t, _ in times]}
        kick = {"pre": "drive", "post": ["pre", "post"], "connectivity": "one_to_one", "weight": 100.0,
                "delay_ms": 1.0}
    return {
        "kind": "spiking", "name": "pairing",
        "simulation": {"duration_s": duration_s, "dt_ms": 1.0, "chunk_s": duration_s, "seed": seed},
        "populations": pops,
        "input": {"kind": "none"},
        "projections": {"syn": {"pre": "pre", "post": ["post"], "connectivity": "all", "weight": 1.0,
                                "delay_ms": 1.0, "plastic": True},
                        "kick": kick},
        "plasticity": {**PLASTICITY, **(plasticity or {})},
        "dopamine": {"tau_d_ms": 200.0, "tonic": tonic},
        "reward": {"kind": "times" if reward_s else "none", "times_s": list(reward_s), "amount": amount,
                   "projection": "syn", "chosen_w_init": 1.0},
        "recording": {"state_dt_ms": 1.0},
    }


def conditioning(*, reward: bool, duration_s=30.0, seed=5, input_kind="uniform"):
    """Tiny conditioning task: 10 Poisson inputs (2 Hz) -> 2 noisy Izhikevich RS neurons
    (about 9 Hz), all synapses plastic (weight 1, cap 4, eta 50/s so that it learns within
    half a minute); the chosen synapse (input 0 -> output 0) starts at 0. Reward (0.5)
    follows 0.2-0.5 s after output 0 fires within 20 ms after input 0."""
    return {
        "kind": "spiking", "name": "conditioning",
        "simulation": {"duration_s": duration_s, "dt_ms": 1.0, "chunk_s": duration_s / 2, "seed": seed},
        "populations": {"inp": {"model": "poisson", "n": 10, "rate_hz": 2.0},
                        "out": {"model": "izhikevich", "preset": "RS", "n": 2}},
        "input": {"kind": input_kind, "amplitude_mV": 13.0, "offset_mV": 3.0},
        "projections": {"io": {"pre": "inp", "post": ["out"], "connectivity": "all", "weight": 1.0,
                               "delay_ms": 1.0, "plastic": True}},
        "plasticity": {**copy.deepcopy(PLASTICITY), "eta_per_s": 50.0},
        "dopamine": {"tau_d_ms": 200.0, "tonic": 0.002},
        "reward": {"kind": "distal" if reward else "none", "amount": 0.5, "projection": "io",
                   "chosen_pre": 0, "chosen_rank": 0, "chosen_w_init": 0.0, "window_ms": 20.0,
                   "delay_min_ms": 200.0, "delay_max_ms": 500.0},
        "recording": {"state_dt_ms": 10.0},
    }
