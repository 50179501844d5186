"""Sweeps: expansion and validation of sweep files, failing points, resume, summary files, and
the Dask paths (a local cluster started by the sweep, and an existing cluster by address).

Runs are tiny (784-32-10 on 200 synthetic images, 1 epoch, ~0.2 s each). Two Dask clusters
are started in this file (a few seconds each); everything else runs in-process (workers=0).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import TINY_MODEL_TOML
from neuro_grlu.cli import main
from neuro_grlu.errors import ConfigError, NeuroGRLUError
from neuro_grlu.io import RunWriter, read_run
from neuro_grlu.sweep import (TIMING_COLUMNS, _short_names, columns, disk_state, load_sweep, read_summary,
                              run_name, run_sweep)

# Overflow warnings of the deliberately diverging points are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FAST = '["training.epochs=1", "data.train_limit=200", "data.test_limit=100"]'
QUIET = dict(log=lambda line: None)


@pytest.fixture(scope="module")
def model_toml(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep_model") / "tiny.toml"
    path.write_text(TINY_MODEL_TOML)
    return path


def write_sweep(directory, body: str, model, name: str = "sweep.toml") -> "os.PathLike":
    path = directory / name
    path.write_text(f'model = "{model}"\nout = "{directory / "out"}"\n{body}\n')
    return path


def without_timing(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows]


def same_rows(a, b):
    """Rows equal, NaN equal to NaN, timing columns ignored."""
    a, b = without_timing(a), without_timing(b)
    assert [list(r) for r in a] == [list(r) for r in b]
    for ra, rb in zip(a, b):
        for k in ra:
            va, vb = ra[k], rb[k]
            both_nan = isinstance(va, float) and isinstance(vb, float) and math.isnan(va) and math.isnan(vb)
            assert both_nan or va == vb, (k, ra, rb)


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- expansion


def test_grid_is_the_cartesian_product_in_file_order(tmp_path, model_toml):
    path = write_sweep(tmp_path, f'seeds = [3, 1]\nset = {FAST}\n[grid]\n"rule.pairs" = [1, 16]\n'
                                 '"rule.lr_max" = [0.1, 0.3, 1e-5]', model_toml)
    sweep = load_sweep(path)
    assert sweep.keys == ["rule.pairs", "rule.lr_max"]
    assert len(sweep.points) == 2 * 3 * 2
    combos = [(p.config.rule.pairs, p.config.rule.lr_max, p.config.training.seed) for p in sweep.points]
    assert combos == [(pairs, lr, seed) for pairs in (1, 16) for lr in (0.1, 0.3, 1e-5) for seed in (3, 1)]
    assert [p.index for p in sweep.points] == list(range(12))
    names = [p.name for p in sweep.points]
    assert names[:3] == ["pairs=1_lr_max=0.1_seed=3", "pairs=1_lr_max=0.1_seed=1", "pairs=1_lr_max=0.3_seed=3"]
    assert "pairs=16_lr_max=1e-05_seed=1" in names
    assert len(set(names)) == 12
    for p in sweep.points:  # fixed overrides reach every point; the rest is the model's
        assert p.config.training.epochs == 1 and p.config.data.train_limit == 200
        assert p.config.network.hidden == (32,) and p.config.name == "tiny"
        assert p.path == tmp_path / "out" / f"{p.name}.h5" and p.path.is_absolute()
        assert p.seed == p.config.training.seed
    assert not (tmp_path / "out").exists()  # loading creates nothing


def test_grid_accepts_nested_tables_and_list_values(tmp_path, model_toml):
    path = write_sweep(tmp_path, '[grid.rule]\npairs = [1, 2]\n[grid.network]\nhidden = [[32], [16, 8]]\n'
                                 'activation = ["relu", "topk"]', model_toml)
    sweep = load_sweep(path)
    assert sweep.keys == ["rule.pairs", "network.hidden", "network.activation"]
    assert len(sweep.points) == 8
    assert sweep.points[2].config.network.hidden == (16, 8)
    assert sweep.points[2].name == "pairs=1_hidden=16x8_activation=relu_seed=1"  # default seed: the model's
    assert {p.seed for p in sweep.points} == {1}


def test_explicit_points_and_effective_values_in_rows(tmp_path, model_toml):
    path = write_sweep(tmp_path, 'seeds = [5]\n[[points]]\n"rule.pairs" = 2\n'
                                 '[[points]]\n"rule.lr_max" = 0.05\n[[points]]\n', model_toml)
    sweep = load_sweep(path)
    assert sweep.keys == ["rule.pairs", "rule.lr_max"]
    assert [p.name for p in sweep.points] == ["pairs=2_seed=5", "lr_max=0.05_seed=5", "seed=5"]
    assert [p.values for p in sweep.points] == [{"rule.pairs": 2}, {"rule.lr_max": 0.05}, {}]
    assert [(p.config.rule.pairs, p.config.rule.lr_max) for p in sweep.points] == [(2, 0.1), (4, 0.05), (4, 0.1)]
    assert columns(sweep)[:4] == ["index", "run", "rule.pairs", "rule.lr_max"]


def test_no_grid_means_one_point_per_seed(tmp_path, model_toml):
    sweep = load_sweep(write_sweep(tmp_path, "seeds = [0, 7, 2]", model_toml))
    assert [p.name for p in sweep.points] == ["seed=0", "seed=7", "seed=2"]
    assert [p.config.training.seed for p in sweep.points] == [0, 7, 2]


def test_run_names_are_file_safe_and_clashing_fields_qualified():
    short = _short_names(["rule.x", "data.x", "rule.lr_max"])
    assert short == {"rule.x": "rule-x", "data.x": "data-x", "rule.lr_max": "lr_max"}
    name = run_name({"rule.x": "a/b c", "data.x": True, "rule.lr_max": -0.5}, 3, short)
    assert name == "rule-x=a-b-c_data-x=true_lr_max=-0.5_seed=3"
    long = run_name({"rule.x": "v" * 400}, 1, {"rule.x": "x"})
    assert len(long) <= 150 and "/" not in long
    assert long != run_name({"rule.x": "v" * 399}, 1, {"rule.x": "x"})


def test_out_defaults_to_runs_sweep_name_in_the_current_directory(tmp_path, model_toml, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-sweep.toml").write_text(f'model = "{model_toml}"\n')
    assert load_sweep(tmp_path / "my-sweep.toml").out == tmp_path / "runs" / "sweep-my-sweep"
    assert load_sweep("my-sweep.toml", out="elsewhere").out == tmp_path / "elsewhere"


def test_shipped_sweep_files_are_valid():
    from neuro_grlu.config import models_dir

    files = sorted((models_dir() / "sweeps").glob("*.toml"))
    assert files, "models/sweeps/ holds the example sweep files"
    for path in files:
        sweep = load_sweep(path)
        assert sweep.points and len({p.name for p in sweep.points}) == len(sweep.points)


def test_building_the_cli_parser_does_not_import_dask():
    code = ("import sys; from neuro_grlu.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('dask', 'distributed', 'numpy', 'h5py') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("body, words", [
    ('bogus = 1', ["unknown key 'bogus'", "allowed", "grid", "seeds"]),
    ('[grid]', ["[grid] is empty"]),
    ('[grid]\n"rule.pairs" = []', ["'rule.pairs'", "empty list"]),
    ('[grid]\n"rule.pairs" = 4', ["'rule.pairs'", "must be a list"]),
    ('[grid]\n"rule.pairs" = [1, 1]', ["twice"]),
    ('[grid]\n"rules.pairs" = [1]', ["'rules.pairs'", "not a config key", "rule"]),
    ('[grid]\npairs = [1]', ["'pairs'", "not a config key"]),
    ('[grid]\n"rule.pair" = [1, 2]', ["point 0", "'pair'", "allowed", "pairs"]),
    ('[grid]\n"rule.pairs" = [4, 0]', ["point 1", "pairs", ">= 1"]),
    ('[grid]\n"network.hidden" = [256]', ["point 0", "network.hidden"]),
    ('[grid]\n"network.hidden" = [[32, 16]]\n"rule.backend" = ["numba"]', ["point 0", "one hidden layer"]),
    ('points = []', ["points is empty"]),
    ('[grid]\n"rule.pairs" = [1]\n[[points]]\n"rule.pairs" = 2', ["either [grid]", "not both"]),
    ('[[points]]\n"rule.pairs" = 2\n[[points]]\n"rule.pairs" = 2', ["point 1", "run name", "point 0"]),
    ('seeds = [1, 1]', ["seed twice"]),
    ('seeds = [-1]', ["seeds", ">= 0"]),
    ('seeds = 3', ["seeds must be a list"]),
    ('seeds = [1]\n[grid]\n"training.seed" = [1, 2]', ["training.seed", "seeds"]),
    ('set = ["rule.pairs=2"]\n[grid]\n"rule.pairs" = [1]', ["'rule.pairs'", "both fixed in set"]),
    ('set = ["rule.bogus=2"]', ["point 0", "'bogus'"]),
    ('set = [1]', ["set must be a list of strings"]),
    ('description = 5', ["description must be a string"]),
])
def test_invalid_sweeps_are_one_line_config_errors(tmp_path, model_toml, body, words):
    path = write_sweep(tmp_path, body, model_toml)
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"sweep {path}")
    for word in words:
        assert word in message, message


def test_unknown_model_and_missing_file(tmp_path):
    (tmp_path / "s.toml").write_text('model = "no-such-model"\n')
    with pytest.raises(ConfigError, match="unknown model 'no-such-model'.*grlu-mnist-pairs1"):
        load_sweep(tmp_path / "s.toml")
    (tmp_path / "m.toml").write_text('seeds = [1]\n')
    with pytest.raises(ConfigError, match="no model"):
        load_sweep(tmp_path / "m.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_sweep(tmp_path / "absent.toml")


def test_cli_dry_run_lists_points_and_errors_are_one_line(tmp_path, model_toml, capsys):
    path = write_sweep(tmp_path, f'seeds = [1, 2]\nset = {FAST}\n[grid]\n"rule.pairs" = [1, 4]', model_toml)
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 runs" in out and "pairs=4_seed=2" in out and "0 complete, 4 to run" in out
    assert not (tmp_path / "out").exists()
    bad = write_sweep(tmp_path, '[grid]\n"rule.pair" = [1]', model_toml, name="bad.toml")
    assert main(["sweep", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("neuro-grlu: error: sweep") and "'pair'" in err
    assert main(["sweep", str(path), "--data", str(tmp_path / "nope"), "--workers", "0"]) == 2
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- running, failures, resume

# Points 2 and 3 (lr_max = 1e39) diverge in their first epoch: they must be recorded as failed.
RESUME_SWEEP = f'seeds = [1, 2]\nset = {FAST}\n[grid]\n"rule.lr_max" = [0.1, 1e39]'


@pytest.fixture(scope="module")
def uninterrupted(tiny_mnist, model_toml, tmp_path_factory):
    """The reference: RESUME_SWEEP run in one go, in this process."""
    d = tmp_path_factory.mktemp("uninterrupted")
    sweep = load_sweep(write_sweep(d, RESUME_SWEEP, model_toml))
    lines = []
    result = run_sweep(sweep, workers=0, data=tiny_mnist, log=lines.append)
    return sweep, result, lines


def test_failing_points_are_recorded_and_the_rest_finish(uninterrupted):
    sweep, result, lines = uninterrupted
    rows = result.rows
    assert [r["index"] for r in rows] == list(range(4)) and result.skipped == 0 and result.ran == 4
    assert [r["status"] for r in rows] == ["complete"] * 2 + ["failed"] * 2
    for r in rows[2:]:
        assert r["error"].startswith("DivergenceError: training diverged") and "\n" not in r["error"]
        assert math.isnan(r["test_accuracy"]) and r["epochs_completed"] == 0 and r["epochs_planned"] == 1
        assert not read_run(sweep.out / r["path"]).complete
    for r, p in zip(rows[:2], sweep.points[:2]):
        run = read_run(sweep.out / r["path"])
        assert run.complete and run.config == p.config.to_dict() and run.seed == r["seed"] == p.seed
        assert r["test_accuracy"] == run.metrics["test_accuracy"][-1] > 0.2  # chance is 0.1
        assert r["train_accuracy"] == run.metrics["train_accuracy"][-1]
        assert r["epochs_completed"] == 1 and r["error"] == "" and r["wall_time_s"] > 0
        assert r["rule.lr_max"] == 0.1 and r["run"] == p.name == f"lr_max=0.1_seed={r['seed']}"
    assert sum("FAILED" in line for line in lines) == 2
    assert len(result.failed) == 2


def test_summary_csv_and_h5_hold_the_same_rows(uninterrupted):
    sweep, result, _ = uninterrupted
    h5 = read_summary(sweep.out)
    same_rows(h5, result.rows)
    table = csv_rows(sweep.summary_csv)
    assert list(table[0]) == columns(sweep)
    assert len(table) == 4
    for text, row in zip(table, h5):
        assert text["run"] == row["run"] and text["status"] == row["status"] and text["error"] == row["error"]
        assert int(text["seed"]) == row["seed"] and float(text["rule.lr_max"]) == row["rule.lr_max"]
        if row["status"] == "complete":
            assert float(text["test_accuracy"]) == row["test_accuracy"]
        else:
            assert text["test_accuracy"] == ""
    assert not list(sweep.out.glob("*.tmp")) and not (sweep.out / ".sweep.lock").exists()


def test_stopped_sweep_resumes_to_the_same_rows(tiny_mnist, model_toml, tmp_path, uninterrupted):
    ref_sweep, reference, _ = uninterrupted
    sweep = load_sweep(write_sweep(tmp_path, RESUME_SWEEP, model_toml))

    def stop_after_first(line):
        if line.startswith("[1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, workers=0, data=tiny_mnist, log=stop_after_first)
    partial = read_summary(sweep.out)  # the stopped sweep left a valid summary
    assert [r["status"] for r in partial] == ["complete", "pending", "pending", "pending"]
    assert not (sweep.out / ".sweep.lock").exists()
    done = sweep.points[0].path.stat().st_mtime_ns

    # Point 1 was killed mid-run (file left "running"); point 2 holds a complete run of another
    # configuration (the sweep file was edited since); point 3's file is garbage.
    p1, p2, p3 = sweep.points[1:]
    RunWriter(p1.path, config=p1.config.to_dict(), seed=p1.seed, model="tiny", epochs_planned=1)
    shutil.copy(sweep.points[0].path, p2.path)
    p3.path.write_bytes(b"not hdf5" * 10)
    assert [disk_state(p)[0] for p in sweep.points] == ["complete", "incomplete", "stale", "corrupt"]

    lines = []
    result = run_sweep(sweep, workers=0, data=tiny_mnist, log=lines.append)
    assert result.skipped == 1 and result.ran == 3
    assert sweep.points[0].path.stat().st_mtime_ns == done  # not retrained
    assert any("stale" in line for line in lines) and any("corrupt" in line for line in lines)
    same_rows(result.rows, reference.rows)
    same_rows(read_summary(sweep.out), read_summary(ref_sweep.out))
    assert [p.name for p in sweep.points] == [p.name for p in ref_sweep.points]

    # Running the finished sweep again trains nothing (the failed points are retried and fail again).
    again = run_sweep(sweep, workers=0, data=tiny_mnist, log=lines.append)
    assert again.skipped == 2 and again.ran == 2
    same_rows(again.rows, reference.rows)


def test_a_point_stopped_mid_run_is_continued_from_its_checkpoint(tiny_mnist, model_toml, tmp_path, monkeypatch):
    """A point interrupted in epoch 2 is resumed (not restarted) and ends bit-identical to a
    point that was never interrupted."""
    import numpy as np

    from neuro_grlu.rules.grlu import GRLU

    body = 'seeds = [1]\nset = ["training.epochs=2", "data.train_limit=200", "data.test_limit=100"]'
    (tmp_path / "ref").mkdir()
    ref = load_sweep(write_sweep(tmp_path / "ref", body, model_toml))
    run_sweep(ref, workers=0, data=tiny_mnist, **QUIET)
    sweep = load_sweep(write_sweep(tmp_path, body, model_toml))
    original, calls = GRLU.step_chunk, [0]

    def interrupting(self, *a, **k):
        calls[0] += 1
        if calls[0] == 2:  # one chunk per epoch here: the first chunk of epoch 2
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(GRLU, "step_chunk", interrupting)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, workers=0, data=tiny_mnist, **QUIET)
    assert disk_state(sweep.points[0])[0] == "incomplete" and read_run(sweep.points[0].path).epochs_completed == 1

    def counting(self, *a, **k):
        calls[0] += 1
        return original(self, *a, **k)

    calls[0] = 0
    monkeypatch.setattr(GRLU, "step_chunk", counting)
    lines = []
    result = run_sweep(sweep, workers=0, data=tiny_mnist, log=lines.append)
    assert any("continuing it from its last checkpoint" in line for line in lines)
    assert calls[0] == 1  # only epoch 2 was trained again
    same_rows(result.rows, read_summary(ref.out))
    a, b = read_run(sweep.points[0].path), read_run(ref.points[0].path)
    for k in a.weights:
        assert np.array_equal(a.weights[k], b.weights[k]), k


def test_lock_refuses_a_second_sweep_and_takes_over_a_stale_one(tmp_path, model_toml, tiny_mnist):
    sweep = load_sweep(write_sweep(tmp_path, 'seeds = [1]\nset = ["training.epochs=1", "data.train_limit=20"]',
                                   model_toml))
    sweep.out.mkdir()
    lock = sweep.out / ".sweep.lock"
    lock.write_text(f"{socket.gethostname()} {os.getppid()}")  # a live process on this host
    with pytest.raises(NeuroGRLUError, match="another sweep"):
        run_sweep(sweep, workers=0, data=tiny_mnist, **QUIET)
    assert not list(sweep.out.glob("*.h5"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f"{socket.gethostname()} {dead.pid}")
    result = run_sweep(sweep, workers=0, data=tiny_mnist, **QUIET)
    assert [r["status"] for r in result.rows] == ["complete"] and not lock.exists()


# --------------------------------------------------------------------------- Dask


def test_cli_sweep_on_a_local_dask_cluster(tmp_path, model_toml, tiny_mnist, capsys, uninterrupted):
    """The default path: the sweep starts its own LocalCluster (2 worker processes)."""
    _, reference, _ = uninterrupted
    path = write_sweep(tmp_path, RESUME_SWEEP, model_toml)
    code = main(["sweep", str(path), "--workers", "2", "--data", str(tiny_mnist)])
    out, err = capsys.readouterr()
    assert code == 1, err  # some points failed
    assert "local Dask cluster: 2 worker processes" in out
    assert "4 runs: 2 complete (0 from earlier), 2 failed" in out
    assert out.count("failed: ") == 2 and "Traceback" not in out + err
    same_rows(read_summary(tmp_path / "out"), reference.rows)  # same numbers in worker processes
    assert read_run(tmp_path / "out" / "lr_max=0.1_seed=2.h5").command.startswith("neuro-grlu sweep")


def test_sweep_on_an_existing_cluster_by_address(tmp_path, model_toml, tiny_mnist):
    from distributed import LocalCluster

    sweep = load_sweep(write_sweep(tmp_path, f'seeds = [1, 2]\nset = {FAST}', model_toml))
    lines = []
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_sweep(sweep, scheduler=cluster.scheduler_address, data=tiny_mnist, log=lines.append)
    assert "connected to Dask scheduler" in lines[1]
    assert [r["status"] for r in result.rows] == ["complete", "complete"]
    assert [r["run"] for r in read_summary(sweep.out)] == ["seed=1", "seed=2"]
    with pytest.raises(ConfigError, match="not both"):
        run_sweep(sweep, workers=2, scheduler=cluster.scheduler_address)
