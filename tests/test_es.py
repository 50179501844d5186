"""ES (weight-perturbation evolution strategy): estimator, vectorisation, shaping, Adam, learning."""

import numpy as np
import pytest

from neuro_grlu.config import parse_config
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture, Network, log_softmax_at
from neuro_grlu.rules import get_rule
from neuro_grlu.rules.es import (
    ES,
    AdamState,
    ESParams,
    adam_step,
    centered_ranks,
    es_estimate,
    es_gradient,
    net_tensors,
    population_log_probs,
    sample_weight_noise,
    shape_fitness,
)

from neuro_grlu.rules import train_chunk

from _synthetic import blobs as synthetic_blobs


def fresh_state(rule, net, seed):
    """The rule's initial learner state with noise stream ``default_rng(seed)``."""
    return rule.init(net, init_rng=np.random.default_rng(0), noise_rng=np.random.default_rng(seed))

ARCHS = [
    dict(hidden=(7,), activation="relu"),
    dict(hidden=(6, 5), activation="relu", skip="readout"),
    dict(hidden=(8, 6), activation="topk", k=0.5),
]


def make(arch_kw, seed=0, n_in=9, n_out=4):
    rng = np.random.default_rng(seed)
    arch = Architecture(n_in=n_in, n_out=n_out, **arch_kw)
    return arch, Network.init(arch, rng), rng


# --------------------------------------------------------------------------- the pure estimator


def test_estimate_is_unbiased_on_a_quadratic():
    rng = np.random.default_rng(0)
    D, P, sigma, draws = 6, 4, 0.3, 4000
    M = rng.normal(size=(D, D))
    A = M @ M.T / D + np.eye(D)  # positive definite
    c = rng.normal(size=D)
    theta = rng.normal(size=D)

    def f(t):  # rows of t: parameter vectors
        d = t - c
        return -0.5 * np.einsum("pi,ij,pj->p", d, A, d)

    grad = -A @ (theta - c)
    estimates = []
    for _ in range(draws):
        eps = rng.standard_normal((P, D)).astype(np.float32)
        estimates.append(es_gradient(eps, f(theta + sigma * eps), f(theta - sigma * eps), sigma, shaping="none"))
    estimates = np.array(estimates, np.float64)
    mean = estimates.mean(axis=0)
    stderr = estimates.std(axis=0) / np.sqrt(draws)
    assert np.all(np.abs(mean - grad) < 4.5 * stderr + 1e-6), (mean, grad, stderr)
    # ... and a small relative error overall
    assert np.linalg.norm(mean - grad) < 0.1 * np.linalg.norm(grad)


def test_estimate_normalisation_for_one_pair():
    eps = np.array([[1.0, -2.0, 0.5]], np.float32)
    g = es_gradient(eps, np.array([3.0]), np.array([1.0]), sigma=0.5, shaping="none")
    np.testing.assert_allclose(g, (3.0 - 1.0) / 2 / (1 * 0.5) * eps[0], rtol=1e-6)
    # centred ranks of two values are -0.5 and +0.5 whatever their size
    g = es_gradient(eps, np.array([300.0]), np.array([1.0]), sigma=0.5, shaping="centered_rank")
    np.testing.assert_allclose(g, 0.5 / 0.5 * eps[0], rtol=1e-6)
    # a list of tensors gives a list of estimates
    out = es_gradient([eps, eps[:, :2]], np.array([3.0]), np.array([1.0]), 0.5)
    assert [o.shape for o in out] == [(3,), (2,)]


def test_centered_ranks():
    np.testing.assert_allclose(centered_ranks(np.array([3.0, 1.0, 2.0, 10.0])), [1 / 6, -0.5, -1 / 6, 0.5], atol=1e-7)
    r = centered_ranks(np.random.default_rng(0).normal(size=(2, 50)))
    assert r.shape == (2, 50) and r.dtype == np.float32
    assert r.min() == -0.5 and r.max() == 0.5 and abs(r.sum()) < 1e-5
    np.testing.assert_allclose(np.sort(r.ravel()), np.linspace(-0.5, 0.5, 100), atol=1e-6)
    assert centered_ranks(np.array([5.0])).tolist() == [0.0]
    # ties are broken by position (deterministic)
    np.testing.assert_allclose(centered_ranks(np.array([1.0, 1.0, 0.0])), [0.0, 0.5, -0.5])
    # shape_fitness ranks plus and minus together
    s_plus, s_minus = shape_fitness(np.array([0.1, 0.4]), np.array([0.3, 0.2]), "centered_rank")
    np.testing.assert_allclose(s_plus, [-0.5, 0.5], atol=1e-7)
    np.testing.assert_allclose(s_minus, [1 / 6, -1 / 6], atol=1e-7)


