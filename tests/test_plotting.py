"""Every figure kind renders from a small run file of its kind (rate, spiking, continual,
STDP window), through ``neuro-grlu plot`` and ``Run.plot()``; bad input is one line; the
Python reader (``read_run``, ``report``, ``Run.summary``) works on each kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import neuro_grlu
from _spiking_nets import conditioning
from conftest import TINY_MODEL_TOML
from neuro_grlu.cli import main
from neuro_grlu.errors import NeuroGRLUError, RunFileError
from neuro_grlu import read_run
from neuro_grlu.io import RunWriter
from neuro_grlu.plotting import FIGURES, figure_names, figures, plot_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- small run files


@pytest.fixture(scope="module")
def rate_runs(tiny_mnist, tmp_path_factory):
    """Two short GRLU runs (100 images, 2 epochs, seeds 1 and 2) with gradient alignment."""
    from neuro_grlu.config import load_model
    from neuro_grlu.data import load_idx_dir
    from neuro_grlu.train import train

    d = tmp_path_factory.mktemp("rate")
    (d / "tiny.toml").write_text(TINY_MODEL_TOML)
    data = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    paths = []
    for seed in (1, 2):
        cfg = load_model(str(d / "tiny.toml"), [f"training.seed={seed}", "data.train_limit=100"])
        paths.append(d / f"tiny-seed{seed}.h5")
        train(cfg, data, out=paths[-1], progress=False, log=lambda line: None)
    return paths


@pytest.fixture(scope="module")
def spiking_run(tmp_path_factory):
    """A tiny rewarded conditioning network (10 Poisson inputs -> 2 neurons, 4 s, 2 chunks)."""
    from neuro_grlu.spiking.config import parse_spiking
    from neuro_grlu.spiking.simulate import simulate

    path = tmp_path_factory.mktemp("spiking") / "tiny-spiking.h5"
    # NumPy target on purpose: the tests draw figures from the run file, and NumPy compiles nothing
    # (this network runs on Cython in test_spiking_learning.py and test_spiking_targets.py). The STDP
    # window below stays on Cython: no other default-group test runs that protocol.
    simulate(parse_spiking(conditioning(reward=True, duration_s=4.0)), out=path, target="numpy",
             progress=False)
    return path


@pytest.fixture(scope="module")
def continual_runs(tiny_mnist, tmp_path_factory):
    """Two small continual runs on the tiny data (hippocampus on pixels; slow FA fine-tuning),
    two tasks, a few-shot experiment with 1 and 3 examples per class."""
    from neuro_grlu.cls.config import load_continual
    from neuro_grlu.cls.experiment import run_continual
    from neuro_grlu.data import load_idx_dir

    d = tmp_path_factory.mktemp("continual")
    data = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    common = ["protocol.tasks=\"halves\"", "protocol.train_limit_per_task=100", "protocol.test_limit=100",
              "protocol.fewshot=[1, 3]", "protocol.fewshot_repeats=2"]
    paths = []
    for model, extra in (("cls-hippocampus-pixels", ["hippocampus.prototypes_per_class=5"]),
                         ("cls-finetune-fa", ["slow.network.hidden=[16]", "protocol.fewshot_slow_epochs=1"])):
        cfg = load_continual(model, common + extra)
        paths.append(d / f"{model}.h5")
        run_continual(cfg, data, out=paths[-1], progress=False, log=lambda line: None)
    return paths


@pytest.fixture(scope="module")
def stdp_run(tmp_path_factory):
    """The pairing protocol with 8 lags and 5 pairs each: a run file and the CSV beside it (no JSON)."""
    from neuro_grlu.spiking.experiments.stdp_window import run_stdp_window

    d = tmp_path_factory.mktemp("stdp")
    run_stdp_window("stdp-window", out_dir=d, overrides=["protocol.n_pairs=5", "protocol.lag_step_ms=25",
                                                        "protocol.rate_hz=4"], plot=False)
    assert (d / "stdp-window.csv").is_file() and not list(d.glob("*.json"))
    return d / "stdp-window.h5"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def run_main(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5_000, path


def _all_axes_labelled(fig: Figure):
    """Every data axis has an x and a y label, or shares that axis with one that has."""
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax in axes:
        for get, shared in (("get_xlabel", ax.get_shared_x_axes()), ("get_ylabel", ax.get_shared_y_axes())):
            assert any(getattr(other, get)() for other in axes if other is ax or shared.joined(ax, other)), \
                (get, ax.get_title())


# --------------------------------------------------------------------------- figures per kind


def test_rate_figures(rate_runs):
    runs = [read_run(p) for p in rate_runs]
    assert figure_names(runs[0]) == ["curves", "alignment"]
    figs = figures(runs, ["curves", "alignment"])
    assert set(figs) == {"curves", "alignment"}  # both overlay the two runs
    for fig in figs.values():
        _all_axes_labelled(fig)
    assert any("(%)" in ax.get_ylabel() for ax in figs["curves"].axes)
    assert "degree" in figs["alignment"].axes[0].get_ylabel()


def test_spiking_figures(spiking_run, tmp_path):
    run = read_run(spiking_run)
    assert figure_names(run) == list(FIGURES["spiking"])
    paths = run.plot(out=tmp_path / "net.png")
    assert [p.name for p in paths] == [f"net-{n}.png" for n in FIGURES["spiking"]]
    for p in paths:
        assert_png(p)
    figs = run.plot()
    for fig in figs.values():
        _all_axes_labelled(fig)
    assert figs["raster"].axes[0].get_xlabel() == "time (s)"
    assert "mV" in figs["weights"].axes[0].get_ylabel()
    assert "µM" in figs["dopamine"].axes[0].get_ylabel()


def test_continual_figures(continual_runs, tmp_path):
    runs = [read_run(p) for p in continual_runs]
    assert figure_names(runs[0]) == ["matrix", "forgetting", "fewshot"]
    figs = figures(runs)
    # matrix: one per run; forgetting and few-shot overlay both runs
    assert set(figs) == {"cls-hippocampus-pixels-matrix", "cls-finetune-fa-matrix", "forgetting", "fewshot"}
    for fig in figs.values():
        _all_axes_labelled(fig)
    assert len(figs["fewshot"].axes[0].get_legend().get_texts()) == 3  # two runs + chance
    paths = plot_runs(runs, tmp_path / "cls.png")
    assert sorted(p.name for p in paths) == sorted(["cls-hippocampus-pixels-matrix.png", "cls-finetune-fa-matrix.png",
                                                    "cls-forgetting.png", "cls-fewshot.png"])
    for p in paths:
        assert_png(p)


def test_stdp_window_figure_from_run(stdp_run, capsys, tmp_path):
    run = read_run(stdp_run)
    assert run.kind == "stdp-window" and run.complete
    assert run.array_units["lags_ms"] == "ms" and run.metric_units["tau_plus_ms"] == "ms"
    assert len(run.arrays["lags_ms"]) == 8
    code, out, err = run_main(capsys, "plot", stdp_run)
    assert code == 0 and err == ""
    assert_png(stdp_run.with_suffix(".png"))
    fig = run.plot("window")["window"]
    assert fig.axes[0].get_xlabel().endswith("(ms)") and fig.axes[0].get_ylabel().endswith("(%)")


def test_old_stdp_window_json_is_refused_with_the_command_that_converts_it(capsys, tmp_path):
    import shutil

    stored = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "stdp-window"
    old = tmp_path / "stdp-window.json"
    shutil.copy(stored / "stdp-window.json", old)
    shutil.copy(stored / "stdp-window.toml", tmp_path / "stdp-window.toml")
    code, out, err = run_main(capsys, "plot", old)
    assert code == 2 and err.count("\n") == 1
    assert f"neuro-grlu stdp-window --convert {old}" in err
    code, out, err = run_main(capsys, "stdp-window", "--convert", old)
    assert code == 0 and err == "" and old.with_suffix(".h5").is_file()
    result = json.loads(old.read_text())
    run = read_run(old.with_suffix(".h5"))
    assert run.kind == "stdp-window" and run.complete and run.seed == 1
    assert run.arrays["lags_ms"].tolist() == result["lags_ms"] and run.arrays["dw_percent"].tolist() == result["dw_percent"]
    assert run.summary()["tau_plus_ms"] == result["fit"]["tau_plus_ms"]
    assert run.config["definition"]["converted_from"] == str(old)
    code, out, err = run_main(capsys, "stdp-window", "--convert", old)  # the run file exists now
    assert code == 2 and "--overwrite" in err
    code, out, err = run_main(capsys, "plot", old.with_suffix(".h5"))
    assert code == 0 and err == ""
    assert_png(old.with_suffix(".png"))


# --------------------------------------------------------------------------- the plot command


def test_plot_cli_spiking_writes_one_png_per_figure(spiking_run, capsys, tmp_path):
    code, out, err = run_main(capsys, "plot", spiking_run, "--out", tmp_path / "s.png", "-f", "raster,dopamine")
    assert code == 0 and err == ""
    assert out.split() == [str(tmp_path / "s-raster.png"), str(tmp_path / "s-dopamine.png")]
    code, out, _ = run_main(capsys, "plot", spiking_run, "--list")
    assert code == 0 and "raster, weights, histogram, dopamine" in out


def _one_line(err):
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("neuro-grlu: error: "), err
    return err


def test_plot_cli_errors_are_one_line(spiking_run, continual_runs, rate_runs, capsys, tmp_path):
    code, _, err = run_main(capsys, "plot", spiking_run, "-f", "matrix")
    assert code == 2 and "no figure 'matrix' for spiking runs" in _one_line(err)
    code, _, err = run_main(capsys, "plot", spiking_run, continual_runs[0])
    assert code == 2 and "different kinds" in _one_line(err)
    code, _, err = run_main(capsys, "plot", rate_runs[0], "-f", "fewshot")
    assert code == 2 and _one_line(err)
    # a run of an unknown kind
    odd = tmp_path / "odd.h5"
    with RunWriter(odd, config={}, seed=0, model="m", kind="weird", epochs_planned=1) as w:
        w.append_epoch({"x": 1.0})
        w.finish()
    code, _, err = run_main(capsys, "plot", odd)
    assert code == 2 and "kind 'weird'" in _one_line(err)
    # a spiking run whose arrays are inconsistent: the figure fails with one line, no PNG
    run = read_run(spiking_run)
    broken = tmp_path / "broken.h5"
    with RunWriter(broken, config=run.config, seed=1, model="m", kind="spiking", epochs_planned=1) as w:
        w.append_epoch({"time_s": 1.0})
        w.finish(arrays={"spike_t": np.zeros(3), "spike_i": np.zeros(2, np.int64)})
    code, _, err = run_main(capsys, "plot", broken)
    assert code == 2 and "cannot draw 'raster'" in _one_line(err)
    assert not list(tmp_path.glob("broken*.png"))
    # a corrupt file and a JSON that is not a window
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5\n" * 50)
    code, _, err = run_main(capsys, "plot", garbage, "-f", "raster")
    assert code == 2 and str(garbage) in _one_line(err)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text(json.dumps({"model": "x"}))
    code, _, err = run_main(capsys, "plot", bad_json)
    assert code == 2 and "--convert" in _one_line(err)
    code, _, err = run_main(capsys, "stdp-window", "--convert", bad_json)
    assert code == 2 and "not an STDP-window result" in _one_line(err)


def test_plot_help_lists_figures(capsys):
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    out = capsys.readouterr().out
    for names in FIGURES.values():
        for name in names:
            assert name in out
    assert "Bi & Poo" in out and "(ms)" in out


# --------------------------------------------------------------------------- the Python reader


def test_reader_in_two_lines(rate_runs, spiking_run, continual_runs, stdp_run):
    from neuro_grlu import read_run as read, report

    run = read(rate_runs[0])
    s = run.summary()
    assert s["kind"] == "rate" and s["rule"] == "grlu" and 0 <= s["test_accuracy"] <= 1
    assert len(s["alignment_deg"]) == 2 and run.table()[-1]["epoch"] == 2
    assert isinstance(run.plot()["curves"], Figure)

    rows = report([*rate_runs, spiking_run, *continual_runs, stdp_run])
    assert [r["kind"] for r in rows] == ["rate", "rate", "spiking", "continual", "continual", "stdp-window"]
    assert rows.column("seed")[:2].tolist() == [1, 2]
    assert rows.where(kind="rate").column("test_accuracy").shape == (2,)
    spiking = rows[2]
    assert spiking["simulated_s"] == 4.0 and "rate_out_hz" in spiking and spiking["n_spikes"] > 0
    cont = rows[3]
    assert 0 <= cont["average_accuracy_class"] <= 1 and "fewshot_1" in cont and "fewshot_3" in cont
    assert rows[5]["tau_plus_ms"] > 0
    table = rows.markdown(["model", "kind", "test_accuracy"])
    assert table.count("\n") == 7 and "| - |" in table
    # glob patterns
    assert len(report(str(rate_runs[0].parent / "*.h5"))) == 2
    with pytest.raises(RunFileError):
        report(str(rate_runs[0].parent / "*.nothing"))


def test_package_import_stays_light():
    import subprocess
    import sys

    code = "import sys, neuro_grlu; assert 'numpy' not in sys.modules; neuro_grlu.read_run; assert 'h5py' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert neuro_grlu.report is not None


def test_figures_without_runs_or_with_unknown_name(rate_runs):
    with pytest.raises(NeuroGRLUError):
        figures([])
    with pytest.raises(NeuroGRLUError, match="choose from curves, alignment"):
        figures(read_run(rate_runs[0]), "raster")
