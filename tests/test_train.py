"""The training loop on a tiny synthetic data set: learning, run files, reproducibility,
backend agreement, Ctrl-C and divergence (fast: 784-32-10 networks on <= 600 images)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from neuro_grlu.config import load_model
from neuro_grlu.data import Dataset, load_idx_dir
from neuro_grlu.errors import DataError, NeuroGRLUError
from neuro_grlu.io import read_run
from neuro_grlu.rules.grlu import GRLU
from neuro_grlu.train import METRICS, train

TIMING = {"epoch_time", "samples_per_second"}
QUIET = dict(progress=False, log=lambda s: None)


@pytest.fixture(scope="module")
def tiny(tiny_mnist) -> Dataset:
    return load_idx_dir(tiny_mnist, name="tiny", md5=None)


def _config(toml, *overrides):
    return load_model(str(toml), list(overrides))


def _finite_run(path):
    run = read_run(path)
    for name, values in run.metrics.items():
        if name.startswith("alignment_"):
            continue  # NaN = no update direction on any probe batch (documented), not divergence
        assert np.isfinite(values).all(), f"non-finite metric {name} in {path}: {values}"
    for name, w in run.weights.items():
        assert np.isfinite(w).all(), f"non-finite weights {name} in {path}"
    return run


# --------------------------------------------------------------------------- learning + run file


def test_tiny_dataset_shape(tiny):
    assert tiny.x_train.shape == (600, 784) and tiny.x_test.shape == (200, 784)
    assert tiny.x_train.dtype == np.uint8 and tiny.y_train.dtype == np.uint8
    assert set(np.unique(tiny.y_train)) == set(range(10)) == set(np.unique(tiny.y_test))


def test_learns_and_writes_complete_run(tiny, tiny_model_toml, tmp_path):
    config = _config(tiny_model_toml, "rule.pairs=8", "training.epochs=3")
    out = tmp_path / "r.h5"
    lines = []
    result = train(config, tiny, out=str(out), progress=False, log=lines.append)

    assert len(result.history) == 3 and len(lines) == 3
    assert result.test_accuracy > 0.5, result.history  # chance is 0.1; observed ~0.97-0.99
    assert result.history[-1]["train_accuracy"] > 0.5

    run = _finite_run(out)
    assert run.status == "complete" and run.complete
    assert run.epochs_completed == run.epochs_planned == 3
    assert run.config == config.to_dict()
    assert run.model == "tiny" and run.kind == "rate" and run.seed == 1
    assert set(run.metrics) == set(METRICS) | {"alignment_deg_L0", "alignment_deg_L1"}
    assert run.metric_units["alignment_deg_L0"] == "degree"
    assert run.arrays["alignment_deg"].shape == (4, 2)  # before training + after each of 3 epochs
    assert run.arrays["alignment_samples"].tolist() == [0, 600, 1200, 1800]
    assert (run.arrays["alignment_deg"] < 90).all()
    for name, values in run.metrics.items():
        assert values.shape == (3,)
        np.testing.assert_array_equal(values, [row[name] for row in result.history])
    assert [row["epoch"] for row in run.table()] == [1, 2, 3]
    assert run.metric_units["epoch_time"] == "s" and run.metric_units["test_accuracy"] == ""
    # lr and sigma follow the cosine schedule from their maxima
    assert run.metrics["lr"][0] == pytest.approx(0.1) and run.metrics["sigma"][0] == pytest.approx(0.1)
    assert np.all(np.diff(run.metrics["lr"]) < 0)
    # stored weights are the final network
    state = result.net.state_dict()
    assert set(run.weights) == set(state) == {"W0", "b0", "W1", "b1"}
    assert run.weights["W0"].shape == (32, 784) and run.weights["W1"].shape == (10, 32)
    for k, w in state.items():
        np.testing.assert_array_equal(run.weights[k], w)


def test_no_learning_stays_near_chance(tiny, tiny_model_toml):
    """Control for the test above: the synthetic task is not solved by the random init."""
    config = _config(tiny_model_toml, "rule.lr_max=1e-9", "training.epochs=1")
    assert train(config, tiny, **QUIET).test_accuracy < 0.3


def test_limits_are_applied(tiny, tiny_model_toml):
    config = _config(tiny_model_toml, "data.train_limit=50", "data.test_limit=20",
                     "data.train_eval_size=10", "training.epochs=1")
    result = train(config, tiny, **QUIET)
    row = result.history[0]
    assert row["test_accuracy"] * 20 == pytest.approx(round(row["test_accuracy"] * 20))
    assert row["train_accuracy"] * 10 == pytest.approx(round(row["train_accuracy"] * 10))


def test_refuses_to_overwrite(tiny, tiny_model_toml, tmp_path):
    config = _config(tiny_model_toml, "data.train_limit=20", "training.epochs=1")
    out = tmp_path / "r.h5"
    train(config, tiny, out=str(out), **QUIET)
    with pytest.raises(NeuroGRLUError, match="already exists"):
        train(config, tiny, out=str(out), **QUIET)
    train(config, tiny, out=str(out), overwrite=True, **QUIET)
    assert read_run(out).complete


# --------------------------------------------------------------------------- reproducibility


def _strip_timing(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def test_same_seed_is_bit_identical(tiny, tiny_model_toml, tmp_path):
    config = _config(tiny_model_toml, "data.train_limit=200")
    a = train(config, tiny, out=str(tmp_path / "a.h5"), **QUIET)
    b = train(config, tiny, out=str(tmp_path / "b.h5"), **QUIET)
    assert _strip_timing(a.history) == _strip_timing(b.history)
    for k, w in a.net.state_dict().items():
        np.testing.assert_array_equal(w, b.net.state_dict()[k])
    ra, rb = read_run(tmp_path / "a.h5"), read_run(tmp_path / "b.h5")
    for k in ra.weights:
        np.testing.assert_array_equal(ra.weights[k], rb.weights[k])
    for k in set(ra.metrics) - TIMING:
        np.testing.assert_array_equal(ra.metrics[k], rb.metrics[k])


def test_different_seed_differs(tiny, tiny_model_toml):
    a = train(_config(tiny_model_toml, "data.train_limit=100", "training.epochs=1"), tiny, **QUIET)
    b = train(_config(tiny_model_toml, "data.train_limit=100", "training.epochs=1", "training.seed=2"), tiny, **QUIET)
    for k, w in a.net.state_dict().items():
        if k.startswith("W"):
            assert not np.array_equal(w, b.net.state_dict()[k])


@pytest.mark.parametrize("network", [["network.activation=relu"], ["network.activation=topk", "network.k=0.25"]],
                         ids=["relu", "topk"])
def test_backends_agree(tiny, tiny_model_toml, network):
    """numba, numpy and tiled consume the same noise stream, so they give the same weights."""
    weights, rewards = {}, {}
    for backend in ("tiled", "numpy", "numba"):
        config = _config(tiny_model_toml, f"rule.backend={backend}", "data.train_limit=100",
                         "training.epochs=1", *network)
        result = train(config, tiny, **QUIET)
        weights[backend] = result.net.state_dict()
        rewards[backend] = result.history[0]["mean_reward"]
    ref = weights["tiled"]
    for backend in ("numpy", "numba"):
        assert rewards[backend] == pytest.approx(rewards["tiled"], rel=1e-4)
        for k, w in ref.items():
            np.testing.assert_allclose(weights[backend][k], w, rtol=1e-4, atol=1e-6,
                                       err_msg=f"{backend} {k}")
    # and training moved the weights well beyond that tolerance
    init = train(_config(tiny_model_toml, "rule.lr_max=1e-12", "data.train_limit=100", "training.epochs=1",
                         *network), tiny, **QUIET).net.state_dict()
    assert np.abs(ref["W1"] - init["W1"]).max() > 1e-3


def test_a_batch_update_is_the_mean_of_its_examples(tiny):
    """batch_size = 8 makes one update per 8 examples, with their mean gradient: 8 copies of one
    image in one batch move backprop's weights exactly as that image alone does (batch 1)."""
    import dataclasses

    def one_image(copies):
        x, y = np.repeat(tiny.x_train[:1], copies, axis=0), np.repeat(tiny.y_train[:1], copies)
        return dataclasses.replace(tiny, x_train=x, y_train=y)

    from neuro_grlu.config import parse_config

    def backprop(batch_size, lr=0.002):
        return parse_config({"network": {"hidden": [32]}, "rule": {"name": "backprop", "lr_max": lr},
                             "training": {"epochs": 1, "batch_size": batch_size, "seed": 3, "alignment_batches": 0}})

    single = train(backprop(1), one_image(1), **QUIET).net
    batch = train(backprop(8), one_image(8), **QUIET).net
    seq = train(backprop(1), one_image(8), **QUIET).net
    init = train(backprop(1, lr=1e-30), one_image(1), **QUIET).net
    for k, w in batch.state_dict().items():
        np.testing.assert_allclose(w, single.state_dict()[k], rtol=1e-5, atol=1e-7, err_msg=k)
    moved = {k: np.abs(w - init.state_dict()[k]).max() for k, w in batch.state_dict().items()}
    assert moved["W1"] > 1e-4  # one real step was taken ...
    # ... and only one: eight sequential steps on the same image go clearly further
    assert np.abs(seq.state_dict()["W1"] - init.state_dict()["W1"]).max() > 2 * moved["W1"]


