"""The protocols: sequential tasks (accuracy matrix, forgetting) and few-shot learning of new classes.

One run file per definition (kind ``"continual"``), one "epoch" row per stage (task):

* metrics per stage: ``class_avg_accuracy`` / ``task_avg_accuracy`` (mean over the tasks seen
  so far, class- and task-incremental evaluation of the same learner), ``class_acc_t<i>`` /
  ``task_acc_t<i>`` (every task), ``train_reward`` (mean reward / online correctness while
  learning the stage), ``stage_time``;
* arrays: ``accuracy_matrix_class`` and ``accuracy_matrix_task`` (stages × tasks),
  ``forgetting_class`` and ``forgetting_task`` (tasks; NaN for the last), ``tasks`` (the
  classes of each task, padded with −1), ``cortex_train_accuracy`` (per cortex epoch), and for
  the few-shot experiment ``fewshot_shots`` and ``fewshot_accuracy`` (repeats × shots);
* weights: the cortex's (``cortex_W0`` …), the hippocampus's, or the slow network's.

Training is the same for both scenarios (one shared 10-way output); only the evaluation
differs (:func:`~neuro_grlu.cls.tasks.evaluate_tasks`). Slow learners ("slow" system: the
rule fine-tunes one network on each task in turn) get ``epochs_per_task`` passes per task;
fast learners exactly one pass.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from ..data import Dataset
from ..errors import ConfigError
from ..io import RunWriter
from ..network import Architecture, Network
from ..params import from_dict
from ..rules import get_rule
from ..rules.loop import close as close_learner
from ..rules.loop import init_learner, train_chunk
from .config import ContinualConfig
from .cortex import Cortex, as_inputs, train_cortex
from .hippocampus import make_learner
from .localized import shape_localized
from ..errors import DataError
from .tasks import check_classes_in_data
from .tasks import average_accuracy, evaluate_tasks, forgetting, masked_predict, per_class_subset, subset


def _batched_logits(net: Network):
    def f(x):
        return np.concatenate([net.forward(as_inputs(x[i : i + 2000])) for i in range(0, len(x), 2000)])
    return f


def _train_slow(net, rule, state, x, y, epochs, order_rng):
    """Train the slow learner ``net`` (learner ``state``) on ``(x, y)``; returns the rewards."""
    x, y = as_inputs(x), np.asarray(y, np.int64)
    rewards = []
    for epoch in range(epochs):
        hyper = rule.hyper(epoch, epochs)
        order = order_rng.permutation(len(x))
        for start in range(0, len(x), rule.chunk_size):
            idx = order[start : start + rule.chunk_size]
            state, r = train_chunk(rule, net, state, x[idx], y[idx], hyper)
            rewards.append(r)
    return np.concatenate(rewards) if rewards else np.zeros(0)


def _make_slow(cfg: ContinualConfig, n_in: int):
    s = cfg.slow
    arch = Architecture(n_in=n_in, hidden=s.hidden, n_out=10, activation=s.activation, k=s.k)
    rule_cls = get_rule(s.rule)
    return rule_cls(from_dict(rule_cls.Params, s.params, f"slow.params ({s.rule})"), arch, batch_size=s.batch_size)


def split_data(cfg: ContinualConfig, dataset: Dataset):
    """The evaluation images and labels (test set, or the held-out last ``validation`` training
    images), after checking every class the definition names is in the data (one-line errors)."""
    pr = cfg.protocol
    n_train = len(dataset.y_train)
    if pr.validation >= n_train:
        raise ConfigError(f"protocol.validation = {pr.validation} leaves no training images (the data has {n_train}); use fewer")
    if pr.evaluate == "validation" and not pr.validation:
        raise ConfigError("protocol.evaluate = 'validation' needs protocol.validation > 0 (e.g. 10000: the last 10,000 training images)")
    present = set(np.unique(np.asarray(dataset.y_train)).tolist())
    named = {"protocol.tasks": [c for t in cfg.tasks for c in t]}
    if pr.fewshot:
        named["protocol.fewshot_classes"] = list(pr.fewshot_classes)
    if cfg.cortex is not None:
        named["cortex.classes"] = list(cfg.cortex.classes)
    for key, classes in named.items():
        missing = sorted(set(int(c) for c in classes) - present)
        if missing:
            raise ConfigError(f"{key} names classes {missing} that are not in the data (classes present: {sorted(present)})")
    if cfg.cortex is not None and not cfg.cortex.classes and cfg.cortex.rule != "none":
        raise ConfigError("cortex.classes is empty: name the classes the cortex trains on, e.g. [0, 1, 2, 3, 4]")
    if pr.evaluate == "validation":
        return dataset.x_train[-pr.validation :], np.asarray(dataset.y_train[-pr.validation :], np.int64), "validation"
    return dataset.x_test, np.asarray(dataset.y_test, np.int64), "test"


def uses_of(cfg: ContinualConfig, learner=None) -> str:
    """What information the system's learners use, for tables."""
    if cfg.system == "slow":
        return ", ".join(get_rule(cfg.slow.rule).uses)
    parts = []
    if cfg.localized is not None:
        parts.append("cortex: " + ("none (random local fields)" if cfg.localized.shape == "none"
                                   else "its own classes' images (ES fitness: a prototype probe's accuracy, labels)"))
    elif cfg.cortex is not None:
        c = "none (random)" if cfg.cortex.rule == "none" else ", ".join(get_rule(cfg.cortex.rule).uses)
        parts.append(f"cortex: {c}")
    if learner is not None:
        parts.append(f"hippocampus: {', '.join(learner.uses)}")
    return "; ".join(parts)


