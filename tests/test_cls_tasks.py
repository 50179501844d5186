"""Task splits, accuracy matrix / forgetting, class- vs task-incremental evaluation."""

import numpy as np
import pytest

from neuro_grlu.cls.tasks import (
    average_accuracy, average_forgetting, evaluate_tasks, forgetting, masked_predict, per_class_subset, subset,
    task_sequence,
)
from neuro_grlu.errors import ConfigError


def test_named_and_explicit_sequences():
    assert task_sequence("split-mnist") == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert task_sequence("halves") == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert task_sequence([[3], [1, 2]]) == [[3], [1, 2]]
    for bad in ("nope", [[0, 1], [1, 2]], [[]], [[-1]]):
        with pytest.raises(ConfigError):
            task_sequence(bad)


def test_subset_and_per_class_subset():
    y = np.array([0, 1, 2, 1, 0, 2, 2])
    x = np.arange(7)[:, None]
    xs, ys = subset(x, y, [1, 2])
    assert ys.tolist() == [1, 2, 1, 2, 2] and xs[:, 0].tolist() == [1, 2, 3, 5, 6]
    assert subset(x, y, [2], limit=2)[1].tolist() == [2, 2]
    xs, ys = per_class_subset(x, y, [0, 2], 2, np.random.default_rng(0))
    assert sorted(ys.tolist()) == [0, 0, 2, 2]
    with pytest.raises(ConfigError):
        per_class_subset(x, y, [0], 3, np.random.default_rng(0))


def test_forgetting_against_hand_example():
    A = np.array([[0.9, 0.0, 0.0],
                  [0.5, 0.8, 0.0],
                  [0.6, 0.4, 0.7]])
    f = forgetting(A)
    # task 0: best before the last stage 0.9, final 0.6; task 1: best 0.8, final 0.4; last task NaN
    np.testing.assert_allclose(f[:2], [0.3, 0.4])
    assert np.isnan(f[2])
    assert average_forgetting(A) == pytest.approx(0.35)
    assert average_accuracy(A) == pytest.approx((0.6 + 0.4 + 0.7) / 3)


def test_class_vs_task_incremental_evaluation():
    tasks = [[0, 1], [2, 3]]
    y = np.array([0, 1, 2, 3])
    x = np.arange(4)[:, None].astype(float)
    # a learner that always prefers the newest classes (2, 3) but ranks within a task correctly
    def logits(xb):
        out = np.zeros((len(xb), 4))
        for r, v in enumerate(xb[:, 0].astype(int)):
            out[r, v] = 1.0
            out[r, 2 if v in (0, 2) else 3] += 2.0  # recency bias towards the new task
        return out
    cls = evaluate_tasks(logits, x, y, tasks, 2, "class")
    tsk = evaluate_tasks(logits, x, y, tasks, 2, "task")
    assert cls.tolist() == [0.0, 1.0]     # old task lost to the bias
    assert tsk.tolist() == [1.0, 1.0]     # masking to the task's classes recovers it
    # after the first stage, class-incremental prediction is over classes 0, 1 only
    assert evaluate_tasks(logits, x, y, tasks, 1, "class").tolist() == [1.0, 0.0]
    assert masked_predict(np.array([[0.0, 5.0, 1.0]]), [0, 2]).tolist() == [2]
    with pytest.raises(ConfigError):
        evaluate_tasks(logits, x, y, tasks, 1, "domain")
