"""Equilibrium propagation (``eqprop``): its true gradient against finite differences, the
estimate's convergence to it as β → 0 (symmetric nudging closer than one-sided), energy
descent of the free phase, checks, learning and gradient alignment."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.alignment import measure_alignment
from neuro_grlu.config import parse_config
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture
from neuro_grlu.rules import get_rule
from neuro_grlu.rules.backprop import output_error
from neuro_grlu.rules.eqprop import (EqPropParams, HopfieldNetwork, eqprop_gradients, equilibrium_gradient,
                                     readout, relax)

from _synthetic import blobs, learner, train_epochs

STEPS, RATE = 3000, 0.2  # relaxation run to convergence on the small networks below


def _net(hidden, seed=0, n_in=20, n_out=5, bias=0.3):
    """A float64 network whose hidden units are mostly inside (0, 1) (bias 0.3)."""
    rng = np.random.default_rng(seed)
    net = HopfieldNetwork.init(Architecture(n_in=n_in, hidden=hidden, n_out=n_out), rng)
    net.W = [w.astype(np.float64) for w in net.W]
    net.b = [v.astype(np.float64) + bias for v in net.b]
    x = rng.random((6, n_in))
    y = rng.integers(0, n_out, 6)
    return net, x, y


def _cost(net, x, y):
    s = relax(net, x, y, 0.0, STEPS, RATE)
    return -output_error(readout(net, s), y)[1].mean()


def _true(net, x, y):
    free = relax(net, x, y, 0.0, STEPS, RATE)
    return equilibrium_gradient(net, x, y, free, tol=1e-12, iterations=5000)


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("hidden", [(8,), (8, 6)])
def test_equilibrium_gradient_matches_finite_differences(hidden):
    net, x, y = _net(hidden)
    grads = _true(net, x, y)
    rng = np.random.default_rng(1)
    h = 1e-5
    for layer in range(len(net.W)):
        for _ in range(4):
            i, j = rng.integers(net.W[layer].shape[0]), rng.integers(net.W[layer].shape[1])
            net.W[layer][i, j] += h
            up = _cost(net, x, y)
            net.W[layer][i, j] -= 2 * h
            down = _cost(net, x, y)
            net.W[layer][i, j] += h
            np.testing.assert_allclose(grads[layer][0][i, j], (up - down) / (2 * h), atol=1e-8, rtol=1e-5)


@pytest.mark.parametrize("hidden", [(8,), (8, 6)])
def test_estimate_tends_to_the_gradient_as_beta_goes_to_zero_symmetric_closer(hidden):
    """Relative error of each coupling layer's estimate: shrinks as β → 0; one-sided nudging
    has an O(β) bias, symmetric an O(β²) one, so symmetric is closer at every β here.
    (β is kept ≤ 0.02: on the 2-hidden-layer network a nudge of −0.04 already tips the state
    out of the free equilibrium's basin, and the symmetric estimate is then meaningless.)"""
    net, x, y = _net(hidden)
    exact = _true(net, x, y)
    err = {}
    for nudging in ("positive", "symmetric"):
        for beta in (0.02, 0.005, 0.00125):
            est, _, _ = eqprop_gradients(net, x, y, beta=beta, nudging=nudging, free_steps=STEPS,
                                         nudged_steps=STEPS, rate=RATE)
            err[nudging, beta] = np.array([_rel(e[0], t[0]) for e, t in zip(est, exact)])
    n = len(hidden)
    for nudging in ("positive", "symmetric"):
        assert (err[nudging, 0.00125][:n] < err[nudging, 0.02][:n]).all(), err
    for beta in (0.02, 0.005, 0.00125):
        assert (err["symmetric", beta][:n] < err["positive", beta][:n]).all(), (beta, err)
    assert (err["symmetric", 0.00125][:n] < 1e-3).all(), err
    assert (err["positive", 0.00125][:n] < 0.02).all(), err
    assert (err["positive", 0.02][:n] > 4 * err["positive", 0.00125][:n]).all(), err  # O(β), visibly


def test_free_phase_decreases_the_energy_monotonically():
    """Projected gradient steps with ε below 1/λ_max of the energy's Hessian (I − couplings):
    the energy falls at every step (descent lemma), from a start far from equilibrium."""
    net, x, y = _net((8, 6, 5), seed=2, bias=0.0)
    net.W = [3 * w for w in net.W]  # strong couplings: a real relaxation, many units saturate
    coupling = np.zeros((19, 19))
    coupling[:8, 8:14] = net.W[1].T
    coupling[8:14, 14:] = net.W[2].T
    coupling += coupling.T
    rate = 1.0 / np.abs(np.linalg.eigvalsh(np.eye(19) - coupling)).max()
    start = [np.full((6, w), 0.5) for w in (8, 6, 5)]
    trace = []
    relax(net, x, None, 0.0, 400, rate, start=start, trace=trace)
    energy = np.array(trace).sum(axis=1)
    assert energy[-1] < energy[0] - 1.0
    assert (np.diff(energy) <= 1e-12 * np.abs(energy[0])).all(), np.diff(energy).max()
    # the relaxation converged: a further step changes nothing
    s = relax(net, x, None, 0.0, 2000, rate, start=start)
    s2 = relax(net, x, None, 0.0, 1, rate, start=s)
    assert max(np.abs(a - b).max() for a, b in zip(s, s2)) < 1e-9


def test_learns_and_aligns_with_its_equilibrium_gradient():
    x, y = blobs(nonnegative=True)
    x = x / x.max()
    arch = Architecture(n_in=40, hidden=(32,), n_out=10)
    rule = get_rule("eqprop")(EqPropParams(lr_max=0.01, beta=0.1, optimizer="adam"), arch, batch_size=16)
    net, state = learner(rule)
    before = net.accuracy(x[2500:], y[2500:])
    train_epochs(rule, net, state, x, y, 3)
    after = net.accuracy(x[2500:], y[2500:])
    assert after > 0.9 and after > before + 0.4, (before, after)
    frozen = [w.copy() for w in net.W]
    deg, _ = measure_alignment(rule, net, x[:128], y[:128], {"lr": 0.01}, None, 16, state)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, net.W))
    assert (deg < 10).all(), deg


