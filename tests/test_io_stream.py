"""Streamed arrays in run files: chunk files in <run>.d/, merged by finish(), readable
after a crash up to the last complete chunk."""

import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from neuro_grlu.io import RunWriter, read_run, sidecar_dir


def _writer(path, **kw):
    return RunWriter(path, config={"a": 1}, seed=1, model="m", kind="spiking", epochs_planned=3, **kw)


def test_stream_round_trip_and_merge(tmp_path):
    path = tmp_path / "run.h5"
    rng = np.random.default_rng(0)
    chunks_t = [np.sort(rng.random(n)) + k for k, n in enumerate([5, 0, 7])]
    chunks_w = [rng.random((n, 3)).astype(np.float32) for n in (2, 2, 2)]
    with _writer(path) as w:
        for k in range(3):
            w.stream("spike_t", chunks_t[k], units="s")
            w.stream("tracked_w", chunks_w[k])
            w.append_epoch({"time_s": float(k + 1)})
            assert sidecar_dir(path).is_dir()
            run = read_run(path)  # the sidecar is read while running
            assert run.arrays["spike_t"].shape == (sum(len(c) for c in chunks_t[:k + 1]),)
        w.finish(arrays={"small": np.arange(3)})
    assert not sidecar_dir(path).exists()
    run = read_run(path)
    np.testing.assert_array_equal(run.arrays["spike_t"], np.concatenate(chunks_t))
    np.testing.assert_array_equal(run.arrays["tracked_w"], np.concatenate(chunks_w))
    assert run.arrays["tracked_w"].dtype == np.float32
    assert run.array_units["spike_t"] == "s" and "tracked_w" not in run.array_units
    with h5py.File(path, "r") as f:  # plain h5py sees ordinary datasets
        assert f["arrays/spike_t"].attrs["units"] == "s"
        assert f["arrays/spike_t"].shape == (12,)


def test_stream_rejects_changed_row_shape(tmp_path):
    with _writer(tmp_path / "run.h5") as w:
        w.stream("x", np.zeros((2, 3)))
        with pytest.raises(ValueError, match="does not match"):
            w.stream("x", np.zeros((2, 4)))


def test_killed_run_keeps_streamed_chunks(tmp_path):
    path = tmp_path / "run.h5"
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from neuro_grlu.io import RunWriter
        w = RunWriter({str(path)!r}, config={{}}, seed=1, model="m", kind="spiking", epochs_planned=5)
        for k in range(3):
            w.stream("spike_t", np.arange(4) + 10.0 * k, units="s")
            w.append_epoch({{"time_s": float(k + 1)}})
        w.stream("spike_t", np.arange(4) + 30.0, units="s")  # streamed, epoch not appended
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode != 0
    run = read_run(path)
    assert run.status == "incomplete" and run.epochs_completed == 3
    np.testing.assert_array_equal(run.arrays["spike_t"], np.concatenate([np.arange(4) + 10.0 * k for k in range(4)]))
    # a half-written chunk (temporary file) is ignored
    (sidecar_dir(path) / "spike_t" / "00000004.npy.tmp").write_bytes(b"\x93NUMPY garbage")
    assert read_run(path).arrays["spike_t"].shape == (16,)


def test_overwrite_removes_old_sidecar(tmp_path):
    path = tmp_path / "run.h5"
    w = _writer(path)
    w.stream("x", np.ones(3))
    del w
    w = _writer(path, overwrite=True)
    w.stream("y", np.ones(2))
    # the new run streams beside the old one, whose data stay until the new run completes
    assert w.path == path.with_name("run.h5.new") and (sidecar_dir(w.path) / "y").exists()
    assert (sidecar_dir(path) / "x").exists()
    for _ in range(w._attrs["epochs_planned"]):
        w.append_epoch({"t": 1.0})
    w.finish()
    assert not sidecar_dir(path).exists() and not sidecar_dir(w.path.with_name("run.h5.new")).exists()
    np.testing.assert_array_equal(read_run(path).arrays["y"], np.ones(2))
