"""Hebbian plasticity (Oja, Sanger, three-factor) and the rm-hebbian rule."""

import numpy as np
import pytest

from neuro_grlu.config import load_model, parse_config
from neuro_grlu.errors import ConfigError
from neuro_grlu.hebbian_updates import RewardBaseline, oja_update, reward_modulated_hebbian_update, sanger_update
from neuro_grlu.network import Architecture, Network, layer_norm, log_softmax_at
from neuro_grlu.rules import get_rule
from neuro_grlu.rules.hebbian import (
    RMHebbian,
    RMHebbianParams,
    expected_readout_update,
    feature_forward,
    one_hot,
    policy_probs,
    readout_step,
    sample_actions,
)

from neuro_grlu.rules import train_chunk

from _synthetic import blobs as synthetic_blobs


def fresh_state(rule, net, seed):
    """The rule's initial learner state with noise stream ``default_rng(seed)``."""
    return rule.init(net, init_rng=np.random.default_rng(0), noise_rng=np.random.default_rng(seed))


def gaussian(eigenvalues, n, seed):
    """Zero-mean Gaussian samples with covariance V diag(eigenvalues) Vᵀ; returns (x, V) (V's columns in order)."""
    rng = np.random.default_rng(seed)
    d = len(eigenvalues)
    V, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = (rng.normal(size=(n, d)) * np.sqrt(eigenvalues)) @ V.T
    return x.astype(np.float32), V


def lr_schedule(step, steps, start, end):
    return start * (end / start) ** (step / steps)


# --------------------------------------------------------------------------- Oja and Sanger


@pytest.mark.parametrize("eigenvalues", [[3.0, 0.5], [4.0, 2.0, 1.0, 0.5, 0.25]], ids=["2d", "5d"])
def test_oja_converges_to_the_first_principal_component_with_unit_norm(eigenvalues):
    steps = 20000
    x, V = gaussian(eigenvalues, steps, seed=1)
    w = np.random.default_rng(2).normal(size=len(eigenvalues)).astype(np.float32) * 0.3
    for t in range(steps):  # one example per step
        w += oja_update(w, x[t], lr_schedule(t, steps, 0.02, 2e-4))
    cos = abs(w @ V[:, 0]) / np.linalg.norm(w)
    assert cos > 0.99, cos
    assert abs(np.linalg.norm(w) - 1.0) < 1e-2, np.linalg.norm(w)


def test_oja_batched_form_is_the_mean_of_single_updates():
    rng = np.random.default_rng(0)
    w = rng.normal(size=6).astype(np.float32)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    single = np.mean([oja_update(w, xi, 0.1) for xi in x], axis=0)
    np.testing.assert_allclose(oja_update(w, x, 0.1), single, rtol=1e-5, atol=1e-6)
    y = w @ x[0]
    np.testing.assert_allclose(oja_update(w, x[0], 0.1), 0.1 * y * (x[0] - y * w), rtol=1e-5)
    # k independent units: each row its own Oja update
    W = rng.normal(size=(3, 6)).astype(np.float32)
    np.testing.assert_allclose(oja_update(W, x, 0.1), np.stack([oja_update(r, x, 0.1) for r in W]), rtol=1e-5, atol=1e-6)
    assert oja_update(w, x, 0.1).dtype == np.float32


def test_sanger_finds_the_top_components_in_order():
    eigenvalues = [5.0, 3.0, 1.5, 0.6, 0.3, 0.1]
    k, B, steps = 3, 10, 6000
    x, V = gaussian(eigenvalues, steps * B, seed=3)
    W = np.random.default_rng(4).normal(size=(k, len(eigenvalues))).astype(np.float32) * 0.3
    for t in range(steps):
        W += sanger_update(W, x[t * B : (t + 1) * B], lr_schedule(t, steps, 0.02, 5e-4))
    cos = np.abs(np.sum(W / np.linalg.norm(W, axis=1, keepdims=True) * V[:, :k].T, axis=1))
    assert np.all(cos > 0.99), cos
    np.testing.assert_allclose(W @ W.T, np.eye(k), atol=3e-2)


@pytest.mark.parametrize("B", [1, 3, 40])
def test_sanger_update_matches_its_definition(B):
    rng = np.random.default_rng(B)
    W = rng.normal(size=(8, 12)).astype(np.float32)  # B=1, 3 take the cumulative-sum path, B=40 the matrix one
    x = rng.normal(size=(B, 12)).astype(np.float32)
    expect = np.zeros((8, 12))
    for xb in x.astype(np.float64):
        y = W.astype(np.float64) @ xb
        expect += np.outer(y, xb) - np.tril(np.outer(y, y)) @ W
    np.testing.assert_allclose(sanger_update(W, x, 0.05), 0.05 * expect / B, rtol=1e-4, atol=1e-4)
    if B == 1:
        np.testing.assert_allclose(sanger_update(W, x[0], 0.05), sanger_update(W, x, 0.05))