def test_grlu_learns_with_batch_size_8(tiny, tiny_model_toml):
    config = _config(tiny_model_toml, "training.batch_size=8", "training.epochs=3", "rule.backend=numpy")
    result = train(config, tiny, **QUIET)
    assert config.training.batch_size == 8
    assert result.test_accuracy > 0.5, result.history  # chance is 0.1
    assert result.history[-1]["mean_reward"] > result.history[0]["mean_reward"]


# --------------------------------------------------------------------------- interruption and divergence


def test_keyboard_interrupt_keeps_completed_epochs(tiny, tiny_model_toml, tmp_path, monkeypatch):
    config = _config(tiny_model_toml, "training.epochs=3")
    chunk = config.make_rule(config.architecture()).chunk_size
    calls_per_epoch = math.ceil(len(tiny.x_train) / chunk)
    original = GRLU.step_chunk
    calls = []

    def interrupting(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == calls_per_epoch + 1:  # first chunk of epoch 2
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GRLU, "step_chunk", interrupting)
    out = tmp_path / "r.h5"
    with pytest.raises(KeyboardInterrupt):
        train(config, tiny, out=str(out), **QUIET)
    run = _finite_run(out)
    assert run.status == "incomplete" and not run.complete
    assert run.epochs_completed == 1 and run.epochs_planned == 3
    assert all(v.shape == (1,) for v in run.metrics.values())
    assert run.config == config.to_dict()
    assert run.weights["W0"].shape == (32, 784)
    assert not (tmp_path / "r.h5.tmp").exists()


