"""The TD critic (``[dopamine] critic = "td"``) gives the three dopamine responses of
Schultz, Dayan & Montague (1997): a burst at an unpredicted reward, a burst at the cue
and none at the predicted reward after learning, and a dip when a predicted reward is
omitted. Small protocol, NumPy target (no compilation)."""

import numpy as np
import pytest

from neuro_grlu.errors import ConfigError
from neuro_grlu.spiking.config import parse_spiking
from neuro_grlu.spiking.experiments.conditioning import Protocol, definition, responses, run_conditioning

P = Protocol(n_trials=40, trial_s=1.5, cue_s=0.4, reward_delay_s=0.5, probe_from=25, probe_every=5, after_block=8)
TD = {"td_bin_ms": 50.0, "td_units": 12, "td_alpha": 0.6, "td_gamma": 0.98, "neurons": 40}


@pytest.fixture(scope="module")
def result():
    return run_conditioning(definition(P, dopamine=TD, dt_ms=5.0, seed=3), P, target="numpy")


def test_td_error_matches_closed_form(result):
    """Trial 1: delta is 0 everywhere except the bin after the reward (delta = amount);
    after learning the cue's first bin carries about gamma^(k-1) * amount."""
    t, delta = result["t_bin"], result["delta"]
    first = (t > P.cue_s + 0.05) & (t < P.trial_s)
    nonzero = np.flatnonzero(np.abs(delta[first]) > 1e-12)
    assert len(nonzero) == 1
    k = nonzero[0]
    assert delta[first][k] == pytest.approx(P.amount)
    assert t[first][k] == pytest.approx(P.cue_s + P.reward_delay_s + 0.05, abs=1e-9)
    # last rewarded trial: the burst has moved to the cue
    last = P.probes()[0] - 1
    c = P.cue_times()[last]
    sel = (t > c + 0.05) & (t < c + P.reward_delay_s + 0.35)
    d = delta[sel]
    assert d[0] > 0.5 * P.amount * 0.98 ** 9
    assert np.all(np.abs(d[1:]) < 0.2 * d[0])


def test_three_dopamine_responses(result):
    r = responses(result)
    base = 5.0
    for name in r:
        assert abs(r[name]["baseline"] - base) < 1.5
    # before learning: a burst at the reward, nothing at the cue
    assert r["before"]["reward"] - r["before"]["pre_reward"] > 10.0
    assert abs(r["before"]["cue"] - base) < 3.0
    # after learning: a burst at the cue and none at the reward (no rise above the cue's tail)
    assert r["after"]["cue"] > base + 8.0
    assert r["after"]["reward"] - r["after"]["pre_reward"] < 1.5
    # omission: a dip when the reward was due, below the background rate
    assert r["omission"]["reward"] < base - 3.0
    assert r["omission"]["reward"] < r["omission"]["pre_reward"] - 3.0
    assert r["omission"]["cue"] > base + 8.0


def test_td_definition_errors():
    raw = definition(P, dopamine=TD)
    raw["dopamine"]["cue"] = "nope"
    with pytest.raises(ConfigError, match="dopamine.cue must name"):
        parse_spiking(raw)
    raw = definition(P, dopamine={**TD, "rpe": True})
    with pytest.raises(ConfigError, match="two critics"):
        parse_spiking(raw)
