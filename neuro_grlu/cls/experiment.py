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
* weights: the cortex's (``cortex_W0`` …), the hippocampus's, or the slow network's;
* ``/learner_state``: what, besides the weights, the rest of the run depends on (the cortex's
  training record, the learners' scalars and rule state, the random streams).

The file is checkpointed after the cortex phase and after every stage; ``neuro-grlu continual
NAME --resume`` (``run_continual(..., resume=True)``) continues an incomplete file after its
last complete stage and ends with the file of the uninterrupted run (all but wall times),
for the rate hippocampus learners and slow learners (:data:`RESUMABLE_LEARNERS`).

Training is the same for both scenarios (one shared 10-way output); only the evaluation
differs (:func:`~neuro_grlu.cls.tasks.evaluate_tasks`). Slow learners ("slow" system: the
rule fine-tunes one network on each task in turn) get ``epochs_per_task`` passes per task;
fast learners exactly one pass.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

import numpy as np

from ..data import Dataset
from ..errors import ConfigError, RunFileError
from ..io import RunWriter
from ..network import Architecture, Network
from ..params import from_dict
from ..rules import get_rule
from ..rules.loop import close as close_learner
from ..rules.loop import init_learner, train_chunk
from ..rules.state import flatten, restore
from .config import ContinualConfig
from .cortex import Cortex, as_inputs, train_cortex
from .hippocampus import make_learner
from .localized import LocalizedCortex, shape_localized
from .patch import PatchCortex, shape_patch
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
    elif cfg.patch is not None:
        if cfg.patch.intrinsic:
            filters = {"wta-hebbian": "WTA Hebbian filters", "none": "random patches as filters",
                       "random": "Gaussian random filters"}[cfg.patch.shape]
            parts.append(f"cortex: its own classes' images ({filters}; intrinsic plasticity: offset and gain per "
                         "feature; no labels)")
        else:
            parts.append("cortex: " + {"wta-hebbian": "its own classes' images (WTA Hebbian on patches, no labels)",
                                       "none": "its own classes' images (random patches as filters, no learning, no labels)",
                                       "random": "none (Gaussian random filters, no data)"}[cfg.patch.shape])
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
        y_fit = np.asarray(dataset.y_train, np.int64)  # the draws come from the training part only
        y_fit = y_fit[: len(y_fit) - pr.validation] if pr.validation else y_fit
        counts = np.bincount(y_fit, minlength=max(pr.fewshot_classes) + 1)
        fewest = min(pr.fewshot_classes, key=lambda c: counts[c])
        if max(pr.fewshot) > counts[fewest]:
            raise DataError(f"protocol.fewshot asks for {max(pr.fewshot)} examples per class, but class {fewest} has "
                            f"{counts[fewest]} training images in {dataset.name!r}; use sizes <= {counts[fewest]}")


#: Fast learners whose whole state the run file holds (weights and a few scalars): continual runs
#: with them (or with a slow learner) can be resumed. The spiking learners keep their state
#: (membrane potentials, traces, the simulation clock) inside a Brian2 network the file does not store.
RESUMABLE_LEARNERS = ("rate-hebbian", "prototype-hebbian")
#: Version of the ``/learner_state`` tree a continual run writes (``docs/run-file.md``).
STATE_FORMAT = 1


def check_resume(cfg: ContinualConfig, out) -> tuple[str, int]:
    """One-line errors, before any work, if ``continual --resume`` cannot continue the run file
    ``out`` with ``cfg``: a spiking hippocampus, or any check of
    :meth:`~neuro_grlu.io.RunWriter.check_resume` (missing, complete, diverged, another kind,
    another configuration — naming what differs — or stages without learner state).
    Returns ``(the file that is continued, stages completed)``."""
    if cfg.system != "slow" and cfg.hippocampus_learner not in RESUMABLE_LEARNERS:
        raise ConfigError(f"--resume continues continual runs whose hippocampus is {' or '.join(RESUMABLE_LEARNERS)} "
                          f"(or a slow learner); {cfg.hippocampus_learner!r} keeps its state in a Brian2 network the "
                          "run file does not store: start the run again with --overwrite")
    path, run, _ = RunWriter.check_resume(out, config=cfg.to_dict(), kind="continual")
    return str(path), run.epochs_completed


def _cortex_tree(cortex) -> dict:
    """What rebuilds the frozen cortex together with the run file's ``cortex_*`` weights."""
    if isinstance(cortex, LocalizedCortex):  # fixed by (units, field, k, seed): the ES's genome is enough
        return {"type": "localized", "field": int(cortex.params.field), "k": float(cortex.params.k),
                "history": cortex.history, "wall_time_s": cortex.wall_time_s}
    if isinstance(cortex, PatchCortex):  # the centres are the run file's cortex_centres
        return {"type": "patch", "history": cortex.history, "patches": int(cortex.patches),
                "wall_time_s": cortex.wall_time_s}
    if not isinstance(cortex.net, Network):  # a model of another shape: trained again on resume
        return {"type": "retrain"}
    return {"type": "network", "rule": cortex.rule, "history": cortex.history, "wall_time_s": cortex.wall_time_s}


def _restore_cortex(cfg: ContinualConfig, tree: dict, weights: dict, n_in: int, path):
    """The frozen cortex of a resumed run (None: train it again); see :func:`_cortex_tree`."""
    classes = sorted(int(c) for c in cfg.cortex.classes)
    saved = {k[len("cortex_"):]: v for k, v in weights.items() if k.startswith("cortex_")}
    if tree["type"] == "localized":
        cortex = LocalizedCortex(replace(cfg.localized, field=int(tree["field"]), k=float(tree["k"])), classes,
                                 list(tree["history"]), float(tree["wall_time_s"]))
        if "W0" not in saved or not np.array_equal(saved["W0"], cortex.W):
            raise RunFileError(f"run file {path}: its localized cortex weights differ from the ones its genome "
                               "rebuilds (written by other code); start the run again with --overwrite")
        return cortex
    if tree["type"] == "patch":
        if cfg.patch is None or "centres" not in saved:
            raise RunFileError(f"run file {path}: it holds no patch cortex for this definition; start the run again with --overwrite")
        try:
            return PatchCortex(cfg.patch, saved["centres"], classes, list(tree["history"]),
                               float(tree["wall_time_s"]), int(tree["patches"]),
                               offset=saved.get("offset"), gain=saved.get("gain"))
        except ConfigError as exc:
            raise RunFileError(f"run file {path}: its patch cortex does not fit this definition ({exc})") from None
    if tree["type"] != "network":
        return None
    c = cfg.cortex
    arch = Architecture(n_in=n_in, hidden=c.hidden, n_out=10, activation=c.activation, k=c.k)
    try:
        net = Network.from_state_dict(arch, saved)
    except (KeyError, ConfigError) as exc:
        raise RunFileError(f"run file {path}: its cortex weights do not fit this definition ({exc})") from None
    return Cortex(net, tree["rule"], classes, list(tree["history"]), float(tree["wall_time_s"]))


def shape_front_end(cfg: ContinualConfig, x_train: np.ndarray, y_train: np.ndarray, log=None):
    """The slow phase of a patch or localized cortex: shaped on the images of ``cortex.classes``
    among ``x_train`` (the training part, validation hold-out already removed), then frozen."""
    xs, ys = subset(x_train, y_train, cfg.cortex.classes, cfg.cortex.train_limit)
    if cfg.patch is not None:
        return shape_patch(cfg.patch, xs, ys, cfg.cortex.classes, seed=cfg.protocol.seed, log=log)
    return shape_localized(cfg.localized, xs, ys, cfg.cortex.classes, seed=cfg.protocol.seed, log=log)


def _learner_tree(learner) -> dict:
    """The scalars of a rate hippocampus learner that its ``state_dict`` (the weights) lacks."""
    tree = {"name": learner.name, "examples_seen": int(learner.examples_seen)}
    if hasattr(learner, "baseline"):
        tree["baseline"] = {"value": learner.baseline.value, "count": learner.baseline.count}
    return tree


def _restore_learner(learner, tree: dict, weights: dict, path) -> None:
    """Load a rate hippocampus learner's weights and scalars from a resumed run file."""
    for key, attr in (("hippocampus_W", "W"), ("hippocampus_wins", "wins"), ("hippocampus_projection", "P")):
        mine = getattr(learner, attr, None)
        if mine is None and key not in weights:
            continue
        a = weights.get(key)
        if mine is None or a is None or a.shape != mine.shape or a.dtype != mine.dtype:
            raise RunFileError(f"run file {path}: its {key} does not fit the hippocampus of this definition")
        if attr == "P":
            if not np.array_equal(a, mine):
                raise RunFileError(f"run file {path}: its hippocampus projection differs from the one code_seed draws")
            continue
        setattr(learner, attr, np.array(a, copy=True))
    if tree.get("name") != learner.name:
        raise RunFileError(f"run file {path}: its hippocampus is {tree.get('name')!r}, the definition's {learner.name!r}")
    learner.examples_seen = int(tree["examples_seen"])
    if "baseline" in tree:
        learner.baseline.value = float(tree["baseline"]["value"])
        learner.baseline.count = int(tree["baseline"]["count"])


def _check_rules(cfg: ContinualConfig, n_in: int) -> None:
    """Build the cortex's and the slow learner's rules once, so their one-line errors (e.g. a
    backend that does not fit the network) come before the run file is created."""
    if cfg.cortex is not None and cfg.localized is None and cfg.patch is None and cfg.cortex.rule != "none":
        c = cfg.cortex
        rule_cls = get_rule(c.rule)
        arch = Architecture(n_in=n_in, hidden=c.hidden, n_out=10, activation=c.activation, k=c.k)
        rule_cls(from_dict(rule_cls.Params, dict(c.params or {}), f"cortex.rule ({c.rule})"), arch, batch_size=c.batch_size)
    if cfg.system == "slow":
        _make_slow(cfg, n_in)


def run_continual(cfg: ContinualConfig, dataset: Dataset, *, out: str | None = None, overwrite: bool = False,
                  resume: bool = False, progress: bool = True, command: str = "", log=print) -> dict:
    """Run the sequential-task protocol (and the few-shot one if ``protocol.fewshot``); return a summary.

    The run file is checkpointed after the cortex phase (its weights and training record) and
    after every stage (the learners' weights and state, the random streams). ``resume=True``
    continues the incomplete run file ``out`` (same configuration) after its last complete
    stage and ends with the file an uninterrupted run writes (bit for bit but the wall times);
    the few-shot experiment, which comes after the last stage, is run whole.
    """
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
    n_in = x_train.shape[1]

    metric_names = ["class_avg_accuracy", "task_avg_accuracy", "train_reward", "stage_time"]
    metric_names += [f"{s}_acc_t{i}" for s in ("class", "task") for i in range(T)]
    units = {"stage_time": "s"}
    desc = {"class_avg_accuracy": "class-incremental accuracy averaged over the tasks seen so far",
            "task_avg_accuracy": "task-incremental accuracy averaged over the tasks seen so far",
            "train_reward": "mean reward (or online correctness) while learning this stage",
            "stage_time": "wall time of the stage's learning (evaluation excluded)"}
    writer, saved, done, wall_before = None, None, 0, 0.0
    if out is not None and resume:
        check_resume(cfg, out)
        writer = RunWriter.resume(out, config=cfg.to_dict(), kind="continual", metric_units=units,
                                  metric_descriptions=desc)
        done, wall_before = writer.epochs_completed, writer.resumed_wall_time_s
        saved = writer.learner_state
        if saved is not None and (saved[1].get("format") != STATE_FORMAT or saved[1].get("stages") != done):
            raise RunFileError(f"run file {writer.path}: its learner state (format {saved[1].get('format')}, "
                               f"{saved[1].get('stages')} stages) does not match its {done} stages; "
                               "start the run again with --overwrite")
        where = (f"after stage {done}/{T}" if done else "after the cortex phase" if saved is not None
                 else "from the start (it stopped before its first checkpoint)")
        log(f"resuming {writer.path} {where}"
            + (f" (it replaces {out} when complete)" if writer.path != writer.target else ""))
    elif out is not None:
        _check_rules(cfg, n_in)
        writer = RunWriter(out, config=cfg.to_dict(), seed=pr.seed, model=cfg.name, kind="continual",
                           epochs_planned=T, command=command, overwrite=overwrite, metric_units=units,
                           metric_descriptions=desc)
    t_run = time.perf_counter() - wall_before
    A = {s: np.full((T, T), np.nan) for s in ("class", "task")}
    tasks_arr = np.full((T, max(len(t) for t in tasks)), -1, np.int64)
    for i, t in enumerate(tasks):
        tasks_arr[i, : len(t)] = t
    summary = {"name": cfg.name, "system": cfg.system, "tasks": tasks, "evaluated_on": y_split,
               "train_images": 0, "eval_images": int(len(y_test))}
    cortex: Cortex | LocalizedCortex | PatchCortex | None = None
    learner = rule = net = slow_state = None

    def arrays():
        out_ = {"accuracy_matrix_class": (A["class"], ""), "accuracy_matrix_task": (A["task"], ""),
                "forgetting_class": (forgetting(A["class"]), ""), "forgetting_task": (forgetting(A["task"]), ""),
                "tasks": (tasks_arr, "")}
        if cortex is not None and cortex.history and cfg.localized is None and cfg.patch is None:
            out_["cortex_train_accuracy"] = (np.array([h["train_accuracy"] for h in cortex.history]), "")
        if cfg.patch is not None and cortex.history:
            out_["cortex_wta_objective"] = (np.array([h["objective"] for h in cortex.history]),
                                            "mean winning cosine per WTA Hebbian pass")
        if cfg.localized is not None and cortex.history:
            out_["cortex_es_fitness"] = (np.array([h["fitness"] for h in cortex.history]), "probe accuracy per generation")
        return out_

    def weights():
        w = {}
        if cortex is not None:
            w.update({f"cortex_{k}": v for k, v in cortex.net.state_dict().items()})
        if learner is not None:
            w.update(learner.state_dict())
        if net is not None:
            w.update(net.state_dict())
        return w

    def learner_state(stages: int):
        """``(arrays, tree)`` of everything besides the weights that the rest of the run depends on."""
        state_arrays = {}
        tree = {"format": STATE_FORMAT, "stages": stages, "cortex": None if cortex is None else _cortex_tree(cortex),
                "hippocampus": None, "slow": None, "loop": None}
        if stages:
            if slow_state is not None:
                slow_state.settle()  # no noise drawn ahead in flight: the generators' positions are final
                rule_arrays, tree["slow"] = flatten(slow_state)
                state_arrays.update({f"slow/rule/{k}": v for k, v in rule_arrays.items()})
                state_arrays.update({f"slow/model/{k}": v for k, v in rule.model_arrays(net).items()})
            if learner is not None:
                tree["hippocampus"] = _learner_tree(learner)
            tree["loop"] = {"order_rng": order_rng.bit_generator.state, "noise_rng": noise_rng.bit_generator.state,
                            "train_images": summary["train_images"]}
        return state_arrays, tree

    with contextlib.ExitStack() as stack:
        if writer is not None:
            stack.enter_context(writer)  # an exception or Ctrl-C marks the file incomplete
        # phase 1: the slow cortex (frozen afterwards); a resumed run rebuilds it from the file
        if saved is not None and saved[1].get("cortex") is not None:
            cortex = _restore_cortex(cfg, saved[1]["cortex"], writer.weights, n_in, writer.path)
        if cortex is None and (cfg.localized is not None or cfg.patch is not None):
            cortex = shape_front_end(cfg, x_train, y_train, log=log)
            if writer is not None and not done:
                writer.save_state(weights=weights(), arrays=arrays(), learner_state=learner_state(0),
                                  wall_time_s=time.perf_counter() - t_run)
        elif cortex is None and cfg.cortex is not None:
            c = cfg.cortex
            arch = Architecture(n_in=n_in, hidden=c.hidden, n_out=10, activation=c.activation, k=c.k)
            cortex = train_cortex(c.rule, dict(c.params or {}), arch, x_train, y_train, c.classes, epochs=c.epochs,
                                  batch_size=c.batch_size, seed=pr.seed, train_limit=c.train_limit, log=log)
            if writer is not None and not done:
                writer.save_state(weights=weights(), arrays=arrays(), learner_state=learner_state(0),
                                  wall_time_s=time.perf_counter() - t_run)
        if cortex is not None:
            featurize, n_features = cortex.features, cortex.n_features
        else:
            featurize, n_features = as_inputs, n_in

        if cfg.system == "slow":
            rule = _make_slow(cfg, n_in)
            net, slow_state = init_learner(rule, init_rng, noise_rng)
            stack.callback(close_learner, rule, slow_state)
            eval_x, logits_fn = x_test, _batched_logits(net)
        else:
            learner = make_learner(cfg.hippocampus_learner, cfg.hippocampus, n_features, 10)
            eval_x, logits_fn = featurize(x_test), learner.logits
        summary["uses"] = uses_of(cfg, learner)
        if done:  # continue after stage `done`: learners, random streams and the matrices of the file
            state_arrays, tree = saved
            loop = tree["loop"]
            noise_rng.bit_generator.state = loop["noise_rng"]
            order_rng.bit_generator.state = loop["order_rng"]
            if slow_state is not None:
                try:
                    rule.load_model(net, writer.weights, {k[len("slow/model/"):]: v for k, v in state_arrays.items()
                                                          if k.startswith("slow/model/")})
                except (KeyError, ValueError) as exc:
                    raise RunFileError(f"run file {writer.path}: its weights do not fit this model ({exc})") from None
                restore(slow_state, {k[len("slow/rule/"):]: v for k, v in state_arrays.items()
                                     if k.startswith("slow/rule/")}, tree["slow"])
                if done == T:  # no stage left: the few-shot draws continue from the generator's own position
                    noise_rng.bit_generator.state = loop["noise_rng"]
            else:
                _restore_learner(learner, tree["hippocampus"], writer.weights, writer.path)
            summary["train_images"] = int(loop["train_images"])
            for scen in ("class", "task"):
                A[scen][:] = writer.arrays[f"accuracy_matrix_{scen}"]
        for s in range(done, T):
            classes = tasks[s]
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
                writer.append_epoch(row, weights=weights(), arrays=arrays(), wall_time_s=time.perf_counter() - t_run,
                                    learner_state=learner_state(s + 1))

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
                        r2 = _make_slow(cfg, n_in)
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
        extra = arrays()
        if fs_acc is not None:
            extra["fewshot_shots"] = (np.array(pr.fewshot, np.int64), "examples per class")
            extra["fewshot_accuracy"] = (fs_acc, "")
        if writer is not None:
            writer.finish(weights=weights(), arrays=extra, wall_time_s=time.perf_counter() - t_run)
    summary.update({
        "accuracy_matrix_class": A["class"], "accuracy_matrix_task": A["task"],
        "average_accuracy_class": average_accuracy(A["class"]), "average_accuracy_task": average_accuracy(A["task"]),
        "forgetting_class": forgetting(A["class"]), "forgetting_task": forgetting(A["task"]),
        "fewshot_accuracy": fs_acc, "cortex": cortex, "learner": learner, "net": net,
        "wall_time_s": time.perf_counter() - t_run,
    })
    return summary
