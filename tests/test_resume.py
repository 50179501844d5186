"""Nothing lost (issue 18, items 1-3): resume, safe overwrite, divergence — through the CLI.

* ``train --resume`` continues a run killed (SIGKILL) in epoch 2 from its epoch-1 checkpoint;
  the finished file equals the uninterrupted run's bit for bit (weights, deterministic metrics,
  alignment arrays, learner state) for GRLU with numba, backprop and FA with its feedback
  matrices (both with momentum, so optimiser state matters).
* ``--overwrite`` writes ``FILE.new``: a new run killed with SIGKILL or SIGINT leaves the old
  file byte for byte intact; a completed one replaces it.
* divergence (non-finite weights, or a reward collapse) stops the run with a one-line error
  and marks the file ``diverged`` with the last good epoch kept.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from neuro_grlu.app.cli import main
from neuro_grlu.io import read_learner_state, read_run
from _runfiles import datasets

TIMING = {"epoch_time", "samples_per_second"}

GRLU = """\
description = "tiny GRLU (numba) for resume tests"
[network]
hidden = [32]
[rule]
name = "grlu"
pairs = 4
lr_max = 0.1
sigma_max = 0.1
backend = "numba"
[training]
epochs = 3
seed = 1
alignment_every = 100
alignment_batches = 4
"""
ERROR_FEEDBACK = """\
description = "tiny {name} for resume tests"
[network]
hidden = [32, 16]
[rule]
name = "{name}"
lr_max = 0.01
momentum = 0.9
[training]
epochs = 3
seed = 1
alignment_every = 100
alignment_batches = 4
"""
MODELS = {"grlu-numba": (GRLU, "neuro_grlu.rules.grlu", "GRLU", "step_chunk", 2),
          "backprop": (ERROR_FEEDBACK.format(name="backprop"), "neuro_grlu.rules.backprop", "Backprop", "step", 450),
          "fa": (ERROR_FEEDBACK.format(name="fa"), "neuro_grlu.rules.backprop", "FeedbackAlignment", "step", 450)}
LIMIT = ["--train-limit", "300", "--set", "data.test_limit=100"]


def cli(*argv):
    """Run the CLI in this process; ``(exit code, stderr)`` (stdout discarded)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in argv])
    return code, err.getvalue()


