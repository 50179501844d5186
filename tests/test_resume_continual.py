"""``neuro-grlu continual NAME --resume`` (issue 18 item 1 for the staged protocol).

A continual run is checkpointed after its cortex phase and after every task; a run stopped
anywhere (in the cortex phase, in a task, in the few-shot experiment) and resumed ends with the
file of the uninterrupted run bit for bit — weights, arrays, learner state and every metric but
the stage wall times — for a GRLU cortex with the reward-taught rate hippocampus, an ES-shaped
localized cortex with the prototype hippocampus, and slow learners (GRLU with numba, whose noise
is drawn ahead on a second thread, and FA with momentum and its feedback matrices). A resumed run
never repeats finished work (the cortex is rebuilt from the file, not trained again). The CLI
test kills the process with SIGKILL. The refusals are in the bad-input corpus
(tests/test_bad_inputs.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neuro_grlu.io import read_learner_state, read_run
from _runfiles import datasets

TIMING = {"stage_time"}  # metrics
TIMING_KEYS = {"epoch_time", "wall_time_s"}  # in the learner state: the cortex's training record


def untimed(tree):
    """A learner-state tree without its wall times."""
    if isinstance(tree, dict):
        return {k: untimed(v) for k, v in tree.items() if k not in TIMING_KEYS}
    if isinstance(tree, list):
        return [untimed(v) for v in tree]
    return tree


TASKS = """\
[protocol]
tasks = [[0, 1], [2, 3], [4, 5]]
fewshot = [1, 3]
fewshot_classes = [6, 7]
fewshot_repeats = 2
fewshot_slow_epochs = 2
test_limit = 150
"""
DEFINITIONS = {
    "grlu-cortex+rate-hippocampus": 'kind = "continual"\nsystem = "cortex+hippocampus"\n' + TASKS + """\
[cortex]
classes = [0, 1, 2, 3, 4, 5]
epochs = 2
[cortex.network]
hidden = [16]
[cortex.rule]
name = "grlu"
pairs = 2
backend = "numpy"
[hippocampus]
learner = "rate-hebbian"
teacher = "reward"
expand = 64
""",
    "localized-es-cortex+prototype": 'kind = "continual"\nsystem = "cortex+hippocampus"\n' + TASKS + """\
[cortex]
classes = [0, 1, 2, 3]
[cortex.localized]
units = 60
field = 7
shape = "es"
generations = 2
offspring = 2
fitness_images = 150
[hippocampus]
learner = "prototype-hebbian"
prototypes_per_class = 3
""",
    "slow-grlu-numba": 'kind = "continual"\nsystem = "slow"\n' + TASKS + """\
[slow]
epochs_per_task = 2
[slow.network]
hidden = [16]
[slow.rule]
name = "grlu"
pairs = 2
backend = "numba"
""",
    "slow-fa-momentum": 'kind = "continual"\nsystem = "slow"\n' + TASKS + """\