@pytest.mark.parametrize("kw,match", [
    (dict(beta=0.0), "beta must be > 0"),
    (dict(beta=-0.1), "beta must be > 0"),
    (dict(free_steps=0), "free_steps must be >= 1"),
    (dict(nudged_steps=0), "nudged_steps must be >= 1"),
    (dict(inference_rate=0.0), "inference_rate must be > 0"),
    (dict(nudging="two-sided"), "nudging must be one of 'symmetric', 'positive'"),
])
def test_bad_parameters_are_one_line_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as err:
        EqPropParams(**kw)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("network", [{"activation": "topk"}, {"skip": "readout", "hidden": [8, 8]}])
def test_architecture_it_cannot_run_fails_at_load(network):
    with pytest.raises(ConfigError, match="rule eqprop relaxes a layered energy network") as err:
        parse_config({"rule": {"name": "eqprop"}, "network": network}, "bad")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("rule", ["pc", "eqprop"])
def test_runs_through_the_training_loop_with_alignment_and_validation(rule, tiny_mnist, tmp_path):
    """Both energy rules in the shared loop: run file, validation split, gradient alignment
    per layer (eqprop's against its own equilibrium gradient), reproducible under a seed."""
    from neuro_grlu.data import load_idx_dir
    from neuro_grlu.config import load_model
    from neuro_grlu.io import read_run
    from neuro_grlu.train import train

    data = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    overrides = ["network.hidden=[32]", "training.epochs=2", "data.validation=100", "training.alignment_batches=2"]
    config = load_model(f"{rule}-mnist", overrides)
    a = train(config, data, out=str(tmp_path / "a.h5"), progress=False, log=lambda s: None)
    b = train(config, data, progress=False, log=lambda s: None)
    assert [r["validation_accuracy"] for r in a.history] == [r["validation_accuracy"] for r in b.history]
    assert a.history[-1]["validation_accuracy"] > 0.5 and a.test_accuracy > 0.5  # chance 0.1
    run = read_run(tmp_path / "a.h5")
    deg = run.arrays["alignment_deg"]
    assert deg.shape == (3, 2) and np.isfinite(deg).all() and (deg[-1] < 45).all(), deg