# --------------------------------------------------------------------------- three-factor rule


def test_three_factor_update_formula_and_no_update_without_prediction_error():
    rng = np.random.default_rng(0)
    W = np.zeros((3, 5), np.float32)
    pre = rng.random((4, 5)).astype(np.float32)
    post = one_hot(np.array([0, 2, 2, 1]), 3)
    reward = np.array([1.0, 0.0, 1.0, 0.0], np.float32)
    d = reward_modulated_hebbian_update(W, pre, post, reward, 0.25, lr=0.1)
    expect = sum(0.1 * (r - 0.25) * np.outer(q, p) for r, q, p in zip(reward, post, pre)) / 4
    np.testing.assert_allclose(d, expect, rtol=1e-6, atol=1e-7)
    # R = R̄: no reward prediction error, no change (per example and in a batch)
    assert not reward_modulated_hebbian_update(W, pre, post, 0.6, 0.6, lr=0.1).any()
    assert not reward_modulated_hebbian_update(W, pre, post, reward, reward, lr=0.1).any()
    step = readout_step(rng.normal(size=(3, 5)).astype(np.float32), np.zeros(3, np.float32), pre, np.zeros(4, int),
                        lr=0.1, temperature=1.0, baseline=0.5, rng=rng, reward_fn=lambda a, y: np.full(len(a), 0.5))
    assert not step.dW.any() and not step.db.any()


def test_readout_step_is_the_three_factor_rule_on_the_sampled_action():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 6)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    feats = rng.random((5, 6)).astype(np.float32)
    y = rng.integers(0, 4, 5)
    step = readout_step(W, b, feats, y, lr=0.2, temperature=2.0, baseline=0.3, rng=np.random.default_rng(9))
    pre = layer_norm(feats)
    np.testing.assert_allclose(step.pre, pre)
    np.testing.assert_allclose(step.logits, pre @ W.T + b, rtol=1e-6)
    np.testing.assert_array_equal(step.reward, (step.actions == y).astype(np.float32))
    post = one_hot(step.actions, 4)
    np.testing.assert_allclose(step.dW, reward_modulated_hebbian_update(W, pre, post, step.reward, 0.3, 0.2))
    np.testing.assert_allclose(step.db, 0.2 * ((step.reward - 0.3)[:, None] * post).mean(0), rtol=1e-6)
    # the actions follow softmax(logits / T): the same uniforms give the same actions
    same = sample_actions(policy_probs(step.logits, 2.0), np.random.default_rng(9))
    np.testing.assert_array_equal(same, step.actions)


def test_sampled_actions_follow_the_policy():
    probs = np.tile(np.array([[0.1, 0.6, 0.3]], np.float32), (20000, 1))
    a = sample_actions(probs, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(a, minlength=3) / len(a), [0.1, 0.6, 0.3], atol=0.015)
    assert policy_probs(np.array([[0.0, np.log(3.0)]]), 1.0)[0, 1] == pytest.approx(0.75)


def test_expected_update_is_the_mean_of_sampled_updates():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(3, 4)).astype(np.float32)
    b = np.zeros(3, np.float32)
    feats = rng.random((2, 4)).astype(np.float32)
    y = np.array([1, 2])
    dW, db = expected_readout_update(W, b, feats, y, lr=1.0, temperature=1.5, baseline=0.4)
    # one batch holding the two examples 20000 times each: its (mean) update averages 20000 draws
    reps = 20000
    step = readout_step(W, b, np.tile(feats, (reps, 1)), np.tile(y, reps), lr=1.0, temperature=1.5, baseline=0.4,
                        rng=rng)
    np.testing.assert_allclose(step.dW, dW, atol=0.01)
    np.testing.assert_allclose(step.db, db, atol=0.005)


def blobs(seed=7, n=3000, d=20, k=4):
    return synthetic_blobs(seed, n, d, k, spread=2)


