"""The spiking hippocampus (Brian2, runtime/Cython target): learns a 2-class toy task with
reward and not with the dopamine off, and obeys its defining equations (dopamine = reward −
expected reward, weights change only while dopamine ≠ 0, eligibility decays with τ_c)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("brian2")

from neuro_grlu.cls.config import parse_continual  # noqa: E402
from neuro_grlu.cls.hippocampus import LEARNERS, learner_params, make_learner  # noqa: E402
from neuro_grlu.cls.spiking_hippocampus import SpikingRSTDP, SpikingRSTDPParams, input_code  # noqa: E402
from neuro_grlu.errors import ConfigError  # noqa: E402

N_IN, BLOCK = 20, 100  # one input width and block size for every test: one compiled network shape


def toy(n, seed):
    """Two classes: inputs 0-9 (class 0) or 10-19 (class 1) at 1, background noise below 0.1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = 0.1 * rng.random((n, N_IN)).astype(np.float32)
    for k in range(n):
        x[k, 10 * y[k] : 10 * y[k] + 10] += 1.0
    return x, y


def learner(**kw):
    p = SpikingRSTDPParams(**{"n_per_class": 5, "block_images": BLOCK, "eta_per_s": 1.0, "critic": "running", **kw})
    return SpikingRSTDP(p, N_IN, 2, trace_dopamine=True)


@pytest.fixture(scope="module")
def trained():
    """The same network and example stream with the dopamine on and off."""
    x, y = toy(300, 0)
    xt, yt = toy(200, 1)
    out = {}
    for gain in (1.0, 0.0):
        net = learner(dopamine_gain=gain)
        w0 = net.W
        acc0 = float(np.mean(net.predict(xt) == yt))
        r = net.fit_online(x, y, np.random.default_rng(2))
        out[gain] = dict(net=net, w0=w0, acc0=acc0, rewards=r, acc=float(np.mean(net.predict(xt) == yt)),
                         trace=net.dopamine_trace(), y=y)
    return out


def test_learns_two_classes_with_reward_and_not_with_dopamine_off(trained):
    on, off = trained[1.0], trained[0.0]
    assert on["acc0"] < 0.75 and off["acc0"] < 0.75  # untrained: near chance
    assert on["acc"] > 0.9, on["acc"]
    assert np.mean(on["rewards"][-100:]) > 0.85
    assert abs(off["acc"] - 0.5) < 0.2, off["acc"]  # a binomial(200, 1/2)-ish result, not learning
    assert abs(np.mean(off["rewards"]) - 0.5) < 0.15
    # class 0's population ends up preferring inputs 0-9, class 1's inputs 10-19
    W = on["net"].W
    assert W[:5, :10].mean() > W[:5, 10:].mean() and W[5:, 10:].mean() > W[5:, :10].mean()


def test_weights_change_only_when_dopamine_is_nonzero(trained):
    off = trained[0.0]
    t, d, _ = off["trace"]
    assert np.all(d == 0.0)
    np.testing.assert_array_equal(off["net"].W, off["w0"])  # bit-identical: no dopamine, no change
    assert np.abs(off["net"].eligibility()).max() > 0  # although STDP did write eligibility
    on = trained[1.0]
    assert np.abs(on["net"].W - on["w0"]).max() > 0.1


