"""Stripped run files, compression and checksums (issue 14 item 7, issue 18 item 5; fast)."""

import hashlib
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from neuro_grlu.cli import main
from neuro_grlu.errors import RunFileError
from neuro_grlu import read_run
from neuro_grlu.io import STRIP_KEEP_MAX_SIZE, RunWriter
from neuro_grlu.plotting import figure_names, figures
from neuro_grlu.strip import strip_run

N_STATE = 2400  # 24 s of state-monitor samples every 10 ms


def _spiking_run(path, *, strip=False):
    """A small spiking-kind run file: weights, spike trains (streamed), traces, a histogram."""
    rng = np.random.default_rng(3)
    config = {"plasticity": {"w_max": 4.0}, "reward": {"kind": "coincidence"},
              "populations": {"exc": {"n": 8}, "inh": {"n": 2}}}
    w0 = rng.uniform(0, 1, 500).astype(np.float32)
    w1 = np.clip(w0 + rng.normal(0, 0.1, 500), 0, 4).astype(np.float32)
    w1[0] = 4.0
    t = np.arange(N_STATE) * 0.01
    tracked = np.cumsum(rng.normal(0, 0.01, (N_STATE, 3)), axis=0).astype(np.float32)
    tracked[:, 0] = np.linspace(0, 4.0, N_STATE)
    with RunWriter(path, config=config, seed=1, model="toy-distal", kind="spiking", epochs_planned=2,
                   strip=strip, metric_units={"time_s": "s"}) as w:
        for e in range(2):
            w.stream("spike_i", rng.integers(0, 10, 300).astype(np.int32))
            w.stream("spike_t", np.sort(rng.uniform(12 * e, 12 * (e + 1), 300)), units="s")
            w.append_epoch({"time_s": 12.0 * (e + 1), "rate_exc_hz": 3.0 + e, "chosen_weight": 2.0 * (e + 1)})
        w.finish(weights={"w_initial": w0, "w_final": w1, "tiny_ms": np.array([1.5])},
                 arrays={"state_t": (t, "s"), "tracked_w": tracked, "dopamine": np.abs(tracked[:, 1]),
                         "tracked_synapses": np.array([0, 7, 9], np.int32), "reward_t": (np.array([3.0, 9.0]), "s"),
                         "w_hist": rng.integers(0, 50, (2, 10)), "w_hist_edges": np.linspace(0, 4, 11),
                         "pre_idx": np.arange(500, dtype=np.int32), "post_idx": np.arange(500, dtype=np.int32)})
    return w0, w1, tracked


def _one_line(capsys, argv, status=2):
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert err.startswith("neuro-grlu: error: ") and "\n" not in err
    return err


def test_strip_keeps_metrics_and_records_what_it_dropped(tmp_path):
    full_path, lean_path = tmp_path / "full.h5", tmp_path / "lean.h5"
    w0, w1, tracked = _spiking_run(full_path)
    res = strip_run(full_path, lean_path)
    full, lean = read_run(full_path), read_run(lean_path)
    assert lean.stripped and not full.stripped and res.bytes_after < res.bytes_before
    # provenance and metrics unchanged, byte for byte
    for attr in ("config", "seed", "model", "kind", "status", "command", "git_commit", "versions", "created"):
        assert getattr(lean, attr) == getattr(full, attr)
    for k, v in full.metrics.items():
        assert lean.metrics[k].tobytes() == v.tobytes() and lean.metrics[k].dtype == v.dtype
    # weights above the size limit, spike trains and synapse indices are dropped, with digests
    dropped = lean.strip_info["dropped"]
    assert set(dropped) == {"weights/w_initial", "weights/w_final", "arrays/spike_i", "arrays/spike_t",
                            "arrays/pre_idx", "arrays/post_idx"}
    assert dropped["weights/w_final"]["sha256"] == hashlib.sha256(w1.tobytes()).hexdigest()
    assert dropped["arrays/spike_t"]["shape"] == [600]
    assert set(lean.weights) == {"tiny_ms"} and STRIP_KEEP_MAX_SIZE >= 1
    # traces on state_t keep one sample per second (every 100th), exactly the full values there
    assert lean.strip_info["subsampled"]["arrays/tracked_w"]["stride"] == 100
    np.testing.assert_array_equal(lean.arrays["tracked_w"], tracked[::100])
    np.testing.assert_array_equal(lean.arrays["w_hist"], full.arrays["w_hist"])
    # the report summary is the same (spike count from the record)
    s_full, s_lean = full.summary(), lean.summary()
    for s in (s_full, s_lean):
        s.pop("file"), s.pop("name")
    assert s_lean == s_full and s_lean["n_spikes"] == 600


