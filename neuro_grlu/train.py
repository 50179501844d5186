"""The training loop shared by every rate-based rule: schedules, evaluation, records, progress.

One run: initialise the network from the seed, then for every epoch shuffle the training
set, feed it to the rule chunk by chunk, score train accuracy (on the first
``train_eval_size`` training images, as in the published GRLU runs), validation accuracy
(when ``data.validation = N`` holds out the last ``N`` training images: they are never
trained on) and test accuracy (unless ``data.score_test = false``: tuning runs then never
touch a test image), and checkpoint the run file.

The validation protocol: choose settings on ``validation_accuracy`` of runs with
``data.validation = 10000, data.score_test = false``; train the chosen setting on all
training images and score the test set once. Four independent random streams are spawned from the seed
(initial weights, example order, the rule's own noise, the alignment probe's noise), so the
same config and seed give the same numbers, with or without alignment measurements.

The rule's learner state (:mod:`neuro_grlu.rules.state`) and the positions of the loop's own
streams are saved with every checkpoint (``/learner_state``), so ``resume=True`` continues
an incomplete run file from its last complete epoch, bit for bit as if it had not stopped.
Non-finite rewards or weights, or a mean reward below :data:`COLLAPSE_REWARD_FACTOR` times
chance, stop the run with a :class:`~neuro_grlu.errors.DivergenceError` (the file is marked
``"diverged"`` and keeps the last good epoch).

Rules that define :meth:`~neuro_grlu.rules.base.Rule.delta` also get their gradient
alignment measured (:mod:`neuro_grlu.alignment`) before training, every
``training.alignment_every`` examples, and at the end of every epoch, on a fixed probe set
(the first ``alignment_batches × batch_size`` training images).
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .config import ModelConfig
from .data import Dataset
from .errors import DataError, DivergenceError
from .alignment import has_delta, measure_alignment
from .io import RunWriter
from .rules.loop import close as close_learner
from .rules.loop import init_learner, train_chunk
from .rules.state import flatten, restore

#: A reward collapse: the epoch's mean reward (log-probability of the true class, nat) is below
#: this many times that of a uniform guess, ``log(1/n_classes)`` (10 classes: −23 nat, a mean
#: probability of the true class of 1e-10). Every stored healthy run stays above −3 nat.
COLLAPSE_REWARD_FACTOR = 10.0

#: Units and descriptions of the per-epoch metrics every rate-based run records.
METRICS = {
    "train_accuracy": ("", "accuracy on the first train_eval_size training images"),
    "test_accuracy": ("", "accuracy on the test set (NaN when data.score_test = false)"),
    "mean_reward": ("nat", "mean log-probability of the true class during training (under noise)"),
    "lr": ("", "learning rate used in this epoch"),
    "sigma": ("", "noise standard deviation used in this epoch"),
    "epoch_time": ("s", "wall time of the epoch's training (evaluation excluded)"),
    "samples_per_second": ("1/s", "training examples per wall-clock second in this epoch"),
}
#: Recorded as well when ``data.validation > 0``.
VALIDATION_METRIC = {
    "validation_accuracy": ("", "accuracy on the held-out validation split (the last data.validation training images)"),
}


@dataclass
class RunResult:
    """What :func:`train` returns: the trained network and one dict of metrics per epoch."""

    net: object
    history: list[dict[str, float]] = field(default_factory=list)
    path: str | None = None
    wall_time_s: float = 0.0

    @property
    def test_accuracy(self) -> float:
        return self.history[-1]["test_accuracy"] if self.history else float("nan")

    @property
    def validation_accuracy(self) -> float:
        """Last epoch's validation accuracy (NaN without ``data.validation``)."""
        return self.history[-1].get("validation_accuracy", float("nan")) if self.history else float("nan")


