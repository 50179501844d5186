"""Firing statistics on spike trains with known answers: Poisson (CV of ISI = 1, Fano = 1),
regular (CV = 0, Fano = 0), gamma of order k (CV = 1/sqrt(k))."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_grlu.spiking.statistics import CORTEX, fano_factor, firing_rates, isi_cv, spike_counts


def poisson_trains(n, rate_hz, duration_s, rng):
    i, t = [], []
    for k in range(n):
        s = np.sort(rng.uniform(0, duration_s, rng.poisson(rate_hz * duration_s)))
        i.append(np.full(len(s), k))
        t.append(s)
    return np.concatenate(i), np.concatenate(t)


def gamma_trains(n, rate_hz, order, duration_s, rng):
    i, t = [], []
    for k in range(n):
        isi = rng.gamma(order, 1.0 / (order * rate_hz), int(2 * rate_hz * duration_s) + 10)
        s = np.cumsum(isi)
        s = s[s < duration_s]
        i.append(np.full(len(s), k))
        t.append(s)
    return np.concatenate(i), np.concatenate(t)


def test_poisson_trains():
    rng = np.random.default_rng(0)
    n, rate, T = 50, 10.0, 200.0
    i, t = poisson_trains(n, rate, T, rng)
    order = rng.permutation(len(i))  # statistics must not depend on the order of the spikes
    i, t = i[order], t[order]
    r = firing_rates(i, t, n, 0.0, T)
    assert r.shape == (n,) and abs(r.mean() - rate) < 0.2
    cv = isi_cv(i, t, n)
    assert abs(np.mean(cv) - 1.0) < 0.03
    fano = fano_factor(i, t, n, window_s=1.0, t_start=0.0, t_stop=T)
    assert abs(np.mean(fano) - 1.0) < 0.05


def test_regular_trains():
    n, T = 4, 10.0
    periods = np.array([0.1, 0.05, 0.2, 0.25])  # 10, 20, 5, 4 Hz
    i = np.concatenate([np.full(int(round(T / p)), k) for k, p in enumerate(periods)])
    t = np.concatenate([0.01 + p * np.arange(int(round(T / p))) for p in periods])
    np.testing.assert_allclose(firing_rates(i, t, n, 0.0, T), 1 / periods)
    np.testing.assert_allclose(isi_cv(i, t, n), 0.0, atol=1e-6)
    # windows that hold a whole number of periods: every count is the same
    np.testing.assert_allclose(fano_factor(i, t, n, window_s=1.0, t_start=0.0, t_stop=T), 0.0, atol=1e-12)
    counts = spike_counts(i, t, n, 1.0, 0.0, T)
    assert counts.shape == (n, 10) and (counts == (1 / periods)[:, None]).all()


@pytest.mark.parametrize("order", [2, 4])
def test_gamma_trains_cv(order):
    rng = np.random.default_rng(order)
    i, t = gamma_trains(20, 5.0, order, 400.0, rng)
    assert abs(np.mean(isi_cv(i, t, 20)) - 1 / np.sqrt(order)) < 0.03


def test_undefined_values_are_nan():
    i = np.array([0, 0, 1])
    t = np.array([0.1, 0.3, 0.5])
    cv = isi_cv(i, t, 3, min_spikes=3)
    assert np.isnan(cv).all()  # neuron 0 has 2 spikes, 1 has 1, 2 none
    assert isi_cv(i, t, 3, min_spikes=2)[0] == 0.0
    fano = fano_factor(i, t, 3, 0.25, 0.0, 1.0)
    assert np.isnan(fano[2]) and np.isfinite(fano[0])
    with pytest.raises(ValueError):
        firing_rates(i, t[:2], 3, 0.0, 1.0)
    with pytest.raises(ValueError):
        fano_factor(i, t, 3, 2.0, 0.0, 1.0)


def test_cortex_ranges_cite_sources():
    assert set(CORTEX) == {"rate_hz", "cv_isi", "fano", "correlation"}
    for lo, hi, source in CORTEX.values():
        assert lo < hi and any(ch.isdigit() for ch in source)


# -- cross-check against Elephant (test-only dependency, in the `test` extra) ----------------

def _neo_trains(i, t, n, t_stop):
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    return [neo.SpikeTrain(np.sort(t[i == k]) * pq.s, t_start=0.0 * pq.s, t_stop=t_stop * pq.s) for k in range(n)]


def test_statistics_agree_with_elephant():
    """Rate, CV of ISI, Fano factor and pairwise count correlation equal Elephant's on
    correlated gamma/Poisson trains (common input makes the correlations non-zero)."""
    es = pytest.importorskip("elephant.statistics")
    ec = pytest.importorskip("elephant.spike_train_correlation")
    from elephant.conversion import BinnedSpikeTrain
    import quantities as pq

    from neuro_grlu.spiking.statistics import pairwise_correlation

    rng = np.random.default_rng(5)
    n, T = 8, 40.0
    i, t = gamma_trains(n, 6.0, 3, T, rng)
    shared = np.sort(rng.uniform(0, T, 150))  # common spikes, jittered per neuron
    for k in range(n):
        keep = rng.random(len(shared)) < 0.5
        i = np.concatenate([i, np.full(keep.sum(), k)])
        t = np.concatenate([t, shared[keep] + rng.normal(0, 0.003, keep.sum())])
    sel = (t > 0) & (t < T)
    i, t = i[sel], t[sel]
    trains = _neo_trains(i, t, n, T)
    ours_rate = firing_rates(i, t, n, 0.0, T)
    ours_cv = isi_cv(i, t, n)
    ours_fano = fano_factor(i, t, n, window_s=2.0, t_start=0.0, t_stop=T)
    for k, st in enumerate(trains):
        assert ours_rate[k] == pytest.approx(float(es.mean_firing_rate(st).rescale("Hz").magnitude), rel=1e-12)
        assert ours_cv[k] == pytest.approx(float(es.cv(es.isi(st).magnitude)), rel=1e-10)
        windows = [st.time_slice(w * pq.s, (w + 2.0) * pq.s) for w in np.arange(0.0, T, 2.0)]
        assert ours_fano[k] == pytest.approx(float(es.fanofactor(windows)), rel=1e-10)
    ours_c = pairwise_correlation(i, t, n, 0.05, 0.0, T)
    theirs = ec.correlation_coefficient(BinnedSpikeTrain(trains, bin_size=50 * pq.ms, t_start=0 * pq.s,
                                                         t_stop=T * pq.s))
    np.testing.assert_allclose(ours_c, theirs, rtol=1e-10, atol=1e-12)
    off = ours_c[~np.eye(n, dtype=bool)]
    assert off.min() > 0.05  # the common input shows: the comparison is not between zeros
