"""Run files: round trip, growing table, crash safety and one-line errors (fast)."""

import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from neuro_grlu.errors import RunFileError
from neuro_grlu.io import SCHEMA, SCHEMA_VERSION, RunWriter, read_run

CONFIG = {"lr": 0.01, "layers": [4, 3], "name": "toy", "nested": {"b": 1, "a": 2}}


def _writer(path, **kw):
    args = dict(config=CONFIG, seed=7, model="grlu", epochs_planned=3, command="neuro-grlu run toy")
    args.update(kw)
    return RunWriter(path, **args)


def _metrics(e):
    return {"loss": 1.0 / e, "accuracy": 0.5 + 0.1 * e, "time": 0.25 * e}


def _one_line(err):
    msg = str(err.value)
    assert "\n" not in msg and msg
    return msg


def test_round_trip(tmp_path):
    path = tmp_path / "sub" / "run.h5"  # parent is created
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((3, 4)).astype(np.float32)
    b0 = np.zeros(3, np.float32)
    align = np.array([10.0, 20.0, 30.0])
    with _writer(path, metric_units={"time": "s"}) as w:
        for e in range(1, 4):
            w.append_epoch(_metrics(e), wall_time_s=float(e))
        w.finish(weights={"W0": W0, "b0": b0},
                 arrays={"alignment": (align, "deg"), "extra": np.arange(5)}, wall_time_s=3.5)
    run = read_run(path)
    assert run.path == path and run.schema_version == SCHEMA_VERSION
    assert run.config == CONFIG and run.seed == 7 and run.model == "grlu" and run.kind == "rate"
    assert run.status == "complete" and run.complete
    assert run.epochs_planned == run.epochs_completed == 3
    assert run.wall_time_s == 3.5 and run.command == "neuro-grlu run toy"
    assert set(run.metrics) == {"loss", "accuracy", "time"}
    np.testing.assert_allclose(run.metrics["loss"], [1, 1 / 2, 1 / 3])
    assert run.metrics["loss"].dtype == np.float64
    assert run.metric_units == {"loss": "", "accuracy": "", "time": "s"}
    np.testing.assert_array_equal(run.weights["W0"], W0)
    assert run.weights["W0"].dtype == np.float32 and set(run.weights) == {"W0", "b0"}
    np.testing.assert_array_equal(run.arrays["alignment"], align)
    np.testing.assert_array_equal(run.arrays["extra"], np.arange(5))
    assert run.array_units == {"alignment": "deg"}
    assert {"python", "numpy", "h5py", "neuro_grlu"} <= set(run.versions)
    assert isinstance(run.git_commit, str) and run.git_commit
    assert isinstance(run.git_dirty, bool) and "T" in run.created
    with h5py.File(path, "r") as f:  # plain-h5py view of the layout
        assert f.attrs["schema"] == SCHEMA and f.attrs["config_json"].startswith('{"layers"')
        assert list(f["metrics/epoch"][()]) == [1, 2, 3]
        assert f["metrics/time"].attrs["units"] == "s"
    assert not (tmp_path / "sub" / "run.h5.tmp").exists()


def test_growing_table(tmp_path):
    path = tmp_path / "run.h5"
    w = _writer(path)
    run = read_run(path)
    assert run.status == "running" and run.epochs_completed == 0 and run.table() == []
    for e in range(1, 4):
        w.append_epoch(_metrics(e), weights={"W0": np.full((2, 2), e, np.float32)})
        run = read_run(path)
        assert run.status == "incomplete" and run.epochs_completed == e
        table = run.table()
        assert [r["epoch"] for r in table] == list(range(1, e + 1))
        assert table[-1] == {"epoch": e, **_metrics(e)}
        assert run.weights["W0"][0, 0] == e
    w.finish()
    assert read_run(path).complete


def test_keyboard_interrupt_leaves_incomplete_file(tmp_path):
    path = tmp_path / "run.h5"
    with pytest.raises(KeyboardInterrupt):
        with _writer(path, epochs_planned=5) as w:
            w.append_epoch(_metrics(1))
            w.append_epoch(_metrics(2))
            raise KeyboardInterrupt
    run = read_run(path)
    assert run.status == "incomplete" and not run.complete
    assert run.epochs_completed == 2 and run.epochs_planned == 5
    assert [r["epoch"] for r in run.table()] == [1, 2]
    np.testing.assert_allclose(run.metrics["loss"], [1.0, 0.5])


