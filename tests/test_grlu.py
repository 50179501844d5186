"""GRLU against its defining equations, against the true gradient, and across implementations."""

import numpy as np
import pytest

from neuro_grlu.network import Architecture, Network, layer_norm, log_softmax_at, topk_count, topk_mask
from neuro_grlu.rules.grlu import (
    GRLU,
    GRLUParams,
    NoiseStream,
    apply_update,
    grlu_update_shared,
    grlu_update_tiled,
    sample_noise,
)
from neuro_grlu.rules import train_chunk
from neuro_grlu.rules._grlu_numba import train_chunk_1hidden
from neuro_grlu.schedules import schedule_value

ARCHS = [
    dict(hidden=(16,), activation="relu"),
    dict(hidden=(16,), activation="topk", k=0.5),
    dict(hidden=(16,), activation="topk", k=0.25),
    dict(hidden=(12, 10), activation="relu", skip="readout"),
    dict(hidden=(12, 10, 8), activation="topk", k=0.5),
]


def make(arch_kw, seed=0, n_in=20, n_out=5):
    rng = np.random.default_rng(seed)
    arch = Architecture(n_in=n_in, n_out=n_out, **arch_kw)
    return arch, Network.init(arch, rng), rng


def reference_update(net, x, y, noise, noise_at="output"):
    """The defining equations written out one example, one pair, one sign at a time.

    ``noise_at="output"``: ``h = act(z) + ε`` (published); ``"input"``: ``h = act(z + ε)``.
    """
    arch = net.arch
    P = noise.eps[0].shape[1]
    dW = [np.zeros(w.shape, np.float64) for w in net.W]
    db = [np.zeros(v.shape, np.float64) for v in net.b]
    for i in range(len(x)):
        for p in range(P):
            inputs = {}
            reward = {}
            for sign in (+1, -1):
                h = x[i].astype(np.float64)
                hidden, ins = [], []
                for layer in range(len(arch.hidden)):
                    a = (h - h.mean()) / (h.std() + 1e-8)
                    ins.append(a)
                    z = net.W[layer] @ a + net.b[layer]
                    e = sign * noise.eps[layer][i, p]
                    if noise_at == "input":
                        z = z + e
                    if arch.activation == "relu":
                        out = np.where(z > 0, z, 0.0)
                    else:
                        score = z + noise.gumbel[layer][i, p]
                        kth = np.sort(score)[::-1][arch.topk_count(layer) - 1]
                        out = np.where(score >= kth, z, 0.0)
                    h = out + e if noise_at == "output" else out
                    hidden.append(h)
                r_in = np.concatenate(hidden) if arch.skip == "readout" else h
                a = (r_in - r_in.mean()) / (r_in.std() + 1e-8)
                ins.append(a)
                logits = net.W[-1] @ a + net.b[-1] + sign * noise.eps[-1][i, p]
                logp = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
                reward[sign] = logp[y[i]]
                inputs[sign] = ins
            dr = (reward[1] - reward[-1]) / 2
            for layer in range(arch.n_layers):
                xbar = (inputs[1][layer] + inputs[-1][layer]) / 2
                dW[layer] += np.outer(noise.eps[layer][i, p] * dr, xbar) / P
                db[layer] += noise.eps[layer][i, p] * dr / P
    return dW, db


def assert_updates_close(a_W, a_b, b_W, b_b, rtol=2e-4):
    for u, v in zip(list(a_W) + list(a_b), list(b_W) + list(b_b)):
        scale = max(np.abs(u).max(), np.abs(v).max(), 1e-12)
        np.testing.assert_allclose(u / scale, v / scale, atol=rtol)