def test_dopamine_is_reward_minus_expected_reward(trained):
    """At each decision d jumps by gain·(R − R̄) and R̄ ← R̄ + α (R − R̄); between decisions
    d decays with τ_d."""
    on = trained[1.0]
    p = on["net"].params
    t, d, rbar = on["trace"]
    y, rewards = on["y"], on["rewards"]
    dt = p.dt_ms * 1e-3
    # R-bar moves at every decision (R is 0 or 1, R-bar strictly between): one step per example
    pos = np.flatnonzero(np.diff(rbar) != 0) + 1
    assert len(pos) == len(y)
    gaps = np.round(np.diff(t[pos]) / ((p.present_ms + p.rest_ms) * 1e-3), 6)
    assert set(gaps) == {1.0, 2.0}  # one decision per slot; a block ends with one extra slot
    rbar_before = np.concatenate([[rbar[pos[0] - 1]], rbar[pos[:-1]]])
    rpe = rewards - rbar_before
    np.testing.assert_allclose(rbar[pos], rbar_before + p.baseline_alpha * rpe, rtol=1e-6, atol=1e-9)
    d_before = d[pos - 1] * np.exp(-dt / (p.tau_d_ms * 1e-3))  # decays over the decision step
    np.testing.assert_allclose(d[pos] - d_before, p.dopamine_gain * rpe, rtol=1e-4, atol=1e-6)
    # between decisions: exponential decay with tau_d
    k = pos[5]
    np.testing.assert_allclose(d[k + 1 : k + 10] / d[k : k + 9], np.exp(-dt / (p.tau_d_ms * 1e-3)), rtol=1e-6)


def test_eligibility_decays_with_tau_c_and_silent_input_does_not_learn():
    net = learner(dopamine_gain=0.0, tau_c_ms=40.0)
    x, y = toy(20, 3)
    net.fit_online(x, y, np.random.default_rng(0))
    net._build()
    c0 = net.eligibility()
    assert np.abs(c0).max() > 0
    # run a silent stretch in training mode: no spikes, so c only decays
    g = net._groups
    from neuro_grlu.cls.spiking_hippocampus import _codegen
    with _codegen("runtime"):
        net._set_mode(train=True)
        net._load_block(np.zeros((1, N_IN), np.float32), None)
        net._net.run(2 * net._slot, namespace={})
    c1 = net.eligibility()
    T = 2 * net.slot_ms
    np.testing.assert_allclose(c1, c0 * np.exp(-T / 40.0), rtol=1e-5, atol=1e-12)
    assert float(g["critic"].d[0]) == 0.0


def test_synaptic_scaling_keeps_each_neurons_norm(trained):
    """normalize (default scaling 'l2', the rate learner's row_norm): learning moves weights between
    inputs but each output neuron keeps the L2 norm of its incoming weights, so no population wins
    by growing (with 'l1' and uniform [0, 2 w] initial weights, two of ten MNIST populations grew
    their L2 norm and fired twice as much as the others)."""
    on = trained[1.0]
    n0, n1 = np.linalg.norm(on["w0"], axis=1), np.linalg.norm(on["net"].W, axis=1)
    np.testing.assert_allclose(n1, n0, rtol=2e-2)
    np.testing.assert_allclose(n0, np.sqrt(N_IN * 4 / 3), rtol=1e-5)  # w_spread = 1: E[w^2] = 4/3


def test_l1_scaling_and_homeostatic_thresholds():
    """scaling 'l1' keeps each neuron's weight sum; theta_plus_mv raises the winning population's
    thresholds during training (so every population gets to win), frozen during evaluation."""
    net = learner(scaling="l1", theta_plus_mv=0.5, tau_theta_s=100.0, w_spread=0.2)
    w0 = net.W
    np.testing.assert_allclose(w0.sum(axis=1), N_IN, rtol=1e-5)
    assert 0.7 < w0.min() and w0.max() < 1.3  # w_init (1 +- w_spread), then rescaled to the sum
    x, y = toy(100, 4)
    r = net.fit_online(x, y, np.random.default_rng(0))
    np.testing.assert_allclose(net.W.sum(axis=1), N_IN, rtol=2e-2)
    assert np.abs(net.W - w0).max() > 0.01  # it learnt (weights moved) while keeping the sum
    th = net.state_dict()["hippocampus_threshold_mV"].reshape(2, -1)
    assert np.all(th > -50.0) and np.all(th < -50.0 + 0.5 * len(r))  # both populations won, raised and decayed
    net.predict(x)
    np.testing.assert_array_equal(net.state_dict()["hippocampus_threshold_mV"].reshape(2, -1), th)  # frozen


