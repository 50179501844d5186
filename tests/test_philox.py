"""Philox4x32-10 (rule.rng = "philox"): Random123 known answers, moments, independence."""

import numpy as np
import pytest

from neuro_grlu.rules._philox import GUMBEL_BLOCK, OUTPUT_BLOCK, gumbel_block, normal_block, philox4x32

# Random123 kat_vectors: philox4x32 10 <counter> <key> -> <output>
KNOWN = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KNOWN)
def test_known_answers(counter, key, expected):
    assert tuple(int(w) for w in philox4x32(*counter, *key)) == expected


def test_normal_moments_and_tails():
    z = normal_block(2000, 4, 50, 0, 0, 123, 456).ravel().astype(np.float64)  # 400,000 values
    n = len(z)
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(np.mean(z**3)) < 5 * np.sqrt(15 / n)
    assert abs(np.mean(z**4) - 3) < 5 * np.sqrt(96 / n)
    # tail mass beyond 2 and 3 sigma (two-sided): 4.550% and 0.270%
    assert abs(np.mean(np.abs(z) > 2) - 0.0455) < 0.002
    assert abs(np.mean(np.abs(z) > 3) - 0.0027) < 0.0005


def test_streams_are_uncorrelated():
    """Neighbouring values, pairs, examples, the hidden and output blocks and two keys: every
    correlation is within 5 standard errors of 0."""
    a = normal_block(1000, 8, 40, 0, 0, 1, 2).astype(np.float64)
    b = normal_block(1000, 8, 40, OUTPUT_BLOCK, 0, 1, 2).astype(np.float64)
    c = normal_block(1000, 8, 40, 0, 0, 1, 3).astype(np.float64)
    d = normal_block(1000, 8, 40, 0, 1, 1, 2).astype(np.float64)  # shifted by one example
    pairs = {
        "value j, j+1": (a[..., :-1], a[..., 1:]),
        "pair p, p+1": (a[:, :-1], a[:, 1:]),
        "example i, i+1": (a[:-1], a[1:]),
        "hidden/output block": (a, b),
        "two keys": (a, c),
    }
    for name, (u, v) in pairs.items():
        r = np.corrcoef(u.ravel(), v.ravel())[0, 1]
        assert abs(r) < 5 / np.sqrt(u.size), (name, r)
    np.testing.assert_array_equal(d[:-1], a[1:])  # counters address draws: same example, same noise


def test_gumbel_moments():
    g = gumbel_block(1000, 4, 50, GUMBEL_BLOCK, 0, 9, 9).ravel().astype(np.float64)  # 200,000 values
    assert np.isfinite(g).all()
    assert abs(g.mean() - np.euler_gamma) < 0.01
    assert abs(g.std() - np.pi / np.sqrt(6)) < 0.01


