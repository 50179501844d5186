"""Results do not depend on the code-generation target (runtime Cython vs C++
standalone, same seed, tiny network with frozen or Philox input noise); standalone builds
kept in pytest's cache directory (``.pytest_cache/d/neuro_grlu_standalone``) so that
later test sessions only recompile what changed. The build cache's key and locking
are tested without compiling."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("brian2")

from _spiking_nets import conditioning  # noqa: E402

from neuro_grlu.io import read_run  # noqa: E402
from neuro_grlu.spiking.config import parse_spiking  # noqa: E402
from neuro_grlu.spiking.simulate import _cached_build_dir, simulate, standalone_cache_key  # noqa: E402


def _toml(raw: dict) -> str:
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines, tables = [], []
    for k, v in raw.items():
        (tables if isinstance(v, dict) else lines).append((k, v))
    out = [f"{k} = {value(v)}" for k, v in lines]

    def emit(prefix, table):
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        subs = {k: v for k, v in table.items() if isinstance(v, dict)}
        if scalars or not subs:
            out.append(f"[{prefix}]")
            out.extend(f"{k} = {value(v)}" for k, v in scalars.items())
        for k, v in subs.items():
            emit(f"{prefix}.{k}", v)

    for k, v in tables:
        emit(k, v)
    return "\n".join(out) + "\n"


@pytest.fixture
def standalone_cache(request, tmp_path):
    """Directory for NEURO_GRLU_CACHE_DIR: pytest's persistent cache if enabled, else tmp_path."""
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("neuro_grlu_standalone")) if cache is not None else tmp_path / "cache"


@pytest.mark.parametrize("input_kind,update", [("frozen_uniform", "grid"), ("philox", "event")])
def test_runtime_and_standalone_agree(tmp_path, standalone_cache, input_kind, update):
    """Same spikes, rewards and weights on both targets: frozen NumPy noise with the 10 ms
    grid, and the fast engine (Philox noise, its seed passed as a run argument, with
    event-driven plasticity)."""
    raw = conditioning(reward=True, duration_s=4.0, input_kind=input_kind)
    raw["plasticity"]["update"] = update
    raw["simulation"]["chunk_s"] = 2.0
    raw["reward"].update(delay_min_ms=100.0, delay_max_ms=300.0)
    model = tmp_path / "tiny.toml"
    model.write_text(_toml(raw))
    cfg = parse_spiking(raw)
    rt = tmp_path / "runtime.h5"
    simulate(cfg, out=rt, target="runtime", progress=False)
    sa = tmp_path / "standalone.h5"
    env = {**os.environ, "NEURO_GRLU_CACHE_DIR": str(standalone_cache)}
    proc = subprocess.run([sys.executable, "-m", "neuro_grlu.cli", "simulate", str(model), "--target", "standalone",
                           "--out", str(sa), "--no-plot", "--no-progress"],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the build went to the cache slot of this structure; the recorded data were removed
    build = standalone_cache / "standalone" / standalone_cache_key(cfg)
    assert (build / "main").is_file() and not (build / "results").exists()
    a, b = read_run(rt), read_run(sa)
    assert a.config["target"] == "runtime" and b.config["target"] == "standalone"
    assert a.arrays["spike_t"].size > 20 and a.arrays["reward_t"].size >= 1
    for name in ("spike_i", "spike_t", "reward_t", "scheduled_t"):
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)
    np.testing.assert_allclose(a.weights["w_final"], b.weights["w_final"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.arrays["dopamine"], b.arrays["dopamine"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.arrays["tracked_c"], b.arrays["tracked_c"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.metrics["chosen_weight"], b.metrics["chosen_weight"], rtol=1e-5, atol=1e-6)


def test_cache_key_ignores_numbers_not_structure():
    base = conditioning(reward=True)
    key = standalone_cache_key(parse_spiking(base))
    same = conditioning(reward=True, duration_s=12.0, seed=9)
    same["reward"]["amount"] = 0.1
    same["populations"]["out"]["n"] = 5
    assert standalone_cache_key(parse_spiking(same)) == key  # numbers only: same build directory
    for changed in (conditioning(reward=False), conditioning(reward=True, input_kind="frozen_uniform")):
        assert standalone_cache_key(parse_spiking(changed)) != key  # other code objects
    plastic = conditioning(reward=True)
    plastic["plasticity"]["traces"] = "all_to_all"
    assert standalone_cache_key(parse_spiking(plastic)) != key
    assert standalone_cache_key(parse_spiking(base), threads=2) != key


def test_cache_slots_are_locked(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_GRLU_CACHE_DIR", str(tmp_path))
    root = tmp_path / "standalone"
    with _cached_build_dir("k") as first, _cached_build_dir("k") as second:
        assert first == root / "k" and second == root / "k-1"  # a second process gets its own slot
        with open(root / "k.lock") as f:  # the slot is locked while in use
            with pytest.raises(OSError):
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with _cached_build_dir("k") as again:
        assert again == root / "k"  # released afterwards and reused
