"""A tiny conditioning task learns with reward and not without; the critic (RPE mode)
removes the mean of a behaviour-independent reward (Brian2 runtime/Cython target)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("brian2")

from _spiking_nets import conditioning  # noqa: E402

from neuro_grlu.io import read_run  # noqa: E402
from neuro_grlu.spiking.config import parse_spiking  # noqa: E402
from neuro_grlu.spiking.simulate import simulate  # noqa: E402


@pytest.fixture(scope="module")
def conditioning_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("conditioning")
    runs = {}
    for reward in (True, False):
        cfg = parse_spiking(conditioning(reward=reward))
        path = d / f"{'reward' if reward else 'control'}.h5"
        simulate(cfg, out=path, target="runtime", progress=False)
        runs[reward] = read_run(path)
    return runs


def test_conditioning_learns_with_reward_only(conditioning_runs):
    learned, control = conditioning_runs[True], conditioning_runs[False]
    for run in (learned, control):
        assert run.status == "complete"
        assert run.arrays["spike_t"].size > 100  # the outputs fire
        assert run.arrays["scheduled_t"].size >= 5  # coincidences happen in both runs
    # rewards only in the rewarded run
    assert learned.arrays["reward_t"].size >= 5 and "reward_t" not in control.arrays
    assert np.all(control.arrays["dopamine"] == 0.002)  # tonic level only
    w_learned = float(learned.weights["w_final"][learned.arrays["tracked_synapses"][0]])
    w_control = float(control.weights["w_final"][control.arrays["tracked_synapses"][0]])
    others = np.delete(learned.weights["w_final"], learned.arrays["tracked_synapses"][0])
    assert w_learned > 3.0, w_learned           # climbs from 0 towards the cap of 4
    assert w_control < 0.3, w_control           # stays near its start of 0
    assert w_learned > np.percentile(others, 75)


def test_rewarded_run_file_has_units_and_chunks(conditioning_runs):
    run = conditioning_runs[True]
    assert run.kind == "spiking" and run.epochs_completed == 2
    assert run.array_units["spike_t"] == "s" and run.metric_units["time_s"] == "s"
    np.testing.assert_allclose(run.metrics["time_s"], [15.0, 30.0])
    assert np.all(np.diff(run.arrays["spike_t"]) >= 0)
    assert run.arrays["tracked_w"].shape == (3000, run.arrays["tracked_synapses"].size)


def _dopamine_only(rpe: bool):
    return {
        "kind": "spiking", "name": "critic",
        "simulation": {"duration_s": 400.0, "dt_ms": 10.0, "chunk_s": 400.0, "seed": 2},
        "populations": {"src": {"model": "poisson", "n": 1, "rate_hz": 0.0}},
        "dopamine": {"tau_d_ms": 200.0, "tonic": 0.0, "rpe": rpe, "tau_critic_s": 20.0},
        "reward": {"kind": "uncorrelated", "rate_hz": 2.0, "amount": 0.5},
        "recording": {"state_dt_ms": 10.0, "spikes": False},
    }


def test_critic_subtracts_expected_reward(tmp_path):
    means = {}
    for rpe in (False, True):
        path = tmp_path / f"rpe{rpe}.h5"
        simulate(parse_spiking(_dopamine_only(rpe)), out=path, target="runtime", progress=False)
        run = read_run(path)
        t, d = run.arrays["state_t"], run.arrays["dopamine"]
        means[rpe] = d[t > 200.0].mean()  # after the critic has converged (10 tau_critic)
        n = run.arrays["reward_t"].size
        assert 600 < n < 1000  # 2 Hz for 400 s
    # without a critic: mean d = rate * amount * tau_d = 2 * 0.5 * 0.2 = 0.2
    assert means[False] == pytest.approx(0.2, rel=0.15)
    # with it, the expected part is removed: the mean is near zero
    assert abs(means[True]) < 0.1 * means[False]