@pytest.mark.parametrize("activation", ["relu", "topk"])
@pytest.mark.parametrize("noise_at", ["output", "input"])
@pytest.mark.parametrize("pairs", [3, 20])
def test_kernel_with_philox_is_the_kernel_on_the_same_noise_from_arrays(activation, noise_at, pairs):
    """rng = "philox" draws in the kernel exactly the values its layout promises: the same
    training step fed those values as arrays (and summed in the same pair blocks) gives
    bit-identical weights and rewards."""
    from neuro_grlu.network import Architecture, Network
    from neuro_grlu.rules._grlu_numba import PHILOX_PAIR_BLOCK, train_chunk_1hidden
    from neuro_grlu.rules.grlu import PerturbationNoise

    rng = np.random.default_rng(0)
    arch = Architecture(n_in=20, hidden=(24,), n_out=5, activation=activation, k=0.5)
    net = Network.init(arch, rng)
    n, first, k0, k1 = 9, 1000, 77, 88
    x = rng.random((n, 20)).astype(np.float32)
    y = rng.integers(0, 5, n)
    eps = [normal_block(n, pairs, 24, 0, first, k0, k1), normal_block(n, pairs, 5, OUTPUT_BLOCK, first, k0, k1)]
    gumbel = None
    if activation == "topk":
        gumbel = [gumbel_block(n, pairs, 24, GUMBEL_BLOCK, first, k0, k1)]
    a, b = net.copy(), net.copy()
    ra = train_chunk_1hidden(a, x, y, None, 0.1, 0.3, 2, noise_at, philox=(pairs, k0, k1, first))
    rb = train_chunk_1hidden(b, x, y, PerturbationNoise(eps, gumbel), 0.1, 0.3, 2, noise_at,
                             pair_block=PHILOX_PAIR_BLOCK)
    for u, v in zip(a.W + a.b, b.W + b.b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(ra, rb)


@pytest.mark.parametrize("activation", ["relu", "topk"])
@pytest.mark.parametrize("noise_at", ["output", "input"])
@pytest.mark.parametrize("batch", [1, 3])
def test_kernel_result_does_not_depend_on_the_thread_count(activation, noise_at, batch):
    """The kernel splits pair blocks and weight rows over threads; every sum keeps its order,
    so 1, 2 or 3 row ranges, and numba's pool with 1 or 2 threads, give the same bits."""
    import numba

    from neuro_grlu.network import Architecture, Network
    from neuro_grlu.rules._grlu_numba import train_chunk_1hidden
    from neuro_grlu.rules.grlu import sample_noise

    rng = np.random.default_rng(3)
    arch = Architecture(n_in=30, hidden=(40,), n_out=6, activation=activation, k=0.5)
    net = Network.init(arch, rng)
    n, pairs = 10, 20  # three blocks of at most 8 pairs
    x = rng.random((n, 30)).astype(np.float32)
    y = rng.integers(0, 6, n)
    unit = sample_noise(arch, n, pairs, 1.0, rng)
    runs = []
    pools = [1, 2] if numba.config.NUMBA_NUM_THREADS >= 2 else [1]
    before = numba.get_num_threads()
    try:
        for pool in pools:
            numba.set_num_threads(pool)
            for threads in (1, 2, 3):
                for philox in ((pairs, 5, 6, 40), None):
                    m = net.copy()
                    r = train_chunk_1hidden(m, x, y, None if philox else unit, 0.1, 0.3, batch, noise_at,
                                            philox=philox, pair_block=8, threads=threads)
                    runs.append((philox is None, m, r))
    finally:
        numba.set_num_threads(before)
    for source in (True, False):
        same = [(m, r) for s, m, r in runs if s == source]
        for m, r in same[1:]:
            for u, v in zip(same[0][0].W + same[0][0].b, m.W + m.b):
                np.testing.assert_array_equal(u, v)
            np.testing.assert_array_equal(same[0][1], r)


def test_kernel_thread_count_is_capped_and_the_callers_setting_restored():
    """``threads`` caps numba's pool for the call (above NUMBA_NUM_THREADS: all of them, no
    error, the same bits) and leaves the caller's own setting as it was."""
    import numba

    from neuro_grlu.network import Architecture, Network
    from neuro_grlu.rules._grlu_numba import train_chunk_1hidden

    rng = np.random.default_rng(4)
    arch = Architecture(n_in=12, hidden=(16,), n_out=3)
    net = Network.init(arch, rng)
    x = rng.random((5, 12)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        results = []
        for threads in (1, 2, numba.config.NUMBA_NUM_THREADS + 3):
            m = net.copy()
            results.append(train_chunk_1hidden(m, x, y, None, 0.1, 0.3, 1, "input", philox=(20, 1, 2, 0),
                                               threads=threads))
            assert numba.get_num_threads() == 1
        for r in results[1:]:
            np.testing.assert_array_equal(results[0], r)
    finally:
        numba.set_num_threads(before)


def test_kernel_runs_on_at_most_threads_of_a_larger_pool():
    """With NUMBA_NUM_THREADS = 4 and ``threads = 2`` the parallel kernel is called with a pool
    of 2 (it would otherwise spread the pair blocks over all 4), and the caller's 4 come back."""
    import subprocess
    import sys

    code = """
import numba, numpy as np
from neuro_grlu.network import Architecture, Network
from neuro_grlu.rules import _grlu_numba as k
seen = []
k._grlu_chunk = lambda *a: seen.append(numba.get_num_threads())
net = Network.init(Architecture(n_in=4, hidden=(3,), n_out=2), np.random.default_rng(0))
x = np.ones((2, 4), np.float32); y = np.zeros(2, np.int64)
for t in (2, 9):
    k.train_chunk_1hidden(net, x, y, None, 0.1, 0.1, 1, "input", philox=(4, 1, 2, 0), threads=t)
print(seen, numba.get_num_threads())
"""
    env = {**__import__("os").environ, "NUMBA_NUM_THREADS": "4"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["[2,", "4]", "4"], out.stdout + out.stderr


def test_philox_rule_learns_and_needs_the_numba_backend():
    from neuro_grlu.errors import ConfigError
    from neuro_grlu.network import Architecture, Network
    from neuro_grlu.rules import train_chunk
    from neuro_grlu.rules.grlu import GRLU, GRLUParams

    rng = np.random.default_rng(7)
    centers = rng.normal(size=(4, 30)).astype(np.float32) * 2
    labels = rng.integers(0, 4, 2000)
    x = (centers[labels] + rng.normal(size=(2000, 30))).astype(np.float32)
    arch = Architecture(n_in=30, hidden=(32,), n_out=4)
    net = Network.init(arch, rng)
    rule = GRLU(GRLUParams(pairs=4, lr_max=0.5, sigma_max=0.1, rng="philox", noise_at="input"), arch)
    state = rule.init(net, init_rng=rng, noise_rng=np.random.default_rng(0))
    for _ in range(3):
        for s in range(0, 1500, rule.chunk_size):
            stop = min(s + rule.chunk_size, 1500)
            state, _ = train_chunk(rule, net, state, x[s:stop], labels[s:stop], {"lr": 0.5, "sigma": 0.1})
    assert state.counter == 4500
    assert net.accuracy(x[1500:], labels[1500:]) > 0.9
    with pytest.raises(ConfigError, match="allowed there: rng = 'numpy'"):
        GRLU(GRLUParams(rng="philox", backend="numpy"), arch)
    with pytest.raises(ConfigError, match="needs the numba backend"):
        GRLU(GRLUParams(rng="philox"), Architecture(n_in=30, hidden=(8, 8), n_out=4))
    with pytest.raises(ConfigError, match="'numpy', 'philox'"):
        GRLUParams(rng="mt19937")


def test_polynomial_box_muller_matches_the_exact_transform():
    """The float32 polynomial log / sin / cos give the Box–Muller values of the same words to 2e-6."""
    from neuro_grlu.rules._philox import _words

    m, k0, k1, c2 = 64, 31, 41, 5
    words = np.empty((4, m), np.uint32)
    _words(7, 0, c2, 0, k0, k1, m, words)
    w = words.astype(np.float64)
    r01 = np.sqrt(-2 * np.log((w[0] + 1) * 2.0**-32))
    t01 = 2 * np.pi * np.floor(w[1] / 256) * 2.0**-24
    r23 = np.sqrt(-2 * np.log((w[2] + 1) * 2.0**-32))
    t23 = 2 * np.pi * np.floor(w[3] / 256) * 2.0**-24
    exact = np.concatenate([r01 * np.cos(t01), r01 * np.sin(t01), r23 * np.cos(t23), r23 * np.sin(t23)])
    got = normal_block(1, c2 + 1, 4 * m, 0, 7, k0, k1)[0, c2]
    np.testing.assert_allclose(got, exact, rtol=0, atol=2e-6 * max(1.0, np.abs(exact).max()))
