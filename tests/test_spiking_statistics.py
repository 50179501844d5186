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
    assert set(CORTEX) == {"rate_hz", "cv_isi", "fano"}
    for lo, hi, source in CORTEX.values():
        assert lo < hi and any(ch.isdigit() for ch in source)
