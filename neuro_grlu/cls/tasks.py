"""Task splits, class- vs task-incremental evaluation, the accuracy matrix and forgetting.

A *task sequence* is a list of class lists, e.g. split-MNIST ``[[0, 1], [2, 3], ..., [8, 9]]``
or "cats then dogs" ``[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]``. A learner meets the tasks one
after the other (stage ``s`` trains on task ``s`` only) and is evaluated after every stage
on the test images of *every* task, giving the accuracy matrix ``A[s, t]``.

Scenarios (van de Ven & Tolias 2019):

* ``class`` (class-incremental) — the prediction is the argmax over all classes seen so far
  (the classes of tasks ``0..s``); the learner is never told which task an image is from.
* ``task`` (task-incremental) — the task identity is given at test time: the logits are
  masked to the classes of the image's task before the argmax.

Summary numbers (computed over the tasks seen, from the final row):

* average accuracy ``mean_t A[S−1, t]``;
* forgetting of task ``t < S−1``: ``max_{t ≤ s < S−1} A[s, t] − A[S−1, t]`` (Chaudhry et
  al. 2018): the drop from its best accuracy before the last stage to the end; the last
  task has no forgetting (NaN).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: Named task sequences.
SEQUENCES = {
    "split-mnist": [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]],
    "halves": [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]],
}
SCENARIOS = ("class", "task")


#: Classes of the data sets the protocols use (MNIST digits 0-9).
N_CLASSES = 10


def check_classes(values, what: str, *, n_classes: int = N_CLASSES, allow_empty: bool = False) -> list[int]:
    """`values` as a list of distinct integer classes in ``0 .. n_classes-1``; a one-line ConfigError otherwise.

    Floats (``0.5``), strings, booleans and nested lists are refused, not truncated.
    """
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ConfigError(f"{what} must be a list of classes 0-{n_classes - 1}, e.g. [0, 1] (got {values!r})")
    values = list(values)
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n_classes]
    if bad:
        raise ConfigError(f"{what} must list integer classes 0-{n_classes - 1} (got {bad[0]!r} in {values!r})")
    if not values and not allow_empty:
        raise ConfigError(f"{what} is empty; list at least one class 0-{n_classes - 1}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{what} lists a class twice ({values!r})")
    return values


def task_sequence(spec) -> list[list[int]]:
    """A task sequence from a name in :data:`SEQUENCES` or an explicit list of class lists.

    Classes must be integers 0-9 (:func:`check_classes`), every task non-empty, and no class in
    two tasks.
    """
    if isinstance(spec, str):
        if spec not in SEQUENCES:
            raise ConfigError(f"unknown task sequence {spec!r}; known: {', '.join(SEQUENCES)} (or a list of class lists)")
        return [list(t) for t in SEQUENCES[spec]]
    if not isinstance(spec, (list, tuple)) or not spec or \
            any(isinstance(t, (str, bytes, dict)) or not isinstance(t, (list, tuple)) for t in spec):
        raise ConfigError(f"a task sequence must be a name or a non-empty list of class lists, "
                          f"e.g. [[0, 1], [2, 3]] (got {spec!r})")
    tasks = [check_classes(t, f"protocol.tasks[{i}]") for i, t in enumerate(spec)]
    flat = [c for t in tasks for c in t]
    if len(set(flat)) != len(flat):
        raise ConfigError(f"task sequence {spec!r} lists a class in more than one task")
    return tasks


def check_classes_in_data(classes, y, what: str, data_name: str) -> None:
    """A one-line DataError if a class of `classes` has no example in the labels `y`."""
    from ..errors import DataError

    present = set(np.unique(np.asarray(y)).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise DataError(f"{what} uses class {missing[0]}, but data set {data_name!r} has no image of it "
                        f"(classes present: {sorted(present) or 'none'}); use classes the data hold")


def class_mask(y: np.ndarray, classes) -> np.ndarray:
    """Boolean mask of the rows of ``y`` whose label is in ``classes``."""
    return np.isin(np.asarray(y), np.asarray(list(classes)))


def subset(x: np.ndarray, y: np.ndarray, classes, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The examples of ``classes`` (in their original order), at most ``limit`` (0 = all)."""
    m = class_mask(y, classes)
    xs, ys = x[m], np.asarray(y)[m]
    if limit:
        xs, ys = xs[:limit], ys[:limit]
    return xs, ys