def test_derived_distal_numbers_survive_stripping(tmp_path):
    from neuro_grlu.spiking.experiments.distal_reward import summarize

    _spiking_run(tmp_path / "full.h5")
    strip_run(tmp_path / "full.h5", tmp_path / "lean.h5")
    full = json.loads(json.dumps(summarize(read_run(tmp_path / "full.h5"))))
    assert summarize(read_run(tmp_path / "lean.h5")) == full
    assert full["chosen_final"] == 4.0 and full["time_to_cap_s"] is not None


def test_strip_in_place_is_idempotent(tmp_path):
    path = tmp_path / "run.h5"
    _spiking_run(path)
    first = strip_run(path)
    info = read_run(path).strip_info
    second = strip_run(path)
    assert read_run(path).strip_info == info  # the first record (digests of the full data) is kept
    assert second.bytes_after <= first.bytes_after * 1.05


def test_figures_that_need_dropped_data_say_so_in_one_line(tmp_path, capsys):
    path = tmp_path / "run.h5"
    _spiking_run(path)
    strip_run(path)
    run = read_run(path)
    # weights/dopamine from the subsampled traces, histogram from the counts the strip kept
    assert set(figure_names(run)) == {"weights", "dopamine", "histogram"}
    for name, needs in (("raster", "arrays/spike_t"),):
        with pytest.raises(RunFileError, match=f"figure '{name}' needs {needs}, which `neuro-grlu strip` dropped"):
            figures(run, name)
        err = _one_line(capsys, ["plot", str(path), "-f", name, "--out", str(tmp_path / "x.png")])
        assert "stripped" not in err or "strip" in err
    assert main(["plot", str(path), "--out", str(tmp_path / "fig.png")]) == 0
    notes = capsys.readouterr().err.strip().splitlines()
    assert len(notes) == 1 and all(n.startswith("note: skipped figure") for n in notes)
    assert (tmp_path / "fig-weights.png").is_file()
    from neuro_grlu.spiking.statistics import run_statistics

    with pytest.raises(RunFileError, match="stripped"):
        run_statistics(run, t_start=5.0)  # not the window the strip kept


def test_stripped_spiking_run_keeps_the_statistics_of_its_last_600_s(tmp_path):
    """The spike trains go, the firing statistics of the kept window stay (notebook 6 reads them)."""
    from neuro_grlu.spiking.statistics import run_statistics

    path = tmp_path / "run.h5"
    _spiking_run(path)
    full = run_statistics(read_run(path), t_start=0.0, t_stop=24.0)
    strip_run(path)
    run = read_run(path)
    assert "spike_t" not in run.arrays
    kept = run_statistics(run, t_start=0.0, t_stop=24.0)
    assert set(kept) == set(full) == {"exc", "inh"}
    for name in full:
        for key in ("rate_hz", "cv_isi", "fano"):
            np.testing.assert_array_equal(kept[name][key], full[name][key])
        for key in ("mean_rate_hz", "median_cv_isi", "median_fano", "mean_correlation"):
            assert kept[name][key] == full[name][key] or (np.isnan(kept[name][key]) and np.isnan(full[name][key]))
    with pytest.raises(RunFileError, match="stripped"):
        run_statistics(run, t_start=0.0, t_stop=24.0, window_s=2.0)  # other settings: not kept


def test_cli_strip_and_inspect(tmp_path, capsys):
    path = tmp_path / "run.h5"
    _spiking_run(path)
    assert main(["strip", str(path)]) == 0
    assert "MB ->" in capsys.readouterr().out
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stripped    yes: dropped" in out and "weights/w_final (500,)" in out
    assert main(["report", str(path)]) == 0
    _one_line(capsys, ["strip", str(path), str(path), "--out", str(tmp_path / "o.h5")])
    _one_line(capsys, ["strip", str(tmp_path / "missing.h5")])


