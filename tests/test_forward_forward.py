"""Forward-Forward: goodness, length normalisation, the local loss and its gradient, that a
layer's step touches only that layer, negative labels, learning, and config errors."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.config import parse_config
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture
from neuro_grlu.rules import get_rule
from neuro_grlu.rules.forward_forward import (FFParams, ForwardForward, ff_loss_and_grad, goodness,
                                              label_matrix, rms_normalise)

from neuro_grlu.rules import train_chunk

from _synthetic import blobs, learner, train_epochs


def _rule(hidden=(12, 10, 8), n_in=7, n_out=4, **kw):
    arch = Architecture(n_in=n_in, hidden=hidden, n_out=n_out)
    kw.setdefault("goodness_from", 1)
    rule = ForwardForward(FFParams(**kw), arch, batch_size=8)
    return rule, rule.init_model(np.random.default_rng(0))


def _state(rule, net, seed=0):
    return rule.init(net, init_rng=np.random.default_rng(0), noise_rng=np.random.default_rng(seed))


def test_goodness_is_the_sum_of_squared_activities():
    h = np.array([[1.0, 2.0, 0.0], [0.5, 0.0, 3.0]], np.float32)
    np.testing.assert_allclose(goodness(h), [5.0, 9.25])


def test_layer_inputs_are_length_normalised_so_goodness_cannot_pass_on():
    rng = np.random.default_rng(1)
    h = np.maximum(rng.normal(size=(5, 30)), 0).astype(np.float32) * 7
    a = rms_normalise(h)
    np.testing.assert_allclose(np.sqrt((a * a).mean(axis=1)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(a, h / np.sqrt((h * h).mean(axis=1, keepdims=True)), rtol=1e-5)
    assert np.all(rms_normalise(np.zeros((2, 4), np.float32)) == 0)
    # a layer sees only the direction of its input: any goodness (length) gives the same output
    _, net = _rule(hidden=(30, 6), n_in=7)
    for scale in (1e-3, 1.0, 50.0):
        np.testing.assert_allclose(net.layer_pre(1, scale * h[:, :30]), net.layer_pre(1, h[:, :30]), rtol=1e-4, atol=1e-5)


def test_first_layer_shares_the_image_projection_across_labels():
    rule, net = _rule()
    rng = np.random.default_rng(2)
    x = rng.random((6, 7)).astype(np.float32)
    for labels in (np.array([0, 1, 2, 3, 0, 1]), None):
        e = label_matrix(labels, 6, 4, net.label_scale)
        fast, _ = net.first_layer_pre(x @ net.W[0][:, :7].T, (x * x).sum(1), e)
        np.testing.assert_allclose(fast, net.layer_pre(0, np.concatenate([x, e], 1)), rtol=1e-5, atol=1e-6)
    # goodness per label = running the network with that label embedded
    g = net.goodness_per_label(x)
    for c in range(4):
        hs = net.hidden_states(x, np.full(6, c))
        np.testing.assert_allclose(g[:, c], sum(goodness(h) for h in hs), rtol=1e-4)


def test_local_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 5))
    W = rng.normal(size=(4, 5)) * 0.7
    pos = np.array([1, 1, 1, 0, 0, 0], bool)
    theta, tau = 0.8, 0.7

    def loss(w):
        l, _ = ff_loss_and_grad(np.maximum(a @ w.T, 0), pos, theta, tau)
        return l.sum() / 3

    _, dz = ff_loss_and_grad(np.maximum(a @ W.T, 0), pos, theta, tau)
    grad = dz.T @ a
    fd = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        W[idx] += 1e-6
        up = loss(W)
        W[idx] -= 2e-6
        fd[idx] = (up - loss(W)) / 2e-6
        W[idx] += 1e-6
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    # descent raises the goodness of positive rows and lowers it for negative rows
    h = np.maximum(a @ W.T, 0)
    assert np.all((dz * h).sum(1)[pos] <= 0) and np.all((dz * h).sum(1)[~pos] >= 0)


def _snapshot(net):
    return {k: v.copy() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_a_layer_step_changes_only_that_layers_weights(layer):
    rule, net = _rule()
    rng = np.random.default_rng(4)
    x = rng.random((8, 7)).astype(np.float32)
    y = rng.integers(0, 4, 8)
    pos = np.r_[np.ones(8, bool), np.zeros(8, bool)]
    before = _snapshot(net)
    if layer == 0:
        e = label_matrix(np.r_[y, (y + 1) % 4], 16, 4, net.label_scale)
        rule.update_first_layer(net, _state(rule, net), x, x @ net.W[0][:, :7].T, (x * x).sum(1), e, pos, 0.01)
    else:
        rule.update_layer(net, _state(rule, net), layer, rng.random((16, net.W[layer].shape[1])).astype(np.float32), pos, 0.01)
    after = net.state_dict()
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed == {f"W{layer}", f"b{layer}"}


def test_a_layers_update_does_not_depend_on_the_layers_above():
    """With random negatives, layer l's new weights are the same whatever the layers above hold."""
    x, y = blobs(n=64, d=7, k=4, nonnegative=True)
    results = []
    for scramble in (False, True):
        rule, net = _rule(negatives="random")
        if scramble:
            net.W[2] = np.random.default_rng(9).normal(size=net.W[2].shape).astype(np.float32)
            net.b[2] += 3.0
        train_chunk(rule, net, _state(rule, net, 5), x, y, {"lr": 0.01})
        results.append((net.W[0].copy(), net.W[1].copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_negative_labels_are_wrong_and_follow_the_prediction():
    rule, _ = _rule()
    rng = np.random.default_rng(6)
    y = np.zeros(20000, np.int64)
    probs = np.tile([0.5, 0.3, 0.15, 0.05], (20000, 1))
    neg = rule.negative_labels(probs, y, rng)
    assert np.all(neg != y)
    np.testing.assert_allclose(np.bincount(neg, minlength=4)[1:] / 20000, [0.6, 0.3, 0.1], atol=0.015)
    rule_r, _ = _rule(negatives="random")
    neg = rule_r.negative_labels(probs, y, rng)
    assert np.all(neg != y)
    np.testing.assert_allclose(np.bincount(neg, minlength=4)[1:] / 20000, 1 / 3, atol=0.015)


@pytest.mark.parametrize("predict_with", ["goodness", "softmax"])
def test_ff_learns_a_synthetic_problem(predict_with):
    x, y = blobs(nonnegative=True)
    arch = Architecture(n_in=40, hidden=(64, 64), n_out=10)
    rule = get_rule("ff")(FFParams(optimizer="adam", lr_max=0.01, temperature=0.15, goodness_from=1,
                                   predict_with=predict_with, label_scale=10.0), arch, batch_size=50)
    net, state = learner(rule)
    before = net.accuracy(x[2500:], y[2500:])
    rewards = train_epochs(rule, net, state, x, y, 3)
    after = net.accuracy(x[2500:], y[2500:])
    assert after > 0.85 and after > before + 0.5, (before, after)
    assert np.mean(rewards[-1]) > np.mean(rewards[0])  # log p(y) of the readout rises
    assert all(np.isfinite(v).all() for v in net.state_dict().values())
    assert rule.forward_passes_per_example == 3 and rule.backward_passes_per_example == 0


@pytest.mark.parametrize("kw,match", [
    (dict(threshold=0.0), "threshold"),
    (dict(temperature=-1.0), "temperature"),
    (dict(negatives="hard"), "negatives"),
    (dict(lr_max=0.1, lr_min=0.2), "lr_min"),
    (dict(goodness_from=0), "goodness_from"),
])
def test_bad_params_are_one_line_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as info:
        FFParams(**kw)
    assert "\n" not in str(info.value)


def test_goodness_from_is_clipped_to_the_last_layer():
    rule, net = _rule(hidden=(12,), goodness_from=2)
    assert net.goodness_from == 0 and net.Wr.shape == (4, 12)
    rule, net = _rule(hidden=(12, 10, 8), goodness_from=2)
    assert net.goodness_from == 1 and net.Wr.shape == (4, 18)


@pytest.mark.parametrize("network,rule,match", [
    ({"hidden": [10], "skip": "readout"}, {"goodness_from": 1}, "skip"),
    ({"hidden": [10], "activation": "topk"}, {"goodness_from": 1}, "activation"),
    ({"hidden": [10]}, {"goodness_from": 1, "pairs": 3}, "unknown key 'pairs'"),
])
def test_bad_model_definitions_are_one_line_config_errors(network, rule, match):
    with pytest.raises(ConfigError, match=match) as info:
        cfg = parse_config({"network": network, "rule": {"name": "ff", **rule}})
        cfg.make_rule(cfg.architecture())
    assert "\n" not in str(info.value)