def prepare_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, 784)`` → float32 in [0, 1] (layer norm makes the scale irrelevant)."""
    return np.asarray(images, np.float32) / np.float32(255.0)


#: Image shape the definitions' ``data.dataset`` names (``"mnist"``: 28 × 28 = 784 inputs).
DATASET_SHAPES = {"mnist": (28, 28)}


def check_data(config: ModelConfig, dataset: Dataset) -> list[str]:
    """Check the definition against the data before any work; return notes (one line each).

    One-line DataErrors: no training images; ``data.train_limit`` or (when the test set is
    scored) ``data.test_limit`` above the number of images; no test image to score; a
    validation split that leaves no training image.
    A note (documented acceptance): the data's images are not the shape of the dataset the
    definition names (e.g. 20 × 20 images for ``dataset = "mnist"``); the network is then built
    for the data's inputs and the run file records ``input_shape``.
    """
    dc = config.data
    n_train = len(dataset.x_train)
    n_test = len(dataset.x_test) if dc.score_test else 0  # score_test = false never touches the test set
    if n_train == 0:
        raise DataError(f"data set {dataset.name!r} has 0 training images; training needs at least one")
    if dc.train_limit > n_train:
        raise DataError(f"data.train_limit = {dc.train_limit} but data set {dataset.name!r} has {n_train} training "
                        f"images; set data.train_limit <= {n_train} (0 = all)")
    if dc.score_test and n_test == 0:
        raise DataError(f"data set {dataset.name!r} has 0 test images; "
                        "set data.score_test = false to train without scoring a test set")
    if dc.score_test and dc.test_limit > n_test:
        raise DataError(f"data.test_limit = {dc.test_limit} but data set {dataset.name!r} has {n_test} test "
                        f"images; set data.test_limit <= {n_test} (0 = all)")
    split_validation(dataset, dc)  # a validation split as large as the training set
    notes = []
    expected = DATASET_SHAPES.get(dc.dataset)
    n_in = dataset.x_train.shape[1] if dataset.x_train.ndim == 2 else 0
    if expected is not None and n_in != int(np.prod(expected)):
        shape = "x".join(map(str, dataset.image_shape)) if dataset.image_shape else f"{n_in}-pixel"
        notes.append(f"the definition names dataset {dc.dataset!r} ({expected[0]}x{expected[1]} = "
                     f"{int(np.prod(expected))} inputs) but {dataset.name!r} holds {shape} images; the network "
                     f"is built for {n_in} inputs (the run file records input_shape)")
    return notes


def input_shape(dataset: Dataset) -> np.ndarray:
    """``(rows, cols)`` of the data's images (int64), or ``(n_in,)`` if the loader did not say."""
    return np.asarray(dataset.image_shape or dataset.x_train.shape[1:], np.int64)


