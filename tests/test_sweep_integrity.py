"""Sweep summaries match the files on disk after an interruption, a failed point's path names
no missing file, and a stale lock is reported (issue 18 item 5). Tiny runs, in-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from conftest import TINY_MODEL_TOML
from neuro_grlu.app import sweep as sweep_module
from neuro_grlu.io import read_run
from neuro_grlu.sweep import load_sweep, read_summary, run_sweep

FAST = '["training.epochs=1", "data.train_limit=100", "data.test_limit=50", "network.hidden=[8]"]'


def _sweep(tmp_path, body):
    model = tmp_path / "tiny.toml"
    model.write_text(TINY_MODEL_TOML)
    path = tmp_path / "sweep.toml"
    path.write_text(f'model = "{model}"\nout = "{tmp_path / "out"}"\n{body}\n')
    return load_sweep(path)


def test_ctrl_c_after_a_run_finished_leaves_it_complete_in_the_summary(tmp_path, tiny_mnist, monkeypatch):
    """Ctrl-C arrives after point 0's file is complete but before its result reached the summary:
    the summary written on the way out lists it complete, read from its file."""
    sweep = _sweep(tmp_path, f"seeds = [1, 2]\nset = {FAST}")
    real = sweep_module.run_point

    def finish_then_interrupt(task):
        real(task)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "run_point", finish_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, workers=0, data=tiny_mnist, log=lambda line: None)
    rows = read_summary(sweep.out)
    first = read_run(sweep.points[0].path)
    assert first.complete
    assert [r["status"] for r in rows] == ["complete", "pending"]
    assert rows[0]["test_accuracy"] == first.metrics["test_accuracy"][-1]
    assert rows[0]["path"] == sweep.points[0].path.name and rows[1]["path"] == ""  # no file for point 1
    assert not sweep.points[1].path.exists()


def test_a_point_that_failed_before_writing_names_no_file(tmp_path, tiny_mnist):
    """A point whose limit exceeds the data fails before any file exists: path is empty."""
    fixed = '["training.epochs=1", "data.test_limit=50", "network.hidden=[8]"]'
    sweep = _sweep(tmp_path, f'seeds = [1]\nset = {fixed}\n[grid]\n"data.train_limit" = [100, 100000]')
    result = run_sweep(sweep, workers=0, data=tiny_mnist, log=lambda line: None)
    ok, bad = result.rows
    assert ok["status"] == "complete" and (sweep.out / ok["path"]).is_file()
    assert bad["status"] == "failed" and "data.train_limit = 100000" in bad["error"]
    assert bad["path"] == "" and not sweep.points[1].path.exists()
    assert [r["path"] for r in read_summary(sweep.out)] == [ok["path"], ""]


def test_a_stale_lock_is_taken_over_and_reported(tmp_path, tiny_mnist):
    sweep = _sweep(tmp_path, f"seeds = [1]\nset = {FAST}")
    sweep.out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = sweep.out / ".sweep.lock"
    lock.write_text(f"{socket.gethostname()} {dead.pid}")
    lines = []
    result = run_sweep(sweep, workers=0, data=tiny_mnist, log=lines.append)
    notes = [line for line in lines if "stale lock" in line]
    assert len(notes) == 1 and str(dead.pid) in notes[0] and notes[0].startswith("note: ")
    assert [r["status"] for r in result.rows] == ["complete"] and not lock.exists()
    # a lock of a live process is not taken over, and nothing is reported as stale
    lock.write_text(f"{socket.gethostname()} {os.getppid()}")
    lines.clear()
    with pytest.raises(Exception, match="another sweep"):
        run_sweep(sweep, workers=0, data=tiny_mnist, log=lines.append)
    assert not any("stale" in line for line in lines)