@pytest.mark.parametrize("arch_kw", ARCHS, ids=lambda kw: f"{kw['activation']}-{len(kw['hidden'])}h-{kw.get('skip', 'none')}")
@pytest.mark.parametrize("batch,pairs", [(1, 1), (1, 6), (3, 4)])
@pytest.mark.parametrize("noise_at", ["output", "input"])
def test_tiled_and_shared_match_the_defining_equations(arch_kw, batch, pairs, noise_at):
    arch, net, rng = make(arch_kw)
    x = rng.random((batch, arch.n_in)).astype(np.float32)
    y = rng.integers(0, arch.n_out, batch)
    noise = sample_noise(arch, batch, pairs, 0.1, rng)
    ref_W, ref_b = reference_update(net, x, y, noise, noise_at)
    for fn in (grlu_update_tiled, grlu_update_shared):
        upd = fn(net, x, y, noise, noise_at)
        assert [w.shape for w in upd.dW] == [w.shape for w in net.W]
        assert upd.reward_plus.shape == (batch, pairs)
        assert_updates_close(upd.dW, upd.db, ref_W, ref_b)


@pytest.mark.parametrize("activation", ["relu", "topk"])
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("noise_at", ["output", "input"])
@pytest.mark.parametrize("pair_block", [None, 2])
def test_numba_kernel_matches_numpy_over_several_steps(activation, batch, noise_at, pair_block):
    arch, net, rng = make(dict(hidden=(24,), activation=activation, k=0.5))
    n, pairs, sigma, step = 12, 5, 0.1, 0.3
    x = rng.random((n, arch.n_in)).astype(np.float32)
    y = rng.integers(0, arch.n_out, n)
    unit = sample_noise(arch, n, pairs, 1.0, rng)
    fast, slow = net.copy(), net.copy()
    rewards_fast = train_chunk_1hidden(fast, x, y, unit, sigma, step, batch, noise_at, pair_block=pair_block,
                                       threads=1 if pair_block is None else 2)
    rewards_slow = []
    for s in range(0, n, batch):
        upd = grlu_update_shared(slow, x[s : s + batch], y[s : s + batch], unit.take(s, s + batch).scaled(sigma), noise_at)
        apply_update(slow, upd, step)
        rewards_slow.append(0.5 * (upd.reward_plus.mean(1) + upd.reward_minus.mean(1)))
    for a, b in zip(fast.W + fast.b, slow.W + slow.b):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(rewards_fast, np.concatenate(rewards_slow), rtol=1e-4, atol=1e-5)


def true_gradient(net, x, y, h=1e-5):
    """d log p(y|x) / d(W, b) by central finite differences, float64."""
    net64 = Network(net.arch, [w.astype(np.float64) for w in net.W], [v.astype(np.float64) for v in net.b])

    def reward():
        return float(log_softmax_at(net64.forward(x[None]).astype(np.float64), np.array([y]))[0])

    grads = []
    for arr in net64.W + net64.b:
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = reward()
            arr[idx] = old - h
            down = reward()
            arr[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return np.concatenate([g.ravel() for g in grads])


def flat(upd):
    return np.concatenate([u.ravel() for u in upd.dW] + [u.ravel() for u in upd.db]).astype(np.float64)


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_expected_update_aligns_with_true_gradient_and_improves_with_pairs():
    arch, net, rng = make(dict(hidden=(8,), activation="relu"), seed=3, n_in=12, n_out=4)
    x = rng.random((1, 12)).astype(np.float32)
    y = np.array([2])
    grad = true_gradient(net, x[0], 2)
    sigma = 0.01

    # The expected update (many independent draws) points along the gradient.
    # 1000 draws x 64 pairs: the Monte-Carlo error of each entry is about 3% of max|grad|.
    mean_update = np.mean([flat(grlu_update_shared(net, x, y, sample_noise(arch, 1, 64, sigma, rng))) for _ in range(1000)], axis=0)
    assert cosine(mean_update, grad) > 0.8

    # The output layer receives its exact gradient in expectation: E[ε Δr] = σ² ∂r/∂z.
    n_out_params = net.W[-1].size
    out_slice = slice(net.W[0].size, net.W[0].size + n_out_params)
    assert cosine(mean_update[out_slice], grad[out_slice]) > 0.95
    np.testing.assert_allclose(mean_update[out_slice] / sigma**2, grad[out_slice], rtol=0, atol=0.1 * np.abs(grad[out_slice]).max())

    # A single step's alignment rises with the number of pairs.
    mean_cos = []
    for pairs in (1, 4, 16, 64):
        cos = [cosine(flat(grlu_update_shared(net, x, y, sample_noise(arch, 1, pairs, sigma, rng))), grad) for _ in range(300)]
        mean_cos.append(np.mean(cos))
    assert mean_cos[0] > 0.0
    assert all(b > a + 0.02 for a, b in zip(mean_cos, mean_cos[1:])), mean_cos


def test_grlu_rule_learns_a_small_problem():
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(4, 30)).astype(np.float32) * 2
    labels = rng.integers(0, 4, 2000)
    x = (centers[labels] + rng.normal(size=(2000, 30))).astype(np.float32)
    arch = Architecture(n_in=30, hidden=(32,), n_out=4)
    net = Network.init(arch, rng)
    rule = GRLU(GRLUParams(pairs=4, lr_max=0.5, sigma_max=0.1), arch)
    before = net.accuracy(x[1500:], labels[1500:])
    state = rule.init(net, init_rng=rng, noise_rng=np.random.default_rng(0))
    rewards = []
    for _ in range(3):
        for s in range(0, 1500, rule.chunk_size):
            stop = min(s + rule.chunk_size, 1500)
            state, r = train_chunk(rule, net, state, x[s:stop], labels[s:stop], {"lr": 0.5, "sigma": 0.1})
            rewards.extend(r)
    state.close()
    after = net.accuracy(x[1500:], labels[1500:])
    assert after > 0.9 > before + 0.2
    assert np.mean(rewards[-300:]) > np.mean(rewards[:300])


