"""The repository stays lean (issue 14 item 7): no tracked file above 2 MB except the MNIST
data, and every run file stored under benchmarks/results/ is stripped (``neuro-grlu strip``;
``benchmarks/strip_results.py`` strips them all after checking the quoted numbers)."""

import subprocess
from pathlib import Path

import h5py
import pytest

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 2 * 1024 * 1024  # bytes
#: Tracked files allowed above the limit: the MNIST data (the test images are under it).
EXEMPT = ("data/mnist/",)


def _tracked() -> list[str]:
    try:
        res = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, timeout=60)
    except OSError:
        res = None
    if res is None or res.returncode != 0:
        pytest.skip("not a git checkout (e.g. an installed package): nothing tracked to check")
    return [p for p in res.stdout.decode().split("\0") if p]


def test_no_tracked_file_above_2_mb():
    big = []
    for rel in _tracked():
        path = ROOT / rel
        if path.is_file() and not rel.startswith(EXEMPT) and path.stat().st_size > LIMIT:
            big.append(f"{rel} ({path.stat().st_size / 1e6:.1f} MB)")
    assert not big, ("tracked files above 2 MB (store metrics/summaries or a stripped run file; "
                     "full run files live outside git): " + ", ".join(big))


def test_stored_run_files_are_stripped():
    """Every stored run file under benchmarks/results/ is stripped (weights and spike trains of the
    full runs live outside git; the scripts regenerate them)."""
    unstripped = []
    for rel in _tracked():
        if rel.startswith("benchmarks/results/") and rel.endswith(".h5"):
            with h5py.File(ROOT / rel, "r") as f:
                if not bool(f.attrs.get("stripped", False)):
                    unstripped.append(rel)
    assert not unstripped, ("run files under benchmarks/results/ that are not stripped (run "
                            "`neuro-grlu strip FILE`): " + ", ".join(unstripped))


def test_the_check_can_fail(tmp_path):
    """The stripped test reads the attribute the strip command writes: a full file fails it."""
    from neuro_grlu.io import RunWriter
    from neuro_grlu.strip import strip_run

    path = tmp_path / "run.h5"
    with RunWriter(path, config={}, seed=0, model="m", epochs_planned=1) as w:
        w.append_epoch({"loss": 1.0})
        w.finish(weights={"W0": [[0.0] * 100] * 100})
    with h5py.File(path, "r") as f:
        assert not bool(f.attrs.get("stripped", False))
    strip_run(path)
    with h5py.File(path, "r") as f:
        assert bool(f.attrs["stripped"])