def train_readout(x, y, k, reward_fn=None, seed=0, lr=0.05):
    """A linear readout on the raw inputs (no hidden layer), one example per step."""
    rng = np.random.default_rng(seed)
    W, b = np.zeros((k, x.shape[1]), np.float32), np.zeros(k, np.float32)
    baseline = RewardBaseline(0.02, 1.0 / k)
    for t in range(len(x)):
        step = readout_step(W, b, x[t : t + 1], y[t : t + 1], lr=lr, temperature=1.0, baseline=baseline.value,
                            rng=rng, reward_fn=reward_fn)
        W += step.dW
        b += step.db
        baseline.update(step.reward)
    return W, b, baseline


def readout_accuracy(W, b, x, y):
    return float(np.mean((layer_norm(x) @ W.T + b).argmax(1) == y))


def test_three_factor_rule_learns_a_separable_task_only_when_reward_depends_on_the_action():
    k = 10
    x, y = blobs(k=k, n=2500, d=30)
    xt, yt = x[2000:], y[2000:]
    W, b, baseline = train_readout(x[:2000], y[:2000], k)
    assert readout_accuracy(W, b, xt, yt) > 0.9  # chance 0.1
    assert baseline.value > 0.8  # the running reward follows the improving policy

    # Reward independent of the action (a coin flip): no expected update, so the readout only
    # drifts at random and scores near chance (a random map of the 10 clusters to classes).
    accs = []
    for seed in range(4):
        coin = np.random.default_rng(100 + seed)
        W, b, baseline = train_readout(x[:2000], y[:2000], k, reward_fn=lambda a, _y: coin.random(len(a)) < 0.5,
                                       seed=seed)
        accs.append(readout_accuracy(W, b, xt, yt))
        assert abs(baseline.value - 0.5) < 0.15
    assert np.mean(accs) < 0.3 and max(accs) < 0.5, accs


def test_reward_baseline_tracks_the_mean_reward():
    rng = np.random.default_rng(0)
    base = RewardBaseline(alpha=0.002, value=0.0)
    base.update((rng.random(5000) < 0.3).astype(float))
    assert abs(base.value - 0.3) < 0.05 and base.count == 5000
    base.update((rng.random(5000) < 0.8).astype(float))
    assert abs(base.value - 0.8) < 0.05
    # a batch update equals the same rewards one at a time
    a, b = RewardBaseline(0.1, 0.5), RewardBaseline(0.1, 0.5)
    r = rng.random(7)
    a.update(r)
    for ri in r:
        b.update(ri)
    assert a.value == pytest.approx(b.value, rel=1e-12) and a.count == b.count == 7
    assert RewardBaseline.from_tau(50).alpha == pytest.approx(0.02) and a.state_dict()["count"] == 7
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ConfigError):
            RewardBaseline(bad)


# --------------------------------------------------------------------------- the rule


def small_rule(**kw):
    arch = Architecture(n_in=20, hidden=(32,), n_out=4)
    params = dict(lr_max=0.02, schedule="constant", weight_decay=0.0)
    params.update(kw)
    return arch, RMHebbian(RMHebbianParams(**params), arch)


def test_rule_learns_on_fixed_random_features():
    x, y = blobs()
    arch, rule = small_rule()
    net = Network.init(arch, np.random.default_rng(0))
    hidden_before = net.W[0].copy()
    before = net.accuracy(x[2500:], y[2500:])
    state = fresh_state(rule, net, 1)
    rewards = []
    for s in range(0, 2500, rule.chunk_size):
        stop = min(s + rule.chunk_size, 2500)
        state, r = train_chunk(rule, net, state, x[s:stop], y[s:stop], rule.hyper(0, 1))
        rewards.extend(r)
    after = net.accuracy(x[2500:], y[2500:])
    assert after > 0.85 and after > before + 0.2, (before, after)
    np.testing.assert_array_equal(net.W[0], hidden_before)  # fixed features
    assert np.mean(rewards[-300:]) > np.mean(rewards[:300])
    assert state.baseline.value > 0.7


def test_reported_reward_is_log_prob_of_the_true_class_before_the_update():
    x, y = blobs(n=8)
    arch, rule = small_rule()
    net = Network.init(arch, np.random.default_rng(0))
    rule.batch_size = 8
    expect = log_softmax_at(net.forward(x), y)
    _, r = train_chunk(rule, net, fresh_state(rule, net, 0), x, y, rule.hyper(0, 1))
    np.testing.assert_allclose(r, expect, rtol=1e-5)