def per_class_subset(x, y, classes, per_class: int, rng: np.random.Generator):
    """``per_class`` random examples of each class in ``classes``, shuffled together."""
    y = np.asarray(y)
    idx = []
    for c in classes:
        where = np.flatnonzero(y == c)
        if len(where) < per_class:
            raise ConfigError(f"class {c} has {len(where)} examples, fewer than {per_class} requested")
        idx.append(rng.choice(where, per_class, replace=False))
    idx = rng.permutation(np.concatenate(idx))
    return x[idx], y[idx]


def masked_predict(logits: np.ndarray, allowed) -> np.ndarray:
    """argmax of ``logits`` ``(B, C)`` over the columns in ``allowed`` only; int64 ``(B,)``."""
    allowed = np.asarray(sorted(allowed), np.int64)
    return allowed[np.asarray(logits)[:, allowed].argmax(axis=1)]


def evaluate_tasks(logits_fn, x: np.ndarray, y: np.ndarray, tasks, seen: int, scenario: str,
                   unseen: bool = True) -> np.ndarray:
    """Accuracy on every task's test images after ``seen`` tasks have been learnt.

    Parameters
    ----------
    logits_fn : callable ``x -> (B, C)`` scores (any monotone score per class)
    x, y : test images and labels
    tasks : the task sequence
    seen : number of tasks learnt so far (1..len(tasks)); class-incremental prediction is
        over the classes of tasks ``0..seen−1``
    scenario : ``"class"`` or ``"task"``
    unseen : evaluate the tasks not seen yet too (``False``: NaN for them, saving their cost)

    Returns
    -------
    float64 ``(len(tasks),)`` — accuracy on each task's images (tasks not yet seen included:
    in the class scenario they score 0 because their classes cannot be predicted).
    """
    if scenario not in SCENARIOS:
        raise ConfigError(f"scenario must be one of {', '.join(SCENARIOS)} (got {scenario!r})")
    seen_classes = [c for t in tasks[:seen] for c in t]
    out = np.zeros(len(tasks))
    for i, classes in enumerate(tasks):
        if not unseen and i >= seen:
            out[i] = np.nan
            continue
        xs, ys = subset(x, y, classes)
        if len(ys) == 0:
            out[i] = np.nan
            continue
        logits = logits_fn(xs)
        allowed = classes if scenario == "task" else seen_classes
        out[i] = float(np.mean(masked_predict(logits, allowed) == ys))
    return out


def average_accuracy(matrix: np.ndarray) -> float:
    """Mean of the final row of the accuracy matrix (all tasks seen at the end)."""
    return float(np.nanmean(np.asarray(matrix)[-1]))


def forgetting(matrix: np.ndarray) -> np.ndarray:
    """Forgetting of each task: best accuracy before the last stage minus the final accuracy.

    ``matrix[s, t]`` is the accuracy on task ``t`` after stage ``s`` (square, stages = tasks).
    Entry ``t`` is ``max_{t ≤ s < S−1} A[s, t] − A[S−1, t]``; NaN for the last task.
    """
    A = np.asarray(matrix, np.float64)
    S, T = A.shape
    out = np.full(T, np.nan)
    for t in range(min(T, S - 1)):
        out[t] = np.max(A[t : S - 1, t]) - A[S - 1, t]
    return out


def average_forgetting(matrix: np.ndarray) -> float:
    """Mean forgetting over all tasks but the last (NaN with one task)."""
    f = forgetting(matrix)
    return float(np.nanmean(f)) if np.isfinite(f).any() else float("nan")
