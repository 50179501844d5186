"""The triplet STDP synapse (Pfister & Gerstner 2006) and the Sjöström et al. (2001)
frequency protocol: Brian2 matches the event-by-event reference, the reference under the
published protocol reproduces the data, the pair rule does not."""

import numpy as np
import pytest

from neuro_grlu.definitions import load_raw
from neuro_grlu.spiking.config import parse_spiking
from neuro_grlu.spiking.experiments.sjostrom import (goodness, pairing_times, read_data, run_protocol,
                                                     triplet_reference)

SHORT = [  # two bursts per row, 1 s apart: the Brian2 run stays short
    {"row_id": f"r{k}", "frequency_hz": f, "dt_ms": d, "pairs_per_burst": 5, "n_bursts": 2, "burst_period_s": 1.0,
     "epsp_ratio": 1.0, "sem": 0.1, "n": 1}
    for k, (f, d) in enumerate([(50.0, -10.0), (20.0, 10.0), (10.0, -10.0), (40.0, 10.0)])
]


def _plasticity(model, *over):
    raw, name = load_raw(model)
    for o in over:
        key, value = o.split("=")
        raw["plasticity"][key] = eval(value)
    return parse_spiking(raw, name).plasticity


@pytest.mark.parametrize("model,over", [("stdp-triplet-nearest", ()), ("stdp-triplet", ()),
                                        ("stdp-triplet-nearest", ("traces='all_to_all'", "a3_minus=0.01"))])
def test_brian2_triplet_matches_reference(model, over):
    """Every row's weight change equals the NumPy event-by-event reference (1e-9)."""
    overrides = [f"plasticity.{o.replace(chr(39), chr(34))}" for o in over] + ["simulation.dt_ms=1.0"]
    res = run_protocol(model, rows=SHORT, overrides=overrides, target="numpy")
    p = _plasticity(model, *over)
    for k, row in enumerate(SHORT):
        arrival, post = pairing_times(row)
        expected = 1.0 + triplet_reference(arrival, post, p)
        assert res["model_ratio"][k] == pytest.approx(expected, abs=1e-9)
        assert res["lag_ms"][k] == pytest.approx(row["dt_ms"], abs=1e-6)
    # the rows differ: the test would notice a rule that ignores timing or frequency
    assert np.ptp(res["model_ratio"]) > 0.01


def test_reference_closed_form_single_pairs():
    """One pre-post pair at lag s: A2+ e^{-s/tau+}; post-pre: -A2- e^{-s/tau-}; a post-pre-post
    triplet adds the A3+ term with the slow post trace read before the second post spike."""
    p = _plasticity("stdp-triplet-nearest")
    assert triplet_reference([0.0], [10.0], p) == pytest.approx(p.a_plus * np.exp(-10 / 16.8))
    assert triplet_reference([10.0], [0.0], p) == pytest.approx(-p.a_minus * np.exp(-10 / 33.7))
    got = triplet_reference([10.0], [0.0, 20.0], p)
    ltd = -p.a_minus * np.exp(-10 / 33.7)
    ltp = np.exp(-10 / 16.8) * (p.a_plus + p.a3_plus * np.exp(-20 / p.tau_y_ms))
    assert got == pytest.approx(ltd + ltp)


def test_triplet_fits_sjostrom_pair_rule_does_not():
    """The full published protocol through the reference (exact for these additive rules):
    the nearest-spike triplet model is within SEM at >= 8 of 10 points; the project's pair
    window (Bi & Poo fit) is not, and it cannot give potentiation for post-before-pre at
    0.1 Hz where the data show depression."""
    rows = read_data()
    ratios = {}
    for model in ("stdp-triplet-nearest", "stdp-window"):
        p = _plasticity(model) if model != "stdp-window" else _pair_as_triplet()
        ratios[model] = [1.0 + triplet_reference(*pairing_times(r), p) for r in rows]
    tri, pair = goodness(ratios["stdp-triplet-nearest"], rows), goodness(ratios["stdp-window"], rows)
    assert tri["within_sem"] >= 8
    assert pair["within_sem"] < 8 and pair["chi2"] > 5 * tri["chi2"]
    k = [i for i, r in enumerate(rows) if r["frequency_hz"] == 50.0 and r["dt_ms"] < 0][0]
    assert ratios["stdp-triplet-nearest"][k] > 1.2  # potentiation for post-before-pre at 50 Hz


def _pair_as_triplet():
    """The stdp-window pair rule as a triplet rule with zero triplet terms (per-synapse
    nearest traces, the same pairs as the neuron-level rule)."""
    raw, name = load_raw("stdp-window")
    raw["plasticity"].update(window="triplet", a3_plus=0.0, a3_minus=0.0)
    return parse_spiking(raw, name).plasticity