def test_adam_step_matches_the_formula_and_leaves_state_alone():
    g = [np.array([0.5, -2.0], np.float32), np.array([[1e-3]], np.float32)]
    state = AdamState.zeros([(2,), (1, 1)])
    steps, new = adam_step(state, g, lr=0.1)
    assert state.t == 0 and not state.m[0].any()  # unchanged
    assert new.t == 1
    # first step with bias correction: lr * g / (|g| + eps') ~ lr * sign(g)
    np.testing.assert_allclose(steps[0], [0.1, -0.1], rtol=1e-5)
    steps2, new2 = adam_step(new, g, lr=0.1, beta1=0.5, beta2=0.9)
    m = 0.5 * new.m[0] + 0.5 * g[0]
    v = 0.9 * new.v[0] + 0.1 * g[0] ** 2
    expect = 0.1 * (m / (1 - 0.5**2)) / (np.sqrt(v / (1 - 0.9**2)) + 1e-8)
    np.testing.assert_allclose(steps2[0], expect, rtol=1e-5)
    assert new2.t == 2


# --------------------------------------------------------------------------- the network population


def reference_update(net, x, y, noise, sigma, shaping):
    """One perturbed copy at a time through Network.forward, then the ES formula by hand."""
    P = noise.W[0].shape[0]
    f = np.zeros((2, P))
    lp = np.zeros((2, P, len(x)))
    for p in range(P):
        for s, sign in enumerate((1.0, -1.0)):
            member = Network(net.arch,
                             [w + sign * sigma * e[p] for w, e in zip(net.W, noise.W)],
                             [v + sign * sigma * e[p] for v, e in zip(net.b, noise.b)])
            lp[s, p] = log_softmax_at(member.forward(x).astype(np.float64), y)
            f[s, p] = lp[s, p].mean()
    if shaping == "centered_rank":
        flat = f.ravel()
        ranks = np.empty(flat.size)
        ranks[np.argsort(flat, kind="stable")] = np.arange(flat.size)
        f = (ranks / (flat.size - 1) - 0.5).reshape(f.shape)
    coef = (f[0] - f[1]) / 2
    grads = [np.einsum("p,p...->...", coef, e) / (P * sigma) for e in noise.tensors()]
    return grads, lp


@pytest.mark.parametrize("arch_kw", ARCHS, ids=["relu-1h", "relu-2h-readout", "topk-2h"])
@pytest.mark.parametrize("shaping", ["none", "centered_rank"])
def test_vectorised_update_matches_member_by_member_reference(arch_kw, shaping):
    arch, net, rng = make(arch_kw)
    B, P, sigma = 5, 6, 0.05
    x = rng.random((B, arch.n_in)).astype(np.float32)
    y = rng.integers(0, arch.n_out, B)
    noise = sample_weight_noise(arch, P, rng)
    est = es_estimate(net, x, y, noise, sigma, shaping)
    ref_grads, ref_lp = reference_update(net, x, y, noise, sigma, shaping)
    np.testing.assert_allclose(est.log_probs, ref_lp, rtol=1e-4, atol=1e-5)
    assert est.log_probs.dtype == np.float32
    for g, r, t in zip(est.grads, ref_grads, net_tensors(net)):
        assert g.shape == t.shape and g.dtype == np.float32
        scale = max(np.abs(r).max(), 1e-12)
        np.testing.assert_allclose(g / scale, r / scale, atol=2e-4)


def test_train_step_applies_lr_times_estimate_with_sgd_and_weight_decay():
    arch, net, rng = make(ARCHS[0])
    x = rng.random((4, arch.n_in)).astype(np.float32)
    y = rng.integers(0, arch.n_out, 4)
    rule = ES(ESParams(pairs=3, optimizer="sgd", shaping="none", weight_decay=0.1), arch, batch_size=4)
    hyper = {"lr": 0.2, "sigma": 0.05}
    before = net.copy()
    # the same noise the rule will draw
    noise = sample_weight_noise(arch, 3, np.random.default_rng(5))
    ref_grads, _ = reference_update(before, x, y, noise, 0.05, "none")
    delta = rule.delta(before, fresh_state(rule, before, 0), x, y, hyper, np.random.default_rng(5))
    rule.step(net, fresh_state(rule, net, 5), x, y, hyper)
    for l in range(arch.n_layers):
        for new, old, g, d in ((net.W[l], before.W[l], ref_grads[2 * l], delta[l][0]),
                               (net.b[l], before.b[l], ref_grads[2 * l + 1], delta[l][1])):
            expect = 0.2 * (g - 0.1 * old)
            np.testing.assert_allclose(new - old, expect, rtol=1e-3, atol=1e-6)
            np.testing.assert_allclose(d, new - old, rtol=1e-4, atol=1e-7)


