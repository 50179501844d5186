"""Rate runs (``neuro-grlu train``): a rate rule trained on a dataset, one row per epoch.

Registers the schema (:func:`neuro_grlu.config.parse_config`), the runner, the headline
numbers (accuracies as fractions in [0, 1], alignment in degrees) and the figures.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import NeuroGRLUError
from .registry import FigureSpec, Kind, RunRequest, finite_or_none, last_value, load_config, register


def schema(raw: dict, name: str):
    """A rate definition (:func:`neuro_grlu.config.parse_config`)."""
    from ..config import parse_config

    return parse_config(raw, name)


def add_arguments(p) -> None:
    p.add_argument("--epochs", type=int, help="override training.epochs")
    p.add_argument("--train-limit", type=int, help="train on the first N images only (quick runs)")
    p.add_argument("--data", metavar="DIR",
                   help="directory with the four MNIST-layout IDX files (raw or .gz), loaded as is: "
                        "no MD5 check and any number of images (e.g. a small synthetic set). "
                        "Default: canonical MNIST from $NEURO_GRLU_DATA/mnist or the source checkout's "
                        "data/mnist, MD5-verified")
    p.add_argument("--resume", action="store_true",
                   help="continue the incomplete run file --out from its last complete epoch (same model, --set and --epochs)")
    p.add_argument("--no-plot", action="store_true", help="do not write the learning-curve PNG")


def overrides(args) -> list[str]:
    """The overrides the command's own flags imply (after ``--set``; ``--seed`` is shared)."""
    out = []
    if args.epochs is not None:
        out.append(f"training.epochs={args.epochs}")
    if args.train_limit is not None:
        out.append(f"data.train_limit={args.train_limit}")
    return out


def run(request: RunRequest, args) -> int:
    """Train the definition and write its run file (and learning curves unless ``--no-plot``)."""
    from ..data import load_idx_dir, load_mnist
    from ..figures.rate import plot_learning_curves
    from ..io import read_run
    from ..train import check_data, train

    config = load_config("rate", request.model, request.overrides)
    out = request.out or f"runs/{config.name}-seed{config.training.seed}.h5"
    if args.data is None:
        dataset = load_mnist()
    else:
        dataset = load_idx_dir(args.data, name=Path(args.data).expanduser().resolve().name or "idx", md5=None)
        print(f"note: loaded {dataset.name} from {args.data} without checksum verification "
              f"({len(dataset.x_train)} train / {len(dataset.x_test)} test images)", flush=True)
    for note in check_data(config, dataset):  # limits beyond the data are one-line errors here
        print(f"note: {note}", flush=True)
    print(f"model {config.name}: {config.description}", flush=True)
    if request.set_items:
        print(f"  changed by --set: {', '.join(request.set_items)} (the run file stores the full configuration)", flush=True)
    n_images = min(len(dataset.x_train), config.data.train_limit or len(dataset.x_train))
    if config.data.validation:
        print(f"holding out the last {config.data.validation} of {n_images} training images for validation", flush=True)
    print(f"training on {n_images - config.data.validation} "
          f"{dataset.name} images, {config.training.epochs} epochs, seed {config.training.seed} -> {out}", flush=True)
    if args.resume and request.overwrite:
        raise NeuroGRLUError("--resume continues a run file and --overwrite replaces it; choose one")
    result = train(config, dataset, out=out, overwrite=request.overwrite, resume=args.resume, progress=request.progress,
                   command=request.command, log=(lambda line: None) if request.progress else print)
    scores = []
    if config.data.validation:
        scores.append(f"validation accuracy {100 * result.validation_accuracy:.2f}%")
    if config.data.score_test:
        scores.append(f"test accuracy {100 * result.test_accuracy:.2f}%")
    print(f"final {', '.join(scores) or 'run (no validation split, test not scored)'} after "
          f"{result.wall_time_s:.0f} s; run file {out}")
    if not args.no_plot:
        png = plot_learning_curves([read_run(out)], Path(out).with_suffix(".png"), title=config.name)
        print(f"learning curves {png}")
    return 0


def summary(run) -> dict:
    """``rule``, ``pairs``, ``hidden``, ``activation``, ``test_accuracy`` (last epoch),
    ``best_test_accuracy``, ``train_accuracy``, ``validation_accuracy``, ``alignment_deg``
    (list, last measurement per layer)."""
    import numpy as np

    m, cfg = run.metrics, run.config
    rule, net = cfg.get("rule", {}), cfg.get("network", {})
    acc = m.get("test_accuracy")
    align = run.arrays.get("alignment_deg")
    return dict(rule=rule.get("name"), pairs=rule.get("pairs"), hidden=list(net.get("hidden", [])),
                activation=net.get("activation"), test_accuracy=last_value(m, "test_accuracy"),
                best_test_accuracy=float(np.max(acc)) if acc is not None and len(acc) else None,
                train_accuracy=last_value(m, "train_accuracy"), validation_accuracy=last_value(m, "validation_accuracy"),
                alignment_deg=None if align is None or not len(align) else [finite_or_none(a) for a in align[-1]])


def _curves(runs):
    from ..figures.rate import fig_learning_curves

    return fig_learning_curves(runs)


def _alignment(runs):
    from ..figures.rate import fig_alignment

    return fig_alignment(runs)


KIND = register(Kind(
    name="rate", command="train", definition_kind="rate", seed_key="training.seed",
    help="train a model from models/ (or a TOML file) and write a run file",
    schema=schema, run=run, add_arguments=add_arguments, overrides=overrides, summary=summary,
    out_help="run file to write (default runs/MODEL-seedSEED.h5)", set_example="--set rule.pairs=16",
    overwrite_help="replace an existing run file once the new run completes (it is written to FILE.new until then)",
    figures={
        "curves": FigureSpec(_curves, overlay=True,
                             doc="accuracy (%), training reward (nat), gradient alignment (degree) per epoch"),
        "alignment": FigureSpec(_alignment, overlay=True, arrays=("alignment_deg", "alignment_samples"),
                                doc="angle between the rule's update and the true gradient (degree), per layer"),
    },
    default_figures=("curves",),
))