[slow]
epochs_per_task = 2
[slow.network]
hidden = [16, 8]
[slow.rule]
name = "fa"
lr_max = 0.01
momentum = 0.9
""",
}
T = 3  # stages; a learner's call number T + 1 is the first few-shot draw


@pytest.fixture(scope="module")
def tiny(tiny_mnist):
    from neuro_grlu.data import load_idx_dir

    return load_idx_dir(tiny_mnist, name="tiny", md5=None)


def config(tmp_path, name):
    from neuro_grlu.cls.config import load_continual

    path = tmp_path / f"{name}.toml"
    path.write_text(DEFINITIONS[name])
    return load_continual(str(path))


def run(cfg, data, out, **kw):
    from neuro_grlu.cls.experiment import run_continual

    return run_continual(cfg, data, out=str(out), progress=False, log=lambda line: None, **kw)


def assert_same_run(a, b):
    """Weights, arrays, learner state bit for bit; metrics except the stage wall times."""
    ra, rb = read_run(a), read_run(b)
    assert ra.status == rb.status == "complete" and ra.epochs_completed == rb.epochs_completed == T
    for group in ("weights", "arrays", "learner_state"):
        da, db = datasets(a, group), datasets(b, group)
        assert da.keys() == db.keys() and (da or group == "learner_state"), group
        for k in da:
            assert da[k].dtype == db[k].dtype and np.array_equal(da[k], db[k], equal_nan=True), f"{group}/{k}"
    assert untimed(read_learner_state(a)[1]) == untimed(read_learner_state(b)[1])
    assert set(ra.metrics) == set(rb.metrics)
    for k in set(ra.metrics) - TIMING:
        assert ra.metrics[k].tobytes() == rb.metrics[k].tobytes(), k


def interrupt(monkeypatch, cfg, at_call: int):
    """Stop the run with Ctrl-C halfway through the ``at_call``-th learning call (1..T: the
    stages, T + 1: the first few-shot draw; 0: the cortex phase)."""
    from neuro_grlu.cls import experiment

    calls = [0]
    if at_call == 0:
        def cortex_phase(*a, **k):
            raise KeyboardInterrupt
        monkeypatch.setattr(experiment, "train_cortex", cortex_phase)
        monkeypatch.setattr(experiment, "shape_localized", cortex_phase)
        return
    if cfg.system == "slow":
        original = experiment._train_slow

        def halfway(net, rule, state, x, y, *rest):
            calls[0] += 1
            if calls[0] == at_call:
                original(net, rule, state, x[: len(x) // 2], y[: len(y) // 2], *rest)
                raise KeyboardInterrupt
            return original(net, rule, state, x, y, *rest)

        monkeypatch.setattr(experiment, "_train_slow", halfway)
        return
    from neuro_grlu.cls.hippocampus import LEARNERS

    cls = LEARNERS[cfg.hippocampus_learner][0]
    original = cls.fit_online

    def halfway(self, features, labels, rng=None):
        calls[0] += rng is not None  # the protocol's calls (the localized ES's probe passes none)
        if rng is not None and calls[0] == at_call:
            original(self, features[: len(labels) // 2], labels[: len(labels) // 2], rng)
            raise KeyboardInterrupt
        return original(self, features, labels, rng)

    monkeypatch.setattr(cls, "fit_online", halfway)


CASES = [
    ("grlu-cortex+rate-hippocampus", 0),  # in the cortex phase: nothing to keep, starts again
    ("grlu-cortex+rate-hippocampus", 1),  # in task 1: the trained cortex is kept
    ("grlu-cortex+rate-hippocampus", 2),
    ("grlu-cortex+rate-hippocampus", T + 1),  # in the few-shot experiment
    ("localized-es-cortex+prototype", 2),
    ("slow-grlu-numba", 2),
    ("slow-grlu-numba", T + 1),
    ("slow-fa-momentum", 2),
]


@pytest.mark.parametrize("name, at_call", CASES, ids=[f"{n}-call{c}" for n, c in CASES])
def test_resumed_run_equals_the_uninterrupted_one(name, at_call, tiny, tmp_path, monkeypatch):
    from neuro_grlu.cls import experiment

    cfg = config(tmp_path, name)
    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    reference = run(cfg, tiny, full)
    with monkeypatch.context() as m:
        interrupt(m, cfg, at_call)
        with pytest.raises(KeyboardInterrupt):
            run(cfg, tiny, part)
    stopped = read_run(part)
    assert stopped.status in ("running", "incomplete") and stopped.epochs_completed == max(at_call - 1, 0)
    has_cortex = cfg.cortex is not None and at_call > 0
    assert (read_learner_state(part) is not None) == (at_call > 1 or has_cortex)
    if has_cortex:  # a resumed run rebuilds the cortex from the file: training it again fails the test
        def not_again(*a, **k):
            raise AssertionError("the cortex was trained again")
        monkeypatch.setattr(experiment, "train_cortex", not_again)
        monkeypatch.setattr(experiment, "shape_localized", not_again)
    resumed = run(cfg, tiny, part, resume=True)
    assert_same_run(full, part)
    assert resumed["train_images"] == reference["train_images"]
    for key in ("accuracy_matrix_class", "accuracy_matrix_task", "fewshot_accuracy"):
        assert np.array_equal(resumed[key], reference[key], equal_nan=True), key


def test_overwrite_run_stopped_then_resumed_replaces_the_old_file(tiny, tmp_path, monkeypatch):
    """--overwrite writes FILE.new; stopped in task 2 and resumed, it replaces FILE when complete."""
    cfg = config(tmp_path, "localized-es-cortex+prototype")
    out, new = tmp_path / "r.h5", tmp_path / "r.h5.new"
    run(cfg, tiny, tmp_path / "full.h5")
    from neuro_grlu.cls.config import load_continual

    other = load_continual(str(tmp_path / "localized-es-cortex+prototype.toml"), ["protocol.seed=7"])
    run(other, tiny, out)
    old = out.read_bytes()
    with monkeypatch.context() as m:
        interrupt(m, cfg, 2)
        with pytest.raises(KeyboardInterrupt):
            run(cfg, tiny, out, overwrite=True)
    assert out.read_bytes() == old and read_run(new).epochs_completed == 1
    run(cfg, tiny, out, resume=True)
    assert not new.exists() and read_run(out).seed == 1
    assert_same_run(tmp_path / "full.h5", out)


def sub_cli(*argv, kill_at: int | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh process (one BLAS thread, as every CLI run); with ``kill_at`` it sends
    itself SIGKILL at that call of the rate hippocampus's ``fit_online``."""
    kill = "" if kill_at is None else textwrap.dedent(f"""
        from neuro_grlu.cls.hippocampus import RateHebbian
        original, calls = RateHebbian.fit_online, [0]
        def killing(self, features, labels, rng):
            calls[0] += 1
            if calls[0] == {kill_at}:
                original(self, features[: len(labels) // 2], labels[: len(labels) // 2], rng)
                os.kill(os.getpid(), {int(signal.SIGKILL)})
            return original(self, features, labels, rng)
        RateHebbian.fit_online = killing
    """)
    script = textwrap.dedent("""
        import os, sys
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # as the CLI does before numpy is imported
    """) + kill + f"from neuro_grlu.app.cli import main\nsys.exit(main({[str(a) for a in argv]!r}))\n"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_cli_resume_after_sigkill(tiny_mnist, tmp_path):
    name = "grlu-cortex+rate-hippocampus"
    model = tmp_path / "m.toml"
    model.write_text(DEFINITIONS[name])
    common = ["continual", model, "--data", tiny_mnist]
    proc = sub_cli(*common, "--out", tmp_path / "full.h5")
    assert proc.returncode == 0, proc.stderr
    part = tmp_path / "part.h5"
    proc = sub_cli(*common, "--out", part, kill_at=2)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert read_run(part).epochs_completed == 1 and not read_run(part).complete
    proc = sub_cli(*common, "--out", part, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert f"resuming {part} after stage 1/{T}" in proc.stdout
    assert_same_run(tmp_path / "full.h5", part)