def sub_cli(*argv) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process (one BLAS thread, as every CLI run: comparable bit for bit)."""
    return subprocess.run([sys.executable, "-m", "neuro_grlu.cli", *map(str, argv)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def killed_cli(argv, module: str, cls: str, method: str, at_call: int, sig: int) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess that sends itself ``sig`` at the ``at_call``-th call of ``cls.method``."""
    script = textwrap.dedent(f"""
        import os, sys
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # as the CLI does before numpy is imported
        import {module} as m
        original = m.{cls}.{method}
        calls = [0]
        def patched(self, *a, **k):
            calls[0] += 1
            if calls[0] == {at_call}:
                os.kill(os.getpid(), {int(sig)})
            return original(self, *a, **k)
        m.{cls}.{method} = patched
        from neuro_grlu.app.cli import main
        sys.exit(main({[str(a) for a in argv]!r}))
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def assert_same_run(a, b):
    """Weights, arrays, learner state bit for bit; metrics except wall-clock timings."""
    ra, rb = read_run(a), read_run(b)
    assert ra.status == rb.status == "complete" and ra.epochs_completed == rb.epochs_completed
    for group in ("weights", "arrays", "learner_state"):
        da, db = datasets(a, group), datasets(b, group)
        assert da.keys() == db.keys() and (da or group == "learner_state"), group  # GRLU: only a stream
        for k in da:
            assert da[k].dtype == db[k].dtype and np.array_equal(da[k], db[k]), f"{group}/{k}"
    assert read_learner_state(a)[1] == read_learner_state(b)[1]
    assert set(ra.metrics) == set(rb.metrics)
    for k in set(ra.metrics) - TIMING:
        assert ra.metrics[k].tobytes() == rb.metrics[k].tobytes(), k


@pytest.mark.parametrize("name", list(MODELS))
def test_resume_after_sigkill_equals_the_uninterrupted_run(name, tiny_mnist, tmp_path):
    toml, module, cls, method, at_call = MODELS[name]
    model = tmp_path / f"{name}.toml"
    model.write_text(toml)
    common = [model, "--data", tiny_mnist, *LIMIT, "--no-progress", "--no-plot"]
    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    proc = sub_cli("train", *common, "--out", full)
    assert proc.returncode == 0, proc.stderr

    proc = killed_cli(["train", *common, "--out", part], module, cls, method, at_call, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = read_run(part)
    assert run.status == "running" or run.status == "incomplete"
    assert run.epochs_completed == 1  # killed in epoch 2

    proc = sub_cli("train", *common, "--out", part, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(full, part)


def test_resume_after_ctrl_c_in_process(tiny_mnist, tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) in epoch 2 of FA, then --resume: the same file as without it."""
    from neuro_grlu.rules.backprop import FeedbackAlignment

    model = tmp_path / "fa.toml"
    model.write_text(ERROR_FEEDBACK.format(name="fa"))
    common = [model, "--data", tiny_mnist, *LIMIT, "--no-progress", "--no-plot"]
    assert cli("train", *common, "--out", tmp_path / "full.h5")[0] == 0
    original, calls = FeedbackAlignment.step, [0]

    def interrupting(self, *a, **k):
        calls[0] += 1
        if calls[0] == 500:
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(FeedbackAlignment, "step", interrupting)
    code, err = cli("train", *common, "--out", tmp_path / "part.h5")
    assert code == 130 and "--resume" in err
    monkeypatch.setattr(FeedbackAlignment, "step", original)
    assert read_run(tmp_path / "part.h5").epochs_completed == 1
    assert cli("train", *common, "--out", tmp_path / "part.h5", "--resume")[0] == 0
    assert_same_run(tmp_path / "full.h5", tmp_path / "part.h5")


def test_resume_refuses_what_it_cannot_continue(tiny_mnist, tmp_path):
    model = tmp_path / "fa.toml"
    model.write_text(ERROR_FEEDBACK.format(name="fa"))
    common = [model, "--data", tiny_mnist, *LIMIT, "--no-progress", "--no-plot", "--out", tmp_path / "r.h5"]
    code, err = cli("train", *common, "--resume")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    assert cli("train", *common, "--epochs", "1")[0] == 0
    code, err = cli("train", *common, "--epochs", "1", "--resume")
    assert code == 2 and "is complete" in err and err.count("\n") == 1
    with h5py.File(tmp_path / "r.h5", "a") as f:  # pretend it stopped after epoch 1 of 1
        f.attrs["status"] = "incomplete"
    code, err = cli("train", *common, "--epochs", "2", "--resume")
    assert code == 2 and "another configuration" in err and "training.epochs: 1 in the file, 2 now" in err
    code, err = cli("train", *common, "--resume", "--overwrite")
    assert code == 2 and "choose one" in err


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_overwrite_keeps_the_old_file_until_the_new_run_completes(sig, tiny_mnist, tiny_model_toml, tmp_path):
    out = tmp_path / "r.h5"
    common = [tiny_model_toml, "--data", tiny_mnist, *LIMIT, "--no-progress", "--no-plot", "--out", out]
    assert cli("train", *common, "--epochs", "1")[0] == 0
    old = out.read_bytes()
    proc = killed_cli(["train", *common, "--overwrite", "--epochs", "3", "--seed", "5"],
                      "neuro_grlu.rules.grlu", "GRLU", "step_chunk", 2, sig)
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130), proc.stderr
    if sig == signal.SIGINT:
        assert "Traceback" not in proc.stderr and "old file is intact" in proc.stderr
    assert out.read_bytes() == old  # the complete old run, byte for byte
    new = out.with_name("r.h5.new")
    assert read_run(new).epochs_completed == 1 and not read_run(new).complete
    assert read_run(out).complete and read_run(out).seed == 1
    # --resume continues the stopped new run (FILE.new), which replaces the old file when it
    # completes and leaves no FILE.new behind
    code, err = cli("train", *common, "--resume", "--epochs", "3", "--seed", "5")
    assert code == 0, err
    run = read_run(out)
    assert run.complete and run.seed == 5 and run.epochs_completed == 3 and not new.exists()


