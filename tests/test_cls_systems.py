"""Cortex freezing, fast learners on blobs, definitions and the continual command."""

import numpy as np
import pytest

from neuro_grlu.cls.config import parse_continual
from neuro_grlu.config import apply_overrides
from neuro_grlu.cls.cortex import train_cortex
from neuro_grlu.cls.hippocampus import (
    PrototypeHebbian, PrototypeHebbianParams, RateHebbian, RateHebbianParams,
)
from neuro_grlu.cls.tasks import evaluate_tasks, subset
from neuro_grlu.errors import ConfigError
from neuro_grlu.network import Architecture


def blobs(n_per_class=60, n_classes=6, dim=20, seed=0, spread=0.4):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim)) * 2.0
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[y] + spread * rng.standard_normal((len(y), dim))
    perm = rng.permutation(len(y))
    return x[perm].astype(np.float32), y[perm]


def test_cortex_is_frozen_during_the_fast_phase():
    x, y = blobs(dim=30)
    cortex = train_cortex("grlu", {"pairs": 2, "lr_max": 0.05, "sigma_max": 0.1}, Architecture(n_in=30, hidden=(16,), n_out=10),
                          x, y, [0, 1, 2], epochs=1, seed=0)
    assert cortex.classes == [0, 1, 2] and len(cortex.history) == 1
    before = cortex.fingerprint()
    learner = PrototypeHebbian(PrototypeHebbianParams(prototypes_per_class=3), cortex.n_features, 10)
    learner.fit_online(cortex.features(x), y)
    assert cortex.fingerprint() == before
    with pytest.raises(ValueError):
        cortex.net.W[0][0, 0] = 1.0  # read-only weights
    assert cortex.features(x).shape == (len(x), 16)


def test_cortex_features_follow_its_decorrelated_input():
    """A cortex trained with ``rule.decorrelate`` reads ``R·LN(x)``: its features, read out by its own
    last layer, give exactly the network's logits (they did not when the features skipped ``R``)."""
    from neuro_grlu.network import layer_norm

    x, y = blobs(dim=30)
    params = {"pairs": 2, "lr_max": 0.05, "sigma_max": 0.1, "noise_at": "input",
              "decorrelate": "antihebbian", "decorrelate_lr": 1e-3}
    cortex = train_cortex("grlu", params, Architecture(n_in=30, hidden=(16,), n_out=10), x, y, [0, 1, 2],
                          epochs=1, seed=0)
    net = cortex.net
    assert net.R is not None and not np.allclose(net.R, np.eye(30), atol=1e-4)
    logits = layer_norm(cortex.features(x)) @ net.W[-1].T + net.b[-1]
    np.testing.assert_allclose(logits, net.forward(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        net.R[0, 0] = 1.0  # the decorrelation is frozen with the weights


def test_cortex_never_sees_images_of_other_classes():
    """Images of classes 3-5 are poisoned with NaN: a cortex shaped on 0-2 stays finite (not one of
    them reached a weight), while the same training told to use class 5 too is poisoned."""
    x, y = blobs(dim=30)
    x[y >= 3] = np.nan
    arch = Architecture(n_in=30, hidden=(16,), n_out=10)
    params = {"pairs": 2, "lr_max": 0.05, "sigma_max": 0.1}
    clean = train_cortex("grlu", params, arch, x, y, [0, 1, 2], epochs=2, seed=0)
    assert all(np.isfinite(w).all() for w in clean.net.W + clean.net.b)
    assert np.isfinite(clean.features(x[y < 3])).all()
    poisoned = train_cortex("grlu", params, arch, x, y, [0, 1, 2, 5], epochs=1, seed=0)
    assert not all(np.isfinite(w).all() for w in poisoned.net.W + poisoned.net.b)


@pytest.mark.parametrize("make", [
    lambda d: PrototypeHebbian(PrototypeHebbianParams(prototypes_per_class=1), d, 10),
    lambda d: PrototypeHebbian(PrototypeHebbianParams(prototypes_per_class=5, expand=200, k=0.1), d, 10),
    lambda d: RateHebbian(RateHebbianParams(teacher="label", lr=0.1), d, 10),
])
def test_fast_learner_learns_new_classes_in_one_pass_and_keeps_old(make):
    x, y = blobs()
    tasks = [[0, 1, 2], [3, 4, 5]]
    learner = make(x.shape[1])
    rng = np.random.default_rng(0)
    xs, ys = subset(x, y, tasks[0])
    learner.fit_online(xs, ys, rng)
    old_before = evaluate_tasks(learner.logits, x, y, tasks, 1, "class")[0]
    xs, ys = subset(x, y, tasks[1])
    learner.fit_online(xs, ys, rng)
    acc = evaluate_tasks(learner.logits, x, y, tasks, 2, "class")
    assert old_before > 0.95 and acc[0] > 0.95 and acc[1] > 0.95


def test_reward_learner_learns_a_single_task_from_reward_only():
    x, y = blobs(n_per_class=200, n_classes=3)
    learner = RateHebbian(RateHebbianParams(teacher="reward", baseline="policy", temperature=0.1, lr=0.05), x.shape[1], 3)
    assert "label_at_output" not in learner.uses
    r = learner.fit_online(x, y, np.random.default_rng(1))
    assert r[-100:].mean() > 0.8 and np.mean(learner.predict(x) == y) > 0.9


BASE = {"kind": "continual", "system": "hippocampus", "hippocampus": {"learner": "prototype-hebbian"}}


@pytest.mark.parametrize("raw, match", [
    ({**BASE, "bogus": 1}, "allowed: kind"),
    ({**BASE, "system": "brain"}, "system must be one of"),
    ({**BASE, "hippocampus": {"learner": "nope"}}, "unknown hippocampus learner"),
    ({**BASE, "hippocampus": {"learner": "prototype-hebbian", "lr": 1}}, "allowed: prototypes_per_class"),
    ({**BASE, "cortex": {"rule": "grlu"}}, "remove \\[cortex\\]"),
    ({**BASE, "protocol": {"tasks": "nope"}}, "unknown task sequence"),
    ({**BASE, "protocol": {"fewshot": [0]}}, "protocol.fewshot"),
    ({"kind": "continual", "system": "slow", "slow": {"rule": "grlu", "params": {"pears": 2}}}, "allowed: pairs"),
    ({"kind": "continual", "system": "cortex+hippocampus", "cortex": {"rule": "nope"}}, "unknown rule"),
    ({"kind": "rate"}, "kind"),
])
def test_config_errors(raw, match):
    with pytest.raises(ConfigError, match=match):
        parse_continual(raw, "m")


def test_config_roundtrip_and_nested_overrides():
    raw = apply_overrides({**BASE}, ["protocol.tasks=\"halves\"", "hippocampus.prototypes_per_class=7"])
    cfg = parse_continual(raw, "m")
    assert cfg.tasks == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]] and cfg.hippocampus.prototypes_per_class == 7
    assert parse_continual(cfg.to_dict(), "m").to_dict() == cfg.to_dict()