def check_continual_data(cfg: ContinualConfig, dataset: Dataset) -> None:
    """One-line errors, before any work: no images, the checks of :func:`split_data` (classes
    not in the training data, the validation split), a test limit beyond the data, a class
    without evaluation images, or few-shot sizes above a class's training images."""
    pr = cfg.protocol
    splits = [("training", dataset.x_train)] + ([("test", dataset.x_test)] if pr.evaluate == "test" else [])
    for split, x in splits:  # a validation run never touches the test images
        if len(x) == 0:
            raise DataError(f"data set {dataset.name!r} has 0 {split} images; the continual protocol needs both")
    _, y_eval, which = split_data(cfg, dataset)
    if pr.test_limit > len(y_eval):
        raise DataError(f"protocol.test_limit = {pr.test_limit} but data set {dataset.name!r} has "
                        f"{len(y_eval)} {which} images; set it <= {len(y_eval)} (0 = all)")
    y_eval = y_eval[: pr.test_limit] if pr.test_limit else y_eval
    used = [("protocol.tasks", [c for t in cfg.tasks for c in t])]
    if pr.fewshot:
        used.append(("protocol.fewshot_classes", list(pr.fewshot_classes)))
    for what, classes in used:
        check_classes_in_data(classes, y_eval, f"{what} ({which} images)", dataset.name)
    if pr.fewshot:
        counts = np.bincount(np.asarray(dataset.y_train, np.int64), minlength=max(pr.fewshot_classes) + 1)
        fewest = min(pr.fewshot_classes, key=lambda c: counts[c])
        if max(pr.fewshot) > counts[fewest]:
            raise DataError(f"protocol.fewshot asks for {max(pr.fewshot)} examples per class, but class {fewest} has "
                            f"{counts[fewest]} training images in {dataset.name!r}; use sizes <= {counts[fewest]}")