def test_writer_option_writes_a_stripped_file(tmp_path):
    _spiking_run(tmp_path / "full.h5")
    _spiking_run(tmp_path / "lean.h5", strip=True)
    full, lean = read_run(tmp_path / "full.h5"), read_run(tmp_path / "lean.h5")
    assert lean.stripped and set(lean.weights) == {"tiny_ms"}
    assert "spike_t" not in lean.arrays and lean.strip_info["dropped"]["arrays/spike_t"]["shape"] == [600]
    assert lean.strip_info["dropped"]["weights/w_final"] == {
        "shape": [500], "dtype": "<f4", "sha256": hashlib.sha256(full.weights["w_final"].tobytes()).hexdigest()}
    for k in full.metrics:
        assert lean.metrics[k].tobytes() == full.metrics[k].tobytes()
    assert lean.summary()["n_spikes"] == 600


def test_weights_are_gzip_compressed_with_checksums(tmp_path):
    _spiking_run(tmp_path / "run.h5")
    with h5py.File(tmp_path / "run.h5") as f:
        for name in ("weights/w_final", "arrays/tracked_w", "arrays/spike_t"):
            assert f[name].compression == "gzip" and f[name].fletcher32, name
        assert f["metrics/time_s"].fletcher32


def _flip(path, dataset):
    """Flip up to 64 bytes inside the first stored chunk of `dataset` on disk."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    n = min(64, info.size - 4)  # the last 4 bytes of a chunk are its checksum
    offset = info.byte_offset + (info.size - 4 - n) // 2
    with open(path, "r+b") as fh:
        fh.seek(offset)
        data = bytearray(fh.read(n))
        fh.seek(offset)
        fh.write(bytes(b ^ 0xFF for b in data))


@pytest.mark.parametrize("dataset", ["/weights/w_final", "/arrays/tracked_w", "/metrics/time_s"])
def test_a_corrupt_dataset_is_named(tmp_path, capsys, dataset):
    path = tmp_path / "run.h5"
    _spiking_run(path)
    _flip(path, dataset)
    with pytest.raises(RunFileError, match=f"corrupt: dataset {dataset} fails its Fletcher-32 checksum"):
        read_run(path)
    for command in (["inspect", str(path)], ["report", str(path)], ["plot", str(path), "--out", str(tmp_path / "p.png")]):
        assert dataset in _one_line(capsys, command)


def test_strip_results_script_checks_and_replaces(tmp_path):
    """benchmarks/strip_results.py on a copy: checks pass, files replaced, sizes printed."""
    from pathlib import Path

    root = tmp_path / "results"
    (root / "distal-reward").mkdir(parents=True)
    _spiking_run(root / "distal-reward" / "distal-reward.h5")
    before = (root / "distal-reward" / "distal-reward.h5").stat().st_size
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "strip_results.py"
    res = subprocess.run([sys.executable, str(script), str(root)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "all checks passed; 1 run files stripped in place" in res.stdout
    assert "distal-reward" in res.stdout and read_run(root / "distal-reward" / "distal-reward.h5").stripped
    assert (root / "distal-reward" / "distal-reward.h5").stat().st_size < before
    assert not list(tmp_path.glob(".strip-*"))


def test_learner_state_is_dropped_whole_and_a_stripped_file_cannot_resume(tmp_path):
    from neuro_grlu.io import read_learner_state

    path = tmp_path / "run.h5"
    config = {"rule": {"name": "grlu"}}
    with RunWriter(path, config=config, seed=1, model="m", epochs_planned=2) as w:
        w.append_epoch({"loss": 1.0}, weights={"W0": np.ones((20, 20), np.float32)},
                       learner_state=({"rule/moment": np.arange(3.0), "rule/big": np.zeros(500)}, {"format": 1}))
    assert read_learner_state(path) is not None
    strip_run(path)
    with h5py.File(path) as f:
        assert "learner_state" not in f
    assert read_learner_state(path) is None
    dropped = read_run(path).strip_info["dropped"]
    assert {"learner_state/rule/moment", "learner_state/rule/big", "weights/W0"} <= set(dropped)
    with pytest.raises(RunFileError, match="no learner state"):
        RunWriter.resume(path, config=config)


def test_weight_histograms_of_a_stripped_file_equal_the_full_ones(tmp_path):
    from neuro_grlu.figures.spiking import weight_histograms

    path = tmp_path / "run.h5"
    _spiking_run(path)
    full = weight_histograms(read_run(path))
    strip_run(path)
    run = read_run(path)
    assert "w_final" not in run.weights
    lean = weight_histograms(run)
    np.testing.assert_array_equal(lean[0], full[0])
    np.testing.assert_array_equal(lean[1], full[1])
    assert lean[2] == full[2] == 4.0  # the chosen (first tracked) synapse ends at the cap
    assert full[0].sum() == full[1].sum() == 500