def test_delta_does_not_change_the_network_or_adam_state():
    arch, net, rng = make(ARCHS[1])
    x = rng.random((3, arch.n_in)).astype(np.float32)
    y = rng.integers(0, arch.n_out, 3)
    rule = ES(ESParams(pairs=2), arch, batch_size=3)
    hyper = rule.hyper(0, 5)
    state, _ = train_chunk(rule, net, fresh_state(rule, net, 0), x, y, hyper)
    t, m0 = state.adam.t, [m.copy() for m in state.adam.m]
    snapshot = net.copy()
    d = rule.delta(net, state, x, y, hyper, np.random.default_rng(1))
    assert [(a.shape, b.shape) for a, b in d] == [(w.shape, v.shape) for w, v in zip(net.W, net.b)]
    for a, b in zip(net.W + net.b, snapshot.W + snapshot.b):
        np.testing.assert_array_equal(a, b)
    assert state.adam.t == t and all(np.array_equal(a, b) for a, b in zip(state.adam.m, m0))
    # the Adam step delta reports is the one training then takes with the same noise
    state.rng = np.random.default_rng(1)
    rule.step(net, state, x, y, hyper)
    for (dw, db), w, v, w0, v0 in zip(d, net.W, net.b, snapshot.W, snapshot.b):
        np.testing.assert_allclose(w - w0, dw, atol=1e-6)
        np.testing.assert_allclose(v - v0, db, atol=1e-6)


def test_expected_update_aligns_with_true_gradient():
    """With shaping 'none' and small σ the mean update is lr · ∇f (f = mean log-probability)."""
    arch, net, rng = make(dict(hidden=(5,), activation="relu"), seed=3, n_in=6, n_out=3)
    x = rng.random((4, 6)).astype(np.float32)
    y = rng.integers(0, 3, 4)
    sigma = 1e-2

    net64 = Network(arch, [w.astype(np.float64) for w in net.W], [v.astype(np.float64) for v in net.b])

    def f():
        return float(log_softmax_at(net64.forward(x), y).mean())

    grad = []
    for arr in net_tensors(net64):  # central finite differences, float64
        g = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + 1e-5
            up = f()
            arr[idx] = old - 1e-5
            down = f()
            arr[idx] = old
            g[idx] = (up - down) / 2e-5
        grad.append(g.ravel())
    grad = np.concatenate(grad)
    est = [np.concatenate([g.ravel() for g in es_estimate(net, x, y, sample_weight_noise(arch, 64, rng), sigma, "none").grads])
           for _ in range(300)]
    mean = np.mean(est, axis=0)
    cos = mean @ grad / (np.linalg.norm(mean) * np.linalg.norm(grad))
    assert cos > 0.9, cos


# --------------------------------------------------------------------------- the rule


def blobs(seed=7, n=1500, d=20, k=4):
    return synthetic_blobs(seed, n, d, k, spread=2)


def test_es_learns_a_small_problem():
    x, y = blobs()
    arch = Architecture(n_in=20, hidden=(16,), n_out=4)
    net = Network.init(arch, np.random.default_rng(0))
    rule = ES(ESParams(pairs=16, lr_max=0.03, sigma_max=0.05), arch, batch_size=20)
    before = net.accuracy(x[1200:], y[1200:])
    state = fresh_state(rule, net, 1)
    rewards = []
    for epoch in range(3):
        hyper = rule.hyper(epoch, 3)
        for s in range(0, 1200, rule.chunk_size):
            stop = min(s + rule.chunk_size, 1200)
            state, r = train_chunk(rule, net, state, x[s:stop], y[s:stop], hyper)
            rewards.extend(r)
    after = net.accuracy(x[1200:], y[1200:])
    assert after > 0.8 and after > before + 0.2, (before, after)  # chance is 0.25
    assert np.mean(rewards[-200:]) > np.mean(rewards[:200])