def test_continual_run_writes_a_run_file(tiny_mnist, tmp_path):
    from neuro_grlu.cli import build_parser
    from neuro_grlu.cls.config import load_continual
    from neuro_grlu.cls.experiment import run_continual
    from neuro_grlu.app.cli import describe_model
    from neuro_grlu.data import load_idx_dir
    from neuro_grlu.io import read_run

    model = tmp_path / "m.toml"
    model.write_text('kind = "continual"\ndescription = "tiny"\nsystem = "cortex+hippocampus"\n'
                     '[protocol]\ntasks = "halves"\nfewshot = [1, 5]\nfewshot_repeats = 1\n'
                     '[cortex]\nrule = "grlu"\nclasses = [0, 1, 2, 3, 4]\nepochs = 1\nhidden = [16]\n'
                     '[cortex.params]\npairs = 2\n[hippocampus]\nlearner = "prototype-hebbian"\nprototypes_per_class = 3\n')
    assert describe_model(str(model)) == ("continual", "tiny")
    out = tmp_path / "run.h5"
    args = build_parser().parse_args(["continual", str(model), "--out", str(out), "--set", "cortex.epochs=2"])
    assert args.command == "continual"
    cfg = load_continual(str(model), args.set)
    assert cfg.cortex.epochs == 2
    data = load_idx_dir(tiny_mnist, name="tiny", md5=None)
    s = run_continual(cfg, data, out=str(out), progress=False, log=lambda line: None)
    assert s["accuracy_matrix_class"].shape == (2, 2)
    run = read_run(out)
    assert run.kind == "continual" and run.complete
    A = run.arrays["accuracy_matrix_class"]
    assert A.shape == (2, 2) and A[0, 1] == 0.0 and run.arrays["fewshot_accuracy"].shape == (1, 2)
    assert np.isfinite(run.arrays["forgetting_class"][0])
    assert "cortex_W0" in run.weights and "hippocampus_W" in run.weights


def test_continual_cli_echoes_set_overrides(capsys, monkeypatch, tmp_path):
    """The definition's description is followed by the --set changes (a log says what ran)."""
    import neuro_grlu.cls.experiment as experiment
    import neuro_grlu.data as data
    from neuro_grlu.cli import main

    seen = {}

    def fake_run(cfg, dataset, **kw):  # the protocol itself is tested above; here only the CLI's lines
        seen["cfg"] = cfg
        return {"average_accuracy_class": 0.5, "average_accuracy_task": 0.75, "wall_time_s": 1.0}

    monkeypatch.setattr(experiment, "run_continual", fake_run)
    monkeypatch.setattr(data, "load_mnist", lambda *a, **k: None)
    monkeypatch.setattr(experiment, "check_continual_data", lambda cfg, dataset: None)
    out = str(tmp_path / "r.h5")
    assert main(["continual", "cls-cortex-grlu-hippocampus", "--out", out, "--set", "cortex.classes=[0,1,2]"]) == 0
    stdout = capsys.readouterr().out
    assert "changed by --set: cortex.classes=[0,1,2]" in stdout and seen["cfg"].cortex.classes == (0, 1, 2)
    assert main(["continual", "cls-cortex-grlu-hippocampus", "--out", out]) == 0
    assert "changed by --set" not in capsys.readouterr().out
