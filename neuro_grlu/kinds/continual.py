"""Continual runs (``neuro-grlu continual``): tasks in sequence and few-shot learning of new
classes by a slow cortex, a fast hippocampus, or a slow learner alone.

Registers the schema (:func:`neuro_grlu.cls.config.parse_continual`), the runner, the
headline numbers (accuracies as fractions, forgetting in fractions) and the figures.
"""

from __future__ import annotations

from pathlib import Path

from .registry import FigureSpec, Kind, RunRequest, load_config, register


def schema(raw: dict, name: str):
    """A continual definition (:func:`neuro_grlu.cls.config.parse_continual`)."""
    from ..cls.config import parse_continual

    return parse_continual(raw, name)


def add_arguments(c) -> None:
    c.add_argument("--data", metavar="DIR", help="directory with the four MNIST-layout IDX files, loaded as is (no MD5 "
                                                  "check), as for `neuro-grlu train --data`; default: canonical MNIST")
    c.add_argument("--resume", action="store_true",
                   help="continue the incomplete run file --out after its last complete stage (cortex phase or task; "
                        "same model, --set and --seed); the few-shot experiment is run whole")


def overrides(args) -> list[str]:
    return []


def run(request: RunRequest, args) -> int:
    """Run the protocol of the definition and write its run file."""
    from ..cls.experiment import check_continual_data, check_resume, run_continual
    from ..data import load_idx_dir, load_mnist
    from ..errors import NeuroGRLUError

    cfg = load_config("continual", request.model, request.overrides)
    out = request.out or f"runs/{cfg.name}-seed{cfg.protocol.seed}.h5"
    if args.resume and request.overwrite:
        raise NeuroGRLUError("--resume continues a run file and --overwrite replaces it; choose one")
    if args.resume:  # before the data are loaded: a file that cannot be continued is a one-line error
        check_resume(cfg, out)
    print(f"model {cfg.name} ({cfg.system}): {cfg.description}", flush=True)
    if request.set_items:  # the description is the definition's own: say what the overrides changed
        print(f"  changed by --set: {', '.join(request.set_items)} (the run file stores the full configuration)", flush=True)
    if args.data is None:
        dataset = load_mnist()
    else:
        dataset = load_idx_dir(args.data, name=Path(args.data).expanduser().resolve().name or "idx", md5=None)
    check_continual_data(cfg, dataset)
    print(f"tasks {cfg.tasks} -> {out}", flush=True)
    s = run_continual(cfg, dataset, out=out, overwrite=request.overwrite, resume=args.resume, progress=request.progress,
                      command=request.command, log=print)
    print(f"final average accuracy: class-incremental {100 * s['average_accuracy_class']:.2f}%, "
          f"task-incremental {100 * s['average_accuracy_task']:.2f}% after {s['wall_time_s']:.0f} s; run file {out}")
    return 0


def summary(run) -> dict:
    """``system``, ``average_accuracy_class``/``_task`` (after the last task),
    ``forgetting_class``/``_task`` (mean over tasks), ``fewshot_<n>`` (mean accuracy with n
    examples per class)."""
    import numpy as np

    row = {"system": run.config.get("system")}
    for scen in ("class", "task"):
        A = run.arrays.get(f"accuracy_matrix_{scen}")
        done = np.flatnonzero(np.isfinite(A).all(axis=1)) if A is not None else []
        row[f"average_accuracy_{scen}"] = float(np.mean(A[done[-1], : done[-1] + 1])) if len(done) else None
        f = run.arrays.get(f"forgetting_{scen}")
        row[f"forgetting_{scen}"] = float(np.nanmean(f)) if f is not None and np.isfinite(f).any() else None
    if "fewshot_accuracy" in run.arrays:
        acc = np.atleast_2d(run.arrays["fewshot_accuracy"]).mean(axis=0)
        for n, a in zip(run.arrays["fewshot_shots"], acc):
            row[f"fewshot_{int(n)}"] = float(a)
    return row


def _matrix(runs):
    from ..figures.continual import fig_accuracy_matrix

    return fig_accuracy_matrix(runs[0])


def _forgetting(runs):
    from ..figures.continual import fig_forgetting

    return fig_forgetting(runs)


def _fewshot(runs):
    from ..figures.continual import fig_fewshot

    return fig_fewshot(runs)


KIND = register(Kind(
    name="continual", command="continual", definition_kind="continual", seed_key="protocol.seed",
    help="sequential tasks / few-shot protocol of a kind = \"continual\" definition",
    schema=schema, run=run, add_arguments=add_arguments, overrides=overrides, summary=summary,
    out_help="run file to write (default runs/MODEL-seedSEED.h5)",
    set_example="--set cortex.epochs=5 or --set cortex.rule.lr_max=0.05",
    figures={
        "matrix": FigureSpec(_matrix, arrays=("accuracy_matrix_class", "accuracy_matrix_task"),
                             doc="accuracy after each task on every task (%), class- and task-incremental"),
        "forgetting": FigureSpec(_forgetting, overlay=True, arrays=("forgetting_class", "forgetting_task"),
                                 doc="forgetting per task (percentage points)"),
        "fewshot": FigureSpec(_fewshot, overlay=True, arrays=("fewshot_shots", "fewshot_accuracy"),
                              doc="accuracy on new classes (%) against examples per class"),
    },
))