def test_input_code_is_a_normalised_rate_code():
    x = input_code(np.array([[0.0, 2.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]], np.float32))
    assert np.all(x >= 0)
    np.testing.assert_allclose(x[0].sum(), 1.0, rtol=1e-6)
    assert x[0, 2] > x[0, 1] > 0 and x[0, 0] == 0
    np.testing.assert_array_equal(x[1], 0)  # a constant row carries no information: silent


def test_registered_and_validated():
    assert LEARNERS["spiking-rstdp"] == (SpikingRSTDP, SpikingRSTDPParams)
    name, p = learner_params({"learner": "spiking-rstdp", "n_per_class": 3, "credit": "spikes"})
    assert name == "spiking-rstdp" and p.n_per_class == 3
    assert isinstance(make_learner(name, p, 7, 4), SpikingRSTDP)
    for bad, match in [({"n_per_class": 0}, "n_per_class must be >= 1"),
                       ({"negative_rpe": 2.0}, "negative_rpe must be <= 1.0"),
                       ({"credit": "label"}, "credit must be one of"),
                       ({"scaling": "l3"}, "scaling must be one of"),
                       ({"present_ms": 2.5}, "whole multiple of dt_ms"),
                       ({"tau_c": 5}, "allowed: n_per_class")]:
        with pytest.raises(ConfigError, match=match):
            learner_params({"learner": "spiking-rstdp", **bad})
    cfg = parse_continual({"kind": "continual", "system": "hippocampus",
                           "hippocampus": {"learner": "spiking-rstdp", "present_ms": 40.0}}, "m")
    assert cfg.hippocampus.present_ms == 40.0 and parse_continual(cfg.to_dict(), "m").to_dict() == cfg.to_dict()


def test_labels_out_of_range_are_rejected():
    with pytest.raises(ConfigError, match="labels must be in 0..1"):
        learner().fit_online(np.zeros((2, N_IN), np.float32), np.array([0, 2]), np.random.default_rng(0))


def test_wins_are_counted_and_consolidation_lowers_eta_per_win():
    """Every training decision adds one win to the chosen population; with consolidation_wins = n0
    each population's eta multiplier is 1 / (1 + wins / n0) (metaplasticity), so the same stream
    moves the weights less the second time round; without it the multiplier stays 1."""
    x, y = toy(100, 5)
    net = learner(consolidation_wins=10.0)
    r = net.fit_online(x, y, np.random.default_rng(0))
    wins = net.state_dict()["hippocampus_wins"]
    assert wins.sum() == np.sum(~np.isnan(r)) == len(y)  # one decision per example
    assert np.all(wins > 0)
    plasticity = np.asarray(net._groups["out"].plasticity[:]).reshape(2, -1)
    np.testing.assert_allclose(plasticity, (1.0 / (1.0 + wins / 10.0))[:, None].repeat(5, axis=1), rtol=1e-6)
    w1 = net.W
    net.fit_online(x, y, np.random.default_rng(0))
    step_first, step_second = np.abs(w1 - learner(consolidation_wins=10.0).W).sum(), np.abs(net.W - w1).sum()
    assert step_second < 0.5 * step_first, (step_first, step_second)
    plain = learner()
    plain.fit_online(x, y, np.random.default_rng(0))
    assert plain.state_dict()["hippocampus_wins"].sum() == len(y)
    np.testing.assert_array_equal(np.asarray(plain._groups["out"].plasticity[:]), 1.0)


def test_tonic_inhibition_sets_the_operating_point():
    """bias_mv adds a constant input to every output neuron: strong tonic inhibition (-100 mV,
    five times the 20 mV from rest to threshold) silences an output that fires without it."""
    x, _ = toy(20, 6)
    free, inhibited = learner().logits(x), learner(bias_mv=-100.0).logits(x)
    assert np.floor(free).sum() >= 20  # spike counts (the U(0, 0.5) tie-breaking jitter floors to 0)
    assert inhibited.max() < 0.5  # only the jitter: no spike
    with pytest.raises(ConfigError, match="bias_mv must be <= 0"):
        SpikingRSTDPParams(bias_mv=1.0)