def test_noise_stream_is_the_same_with_and_without_prefetch():
    arch = Architecture(n_in=10, hidden=(6,), n_out=3, activation="topk", k=0.5)
    blocks = []
    for prefetch in (False, True):
        stream = NoiseStream(arch, pairs=3, block=5, rng=np.random.default_rng(11), prefetch=prefetch)
        draws = []
        for _ in range(3):
            block = stream.next()
            draws.append(np.concatenate([a.ravel() for a in block.eps + block.gumbel]))  # copies
        blocks.append(draws)
        stream.close()
    for a, b in zip(*blocks):
        np.testing.assert_array_equal(a, b)


def test_noise_statistics():
    arch = Architecture(n_in=10, hidden=(50,), n_out=3, activation="topk", k=0.5)
    noise = sample_noise(arch, 400, 10, 0.2, np.random.default_rng(0))
    eps = noise.eps[0]
    assert eps.dtype == np.float32 and eps.shape == (400, 10, 50)
    assert abs(eps.mean()) < 0.005 and abs(eps.std() - 0.2) < 0.005
    g = noise.gumbel[0]
    assert abs(g.mean() - np.euler_gamma) < 0.02 and abs(g.std() - np.pi / np.sqrt(6)) < 0.02
    assert np.isfinite(g).all()


def test_topk_mask_and_count():
    assert topk_count(0.5, 256) == 128 and topk_count(0.25, 256) == 64 and topk_count(0.001, 10) == 1
    z = np.array([[3.0, 1.0, 2.0, 5.0], [0.0, 0.0, 1.0, -1.0]], np.float32)
    np.testing.assert_array_equal(topk_mask(z, 2), [[1, 0, 0, 1], [1, 1, 1, 0]])  # ties at the threshold are kept


def test_layer_norm():
    x = np.random.default_rng(0).normal(3, 2, size=(5, 40)).astype(np.float32)
    a = layer_norm(x)
    np.testing.assert_allclose(a.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(1), 1, atol=1e-4)


def test_cosine_schedule_matches_published_form():
    assert schedule_value("cosine", 0.1, 0.0, 0, 10) == pytest.approx(0.1)
    assert schedule_value("cosine", 0.1, 0.0, 5, 10) == pytest.approx(0.05)
    assert schedule_value("cosine", 0.1, 0.0, 9, 10) == pytest.approx(0.1 * 0.5 * (1 + np.cos(0.9 * np.pi)))
    assert schedule_value("constant", 0.3, 0.0, 7, 10) == 0.3
    assert schedule_value("linear", 1.0, 0.0, 5, 10) == pytest.approx(0.5)


