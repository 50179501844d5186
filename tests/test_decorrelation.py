"""Decorrelation of the first layer's inputs (rule.decorrelate): it decorrelates, it is what the
rules train on when on, and it changes nothing when off."""

import numpy as np
import pytest

from neuro_grlu.errors import ConfigError
from neuro_grlu.params import from_dict
from neuro_grlu.network import Architecture, Network, layer_norm
from neuro_grlu.rules import decorrelation, get_rule
from neuro_grlu.rules.loop import init_learner, train_chunk

RULES = {
    "grlu": dict(pairs=2, lr_max=0.1, sigma_max=0.1),
    "backprop": dict(lr_max=0.005),
    "fa": dict(lr_max=0.005),
    "dfa": dict(lr_max=0.005),
}


def correlated_data(n=4000, d=20, seed=0):
    """Rows with strongly correlated features: a few shared factors plus a little private noise."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3)) @ rng.normal(size=(3, d))
    x = (factors + 0.3 * rng.normal(size=(n, d)) + rng.normal(size=d)).astype(np.float32)
    y = (factors[:, 0] > 0).astype(np.int64) + 2 * (factors[:, 1] > 0)
    return x, y


def make_rule(name, **extra):
    arch = Architecture(n_in=20, hidden=(16,), n_out=4)
    cls = get_rule(name)
    return cls(from_dict(cls.Params, {**RULES[name], **extra}, "rule"), arch, batch_size=1)


def test_antihebbian_rule_shrinks_the_off_diagonal_covariance():
    x, _ = correlated_data()
    net = Network.init(Architecture(n_in=20, hidden=(8,), n_out=4), np.random.default_rng(0))
    decorrelation.init(net)
    before = decorrelation.off_diagonal_covariance(decorrelation.transform(net, x))
    variances_before = np.var(decorrelation.transform(net, x), axis=0)
    for _ in range(5):
        for s in range(0, len(x), 100):
            decorrelation.update(net, decorrelation.transform(net, x[s : s + 100]), 1e-4)
    xt = decorrelation.transform(net, x)
    after = decorrelation.off_diagonal_covariance(xt)
    assert after < 0.01 * before, (before, after)
    # the rule removes correlations; it does not blow up or kill the inputs
    assert np.all(np.var(xt, axis=0) > 0.05 * variances_before.min())
    assert np.isfinite(net.R).all()


def test_update_is_the_anti_hebbian_rule():
    rng = np.random.default_rng(1)
    net = Network.init(Architecture(n_in=6, hidden=(4,), n_out=3), rng)
    net.R = (np.eye(6) + 0.1 * rng.normal(size=(6, 6))).astype(np.float32)
    xt = rng.normal(size=(5, 6)).astype(np.float32)
    expected = net.R.astype(np.float64).copy()
    for row in xt.astype(np.float64):
        c = np.outer(row, row)
        np.fill_diagonal(c, 0.0)
        expected -= 0.01 * c @ net.R.astype(np.float64)  # all examples of the chunk see the same R
    decorrelation.update(net, xt, 0.01)
    np.testing.assert_allclose(net.R, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(RULES))
def test_off_changes_nothing(name):
    """decorrelate = "none": no R, and the loop's chunk is the rule's own step on the raw input."""
    x, y = correlated_data(n=40)
    rule = make_rule(name)
    net, state = init_learner(rule, np.random.default_rng(3), np.random.default_rng(4))
    assert net.R is None and "R0" not in net.state_dict()
    twin, twin_state = init_learner(rule, np.random.default_rng(3), np.random.default_rng(4))
    hyper = {"lr": 0.01, "sigma": 0.1}
    for s in range(0, 40, rule.chunk_size):
        state, _ = train_chunk(rule, net, state, x[s : s + rule.chunk_size], y[s : s + rule.chunk_size], hyper)
        twin_state, _ = rule.step_chunk(twin, twin_state, x[s : s + rule.chunk_size], y[s : s + rule.chunk_size], hyper)
    state.close(), twin_state.close()
    for a, b in zip(net.W + net.b, twin.W + twin.b):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(RULES))
def test_on_the_rule_trains_on_the_decorrelated_input(name):
    """decorrelate = "antihebbian": the weights change exactly as the rule's own equations say
    for the input R·LN(x), and R then takes its anti-Hebbian step on that input."""
    x, y = correlated_data(n=40)
    off = make_rule(name)
    # one block of the rule's own chunk size: the same chunks (and GRLU noise blocks) as ``off``
    on = make_rule(name, decorrelate="antihebbian", decorrelate_lr=1e-4, decorrelate_block=off.chunk_size)
    assert on.chunk_size == off.chunk_size
    net, state = init_learner(on, np.random.default_rng(3), np.random.default_rng(4))
    assert net.R is not None and net.R.shape == (20, 20)
    net.R += np.float32(0.05) * np.random.default_rng(5).normal(size=(20, 20)).astype(np.float32)
    twin, twin_state = init_learner(off, np.random.default_rng(3), np.random.default_rng(4))
    hyper = {"lr": 0.01, "sigma": 0.1}
    n = min(on.chunk_size, 40)
    xt = (layer_norm(x[:n]) @ net.R.T).astype(np.float32)
    R_expected = net.R.copy()
    decorrelation.update(Network(net.arch, [], [], R_expected), xt, 1e-4)
    state, _ = train_chunk(on, net, state, x[:n], y[:n], hyper)
    twin_state, _ = off.step_chunk(twin, twin_state, xt, y[:n], hyper)
    state.close(), twin_state.close()
    for a, b in zip(net.W + net.b, twin.W + twin.b):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(net.R, R_expected)
    # evaluation reads through R too, and the run-file weights carry it
    now = (layer_norm(x[:5]) @ net.R.T).astype(np.float32)
    np.testing.assert_array_equal(net.forward(x[:5]), Network(net.arch, net.W, net.b).forward(now))
    restored = Network.from_state_dict(net.arch, net.state_dict())
    np.testing.assert_array_equal(restored.R, net.R)


@pytest.mark.parametrize("name,extra", [("grlu", {}), ("grlu", {"pairs": 64}), ("backprop", {}), ("dfa", {})])
def test_R_steps_once_per_block_whatever_the_rules_chunk(name, extra):
    """R's trajectory is set by decorrelate_lr and decorrelate_block alone: after 100 examples fed
    through the loop in the rule's own chunks (984 or 200 for GRLU with 2 or 64 pairs, 256 for
    backprop/DFA: whole blocks) it equals 13 steps on blocks of 8 (the last one of 4 examples),
    and the rule trained on exactly those blocks' x̃."""
    x, y = correlated_data(n=100)
    rule = make_rule(name, decorrelate="antihebbian", decorrelate_lr=3e-3, decorrelate_block=8, **extra)
    off = make_rule(name, **extra)
    assert rule.chunk_size % 8 == 0 and rule.chunk_size >= 100 and off.chunk_size >= 100
    net, state = init_learner(rule, np.random.default_rng(3), np.random.default_rng(4))
    twin, twin_state = init_learner(off, np.random.default_rng(3), np.random.default_rng(4))
    reference = Network(net.arch, [], [], net.R.copy())
    blocks = []
    for s in range(0, 100, 8):
        blocks.append(decorrelation.transform(reference, x[s : s + 8]))
        decorrelation.update(reference, blocks[-1], 3e-3)
    assert len(blocks) == 13 and not np.allclose(reference.R, net.R, atol=1e-3)
    hyper = {"lr": 0.01, "sigma": 0.1}
    state, _ = train_chunk(rule, net, state, x, y, hyper)
    np.testing.assert_array_equal(net.R, reference.R)
    if name != "grlu":  # GRLU's NumPy noise blocks follow its chunk size (984 against 985 here)
        twin_state, _ = off.step_chunk(twin, twin_state, np.concatenate(blocks), y, hyper)
        for a, b in zip(net.W + net.b, twin.W + twin.b):
            np.testing.assert_array_equal(a, b)
    state.close(), twin_state.close()


