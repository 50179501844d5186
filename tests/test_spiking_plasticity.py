"""The three-factor synapse on tiny networks (Brian2 runtime, NumPy target).

No dopamine -> no weight change; causal pairing + reward potentiates, acausal depresses;
the eligibility trace decays with tau_c; the weight change over a reward pulse matches
the closed form. Each test builds its own explicit network (no Brian2 magic).

NumPy target on purpose: these are checks of the synapse's equations on networks of two or
three neurons, which NumPy runs in seconds while a cold machine spent ~4 CPU minutes compiling
them for Cython (49 extension modules). The same synapse runs on Cython in
test_spiking_learning.py and against C++ standalone in test_spiking_targets.py.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

pytest.importorskip("brian2")

from _spiking_nets import pairing  # noqa: E402

from neuro_grlu.spiking.build import build_network  # noqa: E402
from neuro_grlu.spiking.config import parse_spiking  # noqa: E402


@pytest.fixture(autouse=True)
def _numpy_target():
    import brian2 as b2

    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    yield
    b2.prefs.codegen.target = old
    gc.collect()  # free the Brian2 objects so the next network reuses their names (and cached code)


def _run(raw):
    from brian2 import second

    cfg = parse_spiking(raw)
    built = build_network(cfg)
    built.net.run(cfg.simulation.duration_s * second, namespace={})
    mon = built.monitors["synapses"]
    spikes = built.monitors["spikes"]
    i, t = np.asarray(spikes.i[:]), np.asarray(spikes.t_[:])
    pre = raw["populations"]["pre"]
    if pre["model"] == "generator":
        t_pre, t_post = np.sort(np.asarray(pre["times_ms"])) / 1000.0, t[i == 0]
    else:
        t_pre, t_post = t[i == 0], t[i == 1]
    return dict(t=np.asarray(mon.t_[:]), w=np.asarray(mon.w_[0]), c=np.asarray(mon.c_[0]),
                d=np.asarray(built.monitors["dopamine"].d_[0]), cfg=cfg, built=built,
                t_pre=t_pre, t_post=t_post)


def _lag_ms(r):
    """t_post - t_arrival (ms) of the single pair (arrival = pre spike + 1 ms delay)."""
    return 1000.0 * (r["t_post"][0] - (r["t_pre"][0] + 1e-3))


@pytest.mark.parametrize("generator_pre", [False, True], ids=["neuron-pre", "generator-pre"])
def test_no_dopamine_no_weight_change(generator_pre):
    # many causal and acausal pairs, no tonic dopamine, no reward: c moves, w does not
    pre = list(np.arange(50.0, 1950.0, 37.0))
    post = list(np.arange(60.0, 1950.0, 53.0))
    r = _run(pairing(pre, post, tonic=0.0, generator_pre=generator_pre))
    assert len(r["t_pre"]) == len(pre) and len(r["t_post"]) == len(post)
    assert np.abs(r["c"]).max() > 0.5
    assert np.all(r["w"] == 1.0)
    assert np.all(r["d"] == 0.0)


@pytest.mark.parametrize("generator_pre", [False, True], ids=["neuron-pre", "generator-pre"])
@pytest.mark.parametrize("order", ["causal", "acausal"])
def test_pairing_with_reward_changes_weight_by_sign(order, generator_pre):
    pre, post = ([100.0], [110.0]) if order == "causal" else ([110.0], [100.0])
    r = _run(pairing(pre, post, reward_s=[0.5], tonic=0.0, generator_pre=generator_pre))
    lag = _lag_ms(r)
    assert (lag > 0) == (order == "causal")
    c_peak = r["c"][np.argmax(np.abs(r["c"]))]
    expected = 1.0 * np.exp(-lag / 20.0) if lag >= 0 else -1.5 * np.exp(lag / 20.0)
    assert c_peak == pytest.approx(expected, rel=0.02)
    dw = r["w"][-1] - 1.0
    assert (dw > 0.01) if order == "causal" else (dw < -0.01)
    before = r["t"] < 0.5 - 1e-9
    assert np.all(r["w"][before] == 1.0)  # nothing changes before the reward (tonic 0)


def test_eligibility_decays_with_tau_c():
    r = _run(pairing([100.0], [110.0], duration_s=1.6))
    t, c = r["t"], r["c"]
    # sample on whole multiples of the 10 ms grid, 1 s apart
    a, b = np.searchsorted(t, 0.3 - 1e-9), np.searchsorted(t, 1.3 - 1e-9)
    assert c[a] > 0.3
    assert c[b] / c[a] == pytest.approx(np.exp(-1.0 / 1.0), rel=1e-6)
    tau = 1.0 / np.log(c[a] / c[b])
    assert tau == pytest.approx(r["cfg"].plasticity.tau_c_ms / 1000.0, rel=1e-6)


@pytest.mark.parametrize("update_dt_ms,rel", [(1.0, 0.01), (10.0, 0.05)])
def test_weight_change_over_reward_pulse_matches_closed_form(update_dt_ms, rel):
    # dw = eta * c(t_r) * r * tau_c tau_d / (tau_c + tau_d) for a reward r at t_r, tonic 0;
    # the 10 ms grid overestimates by about update_dt / (2 tau_eff) = 3 %
    t_r, amount = 0.4, 0.5
    r = _run(pairing([100.0], [110.0], reward_s=[t_r], amount=amount, duration_s=2.5,
                     plasticity={"update_dt_ms": update_dt_ms}))
    p = r["cfg"].plasticity
    lag = _lag_ms(r)
    c_post = p.a_plus * np.exp(-lag / p.tau_plus_ms)
    t_post = r["t_post"][0]
    # c decays on the update grid: count grid points between the pairing and the reward
    grid = update_dt_ms / 1000.0
    n_decays = np.floor(t_r / grid + 1e-9) - np.floor(t_post / grid + 1e-9)
    c_r = c_post * np.exp(-n_decays * grid / (p.tau_c_ms / 1000.0))
    tau_c, tau_d = p.tau_c_ms / 1000.0, 0.2
    closed = p.eta_per_s * c_r * amount * tau_c * tau_d / (tau_c + tau_d)
    dw = r["w"][-1] - 1.0
    assert dw == pytest.approx(closed, rel=rel)
    assert closed > 0.1


def test_multiplicative_all_to_all_variant():
    # soft bounds: LTP scaled by (w_max - w)/w_max = 3/4 at w = 1; all-to-all traces add up
    plast = {"rule": "multiplicative", "traces": "all_to_all"}
    r = _run(pairing([100.0, 105.0], [120.0], reward_s=[0.5], plasticity=plast))
    lags = 1000.0 * (r["t_post"][0] - (r["t_pre"] + 1e-3))
    expected = 0.75 * np.exp(-lags / 20.0).sum()
    assert r["c"].max() == pytest.approx(expected, rel=0.02)
    assert r["w"][-1] > 1.0