def test_absurd_learning_rate_is_a_one_line_divergence(tiny_mnist, tiny_model_toml, tmp_path):
    out = tmp_path / "r.h5"
    code, err = cli("train", tiny_model_toml, "--data", tiny_mnist, *LIMIT, "--no-progress", "--no-plot",
                    "--out", out, "--set", "rule.lr_max=1e10", "--epochs", "3")
    assert code == 2 and "diverged" in err and "Traceback" not in err and err.count("\n") == 1, err
    run = read_run(out)
    assert run.status == "diverged" and run.epochs_completed < 3
    assert all(np.isfinite(w).all() for w in run.weights.values())
    code, err = cli("train", tiny_model_toml, "--data", tiny_mnist, *LIMIT, "--no-progress", "--no-plot",
                    "--out", out, "--set", "rule.lr_max=1e10", "--epochs", "3", "--resume")
    assert code == 2 and "diverged" in err


def test_divergence_in_epoch_two_keeps_epoch_one(tiny_mnist, tiny_model_toml, tmp_path, monkeypatch):
    """Weights that overflow in epoch 2 (injected): the file keeps epoch 1's weights and metrics."""
    from neuro_grlu.rules.grlu import GRLU as GRLURule

    out = tmp_path / "r.h5"
    common = [tiny_model_toml, "--data", tiny_mnist, *LIMIT, "--no-progress", "--no-plot", "--epochs", "3"]
    assert cli("train", *common, "--out", tmp_path / "ok.h5")[0] == 0
    original, calls = GRLURule.step_chunk, [0]

    def overflowing(self, net, *a, **k):
        calls[0] += 1
        result = original(self, net, *a, **k)
        if calls[0] == 2:
            net.W[0][0, 0] = np.inf  # finite rewards, infinite weights: seen at the epoch's end
        return result

    monkeypatch.setattr(GRLURule, "step_chunk", overflowing)
    code, err = cli("train", *common, "--out", out)
    assert code == 2 and "diverged in epoch 2" in err and err.count("\n") == 1
    run, ok = read_run(out), read_run(tmp_path / "ok.h5")
    assert run.status == "diverged" and run.epochs_completed == 1
    assert run.metrics["test_accuracy"][0] == ok.metrics["test_accuracy"][0]
    assert np.isfinite(run.weights["W0"]).all()


def test_reward_collapse_is_divergence(tiny, tiny_model_toml, tmp_path, monkeypatch):
    """Finite weights and rewards, but a mean reward far below chance: stopped as diverged."""
    from neuro_grlu.config import load_model
    from neuro_grlu.errors import DivergenceError
    from neuro_grlu.rules.grlu import GRLU as GRLURule
    from neuro_grlu.train import train

    original = GRLURule.step_chunk

    def collapsing(self, *a, **k):
        state, metrics = original(self, *a, **k)
        return state, {"reward": metrics["reward"] - 100.0}

    monkeypatch.setattr(GRLURule, "step_chunk", collapsing)
    config = load_model(str(tiny_model_toml), ["data.train_limit=100"])
    with pytest.raises(DivergenceError, match="collapsed"):
        train(config, tiny, out=str(tmp_path / "r.h5"), progress=False, log=lambda s: None)
    assert read_run(tmp_path / "r.h5").status == "diverged"


@pytest.fixture
def tiny(tiny_mnist):
    from neuro_grlu.data import load_idx_dir

    return load_idx_dir(tiny_mnist, name="tiny", md5=None)