def run_continual(cfg: ContinualConfig, dataset: Dataset, *, out: str | None = None, overwrite: bool = False,
                  progress: bool = True, command: str = "", log=print) -> dict:
    """Run the sequential-task protocol (and the few-shot one if ``protocol.fewshot``); return a summary."""
    pr, tasks = cfg.protocol, cfg.tasks
    seeds = np.random.SeedSequence(pr.seed).spawn(4)
    order_rng, noise_rng, shot_rng, init_rng = (np.random.default_rng(s) for s in seeds)
    x_train, y_train = dataset.x_train, np.asarray(dataset.y_train, np.int64)
    check_continual_data(cfg, dataset)
    x_test, y_test, y_split = split_data(cfg, dataset)
    if pr.validation:
        x_train, y_train = x_train[: -pr.validation], y_train[: -pr.validation]
    if pr.test_limit:
        x_test, y_test = x_test[: pr.test_limit], y_test[: pr.test_limit]
    T = len(tasks)
    t_run = time.perf_counter()

    # phase 1: the slow cortex (frozen afterwards)
    cortex: Cortex | None = None
    if cfg.localized is not None:
        xs, ys = subset(x_train, y_train, cfg.cortex.classes, cfg.cortex.train_limit)
        cortex = shape_localized(cfg.localized, xs, ys, cfg.cortex.classes, seed=pr.seed, log=log)
        featurize, n_features = cortex.features, cortex.n_features
    elif cfg.cortex is not None:
        c = cfg.cortex
        arch = Architecture(n_in=x_train.shape[1], hidden=c.hidden, n_out=10, activation=c.activation, k=c.k)
        cortex = train_cortex(c.rule, dict(c.params or {}), arch, x_train, y_train, c.classes, epochs=c.epochs,
                              batch_size=c.batch_size, seed=pr.seed, train_limit=c.train_limit, log=log)
        featurize = cortex.features
        n_features = cortex.n_features
    else:
        featurize = as_inputs
        n_features = x_train.shape[1]

    metric_names = ["class_avg_accuracy", "task_avg_accuracy", "train_reward", "stage_time"]
    metric_names += [f"{s}_acc_t{i}" for s in ("class", "task") for i in range(T)]
    units = {"stage_time": "s"}
    desc = {"class_avg_accuracy": "class-incremental accuracy averaged over the tasks seen so far",
            "task_avg_accuracy": "task-incremental accuracy averaged over the tasks seen so far",
            "train_reward": "mean reward (or online correctness) while learning this stage",
            "stage_time": "wall time of the stage's learning (evaluation excluded)"}
    writer = None
    if out is not None:
        writer = RunWriter(out, config=cfg.to_dict(), seed=pr.seed, model=cfg.name, kind="continual",
                           epochs_planned=T, command=command, overwrite=overwrite, metric_units=units,
                           metric_descriptions=desc)
    A = {s: np.full((T, T), np.nan) for s in ("class", "task")}
    tasks_arr = np.full((T, max(len(t) for t in tasks)), -1, np.int64)
    for i, t in enumerate(tasks):
        tasks_arr[i, : len(t)] = t
    summary = {"name": cfg.name, "system": cfg.system, "tasks": tasks, "evaluated_on": y_split,
               "train_images": 0, "eval_images": int(len(y_test))}

    def arrays():
        out_ = {"accuracy_matrix_class": (A["class"], ""), "accuracy_matrix_task": (A["task"], ""),
                "forgetting_class": (forgetting(A["class"]), ""), "forgetting_task": (forgetting(A["task"]), ""),
                "tasks": (tasks_arr, "")}
        if cortex is not None and cortex.history and cfg.localized is None:
            out_["cortex_train_accuracy"] = (np.array([h["train_accuracy"] for h in cortex.history]), "")
        if cfg.localized is not None and cortex.history:
            out_["cortex_es_fitness"] = (np.array([h["fitness"] for h in cortex.history]), "probe accuracy per generation")
        return out_

    learner = rule = net = None
    with contextlib.ExitStack() as stack:
        if writer is not None:
            stack.enter_context(writer)
        if cfg.system == "slow":
            rule = _make_slow(cfg, x_train.shape[1])
            net, slow_state = init_learner(rule, init_rng, noise_rng)
            stack.callback(close_learner, rule, slow_state)
            eval_x, logits_fn = x_test, _batched_logits(net)
        else:
            learner = make_learner(cfg.hippocampus_learner, cfg.hippocampus, n_features, 10)
            eval_x, logits_fn = featurize(x_test), learner.logits
        summary["uses"] = uses_of(cfg, learner)
        for s, classes in enumerate(tasks):
            xs, ys = subset(x_train, y_train, classes, pr.train_limit_per_task)
            summary["train_images"] += len(ys)
            perm = order_rng.permutation(len(ys))
            xs, ys = xs[perm], ys[perm]
            t0 = time.perf_counter()
            if cfg.system == "slow":
                r = _train_slow(net, rule, slow_state, xs, ys, cfg.slow.epochs_per_task, order_rng)
            else:
                r = learner.fit_online(featurize(xs), ys, noise_rng)
            stage_time = time.perf_counter() - t0
            row = {"train_reward": float(np.nanmean(r)) if len(r) else float("nan"), "stage_time": stage_time}
            for scen in ("class", "task"):
                A[scen][s] = evaluate_tasks(logits_fn, eval_x, y_test, tasks, s + 1, scen, pr.evaluate_unseen)
                row[f"{scen}_avg_accuracy"] = float(np.mean(A[scen][s, : s + 1]))
                for i in range(T):
                    row[f"{scen}_acc_t{i}"] = float(A[scen][s, i])
            log(f"stage {s + 1}/{T} classes {classes}: class-IL {row['class_avg_accuracy']:.4f} "
                f"task-IL {row['task_avg_accuracy']:.4f} ({stage_time:.1f} s) | class-IL row "
                + " ".join(f"{a:.3f}" for a in A["class"][s]))
            if writer is not None:
                writer.append_epoch(row, arrays=arrays(), wall_time_s=time.perf_counter() - t_run)

        if learner is not None and hasattr(learner, "timing"):
            tm = learner.timing
            n_tr, n_ev = max(tm["train_examples"], 1), max(tm["eval_examples"], 1)
            summary["speed"] = {"train_images_per_wall_s": n_tr / max(tm["train_wall_s"], 1e-9),
                                "train_images_per_cpu_s": n_tr / max(tm.get("train_cpu_s", 0), 1e-9),
                                "eval_images_per_wall_s": n_ev / max(tm["eval_wall_s"], 1e-9),
                                "simulated_ms_per_image": 1e3 * tm["train_sim_s"] / n_tr}
            if getattr(learner, "guesses", None):
                g = np.concatenate(learner.guesses)
                summary["speed"]["decisions_per_training_image"] = float(g.mean())
            log("speed: " + ", ".join(f"{k} {v:.1f}" for k, v in summary["speed"].items()))
        # experiment 2: few-shot learning of new classes, fresh learner per draw
        fs_acc = None
        if pr.fewshot:
            new = list(pr.fewshot_classes)
            te_mask = np.isin(y_test, new)
            fs_acc = np.zeros((pr.fewshot_repeats, len(pr.fewshot)))
            for rep in range(pr.fewshot_repeats):
                for j, shots in enumerate(pr.fewshot):
                    xs, ys = per_class_subset(x_train, y_train, new, shots, shot_rng)
                    if cfg.system == "slow":
                        r2 = _make_slow(cfg, x_train.shape[1])
                        n2, s2 = init_learner(r2, np.random.default_rng([pr.seed, rep, j]), noise_rng)
                        _train_slow(n2, r2, s2, xs, ys, pr.fewshot_slow_epochs, order_rng)
                        close_learner(r2, s2)
                        scores = _batched_logits(n2)(x_test[te_mask])
                    else:
                        l2 = make_learner(cfg.hippocampus_learner, cfg.hippocampus, n_features, 10)
                        l2.fit_online(featurize(xs), ys, noise_rng)
                        scores = l2.logits(eval_x[te_mask])
                    fs_acc[rep, j] = float(np.mean(masked_predict(scores, new) == y_test[te_mask]))
                log(f"few-shot draw {rep + 1}/{pr.fewshot_repeats} on classes {new}: "
                    + " ".join(f"{n}/class {a:.3f}" for n, a in zip(pr.fewshot, fs_acc[rep])))
        weights = {}
        if cortex is not None:
            weights.update({f"cortex_{k}": v for k, v in cortex.net.state_dict().items()})
        if learner is not None:
            weights.update(learner.state_dict())
        if net is not None:
            weights.update(net.state_dict())
        extra = arrays()
        if fs_acc is not None:
            extra["fewshot_shots"] = (np.array(pr.fewshot, np.int64), "examples per class")
            extra["fewshot_accuracy"] = (fs_acc, "")
        if writer is not None:
            writer.finish(weights=weights, arrays=extra, wall_time_s=time.perf_counter() - t_run)
    summary.update({
        "accuracy_matrix_class": A["class"], "accuracy_matrix_task": A["task"],
        "average_accuracy_class": average_accuracy(A["class"]), "average_accuracy_task": average_accuracy(A["task"]),
        "forgetting_class": forgetting(A["class"]), "forgetting_task": forgetting(A["task"]),
        "fewshot_accuracy": fs_acc, "cortex": cortex, "learner": learner, "net": net,
        "wall_time_s": time.perf_counter() - t_run,
    })
    return summary