@pytest.mark.parametrize(
    "overrides",
    [
        ["rule.lr_max=1e6", "rule.normalize=sigma2"],
        ["rule.lr_max=1e30"],
        ["rule.lr_max=1e38"],
        # one example per epoch: the only update's overflow is invisible in the rewards
        ["rule.lr_max=1e39", "data.train_limit=1", "rule.backend=numpy"],
        ["rule.lr_max=1e39", "data.train_limit=1", "rule.backend=numba"],
    ],
    ids=["sigma2-1e6", "1e30", "1e38", "1e39-one-example-numpy", "1e39-one-example-numba"],
)
def test_divergence_is_never_silent(tiny, tiny_model_toml, tmp_path, overrides):
    config = _config(tiny_model_toml, "data.train_limit=200", "training.epochs=2", *overrides)
    out = tmp_path / "r.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow warnings are expected here
        try:
            result = train(config, tiny, out=str(out), **QUIET)
        except NeuroGRLUError as exc:
            assert "diverged" in str(exc) and "\n" not in str(exc)
            run = _finite_run(out)
            assert run.status == "diverged"
            return
    run = _finite_run(out)
    assert run.status == "complete" and run.epochs_completed == 2
    for row in result.history:
        assert all(math.isfinite(v) for k, v in row.items() if not k.startswith("alignment_")), row
    for w in result.net.state_dict().values():
        assert np.isfinite(w).all()


def test_empty_dataset_is_a_data_error(tiny, tiny_model_toml):
    empty = Dataset(name="empty", path=tiny.path, x_train=tiny.x_train[:0], y_train=tiny.y_train[:0],
                    x_test=tiny.x_test, y_test=tiny.y_test)
    with pytest.raises(DataError, match="0 training"):
        train(_config(tiny_model_toml), empty, **QUIET)
