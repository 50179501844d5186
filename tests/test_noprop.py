"""NoProp-DT: the noise schedule and its posterior, backprop inside a block, that a block's
step touches (and reads) only that block, learning, and config errors."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.config import parse_config
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture, layer_norm
from neuro_grlu.rules.noprop import (NoProp, NoPropParams, alpha_bar_schedule, loss_weights,
                                     posterior_coefficients, snr)

from _synthetic import blobs, learner, train_epochs


def _rule(hidden=(12, 9), n_in=7, n_out=4, **kw):
    kw.setdefault("blocks", 5)
    kw.setdefault("z_width", 6)
    rule = NoProp(NoPropParams(**kw), Architecture(n_in=n_in, hidden=hidden, n_out=n_out), batch_size=8)
    return rule, rule.init_model(np.random.default_rng(0))


def _state(rule, net, rng):
    """The initial learner state drawing its noise from ``rng``."""
    return rule.init(net, init_rng=np.random.default_rng(0), noise_rng=rng)


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_noise_schedule_runs_from_noise_to_label(kind):
    T = 10
    abar = alpha_bar_schedule(kind, T, 0.999)
    assert abar.shape == (T + 1,) and abar[0] == 0.0
    assert np.all(np.diff(abar) > 0) and abar[-1] <= 0.999 and abar[-2] > 0.5
    assert np.all(np.diff(snr(abar)) > 0) and np.all(loss_weights(abar, 0.1) > 0)
    if kind == "cosine":  # cos²(π/2 (1 − t/T + s)/(1 + s)) normalised to 1 at t = T, capped
        s = 0.008
        f = lambda t: np.cos(0.5 * np.pi * (1 - t / T + s) / (1 + s)) ** 2  # noqa: E731
        np.testing.assert_allclose(abar[1:-1], f(np.arange(1, T)) / f(T), rtol=1e-12)
        assert abar[-1] == 0.999
    else:
        np.testing.assert_allclose(abar, 0.999 * np.arange(T + 1) / T)
    np.testing.assert_allclose(loss_weights(abar, 0.1), 0.5 * T * 0.1 * np.diff(snr(abar)))


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_posterior_coefficients_are_consistent_with_the_marginals(kind):
    abar = alpha_bar_schedule(kind, 6, 0.99)
    a, b, c = posterior_coefficients(abar)
    # exact: mean and variance of z_t when z_{t-1} ~ q(z_{t-1}|y) and z_t ~ N(a u + b z_{t-1}, c)
    np.testing.assert_allclose(a + b * np.sqrt(abar[:-1]), np.sqrt(abar[1:]), rtol=1e-12)
    np.testing.assert_allclose(b**2 * (1 - abar[:-1]) + c, 1 - abar[1:], rtol=1e-12)
    np.testing.assert_allclose([a[0], b[0], c[0]], [np.sqrt(abar[1]), 0.0, 1 - abar[1]], atol=1e-15)
    # statistical: regress z_t on z_{t-1} under the noising chain z_{t-1} = √α_t z_t + √(1−α_t) ε
    rng = np.random.default_rng(0)
    n, u = 200_000, 1.0
    for t in (2, 4):
        alpha = abar[t - 1] / abar[t]
        z_t = np.sqrt(abar[t]) * u + np.sqrt(1 - abar[t]) * rng.standard_normal(n)
        z_prev = np.sqrt(alpha) * z_t + np.sqrt(1 - alpha) * rng.standard_normal(n)
        assert abs(z_prev.mean() - np.sqrt(abar[t - 1])) < 0.01 and abs(z_prev.var() - (1 - abar[t - 1])) < 0.01
        slope, intercept = np.polyfit(z_prev, z_t, 1)
        resid = z_t - (slope * z_prev + intercept)
        assert abs(slope - b[t - 1]) < 0.01 and abs(intercept - a[t - 1] * u) < 0.01
        assert abs(resid.var() - c[t - 1]) < 0.01 * c[t - 1] + 1e-3


def test_noisy_labels_follow_q():
    rule, net = _rule(blocks=4)
    y = np.zeros(50_000, np.int64)
    z = rule.noisy_labels(net, np.arange(4), y, np.random.default_rng(1))
    for t in range(4):
        ab = rule.abar[t]
        np.testing.assert_allclose(z[t].mean(0), np.sqrt(ab) * net.E[0], atol=0.02)
        np.testing.assert_allclose(z[t].var(0), 1 - ab, rtol=0.03, atol=1e-3)


def test_backprop_inside_a_block_matches_finite_differences():
    rule, net = _rule(blocks=2)
    for k in net.params:
        net.params[k] = net.params[k].astype(np.float64)
        net.params[k] += 0.05 * np.random.default_rng(2).normal(size=net.params[k].shape)
    rng = np.random.default_rng(3)
    a = layer_norm(rng.normal(size=(5, 7)))
    y = rng.integers(0, 4, 5)
    z = rng.normal(size=(1, 5, 4))
    target = net.E[y].astype(np.float64)
    p = net.block_params(1)

    def loss():
        probs, _ = net.block_forward(p, net.image_features(p, a), z)
        return ((probs[0] @ net.E - target) ** 2).sum()

    hx = net.image_features(p, a)
    probs, cache = net.block_forward(p, hx, z)
    grads = net.block_backward(p, a, hx, z, probs, cache, 2 * (probs @ net.E - target[None]))
    for name in ("Wx", "bz", "W1", "Wo", "bo"):
        arr = p[name][0]
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            arr[idx] += 1e-6
            up = loss()
            arr[idx] -= 2e-6
            fd[idx] = (up - loss()) / 2e-6
            arr[idx] += 1e-6
        np.testing.assert_allclose(grads[name][0], fd, rtol=1e-5, atol=1e-8)


def _snapshot(net):
    return {k: v.copy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("block", [0, 2, 4])
def test_a_block_step_changes_only_that_block(block):
    rule, net = _rule()
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 7)).astype(np.float32), rng.integers(0, 4, 8)
    before = _snapshot(net)
    rule.block_step(net, _state(rule, net, rng), slice(block, block + 1), layer_norm(x), y, 0.01)
    after = net.state_dict()
    for k in before:
        if k in net.params:
            others = [t for t in range(5) if t != block]
            np.testing.assert_array_equal(before[k][others], after[k][others])
            assert not np.array_equal(before[k][block], after[k][block]), k
        else:  # classifier, embeddings, schedule
            np.testing.assert_array_equal(before[k], after[k])


def test_a_blocks_update_reads_no_other_block_and_equals_training_blocks_one_by_one():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 7)).astype(np.float32), rng.integers(0, 4, 8)
    rule, net = _rule()
    rule.block_step(net, _state(rule, net, np.random.default_rng(6)), slice(None), layer_norm(x), y, 0.01)
    # block 2 alone, in a network whose other blocks hold garbage: the same new weights
    rule2, net2 = _rule()
    for k, v in net2.params.items():
        v[[0, 1, 3, 4]] = np.random.default_rng(7).normal(size=v[[0, 1, 3, 4]].shape)
    draws = np.random.default_rng(6)
    state2 = _state(rule2, net2, draws)
    for t in range(5):  # the same noise, drawn block by block
        (rule2.block_step(net2, state2, slice(t, t + 1), layer_norm(x), y, 0.01) if t == 2
         else rule2.noisy_labels(net2, np.array([t]), y, draws))
    for k in net.params:
        np.testing.assert_allclose(net.params[k][2], net2.params[k][2], rtol=1e-5, atol=1e-7)


def test_noprop_learns_a_synthetic_problem():
    x, y = blobs()
    rule = NoProp(NoPropParams(blocks=4, z_width=16, lr_max=0.003), Architecture(n_in=40, hidden=(32,), n_out=10),
                  batch_size=32)
    net, state = learner(rule)
    before = net.accuracy(x[2500:], y[2500:])
    rewards = train_epochs(rule, net, state, x, y, 2)
    after = net.accuracy(x[2500:], y[2500:])
    assert after > 0.85 and after > before + 0.5, (before, after)
    assert np.mean(rewards[-1]) > np.mean(rewards[0])
    assert all(np.isfinite(v).all() for v in net.state_dict().values())
    assert rule.forward_passes_per_example == 4 and rule.backward_passes_per_example == 4
    net.inference = "sample"
    assert net.accuracy(x[2500:], y[2500:]) > 0.8


@pytest.mark.parametrize("kw,match", [
    (dict(blocks=0), "blocks"),
    (dict(alpha_bar_max=1.0), "alpha_bar_max"),
    (dict(noise_schedule="quadratic"), "noise_schedule"),
    (dict(eta=0.0), "eta"),
    (dict(lr_max=0.001, lr_min=0.01), "lr_min"),
])
def test_bad_params_are_one_line_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as info:
        NoPropParams(**kw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("network,rule,match", [
    ({"hidden": [10]}, {"alpha_bar_max": 0.5}, "alpha_bar_max"),
    ({"hidden": [10], "skip": "readout"}, {}, "skip"),
    ({"hidden": [10]}, {"T": 3}, "unknown key 'T'"),
])
def test_bad_model_definitions_are_one_line_config_errors(network, rule, match):
    with pytest.raises(ConfigError, match=match) as info:
        cfg = parse_config({"network": network, "rule": {"name": "noprop", **rule}})
        cfg.make_rule(cfg.architecture())
    assert "\n" not in str(info.value)


def _shifted(image, dy, dx):
    """Reference: `image` (side, side) moved down by dy and right by dx, zero fill."""
    side = image.shape[0]
    out = np.zeros_like(image)
    ys, xs = slice(max(dy, 0), side + min(dy, 0)), slice(max(dx, 0), side + min(dx, 0))
    out[ys, xs] = image[max(-dy, 0): side - max(dy, 0), max(-dx, 0): side - max(dx, 0)]
    return out


def test_shift_offsets_are_uniform_and_images_move_exactly():
    """Every image is a zero-filled translation of itself by one of the (2k+1)² offsets, drawn
    uniformly (chi-square over 4000 images) and independently per image."""
    from neuro_grlu.rules._augment import random_shift

    rng, k, side, n = np.random.default_rng(11), 2, 7, 4000
    x = rng.uniform(0.5, 1.0, (n, side * side)).astype(np.float32)  # no zero pixel: offsets are unique
    out = random_shift(x, rng, k).reshape(n, side, side)
    offsets = [(dy, dx) for dy in range(-k, k + 1) for dx in range(-k, k + 1)]
    counts = np.zeros(len(offsets))
    for i in range(n):
        image = x[i].reshape(side, side)
        match = [j for j, (dy, dx) in enumerate(offsets) if np.array_equal(out[i], _shifted(image, dy, dx))]
        assert len(match) == 1, i
        counts[match[0]] += 1
    expected = n / len(offsets)
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 52.6  # 99.9 % quantile of chi-square with 24 degrees of freedom
    assert counts.min() > 0


def test_shift_augmentation_moves_whole_images_with_zero_fill():
    from neuro_grlu.rules._augment import random_shift

    rng = np.random.default_rng(8)
    img = np.zeros((3, 6, 6), np.float32)
    img[:, 2:4, 2:4] = 1.0
    out = random_shift(img.reshape(3, 36), rng, 2).reshape(3, 6, 6)
    assert out.shape == (3, 6, 6) and np.all(out.sum((1, 2)) == 4)  # the blob stays inside the frame
    for o in out:  # the same blob, translated by at most 2 pixels
        r, c = np.argwhere(o == 1).min(0)
        assert abs(r - 2) <= 2 and abs(c - 2) <= 2
        np.testing.assert_array_equal(o[r : r + 2, c : c + 2], 1.0)
    flat = img.reshape(3, 36)
    state = rng.bit_generator.state
    same = random_shift(flat, rng, 0)  # no shift: an equal copy, and no random numbers drawn
    assert same is not flat and not np.shares_memory(same, flat) and rng.bit_generator.state == state
    np.testing.assert_array_equal(same, flat)
    same[0, 0] = 9.0
    assert flat[0, 0] == 0.0
    with pytest.raises(ConfigError, match="square"):
        NoProp(NoPropParams(shift_pixels=1), Architecture(n_in=40, hidden=(8,), n_out=3))