def test_sigkill_leaves_readable_file(tmp_path):
    path = tmp_path / "run.h5"
    script = textwrap.dedent(f"""
        import os, signal
        from neuro_grlu.io import RunWriter
        w = RunWriter({str(path)!r}, config={{"a": 1}}, seed=1, model="m", epochs_planned=5)
        for e in (1, 2):
            w.append_epoch({{"loss": float(e)}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode != 0, proc.stderr
    run = read_run(path)
    assert run.epochs_completed == 2 and run.status == "incomplete"
    np.testing.assert_allclose(run.metrics["loss"], [1.0, 2.0])


def test_existing_file_without_overwrite(tmp_path):
    path = tmp_path / "run.h5"
    _writer(path).append_epoch(_metrics(1))
    with pytest.raises(RunFileError) as err:
        _writer(path)
    msg = _one_line(err)
    assert "already exists" in msg and "--overwrite" in msg and str(path) in msg
    new = _writer(path, overwrite=True, epochs_planned=1)
    # the new run is written beside the old file, which stays intact until the new run completes
    assert new.path == path.with_name("run.h5.new") and read_run(new.path).epochs_completed == 0
    assert read_run(path).epochs_completed == 1
    new.append_epoch(_metrics(5))
    assert read_run(path).metrics["loss"][0] == 1.0
    new.finish()
    run = read_run(path)
    assert run.complete and run.metrics["loss"][0] == pytest.approx(0.2)
    assert not path.with_name("run.h5.new").exists()


def test_metric_name_mismatch(tmp_path):
    w = _writer(tmp_path / "run.h5")
    w.append_epoch({"loss": 1.0, "accuracy": 0.5})
    with pytest.raises(ValueError, match="differ"):
        w.append_epoch({"loss": 1.0})
    with pytest.raises(ValueError):
        w.append_epoch({"loss": 1.0, "accuracy": 0.5, "extra": 1.0})
    assert read_run(tmp_path / "run.h5").epochs_completed == 1


def test_finish_before_all_epochs_is_an_error(tmp_path):
    w = _writer(tmp_path / "run.h5", epochs_planned=3)
    w.append_epoch(_metrics(1))
    with pytest.raises(ValueError, match="planned"):
        w.finish()


def test_read_missing_file(tmp_path):
    path = tmp_path / "nope.h5"
    with pytest.raises(RunFileError) as err:
        read_run(path)
    msg = _one_line(err)
    assert "does not exist" in msg and str(path) in msg


def test_read_random_bytes(tmp_path):
    path = tmp_path / "junk.h5"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(RunFileError) as err:
        read_run(path)
    msg = _one_line(err)
    assert "not a valid HDF5" in msg and str(path) in msg


def test_read_truncated_copy(tmp_path):
    good = tmp_path / "run.h5"
    with _writer(good) as w:
        for e in range(1, 4):
            w.append_epoch(_metrics(e), weights={"W0": np.ones((50, 50), np.float32)})
        w.finish()
    data = good.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RunFileError) as err:
        read_run(cut)
    msg = _one_line(err)
    assert "truncated" in msg and str(cut) in msg
    assert read_run(good).complete  # the original is untouched


def test_read_hdf5_without_schema(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(RunFileError) as err:
        read_run(path)
    msg = _one_line(err)
    assert "not a neuro_grlu run" in msg and "schema" in msg and str(path) in msg


def test_read_newer_schema_version(tmp_path):
    path = tmp_path / "run.h5"
    _writer(path).append_epoch(_metrics(1))
    newer = tmp_path / "newer.h5"
    shutil.copy(path, newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["schema_version"] = 999
    with pytest.raises(RunFileError) as err:
        read_run(newer)
    msg = _one_line(err)
    assert "newer" in msg and "upgrade" in msg and "999" in msg and str(newer) in msg


def test_read_missing_required_attribute(tmp_path):
    path = tmp_path / "run.h5"
    _writer(path).append_epoch(_metrics(1))
    with h5py.File(path, "r+") as f:
        del f.attrs["seed"]
    with pytest.raises(RunFileError) as err:
        read_run(path)
    msg = _one_line(err)
    assert "damaged" in msg and "seed" in msg


def test_reading_does_not_modify_file(tmp_path):
    path = tmp_path / "run.h5"
    _writer(path).append_epoch(_metrics(1))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    read_run(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_write_text_atomic_replaces_whole_file_or_keeps_the_old_one(tmp_path, monkeypatch):
    """Result files (benchmark JSON/markdown, accumulated test scores) are replaced, never
    truncated: a failure during the write leaves the previous content and no temporary file."""
    import json

    from neuro_grlu import io as io_mod
    from neuro_grlu.io import write_record, write_text_atomic

    path = write_text_atomic(tmp_path / "new" / "scores.json", "first\n")  # parent folder made
    assert path.read_text() == "first\n"
    write_text_atomic(path, "second, longer content ü\n")
    assert path.read_text(encoding="utf-8") == "second, longer content ü\n"

    def fail(src, dst):
        raise OSError("disk full")  # a failure between writing the temporary file and the rename

    with monkeypatch.context() as patched, pytest.raises(OSError, match="disk full"):
        patched.setattr(io_mod.os, "replace", fail)
        write_text_atomic(path, "third")
    assert path.read_text(encoding="utf-8") == "second, longer content ü\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["scores.json"]

    write_record(tmp_path / "bench" / "speed.md", {"rows": [1, 2]}, "| a |\n")
    assert json.loads((tmp_path / "bench" / "speed.json").read_text()) == {"rows": [1, 2]}
    assert (tmp_path / "bench" / "speed.md").read_text() == "| a |\n"


def test_write_text_atomic_two_writers_of_one_file_do_not_collide(tmp_path, monkeypatch):
    """Two processes finishing at once write the same table: each has a temporary file of its
    own, so neither renames the other's half-written file or fails on a vanished one."""
    import os

    from neuro_grlu import io as io_mod
    from neuro_grlu.io import write_text_atomic

    path = tmp_path / "table.md"
    real_replace, nested = os.replace, []

    def interleaved(src, dst):  # the other writer runs between this one's write and rename
        if not nested:
            nested.append(True)
            write_text_atomic(path, "the other writer's table\n")
        real_replace(src, dst)

    monkeypatch.setattr(io_mod.os, "replace", interleaved)
    write_text_atomic(path, "this writer's table\n")
    monkeypatch.setattr(io_mod.os, "replace", real_replace)
    assert path.read_text() == "this writer's table\n"  # the later rename wins, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.md"]


def test_replace_atomically_is_shared_by_sweep_summaries_and_strip(tmp_path, monkeypatch):
    """One helper makes every whole-file result (sweep summaries, stripped run files, benchmark
    tables): a failing writer leaves the old file and no temporary file; a write that opens the
    path by name (h5py, csv) gets a unique temporary path; the writer's return value comes back."""
    import h5py

    from neuro_grlu import io as io_mod
    from neuro_grlu import strip as strip_mod
    from neuro_grlu.app import sweep as sweep_mod
    from neuro_grlu.io import replace_atomically

    assert sweep_mod.replace_atomically is replace_atomically
    assert strip_mod.replace_atomically is replace_atomically

    path = tmp_path / "summary.h5"
    seen = []

    def write_h5(tmp):
        seen.append(tmp)
        with h5py.File(tmp, "w") as f:
            f["x"] = [1, 2, 3]
        return "done"

    assert replace_atomically(path, write_h5) == "done"
    assert seen[0] != path and seen[0].parent == path.parent and not seen[0].exists()
    with h5py.File(path, "r") as f:
        assert list(f["x"][()]) == [1, 2, 3]

    def broken(tmp):
        with h5py.File(tmp, "w") as f:
            f["x"] = [9]
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        replace_atomically(path, broken)
    with h5py.File(path, "r") as f:
        assert list(f["x"][()]) == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.h5"]

    names = []  # two writers of one file at once: distinct temporary files
    real_replace = io_mod.os.replace

    def interleaved(src, dst):
        names.append(src)
        if len(names) == 1:
            replace_atomically(path, write_h5)
        real_replace(src, dst)

    monkeypatch.setattr(io_mod.os, "replace", interleaved)
    replace_atomically(path, write_h5)
    assert len(set(map(str, names))) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.h5"]