def split_validation(dataset: Dataset, data) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((x_train, y_train), (x_val, y_val))``: the training images after ``data.train_limit``,
    with the last ``data.validation`` of them held out (uint8 images, labels as stored).

    A DataError (one line) if the split leaves no training image.
    """
    x, y = dataset.x_train, dataset.y_train
    if data.train_limit:
        x, y = x[: data.train_limit], y[: data.train_limit]
    n_val = data.validation
    if len(x) == 0:
        raise DataError(f"data set {dataset.name!r} has 0 training images; training needs at least one")
    if n_val >= len(x):
        raise DataError(f"data.validation = {n_val} holds out all {len(x)} training images of {dataset.name!r}"
                        f"{' (after data.train_limit)' if data.train_limit else ''}; "
                        f"use a validation split smaller than {len(x)}")
    n_fit = len(x) - n_val
    return (x[:n_fit], y[:n_fit]), (x[n_fit:], y[n_fit:])


def train(
    config: ModelConfig,
    dataset: Dataset,
    *,
    out: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    command: str = "",
    log=print,
) -> RunResult:
    """Train ``config`` on ``dataset``; write a run file to ``out`` if given.

    Parameters
    ----------
    config : ModelConfig
        Validated definition; ``config.training`` gives epochs, batch size and seed.
    dataset : Dataset
        Images ``(n, n_in)`` uint8 and labels ``(n,)``.
    out : str, optional
        Path of the HDF5 run file, checkpointed after every epoch.
    overwrite : bool
        Replace an existing ``out`` when (and only when) this run completes.
    resume : bool
        Continue the incomplete run file ``out`` (same configuration) from its last epoch.
    progress : bool
        Show a tqdm bar on stderr (samples/s, running reward, ETA).
    log : callable
        Receives one line per epoch.
    """
    from tqdm import tqdm

    tr, dc = config.training, config.data
    seeds = np.random.SeedSequence(tr.seed).spawn(4)
    init_rng, order_rng, noise_rng, probe_rng = (np.random.default_rng(s) for s in seeds)

    check_data(config, dataset)
    (x_train, y_train), (x_val, y_val) = split_validation(dataset, dc)
    if dc.score_test:
        x_test, y_test = dataset.x_test, dataset.y_test
        if dc.test_limit:
            x_test, y_test = x_test[: dc.test_limit], y_test[: dc.test_limit]
        x_test, y_test = prepare_inputs(x_test), np.asarray(y_test, np.int64)
        if len(x_test) == 0:
            raise DataError(f"data set {dataset.name!r} has 0 test images; "
                            "set data.score_test = false to train without scoring a test set")
    x_train, x_val = prepare_inputs(x_train), prepare_inputs(x_val)
    y_train, y_val = np.asarray(y_train, np.int64), np.asarray(y_val, np.int64)
    x_eval, y_eval = x_train[: dc.train_eval_size], y_train[: dc.train_eval_size]

    arch = config.architecture(n_in=x_train.shape[1], n_out=dataset.n_classes)
    rule = config.make_rule(arch)
    net, state = init_learner(rule, init_rng, noise_rng)
    result = RunResult(net, path=out)
    n = len(x_train)
    chunk = rule.chunk_size

    metric_info = dict(METRICS, **(VALIDATION_METRIC if dc.validation else {}))
    n_probe = tr.alignment_batches * tr.batch_size if has_delta(rule) else 0
    n_probe -= n_probe % tr.batch_size
    n_probe = min(n_probe, n - n % tr.batch_size)
    alignment = {"samples": [], "deg": [], "cos": []}
    if n_probe:
        x_probe, y_probe = x_train[:n_probe], y_train[:n_probe]
        for layer in range(arch.n_layers):
            metric_info[f"alignment_deg_L{layer}"] = (
                "degree", f"mean angle between the update of weight layer {layer} and the true gradient")

    def probe(samples_seen: int, hyper: dict) -> np.ndarray:
        deg, cos = measure_alignment(rule, net, x_probe, y_probe, hyper, probe_rng, tr.batch_size, state)
        alignment["samples"].append(samples_seen)
        alignment["deg"].append(deg)
        alignment["cos"].append(cos)
        return deg

    def alignment_arrays() -> dict:
        shape = {"input_shape": (input_shape(dataset), "pixel")}
        if not alignment["samples"]:
            return shape
        return {**shape, "alignment_samples": (np.array(alignment["samples"], np.int64), "sample"),
                "alignment_deg": (np.array(alignment["deg"]), "degree"),
                "alignment_cosine": (np.array(alignment["cos"]), "")}

    def checkpoint_state(seen: int):
        arrays, tree = flatten(state)
        arrays = {f"rule/{k}": v for k, v in arrays.items()}
        arrays.update({f"model/{k}": v for k, v in rule.model_arrays(net).items()})
        loop = {"order_rng": order_rng.bit_generator.state, "probe_rng": probe_rng.bit_generator.state,
                "samples_seen": seen}
        return arrays, {"format": 1, "rule": tree, "loop": loop}

    writer = None
    start_epoch, seen, wall_before = 0, 0, 0.0
    if out is not None and resume:
        writer = RunWriter.resume(out, config=config.to_dict(), kind="rate",
                                  metric_units={k: u for k, (u, _) in metric_info.items()},
                                  metric_descriptions={k: d for k, (_, d) in metric_info.items()})
        start_epoch = writer.epochs_completed
        if start_epoch:
            seen, wall_before = _restore_run(writer, rule, net, state, order_rng, probe_rng, alignment, result)
        log(f"resuming {writer.path} after epoch {start_epoch}/{tr.epochs}"
            + (f" (it replaces {out} when complete)" if writer.path != writer.target else ""))
    elif out is not None:
        writer = RunWriter(
            out, config=config.to_dict(), seed=tr.seed, model=config.name, kind="rate",
            epochs_planned=tr.epochs, command=command, overwrite=overwrite,
            metric_units={k: u for k, (u, _) in metric_info.items()},
            metric_descriptions={k: d for k, (_, d) in metric_info.items()},
        )
    bar = tqdm(total=n * tr.epochs, initial=n * start_epoch, unit="sample", unit_scale=True, disable=not progress,
               file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
    t_run = time.perf_counter() - wall_before
    collapse = COLLAPSE_REWARD_FACTOR * float(np.log(1.0 / dataset.n_classes))
    with contextlib.ExitStack() as stack:
        if writer is not None:
            stack.enter_context(writer)  # an exception or Ctrl-C marks the file incomplete
        stack.callback(bar.close)
        stack.callback(close_learner, rule, state)
        for epoch in range(start_epoch, tr.epochs):
            hyper = rule.hyper(epoch, tr.epochs)
            if n_probe and epoch == 0:
                probe(0, hyper)
            order = order_rng.permutation(n)
            reward_sum = 0.0
            running = None
            t0 = time.perf_counter()
            for start in range(0, n, chunk):
                idx = order[start : start + chunk]
                state, rewards = train_chunk(rule, net, state, x_train[idx], y_train[idx], hyper)
                before, seen = seen, seen + len(idx)
                if not np.isfinite(rewards).all():
                    raise DivergenceError(f"training diverged in epoch {epoch + 1} after {seen - epoch * n} examples "
                                          f"(non-finite reward); lower rule.lr_max")
                if n_probe and tr.alignment_every and seen // tr.alignment_every > before // tr.alignment_every \
                        and start + chunk < n:
                    t_probe = time.perf_counter()
                    probe(seen, hyper)
                    t0 += time.perf_counter() - t_probe  # probing is not training time
                reward_sum += float(rewards.sum())
                m = float(rewards.mean())
                running = m if running is None else 0.98 * running + 0.02 * m
                bar.update(len(idx))
                bar.set_postfix_str(f"epoch {epoch + 1}/{tr.epochs} reward {running:.3f}", refresh=False)
            epoch_time = time.perf_counter() - t0
            # The rewards are scored before each update, so the last update of an epoch can
            # overflow the weights unseen: check the weights too before recording the epoch.
            if not np.isfinite(reward_sum) or not all(np.isfinite(a).all() for a in net.state_dict().values()):
                raise DivergenceError(f"training diverged in epoch {epoch + 1} (non-finite reward or weights); "
                                      "lower rule.lr_max")
            if reward_sum / n < collapse:
                raise DivergenceError(f"training diverged in epoch {epoch + 1}: mean reward {reward_sum / n:.3g} nat "
                                      f"collapsed below {collapse:.3g} ({COLLAPSE_REWARD_FACTOR:g} x chance); "
                                      "lower rule.lr_max")
            row = {
                "train_accuracy": net.accuracy(x_eval, y_eval),
                "test_accuracy": net.accuracy(x_test, y_test) if dc.score_test else float("nan"),
                "mean_reward": reward_sum / n,
                "lr": hyper.get("lr", float("nan")),
                "sigma": hyper.get("sigma", float("nan")),
                "epoch_time": epoch_time,
                "samples_per_second": n / epoch_time,
            }
            if dc.validation:
                row["validation_accuracy"] = net.accuracy(x_val, y_val)
            if n_probe:
                for layer, deg in enumerate(probe(seen, hyper)):
                    row[f"alignment_deg_L{layer}"] = float(deg)
            result.history.append(row)
            result.wall_time_s = time.perf_counter() - t_run
            if writer is not None:
                writer.append_epoch(row, weights=net.state_dict(), arrays=alignment_arrays(),
                                    wall_time_s=result.wall_time_s, learner_state=checkpoint_state(seen))
            line = f"epoch {epoch + 1:3d}/{tr.epochs} | train {row['train_accuracy']:.4f} | "
            if dc.validation:
                line += f"validation {row['validation_accuracy']:.4f} | "
            if dc.score_test:
                line += f"test {row['test_accuracy']:.4f} | "
            line += f"reward {row['mean_reward']:.4f} | {row['samples_per_second']:.0f} samples/s"
            if n_probe:
                line += " | alignment " + " ".join(f"{row[f'alignment_deg_L{i}']:.0f}°" for i in range(arch.n_layers))
            if progress:
                bar.write(line, file=sys.stderr)
            log(line)
        if writer is not None:
            writer.finish(weights=net.state_dict(), wall_time_s=time.perf_counter() - t_run)
    result.wall_time_s = time.perf_counter() - t_run
    return result


def _restore_run(writer: RunWriter, rule, net, state, order_rng, probe_rng, alignment: dict,
                 result: RunResult) -> tuple[int, float]:
    """Load the last checkpoint of a resumed run into the fresh ``net``, ``state`` and streams.

    Returns ``(samples_seen, wall_time_s)``; fills ``alignment`` and ``result.history``.
    """
    from .errors import RunFileError

    arrays, tree = writer.learner_state
    loop = tree["loop"]
    rule_arrays = {k[len("rule/"):]: v for k, v in arrays.items() if k.startswith("rule/")}
    model_arrays = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    try:
        rule.load_model(net, writer.weights, model_arrays)
    except (KeyError, ValueError) as exc:
        raise RunFileError(f"run file {writer.path}: its weights do not fit this model ({exc})") from None
    restore(state, rule_arrays, tree["rule"])
    order_rng.bit_generator.state = loop["order_rng"]
    probe_rng.bit_generator.state = loop["probe_rng"]
    saved = writer.arrays
    if "alignment_samples" in saved:
        alignment["samples"].extend(int(v) for v in saved["alignment_samples"])
        alignment["deg"].extend(np.array(v) for v in saved["alignment_deg"])
        alignment["cos"].extend(np.array(v) for v in saved["alignment_cosine"])
    metrics = writer.metrics
    for i in range(writer.epochs_completed):
        result.history.append({k: v[i] for k, v in metrics.items()})
    return int(loop["samples_seen"]), float(writer.resumed_wall_time_s)