def test_sanger_features_learn_and_fixed_features_do_not():
    x, y = blobs(n=40)
    arch, rule = small_rule(features="sanger", feature_lr=0.01)
    net = Network.init(arch, np.random.default_rng(0))
    before = net.copy()
    rule.batch_size = 10
    hyper = rule.hyper(0, 1)
    step = rule.step(net, fresh_state(rule, net, 0), x[:10], y[:10], hyper)[1]["step"]
    inputs, _ = feature_forward(before, x[:10])
    np.testing.assert_allclose(net.W[0] - before.W[0], sanger_update(before.W[0], inputs[0], hyper["feature_lr"]),
                               atol=1e-6)
    np.testing.assert_allclose(net.W[1] - before.W[1], step.dW, atol=1e-6)
    np.testing.assert_array_equal(net.b[0], before.b[0])


def test_delta_is_the_expected_step_and_leaves_the_network_alone():
    x, y = blobs(n=6)
    for features in ("fixed", "sanger"):
        arch, rule = small_rule(features=features, feature_lr=0.001)
        net = Network.init(arch, np.random.default_rng(0))
        snapshot = net.copy()
        hyper = rule.hyper(0, 1)
        state = fresh_state(rule, net, 0)
        d = rule.delta(net, state, x, y, hyper, np.random.default_rng(0))
        assert [(a.shape, b.shape) for a, b in d] == [(w.shape, v.shape) for w, v in zip(net.W, net.b)]
        for a, b in zip(net.W + net.b, snapshot.W + snapshot.b):
            np.testing.assert_array_equal(a, b)
        _, feats = feature_forward(net, x)
        dW, db = expected_readout_update(net.W[-1], net.b[-1], feats, y, lr=hyper["lr"], temperature=1.0,
                                         baseline=state.baseline.value)
        np.testing.assert_allclose(d[-1][0], dW)
        np.testing.assert_allclose(d[-1][1], db)
        assert (not d[0][0].any()) == (features == "fixed")


def test_weight_decay_shrinks_the_readout():
    arch, rule = small_rule(weight_decay=1.0)
    net = Network.init(arch, np.random.default_rng(0))
    W_before = net.W[1].copy()
    x, y = blobs(n=1)
    step = rule.step(net, fresh_state(rule, net, 0), x, y, {"lr": 0.1, "feature_lr": 0.0, "temperature": 1.0})[1]["step"]
    np.testing.assert_allclose(net.W[1], 0.9 * W_before + step.dW, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("bad", [dict(lr_max=-0.1), dict(lr_max=0.0), dict(temperature=0.0), dict(features="pca"),
                                 dict(baseline_alpha=0.0), dict(baseline_alpha=1.5), dict(feature_lr=-1.0),
                                 dict(weight_decay=-0.1), dict(lr_max=0.01, lr_min=0.1), dict(schedule="step")])
def test_bad_config_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        RMHebbianParams(**bad)


def test_registry_model_definition_and_costs():
    assert get_rule("rm-hebbian") is RMHebbian
    cfg = parse_config({"rule": {"name": "rm-hebbian", "features": "sanger"}, "training": {"batch_size": 4}})
    rule = cfg.make_rule(cfg.architecture())
    assert rule.batch_size == 4 and rule.forward_passes_per_example == 1 and rule.backward_passes_per_example == 0
    assert set(rule.uses) == {"global_reward", "local_activity"}
    assert fresh_state(rule, None, 0).baseline.value == pytest.approx(0.1)  # chance for 10 classes
    with pytest.raises(ConfigError):
        parse_config({"rule": {"name": "rm-hebbian", "feature": "sanger"}})
    cfg = load_model("hebbian-mnist")
    assert cfg.rule_name == "rm-hebbian" and cfg.training.epochs == 10 and cfg.training.seed == 42


def test_trains_through_the_harness(tiny_mnist):
    from neuro_grlu.data import load_idx_dir
    from neuro_grlu.train import train

    tiny = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    raw = {"network": {"hidden": [32]}, "rule": {"name": "rm-hebbian", "lr_max": 0.1, "weight_decay": 0.0},
           "training": {"epochs": 3, "batch_size": 1, "seed": 1, "alignment_batches": 4}}
    runs = [train(parse_config(raw), tiny, progress=False, log=lambda s: None) for _ in range(2)]
    hist = runs[0].history
    assert hist[-1]["test_accuracy"] > 0.25, hist  # chance 0.1; observed 0.42 (1800 bandit trials, 10 classes)
    assert np.isfinite(hist[-1]["alignment_deg_L1"]) and hist[-1]["alignment_deg_L1"] < 90
    for a, b in zip(runs[0].net.W + runs[0].net.b, runs[1].net.W + runs[1].net.b):  # same seed, same weights
        np.testing.assert_array_equal(a, b)