def test_chunk_size_holds_whole_blocks_and_batches():
    arch = Architecture(n_in=784, hidden=(256,), n_out=10)
    grlu = get_rule("grlu")
    for pairs, natural in ((1, 985), (16, 61), (128, 7)):
        plain = grlu(from_dict(grlu.Params, {"pairs": pairs}, "rule"), arch)
        assert plain.chunk_size == natural  # unchanged without decorrelation
        for block, chunk in ((8, max(8, natural - natural % 8)), (natural, natural)):
            on = grlu(from_dict(grlu.Params, {"pairs": pairs, "decorrelate": "antihebbian",
                                              "decorrelate_block": block}, "rule"), arch)
            assert on.chunk_size == chunk
    bp = get_rule("backprop")
    on = bp(from_dict(bp.Params, {"decorrelate": "antihebbian", "decorrelate_block": 12}, "rule"), arch, batch_size=32)
    assert on.chunk_size == 192  # lcm(12, 32) = 96; 256 rounded down to a multiple of 96


@pytest.mark.parametrize("key,value,allowed", [
    ("decorrelate", "whiten", "'none', 'antihebbian'"),
    ("noise_at", "hidden", "'output', 'input'"),
])
def test_bad_values_name_the_allowed_ones(key, value, allowed):
    with pytest.raises(ConfigError, match=allowed):
        make_rule("grlu", **{key: value})


def test_alignment_compares_update_and_gradient_on_the_decorrelated_input():
    """Backprop's update is its gradient: with a non-trivial R the measured alignment stays 0°,
    because the rule's update and the true gradient both see R·LN(x)."""
    from neuro_grlu.alignment import measure_alignment

    x, y = correlated_data(n=16)
    rule = make_rule("backprop", decorrelate="antihebbian")
    net, state = init_learner(rule, np.random.default_rng(3), np.random.default_rng(4))
    net.R += np.float32(0.3) * np.random.default_rng(5).normal(size=(20, 20)).astype(np.float32)
    _, cos = measure_alignment(rule, net, x, y, {"lr": 0.01, "sigma": 0.1}, np.random.default_rng(0), batch_size=4, state=state)
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def test_loading_weights_without_R0_keeps_the_decorrelation_matrix():
    arch = Architecture(n_in=5, hidden=(4,), n_out=3)
    net = Network.init(arch, np.random.default_rng(0))
    net.R = np.eye(5, dtype=np.float32) * 0.5
    other = Network.init(arch, np.random.default_rng(1))  # no R: its state has no R0
    net.load_state_dict(other.state_dict())
    np.testing.assert_array_equal(net.W[0], other.W[0])
    np.testing.assert_array_equal(net.R, np.eye(5, dtype=np.float32) * 0.5)
    saved = Network.init(arch, np.random.default_rng(2))
    saved.R = np.eye(5, dtype=np.float32) * 2.0
    net.load_state_dict(saved.state_dict())  # a saved R0 replaces it
    np.testing.assert_array_equal(net.R, saved.R)