def test_normalize_sigma2_scales_the_step():
    arch = Architecture(n_in=10, hidden=(6,), n_out=3)
    rule = GRLU(GRLUParams(normalize="sigma2"), arch)
    assert rule.step_size({"lr": 0.1, "sigma": 0.1}) == pytest.approx(10.0)
    assert GRLU(GRLUParams(), arch).step_size({"lr": 0.1, "sigma": 0.1}) == pytest.approx(0.1)


def _relu_net_gradients(net, x, y):
    """Per example, float64, for a ``n_in → H (ReLU) → C`` network: the true gradient of
    ``r = log p(y|x)`` for each layer, and the published rule's hidden target ``∂r/∂h ⊗ LN(x)``
    (no ReLU derivative). Returns ``{"true": [dW0, db0, dW1, db1], "no_relu_derivative": [dW0, db0]}``
    summed over the examples. ``∂r/∂h`` by central differences in float64 (exact chain rule elsewhere)."""
    W0, b0, W1, b1 = (a.astype(np.float64) for a in (net.W[0], net.b[0], net.W[1], net.b[1]))
    ln = lambda v: (v - v.mean()) / (v.std() + 1e-8)  # noqa: E731
    true = [np.zeros_like(W0), np.zeros_like(b0), np.zeros_like(W1), np.zeros_like(b1)]
    plain = [np.zeros_like(W0), np.zeros_like(b0)]
    for xi, yi in zip(x.astype(np.float64), y):
        a0 = ln(xi)
        z = W0 @ a0 + b0
        h = np.maximum(z, 0.0)

        def reward(hv):
            logits = W1 @ ln(hv) + b1
            return logits[yi] - logits.max() - np.log(np.exp(logits - logits.max()).sum())

        dh = np.array([(reward(h + 1e-6 * e) - reward(h - 1e-6 * e)) / 2e-6 for e in np.eye(len(h))])
        logits = W1 @ ln(h) + b1
        g_out = -np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        g_out[yi] += 1.0
        dz = dh * (z > 0)
        for acc, val in zip(true, (np.outer(dz, a0), dz, np.outer(g_out, ln(h)), g_out)):
            acc += val
        plain[0] += np.outer(dh, a0)
        plain[1] += dh
    return {"true": true, "no_relu_derivative": plain}


def _expected_update(net, x, y, sigma, noise_at, pairs=25_000, repeats=4, seed=0):
    """Monte-Carlo estimate of ``E[update] / σ²`` per layer ``[dW0, db0, dW1, db1]`` (float64)."""
    rng = np.random.default_rng(seed)
    total = None
    for _ in range(repeats):
        upd = grlu_update_shared(net, x, y, sample_noise(net.arch, len(x), pairs, sigma, rng), noise_at)
        parts = [upd.dW[0], upd.db[0], upd.dW[1], upd.db[1]]
        parts = [p.astype(np.float64) / (repeats * sigma**2) for p in parts]
        total = parts if total is None else [t + p for t, p in zip(total, parts)]
    return total