def test_same_seed_gives_identical_weights():
    x, y = blobs(n=200)
    arch = Architecture(n_in=20, hidden=(8,), n_out=4)
    results = []
    for _ in range(2):
        net = Network.init(arch, np.random.default_rng(0))
        rule = ES(ESParams(pairs=4), arch, batch_size=10)
        _, r = train_chunk(rule, net, fresh_state(rule, net, 3), x, y, rule.hyper(0, 2))
        results.append((net, r))
    (a, ra), (b, rb) = results
    for u, v in zip(a.W + a.b, b.W + b.b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(ra, rb)


def test_rewards_are_mean_log_prob_over_the_population():
    arch, net, rng = make(ARCHS[0])
    x = rng.random((6, arch.n_in)).astype(np.float32)
    y = rng.integers(0, arch.n_out, 6)
    rule = ES(ESParams(pairs=3), arch, batch_size=6)
    hyper = {"lr": 0.01, "sigma": 0.05}
    lp = population_log_probs(net, x, y, sample_weight_noise(arch, 3, np.random.default_rng(2)), 0.05)
    _, r = train_chunk(rule, net, fresh_state(rule, net, 2), x, y, hyper)
    np.testing.assert_allclose(r, lp.mean(axis=(0, 1)), rtol=1e-6)


@pytest.mark.parametrize("bad", [dict(lr_max=-0.1), dict(lr_max=0.0), dict(pairs=0), dict(sigma_max=0.0),
                                 dict(shaping="fitness"), dict(optimizer="rmsprop"), dict(weight_decay=-1.0),
                                 dict(lr_max=0.01, lr_min=0.1), dict(beta1=1.0)])
def test_bad_config_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        ESParams(**bad)


def test_model_definition_and_registry():
    cfg = parse_config({"rule": {"name": "es", "pairs": 8, "optimizer": "sgd"}, "training": {"batch_size": 50}})
    rule = cfg.make_rule(cfg.architecture())
    assert isinstance(rule, ES) and get_rule("es") is ES
    assert rule.batch_size == 50 and rule.chunk_size % 50 == 0
    assert rule.forward_passes_per_example == 16 and rule.backward_passes_per_example == 0
    assert set(rule.uses) == {"global_reward", "noise"}
    h = rule.hyper(0, 10)
    assert h["lr"] == pytest.approx(0.003) and h["sigma"] == pytest.approx(0.02)
    with pytest.raises(ConfigError):
        parse_config({"rule": {"name": "es", "pairs": 0}})
    with pytest.raises(ConfigError):
        parse_config({"rule": {"name": "es", "population": 8}})


def test_shipped_model_definition_learns(tiny_mnist):
    """models/es-mnist.toml as shipped (784-256-10, 32 pairs, Adam, batch 100; only the epochs
    shortened) learns the tiny digit set above chance within 3 epochs (18 ES steps; observed 26.5 %)."""
    from neuro_grlu.config import load_model
    from neuro_grlu.data import load_idx_dir
    from neuro_grlu.train import train

    tiny = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    cfg = load_model("es-mnist", ["training.epochs=3", "training.alignment_batches=0"])
    result = train(cfg, tiny, progress=False, log=lambda s: None)
    hist = result.history
    assert hist[-1]["test_accuracy"] > 0.2, hist  # chance 0.1
    assert hist[-1]["mean_reward"] > hist[0]["mean_reward"] + 0.3  # observed -3.14 -> -2.53 nat


def test_trains_through_the_harness(tiny_mnist):
    from neuro_grlu.data import load_idx_dir
    from neuro_grlu.train import train

    tiny = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    raw = {"network": {"hidden": [32]}, "rule": {"name": "es", "pairs": 8, "lr_max": 0.01, "sigma_max": 0.02},
           "training": {"epochs": 3, "batch_size": 10, "seed": 1, "alignment_batches": 2}}
    runs = [train(parse_config(raw), tiny, progress=False, log=lambda s: None) for _ in range(2)]
    hist = runs[0].history
    assert hist[-1]["test_accuracy"] > 0.3, hist  # chance 0.1; observed 0.565 (60 ES steps)
    assert hist[-1]["mean_reward"] > hist[0]["mean_reward"]
    assert all(np.isfinite(h[f"alignment_deg_L{l}"]) for h in hist for l in range(2))
    for a, b in zip(runs[0].net.W, runs[1].net.W):  # same seed, same weights
        np.testing.assert_array_equal(a, b)
