"""The validation protocol (``data.validation``, ``data.score_test``) of the rate training loop.

Uses the tiny synthetic MNIST of ``conftest.py`` (600 training, 200 test images).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from neuro_grlu.config import load_model
from neuro_grlu.data import Dataset, load_idx_dir
from neuro_grlu.errors import ConfigError, DataError
from neuro_grlu.io import read_run
from neuro_grlu.train import split_validation, train

QUIET = dict(progress=False, log=lambda s: None)


@pytest.fixture(scope="module")
def tiny(tiny_mnist) -> Dataset:
    return load_idx_dir(tiny_mnist, name="tiny", md5=None)


class _Poisoned:
    """Stands in for an array that must never be read: any access to its data fails."""

    def __len__(self):
        raise AssertionError("test images were read")

    def __getitem__(self, item):
        raise AssertionError("test images were read")

    def __array__(self, *a, **k):
        raise AssertionError("test images were read")


def test_split_holds_out_the_last_images_after_train_limit(tiny, tiny_model_toml):
    config = load_model(str(tiny_model_toml), ["data.train_limit=500", "data.validation=120"])
    (xt, yt), (xv, yv) = split_validation(tiny, config.data)
    assert len(xt) == 380 and len(xv) == 120
    np.testing.assert_array_equal(xt, tiny.x_train[:380])
    np.testing.assert_array_equal(xv, tiny.x_train[380:500])
    np.testing.assert_array_equal(yv, tiny.y_train[380:500])


def test_validation_never_trained_on_and_recorded(tiny, tiny_model_toml, tmp_path):
    """Changing the held-out images cannot change training; validation accuracy is recorded."""
    overrides = ["data.validation=200", "training.epochs=2", "rule.pairs=4"]
    config = load_model(str(tiny_model_toml), overrides)
    out = tmp_path / "a.h5"
    a = train(config, tiny, out=str(out), **QUIET)
    x_other = tiny.x_train.copy()
    x_other[400:] = 255 - x_other[400:]  # scramble only the validation images
    other = replace(tiny, x_train=x_other)
    b = train(config, other, **QUIET)
    for wa, wb in zip(a.net.W, b.net.W):
        np.testing.assert_array_equal(wa, wb)
    assert [r["test_accuracy"] for r in a.history] == [r["test_accuracy"] for r in b.history]
    run = read_run(out)
    assert run.config["data"]["validation"] == 200
    assert len(run.metrics["validation_accuracy"]) == 2
    assert run.metrics["validation_accuracy"][-1] == pytest.approx(a.net.accuracy(
        tiny.x_train[400:].astype(np.float32) / 255, tiny.y_train[400:].astype(np.int64)))
    assert run.metrics["validation_accuracy"][-1] > 0.3  # it learned (chance 0.1)
    assert a.validation_accuracy == run.metrics["validation_accuracy"][-1]


def test_score_test_false_never_reads_test_images(tiny, tiny_model_toml):
    config = load_model(str(tiny_model_toml), ["data.validation=100", "data.score_test=false",
                                               "training.epochs=1", "rule.pairs=2"])
    poisoned = replace(tiny, x_test=_Poisoned(), y_test=_Poisoned())
    result = train(config, poisoned, **QUIET)
    assert math.isnan(result.test_accuracy)
    assert 0.0 <= result.validation_accuracy <= 1.0


def test_without_validation_no_metric(tiny, tiny_model_toml):
    result = train(load_model(str(tiny_model_toml), ["training.epochs=1", "rule.pairs=2"]), tiny, **QUIET)
    assert "validation_accuracy" not in result.history[0]
    assert math.isnan(result.validation_accuracy)


@pytest.mark.parametrize("overrides, fragment", [
    (["data.validation=600"], "holds out all 600 training images"),
    (["data.validation=300", "data.train_limit=300"], "after data.train_limit"),
])
def test_split_too_large_is_one_line_error(tiny, tiny_model_toml, overrides, fragment):
    config = load_model(str(tiny_model_toml), overrides)
    with pytest.raises(DataError) as err:
        train(config, tiny, **QUIET)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert "smaller than" in str(err.value)


def test_bad_validation_values_rejected_on_load(tiny_model_toml):
    with pytest.raises(ConfigError, match="validation"):
        load_model(str(tiny_model_toml), ["data.validation=-1"])
    with pytest.raises(ConfigError, match="score_test"):
        load_model(str(tiny_model_toml), ["data.score_test=3"])