def test_expected_update_per_layer_input_noise_unbiased_output_noise_biased():
    """Per layer, by Monte Carlo with 100,000 pairs per example, on a network whose hidden
    layer has about half its ReLU units switched off: with ``noise_at="input"`` every layer's
    expected update is the true gradient (cosine → 1, right scale); with the published
    ``"output"`` noise the output layer is exact but the hidden update is ``∂r/∂h ⊗ x`` — it
    lacks the ReLU derivative, so switched-off units learn and the hidden cosine stays well
    below 1 however many pairs are used."""
    arch, net, rng = make(dict(hidden=(24,), activation="relu"), seed=5, n_in=16, n_out=4)
    net.b[0][:] -= np.float32(0.3)  # switch off about half of the hidden units
    x = rng.random((3, arch.n_in)).astype(np.float32)
    y = np.array([0, 2, 3])
    ref = _relu_net_gradients(net, x, y)
    inactive = np.mean([(net.W[0].astype(np.float64) @ ((xi - xi.mean()) / xi.std()) + net.b[0] <= 0).mean() for xi in x])
    assert 0.3 < inactive < 0.7, inactive
    sigma = 0.01
    names = ["W0", "b0", "W1", "b1"]

    unbiased = _expected_update(net, x, y, sigma, "input")
    for name, est, true in zip(names, unbiased, ref["true"]):
        assert cosine(est.ravel(), true.ravel()) > 0.995, name
        np.testing.assert_allclose(np.linalg.norm(est) / np.linalg.norm(true), 1.0, atol=0.05, err_msg=name)

    published = _expected_update(net, x, y, sigma, "output")
    for name, est, true in zip(names[2:], published[2:], ref["true"][2:]):  # output layer: exact
        assert cosine(est.ravel(), true.ravel()) > 0.995, name
    for name, est, true, plain in zip(names[:2], published[:2], ref["true"][:2], ref["no_relu_derivative"]):
        assert cosine(est.ravel(), plain.ravel()) > 0.995, name  # it estimates ∂r/∂h ⊗ x ...
        assert cosine(est.ravel(), true.ravel()) < 0.9, name  # ... which is not the gradient


def test_kth_largest_is_exact_with_ties_signs_and_zeros():
    from neuro_grlu.rules._grlu_numba import _kth_largest

    rng = np.random.default_rng(11)
    rows = [rng.standard_normal(256), np.round(rng.standard_normal(256) * 2) / 2, np.full(256, 0.5),
            -np.abs(rng.standard_normal(37)) - 1e30, np.where(rng.random(64) < 0.5, 0.0, -0.0),
            rng.standard_normal(5) * 1e-40]
    for row in rows:
        row = np.ascontiguousarray(row, np.float32)
        for count in sorted({1, 2, len(row) // 2, len(row) - 1, len(row)}):
            got = _kth_largest(row, np.empty_like(row), count)
            assert got == np.sort(row)[::-1][count - 1], (row[:4], count)


@pytest.mark.parametrize("skip", ["readout", "none"])
def test_expected_update_two_hidden_layers_input_noise_is_the_gradient(skip):
    """The deep network of issue 17 (two ReLU hidden layers, with and without the readout skip):
    with ``noise_at="input"`` every layer's expected update, by Monte Carlo (100,000 pairs per
    example), is the exact gradient of ``Σ log p(y|x)`` (backprop through the layer norms and,
    with the skip, through both paths into the first hidden layer)."""
    from neuro_grlu.rules.backprop import loss_gradient

    arch, net, rng = make(dict(hidden=(12, 10), activation="relu", skip=skip), seed=5, n_in=16, n_out=4)
    x = rng.random((3, arch.n_in)).astype(np.float32)
    y = np.array([0, 2, 3])
    # per layer, W and b flattened together (as the alignment measurement does)
    true = [-len(x) * np.concatenate([gW.ravel(), gb.ravel()]).astype(np.float64) for gW, gb in loss_gradient(net, x, y)]
    est = None
    noise_rng, sigma, repeats = np.random.default_rng(0), 0.01, 4
    for _ in range(repeats):
        upd = grlu_update_shared(net, x, y, sample_noise(arch, len(x), 25_000, sigma, noise_rng), "input")
        parts = [np.concatenate([dW.ravel(), db.ravel()]).astype(np.float64) / (repeats * sigma**2)
                 for dW, db in zip(upd.dW, upd.db)]
        est = parts if est is None else [e + p for e, p in zip(est, parts)]
    assert len(est) == len(true) == 3
    for layer, (e, t) in enumerate(zip(est, true)):
        assert cosine(e, t) > 0.995, layer
        np.testing.assert_allclose(np.linalg.norm(e) / np.linalg.norm(t), 1.0, atol=0.05, err_msg=f"layer {layer}")
