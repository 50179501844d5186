"""Backprop, feedback alignment and direct feedback alignment: exact against finite
differences, FA/DFA against their defining equations (an unvectorised reference), their
alignment with the true gradient after training, learning, and the alignment measurement."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.alignment import layer_cosines, measure_alignment
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture, Network, layer_norm, log_softmax_at
from neuro_grlu.rules import get_rule
from neuro_grlu.rules.backprop import BackpropParams, loss_gradient
from neuro_grlu.rules.grlu import GRLU, GRLUParams

from _synthetic import blobs, learner, train_epochs
from neuro_grlu.rules import train_chunk

ARCHS = [
    dict(hidden=(6,), activation="relu"),
    dict(hidden=(6, 5, 4), activation="relu", skip="readout"),
    dict(hidden=(6, 5), activation="relu"),
    dict(hidden=(8, 6), activation="topk", k=0.5),
]


def _net(arch_kw, seed=0, n_in=7, n_out=3, dtype=np.float64):
    arch = Architecture(n_in=n_in, n_out=n_out, **arch_kw)
    rng = np.random.default_rng(seed)
    net = Network.init(arch, rng)
    net.W = [w.astype(dtype) for w in net.W]
    net.b = [(rng.standard_normal(b.shape) * 0.1).astype(dtype) for b in net.b]
    return arch, net, rng


def _forward64(net, x):
    """Float64 forward pass (Network.forward casts to float32)."""
    arch, hidden, h = net.arch, [], x
    for layer in range(len(arch.hidden)):
        h = net.hidden_activation(layer, layer_norm(h) @ net.W[layer].T + net.b[layer])
        hidden.append(h)
    r = np.concatenate(hidden, -1) if arch.skip == "readout" else h
    return layer_norm(r) @ net.W[-1].T + net.b[-1]


@pytest.mark.parametrize("arch_kw", ARCHS)
def test_backprop_matches_finite_differences(arch_kw):
    arch, net, rng = _net(arch_kw)
    x, y = rng.standard_normal((4, 7)), rng.integers(0, 3, 4)
    grads = loss_gradient(net, x, y)

    def loss():
        return -log_softmax_at(_forward64(net, x), y).mean()

    h = 1e-6
    for layer in range(arch.n_layers):
        for params, grad in ((net.W[layer], grads[layer][0]), (net.b[layer], grads[layer][1])):
            fd = np.zeros_like(params)
            for idx in np.ndindex(params.shape):
                params[idx] += h
                up = loss()
                params[idx] -= 2 * h
                down = loss()
                params[idx] += h
                fd[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


def _reference_feedback_grads(net, x, y, feedback, matrices):
    """Unvectorised FA / DFA update for one example: loops over units, no matrix products."""
    arch = net.arch
    L = len(arch.hidden)
    # forward, unit by unit
    inputs, normed, hidden, slopes = [], [], [], []
    h = x
    for layer in range(L):
        a = (h - h.mean()) / (h.std() + 1e-8)
        z = np.array([sum(net.W[layer][j, i] * a[i] for i in range(len(a))) + net.b[layer][j] for j in range(arch.hidden[layer])])
        slope = (z > 0).astype(float)
        inputs.append(h), normed.append(a), slopes.append(slope)
        h = z * slope
        hidden.append(h)
    r = np.concatenate(hidden) if arch.skip == "readout" else h
    a = (r - r.mean()) / (r.std() + 1e-8)
    inputs.append(r), normed.append(a)
    logits = np.array([sum(net.W[L][j, i] * a[i] for i in range(len(a))) + net.b[L][j] for j in range(arch.n_out)])
    p = np.exp(logits - logits.max())
    p /= p.sum()
    e = p.copy()
    e[y] -= 1.0
    deltas = [None] * (L + 1)
    deltas[L] = e
    if feedback == "direct":
        for layer in range(L):
            D = matrices[layer]
            deltas[layer] = np.array([sum(e[k] * D[k, j] for k in range(arch.n_out)) * slopes[layer][j] for j in range(arch.hidden[layer])])
    else:
        for layer in range(L - 1, -1, -1):
            B = matrices[layer + 1]
            up = deltas[layer + 1]
            g_a = np.array([sum(up[k] * B[k, i] for k in range(len(up))) for i in range(B.shape[1])])
            # layer-norm backward, element by element (chain rule through mean and std)
            inp = inputs[layer + 1]
            n = len(inp)
            c = inp - inp.mean()
            sd = np.sqrt((c**2).mean())
            s = sd + 1e-8
            g_in = np.array([sum(g_a[i] * (((i == j) - 1 / n) / s - c[i] * c[j] / (n * sd * s * s)) for i in range(n)) for j in range(n)])
            deltas[layer] = g_in * slopes[layer]
    return [(np.outer(d, a), d) for d, a in zip(deltas, normed)]


@pytest.mark.parametrize("name,feedback", [("fa", "random"), ("dfa", "direct")])
def test_fa_and_dfa_follow_their_defining_equations(name, feedback):
    arch, net, rng = _net(dict(hidden=(6, 5), activation="relu"))
    rule = get_rule(name)(BackpropParams(lr_max=0.1), arch)
    state = rule.init(net, init_rng=rng, noise_rng=rng)
    state.feedback = [None if m is None else m.astype(np.float64) for m in state.feedback]
    x, y = rng.standard_normal((1, 7)), np.array([1])
    lr = 0.1
    update = rule.delta(net, state, x, y, {"lr": lr}, rng)
    ref = _reference_feedback_grads(net, x[0], 1, feedback, state.feedback)
    for (uw, ub), (rw, rb) in zip(update, ref):
        np.testing.assert_allclose(uw, -lr * rw, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ub, -lr * rb, rtol=1e-6, atol=1e-9)


def test_backprop_is_fa_with_transposed_weights():
    arch, net, rng = _net(dict(hidden=(6, 5)))
    fa = get_rule("fa")(BackpropParams(), arch)
    fa_state = fa.init(net, init_rng=rng, noise_rng=rng)
    fa_state.feedback = [None] + [w.copy() for w in net.W[1:]]
    x, y = rng.standard_normal((3, 7)), rng.integers(0, 3, 3)
    bp = get_rule("backprop")(BackpropParams(), arch)
    bp_update = bp.delta(net, bp.init(net, init_rng=rng, noise_rng=rng), x, y, {"lr": 1.0}, rng)
    for (a, b), (c, d) in zip(bp_update, fa.delta(net, fa_state, x, y, {"lr": 1.0}, rng)):
        np.testing.assert_allclose(a, c, rtol=1e-6)
        np.testing.assert_allclose(b, d, rtol=1e-6)


@pytest.mark.parametrize("name", ["backprop", "fa", "dfa"])
def test_rules_learn_and_fa_dfa_come_to_align_with_the_gradient(name):
    x, y = blobs()
    arch = Architecture(n_in=40, hidden=(32, 32), n_out=10)
    rule = get_rule(name)(BackpropParams(lr_max=0.01), arch, batch_size=1)
    net, state = learner(rule)
    hyper = rule.hyper(0, 1)
    probe_x, probe_y = x[:128], y[:128]
    before = net.accuracy(x[2500:], y[2500:])
    deg0, cos0 = measure_alignment(rule, net, probe_x, probe_y, hyper, None, 8, state)
    train_epochs(rule, net, state, x, y, 1)  # hyper = rule.hyper(0, 1), as above
    after = net.accuracy(x[2500:], y[2500:])
    assert after > 0.9 and after > before + 0.5
    deg, cos = measure_alignment(rule, net, probe_x, probe_y, hyper, None, 8, state)
    np.testing.assert_allclose(deg[-1], 0.0, atol=0.05)  # the output layer gets the true error
    if name == "backprop":
        np.testing.assert_allclose(deg, 0.0, atol=0.05)
    else:
        # The classic FA/DFA diagnostic: random feedback starts orthogonal to the gradient
        # (|cos| of random directions here ~0.05) and after 2500 steps every hidden layer's
        # update lies well within 90 degrees of it (5 seeds: min cosine 0.22, mean 0.27-0.47).
        assert (np.abs(cos0[:-1]) < 0.12).all(), cos0
        assert (cos[:-1] > 0.15).all() and (deg[:-1] < 82).all(), (cos, deg)


def test_grlu_alignment_is_measured_and_improves_with_pairs():
    x, y = blobs(n=200)
    arch = Architecture(n_in=40, hidden=(16,), n_out=10)
    net = Network.init(arch, np.random.default_rng(0))
    cos = []
    for pairs in (1, 32):
        rule = GRLU(GRLUParams(pairs=pairs, backend="numpy"), arch)
        _, c = measure_alignment(rule, net, x[:100], y[:100], {"lr": 0.1, "sigma": 0.01}, np.random.default_rng(3), 1)
        cos.append(c)
    assert (cos[0] > 0).all() and (cos[1] > cos[0] + 0.2).all(), cos


def test_layer_cosines():
    a = [(np.ones((2, 2)), np.ones(2))]
    np.testing.assert_allclose(layer_cosines(a, [(-np.ones((2, 2)), -np.ones(2))]), [1.0])
    np.testing.assert_allclose(layer_cosines(a, [(np.ones((2, 2)), np.ones(2))]), [-1.0])
    assert np.isnan(layer_cosines([(np.zeros((2, 2)), np.zeros(2))], a)).all()


def test_momentum_and_weight_decay_change_the_step():
    x, y = blobs(n=64)
    arch = Architecture(n_in=40, hidden=(8,), n_out=10)
    finals = []
    for kw in (dict(), dict(momentum=0.9), dict(weight_decay=0.01)):
        rule = get_rule("backprop")(BackpropParams(lr_max=0.01, **kw), arch, batch_size=8)
        net, state = learner(rule)
        train_chunk(rule, net, state, x, y, {"lr": 0.01})
        finals.append(net.W[0].copy())
    assert not np.allclose(finals[0], finals[1]) and not np.allclose(finals[0], finals[2])


@pytest.mark.parametrize("kw,match", [
    (dict(lr_max=-0.1), "lr_max"),
    (dict(lr_max=0.1, lr_min=0.2), "lr_min"),
    (dict(momentum=1.0), "momentum"),
    (dict(schedule="step"), "schedule"),
])
def test_bad_config_is_a_config_error(kw, match):
    with pytest.raises(ConfigError, match=match):
        BackpropParams(**kw)
