"""Results do not depend on the code-generation target (runtime Cython vs C++
standalone, same seed, tiny network with frozen input noise); one standalone build."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("brian2")

from _spiking_nets import conditioning  # noqa: E402

from neuro_grlu.io import read_run  # noqa: E402
from neuro_grlu.spiking.config import parse_spiking  # noqa: E402
from neuro_grlu.spiking.simulate import simulate  # noqa: E402


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


def test_runtime_and_standalone_agree(tmp_path):
    raw = conditioning(reward=True, duration_s=4.0, input_kind="frozen_uniform")
    raw["simulation"]["chunk_s"] = 2.0
    raw["reward"].update(delay_min_ms=100.0, delay_max_ms=300.0)
    model = tmp_path / "tiny.toml"
    model.write_text(_toml(raw))
    cfg = parse_spiking(raw)
    rt = tmp_path / "runtime.h5"
    simulate(cfg, out=rt, target="runtime", progress=False)
    sa = tmp_path / "standalone.h5"
    proc = subprocess.run([sys.executable, "-m", "neuro_grlu.cli", "simulate", str(model), "--target", "standalone",
                           "--out", str(sa), "--build-dir", str(tmp_path / "build"), "--no-plot", "--no-progress"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = read_run(rt), read_run(sa)
    assert a.config["target"] == "runtime" and b.config["target"] == "standalone"
    assert a.arrays["spike_t"].size > 20 and a.arrays["reward_t"].size >= 1
    for name in ("spike_i", "spike_t", "reward_t", "scheduled_t"):
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)
    np.testing.assert_allclose(a.weights["w_final"], b.weights["w_final"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.arrays["dopamine"], b.arrays["dopamine"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.arrays["tracked_c"], b.arrays["tracked_c"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.metrics["chosen_weight"], b.metrics["chosen_weight"], rtol=1e-5, atol=1e-6)
