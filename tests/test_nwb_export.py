"""NWB export of spiking runs: ``neuro-grlu export RUN.h5 --nwb OUT.nwb`` writes a file that
pynwb reads back with the same spike trains, populations and state, nwbinspector reports
no error for, and a run without spikes is refused in one line."""

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")

from _spiking_nets import conditioning  # noqa: E402

from neuro_grlu.cli import main  # noqa: E402
from neuro_grlu.io import read_run  # noqa: E402
from neuro_grlu.spiking.config import parse_spiking  # noqa: E402
from neuro_grlu.spiking.simulate import simulate  # noqa: E402


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nwb") / "cond.h5"
    simulate(parse_spiking(conditioning(reward=True, duration_s=4.0)), out=path, target="numpy", progress=False)
    return path


def test_export_round_trip(run_file, tmp_path):
    out = tmp_path / "cond.nwb"
    assert main(["export", str(run_file), "--nwb", str(out)]) == 0
    run = read_run(run_file)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert len(units) == 2 and list(units["population"]) == ["out", "out"]
        i, t = run.arrays["spike_i"], run.arrays["spike_t"]
        assert sum(len(s) for s in units["spike_times"]) == len(t) > 0
        for k in range(2):
            np.testing.assert_array_equal(units["spike_times"].iloc[k], np.sort(t[i == k]))
        state = nwb.processing["model_state"]
        dop = state["dopamine"]
        np.testing.assert_array_equal(dop.data[:], run.arrays["dopamine"])
        assert dop.unit == "a.u." and dop.rate == pytest.approx(1000.0 / run.config["recording"]["state_dt_ms"])
        w = state["tracked_weights"]
        np.testing.assert_allclose(w.data[:], run.arrays["tracked_w"], rtol=1e-7)
        assert w.unit == "mV"
        syn = state["tracked_synapses"].to_dataframe()
        np.testing.assert_array_equal(syn["synapse"], run.arrays["tracked_synapses"])
        import json
        assert json.loads(nwb.notes)["populations"]["out"]["n"] == 2
        prov = json.loads(nwb.data_collection)
        assert prov["seed"] == run.seed and prov["git_commit"] == run.git_commit


def test_nwbinspector_finds_no_error(run_file, tmp_path):
    from nwbinspector import Importance, inspect_nwbfile

    out = tmp_path / "cond.nwb"
    assert main(["export", str(run_file), "--nwb", str(out)]) == 0
    messages = list(inspect_nwbfile(nwbfile_path=str(out)))
    bad = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.PYNWB_VALIDATION,
                                                   Importance.ERROR)]
    assert not bad, bad
    # the one best-practice violation left: a simulated network has no species
    violations = {m.check_function_name for m in messages if m.importance == Importance.BEST_PRACTICE_VIOLATION}
    assert violations <= {"check_subject_species_exists"}, violations


def test_run_without_spikes_is_refused(tmp_path, capsys):
    raw = conditioning(reward=False, duration_s=1.0)
    raw["recording"]["spikes"] = False
    path = tmp_path / "nospikes.h5"
    simulate(parse_spiking(raw), out=path, target="numpy", progress=False)
    assert main(["export", str(path), "--nwb", str(tmp_path / "x.nwb")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no spike trains" in err[0]
    assert not (tmp_path / "x.nwb").exists()


def test_run_of_another_kind_is_refused(tmp_path, capsys):
    from neuro_grlu.io import RunWriter

    path = tmp_path / "rate.h5"
    with RunWriter(path, config={"kind": "rate"}, seed=0, model="m", kind="rate", epochs_planned=1) as w:
        w.append_epoch({"test_accuracy": 0.5})
        w.finish()
    assert main(["export", str(path), "--nwb", str(tmp_path / "y.nwb")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kind 'rate'" in err[0] and "no spike trains" in err[0]
