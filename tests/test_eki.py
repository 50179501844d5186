"""Ensemble Kalman inversion: the ensemble-space update equals the Kalman formula, converges to
the least-squares solution of a linear problem (within the ensemble's span), the batched
ensemble forward pass, learning, the memory formula, and config errors."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.config import parse_config
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture
from neuro_grlu.rules.eki import (EKIParams, Ensemble, EnsembleKalmanInversion, apply_ensemble_update,
                                  eki_coefficients, ensemble_bytes)

from neuro_grlu.rules import train_chunk

from _synthetic import blobs, learner


def _eki_run(theta, A, y, noise_var, step, iters):
    errors = []
    for _ in range(iters):
        apply_ensemble_update([theta], eki_coefficients(theta @ A.T, y, noise_var, step))
        errors.append(theta.mean(0))
    return np.array(errors)


def test_ensemble_space_update_is_the_kalman_update():
    rng = np.random.default_rng(0)
    J, P, m = 7, 5, 9
    theta = rng.normal(size=(J, P))
    G = np.tanh(theta @ rng.normal(size=(P, m)))  # any forward map
    y = rng.normal(size=m)
    gamma, h = 0.3, 2.0
    tc, gc = theta - theta.mean(0), G - G.mean(0)
    c_tg, c_gg = tc.T @ gc / J, gc.T @ gc / J
    expected = theta + (c_tg @ np.linalg.solve(c_gg + gamma / h * np.eye(m), (y - G).T)).T
    new = theta.copy()
    apply_ensemble_update([new], eki_coefficients(G, y, gamma, h))
    np.testing.assert_allclose(new, expected, rtol=1e-6, atol=1e-6)


def test_eki_converges_to_the_least_squares_solution():
    rng = np.random.default_rng(1)
    P, m, J = 5, 20, 30
    A, y = rng.normal(size=(m, P)), rng.normal(size=m)
    ls = np.linalg.lstsq(A, y, rcond=None)[0]
    # unit step: slow (the ensemble collapses as the misfit is fitted) but steady convergence
    means = _eki_run(rng.normal(size=(J, P)) * 2, A, y, 1.0, 1.0, 400)
    err = np.linalg.norm(means - ls, axis=1) / np.linalg.norm(ls)
    assert err[-1] < 0.015 and err[-1] < err[9] / 3 and np.all(np.diff(err[10:]) <= 1e-12)
    # large step (Γ/h → 0): the first step lands on the least-squares solution
    means = _eki_run(rng.normal(size=(J, P)) * 2, A, y, 1.0, 1e6, 3)
    np.testing.assert_allclose(means[-1], ls, rtol=1e-4, atol=1e-6)


def test_eki_stays_in_the_initial_affine_span_and_solves_least_squares_there():
    rng = np.random.default_rng(2)
    P, m, J = 12, 30, 4  # J - 1 = 3 directions only
    A, y = rng.normal(size=(m, P)), rng.normal(size=m)
    theta0 = rng.normal(size=(J, P))
    base, dirs = theta0.mean(0), (theta0 - theta0.mean(0)).T  # (P, J)
    theta = theta0.copy()
    means = _eki_run(theta, A, y, 1.0, 1e6, 5)
    coef = np.linalg.lstsq(dirs, (theta - base).T, rcond=None)[0]
    np.testing.assert_allclose(dirs @ coef, (theta - base).T, atol=1e-8)  # inside the span
    c = np.linalg.lstsq(A @ dirs, y - A @ base, rcond=None)[0]
    np.testing.assert_allclose(means[-1], base + dirs @ c, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("arch_kw", [dict(hidden=(6,)), dict(hidden=(6, 5), skip="readout"),
                                     dict(hidden=(8, 6), activation="topk", k=0.5)])
def test_ensemble_forward_is_every_members_forward(arch_kw):
    arch = Architecture(n_in=7, n_out=3, **arch_kw)
    ens = Ensemble.init(arch, 5, 0.5, np.random.default_rng(3))
    x = np.random.default_rng(4).normal(size=(4, 7)).astype(np.float32)
    logits = ens.logits(x)
    from neuro_grlu.network import Network

    for j in range(5):
        member = Network(arch, [w[j] for w in ens.W], [v[j] for v in ens.b])
        np.testing.assert_allclose(logits[j], member.forward(x), rtol=1e-4, atol=1e-5)
    assert ens.n_params == sum(w[0].size + v[0].size for w, v in zip(ens.W, ens.b))
    assert ensemble_bytes(ens.n_params, 5, 4, sum(arch.hidden), 3) > sum(t.nbytes for t in ens.tensors())


@pytest.mark.parametrize("param_noise,floor", [(0.0, 0.4), (0.2, 0.9)])
def test_eki_learns_a_synthetic_problem(param_noise, floor):
    """Pure EKI is confined to the 59-dimensional span of its 60 members (P = 826 here) and
    stays well below what the network can do; the random walk lifts that limit."""
    x, y = blobs()
    arch = Architecture(n_in=40, hidden=(16,), n_out=10)
    rule = EnsembleKalmanInversion(EKIParams(ensemble=60, lr_max=1.0, noise_var=0.1, init_spread=0.5,
                                             param_noise=param_noise), arch, batch_size=50)
    ens, state = learner(rule)
    before = ens.accuracy(x[2500:], y[2500:])
    rewards = [train_chunk(rule, ens, state, x[s : s + 250], y[s : s + 250], rule.hyper(0, 1))[1]
               for s in range(0, 2500, 250)]
    after = ens.accuracy(x[2500:], y[2500:])
    assert after > floor and after > before + 0.3, (before, after)
    assert np.mean(rewards[-1]) > np.mean(rewards[0])
    state = ens.state_dict()
    assert all(np.isfinite(v).all() for v in state.values()) and state["W0"].shape == (16, 40)
    assert rule.forward_passes_per_example == 60 and rule.backward_passes_per_example == 0


@pytest.mark.parametrize("kw,match", [
    (dict(ensemble=1), "ensemble"),
    (dict(noise_var=0.0), "noise_var"),
    (dict(init_spread=-1.0), "init_spread"),
    (dict(lr_max=1.0, lr_min=2.0), "lr_min"),
    (dict(schedule="exp"), "schedule"),
])
def test_bad_params_are_one_line_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as info:
        EKIParams(**kw)
    assert "\n" not in str(info.value)


def test_bad_model_definition_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="ensemble") as info:
        parse_config({"network": {"hidden": [8]}, "rule": {"name": "eki", "ensemble": 0.5}})
    assert "\n" not in str(info.value)
