"""``neuro-grlu`` command line: train, report, plot, inspect, download, models.

User errors (a :class:`~neuro_grlu.errors.NeuroGRLUError`) end with one line on stderr and
exit status 2, never a traceback; Ctrl-C exits with status 130 after the run file has been
marked incomplete.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from pathlib import Path

from ..errors import NeuroGRLUError


def _cmd_train(args) -> int:
    from ..config import load_model
    from ..data import load_idx_dir, load_mnist
    from ..figures.rate import plot_learning_curves
    from ..io import read_run
    from ..train import train

    overrides = list(args.set or [])
    if args.epochs is not None:
        overrides.append(f"training.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"training.seed={args.seed}")
    if args.train_limit is not None:
        overrides.append(f"data.train_limit={args.train_limit}")
    config = load_model(args.model, overrides)
    out = args.out or f"runs/{config.name}-seed{config.training.seed}.h5"
    if args.data is None:
        dataset = load_mnist()
    else:
        dataset = load_idx_dir(args.data, name=Path(args.data).expanduser().resolve().name or "idx", md5=None)
        print(f"note: loaded {dataset.name} from {args.data} without checksum verification "
              f"({len(dataset.x_train)} train / {len(dataset.x_test)} test images)", flush=True)
    from ..train import check_data

    for note in check_data(config, dataset):  # limits beyond the data are one-line errors here
        print(f"note: {note}", flush=True)
    print(f"model {config.name}: {config.description}", flush=True)
    if args.set:
        print(f"  changed by --set: {', '.join(args.set)} (the run file stores the full configuration)", flush=True)
    n_images = min(len(dataset.x_train), config.data.train_limit or len(dataset.x_train))
    if config.data.validation:
        print(f"holding out the last {config.data.validation} of {n_images} training images for validation", flush=True)
    print(f"training on {n_images - config.data.validation} "
          f"{dataset.name} images, {config.training.epochs} epochs, seed {config.training.seed} -> {out}", flush=True)
    command = "neuro-grlu " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.resume and args.overwrite:
        raise NeuroGRLUError("--resume continues a run file and --overwrite replaces it; choose one")
    result = train(config, dataset, out=out, overwrite=args.overwrite, resume=args.resume, progress=not args.no_progress,
                   command=command, log=(lambda line: None) if not args.no_progress else print)
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


def _fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.2f}" if pct else f"{v:.4g}"


def _cmd_report(args) -> int:
    from ..io import read_run
    from .report import summary

    rows = []
    for path in args.runs:
        run = read_run(path)
        row = summary(run)  # the same headline numbers as neuro_grlu.report()
        m = run.metrics
        rule = run.config.get("rule", {})
        net = run.config.get("network", {})
        sps = (sum(m["samples_per_second"]) / len(m["samples_per_second"])) if "samples_per_second" in m and len(m["samples_per_second"]) else None
        align = row.get("alignment_deg")
        align = "-" if not align else "/".join("-" if a is None else f"{a:.0f}" for a in align)
        rows.append([
            run.model, rule.get("name", "-"), _uses(rule.get("name")), str(rule.get("pairs", "-")),
            net.get("activation", "-") + (f" k={net.get('k')}" if net.get("activation") == "topk" else ""),
            "x".join(map(str, net.get("hidden", []))), str(run.seed),
            f"{run.epochs_completed}/{run.epochs_planned}", _fmt(row.get("test_accuracy"), True),
            _fmt(row.get("best_test_accuracy"), True), align,
            "-" if sps is None else f"{sps:.0f}", f"{run.wall_time_s:.0f}", run.status,
        ])
    header = ["run", "rule", "uses", "pairs", "activation", "hidden", "seed", "epochs", "test %", "best test %",
              "alignment ° (per layer)", "samples/s", "wall s", "status"]
    if args.format == "csv":
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(header)
        w.writerows(rows)
    else:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    return 0


#: Short names of the information a rule uses (``Rule.uses``), for tables.
USES_SHORT = {"global_reward": "reward", "local_activity": "local", "noise": "noise",
              "label_error": "label error", "random_feedback": "random feedback",
              "weight_transport": "weight transport", "local_loss": "local loss",
              "label_embedding": "label embedding", "ensemble_covariance": "ensemble covariance",
              "prediction_error": "prediction errors", "symmetric_weights": "symmetric weights",
              "two_phases": "two phases"}


def _uses(rule_name) -> str:
    from ..rules import RULES

    cls = RULES.get(rule_name)
    return "-" if cls is None else ", ".join(USES_SHORT.get(u, u) for u in cls.uses)


def _cmd_rules(args) -> int:
    import dataclasses

    from ..rules import INFORMATION, RULES

    for name in sorted(RULES):
        cls = RULES[name]
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"{name}: {doc}")
        print("  uses: " + "; ".join(INFORMATION[u] for u in cls.uses))
        for f in dataclasses.fields(cls.Params):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            print(f"  {f.name:16s} = {default!r:10}  {f.metadata.get('doc', '')}")
        print()
    return 0


def _cmd_plot(args) -> int:
    from ..io import read_run
    from ..figures.common import _save
    from ..figures.stdp_window import fig_stdp_window
    from .figures import FIGURES, figure_names, plot_runs

    names = [n for item in (args.figure or []) for n in item.split(",") if n]
    json_files = [p for p in args.runs if Path(p).suffix.lower() == ".json"]
    if json_files:  # STDP-window results as written by `neuro-grlu stdp-window` (JSON)
        from ..spiking.experiments.stdp_window import read_window

        if len(args.runs) > 1:
            raise NeuroGRLUError("plot one STDP-window result (.json) at a time")
        if names and names != ["window"]:
            raise NeuroGRLUError(f"an STDP-window result has one figure, 'window' (got {', '.join(names)})")
        if args.list:
            print(f"{args.runs[0]} (stdp-window): window")
            return 0
        result, ref_lag, ref_dw = read_window(args.runs[0])
        print(_save(fig_stdp_window(result, ref_lag, ref_dw), args.out or Path(args.runs[0]).with_suffix(".png")))
        return 0
    runs = [read_run(p) for p in args.runs]
    if args.list:
        for run in runs:
            print(f"{run.path} ({run.kind}{', stripped' if run.stripped else ''}): "
                  f"{', '.join(figure_names(run)) or 'none'}")
        return 0
    if not names:
        from .figures import _stripped_reason

        for run in (r for r in runs if r.stripped):
            for name in sorted(set(FIGURES.get(run.kind, {})) - set(figure_names(run))):
                reason = _stripped_reason(run, name)
                if reason:
                    print(f"note: skipped {reason}", file=sys.stderr)
    for path in plot_runs(runs, args.out, names or None):
        print(path)
    return 0


def _cmd_inspect(args) -> int:
    import json

    from ..io import read_run

    run = read_run(args.run)
    print(f"file        {run.path}")
    print(f"schema      neuro_grlu.run v{run.schema_version}")
    print(f"model       {run.model} ({run.kind}), seed {run.seed}")
    print(f"status      {run.status}: {run.epochs_completed}/{run.epochs_planned} epochs, {run.wall_time_s:.1f} s")
    print(f"created     {run.created}")
    print(f"git commit  {run.git_commit}{' (dirty)' if run.git_dirty else ''}")
    print(f"command     {run.command or '-'}")
    print("versions    " + ", ".join(f"{k} {v}" for k, v in sorted(run.versions.items())))
    print("config")
    for line in json.dumps(run.config, indent=2, sort_keys=True).splitlines():
        print("  " + line)
    print("weights     " + (", ".join(f"{k} {tuple(v.shape)} {v.dtype}" for k, v in run.weights.items()) or "-"))
    if run.arrays:
        print("arrays      " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in run.arrays.items()))
    if run.stripped:
        info = run.strip_info
        print("stripped    yes: dropped " + (", ".join(f"{k} {tuple(v['shape'])}" for k, v in
                                                     sorted(info.get("dropped", {}).items())) or "nothing"))
        if info.get("subsampled"):
            print("            subsampled " + ", ".join(f"{k} {tuple(v['shape'])} every {v['stride']}"
                                                  for k, v in sorted(info["subsampled"].items())))
        if info.get("derived"):
            print("            derived numbers (from the full file): " + ", ".join(sorted(info["derived"])))
    table = run.table()
    if table:
        names = list(table[0])
        print("metrics")
        print("  " + "  ".join(f"{n:>14s}" for n in names))
        for row in table:
            print("  " + "  ".join(f"{row[n]:>14.6g}" for n in names))
    return 0


def _cmd_strip(args) -> int:
    from ..strip import strip_run

    if args.out is not None and len(args.runs) > 1:
        raise NeuroGRLUError("--out takes one run file; strip several in place (without --out)")
    total_before = total_after = 0
    for path in args.runs:
        res = strip_run(path, args.out, trace_step_s=args.trace_step)
        total_before += res.bytes_before
        total_after += res.bytes_after
        print(f"{res.path}: {res.bytes_before / 1e6:.2f} MB -> {res.bytes_after / 1e6:.2f} MB "
              f"(dropped {len(res.dropped)} datasets, subsampled {len(res.subsampled)})")
    if len(args.runs) > 1:
        print(f"total: {total_before / 1e6:.2f} MB -> {total_after / 1e6:.2f} MB")
    return 0


def _cmd_download(args) -> int:
    from ..data import download

    path = download(args.dataset, args.dest, mirrors=args.mirror or None, timeout=args.timeout,
                    progress=not args.no_progress)
    print(f"{args.dataset} ready in {path}")
    return 0


def describe_model(name_or_path: str) -> tuple[str, str]:
    """``(kind, description)`` of a definition of any kind, validated by that kind's parser."""
    from ..config import parse_config
    from ..definitions import load_raw

    raw, name = load_raw(name_or_path)
    kind = raw.get("kind", "rate")
    if kind == "spiking":
        from ..spiking.config import parse_spiking

        return kind, parse_spiking(raw, name).description
    if kind == "continual":
        from ..cls.config import parse_continual

        return kind, parse_continual(raw, name).description
    return kind, parse_config(raw, name).description


def _cmd_models(args) -> int:
    from ..definitions import available_models, models_dir

    names = available_models()
    if not names:
        print(f"no model definitions in {models_dir()}")
        return 0
    for name in names:
        try:
            kind, description = describe_model(name)
            print(f"{name:34s} {kind:8s} {description}")
        except NeuroGRLUError as exc:
            print(f"{name:34s} INVALID: {exc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neuro-grlu", description="Learning without backpropagation: train, compare and inspect runs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model from models/ (or a TOML file) and write a run file")
    t.add_argument("model", help="model name in models/ (see 'neuro-grlu models') or path to a .toml file")
    t.add_argument("--epochs", type=int, help="override training.epochs")
    t.add_argument("--seed", type=int, help="override training.seed")
    t.add_argument("--train-limit", type=int, help="train on the first N images only (quick runs)")
    t.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE", help="override any key, e.g. --set rule.pairs=16 (repeatable)")
    t.add_argument("--out", help="run file to write (default runs/MODEL-seedSEED.h5)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace an existing run file once the new run completes (it is written to FILE.new until then)")
    t.add_argument("--resume", action="store_true",
                   help="continue the incomplete run file --out from its last complete epoch (same model, --set and --epochs)")
    t.add_argument("--data", metavar="DIR",
                   help="directory with the four MNIST-layout IDX files (raw or .gz), loaded as is: "
                        "no MD5 check and any number of images (e.g. a small synthetic set). "
                        "Default: canonical MNIST from $NEURO_GRLU_DATA/mnist or the repository's "
                        "data/mnist, MD5-verified")
    t.add_argument("--no-progress", action="store_true", help="no progress bar; print one line per epoch")
    t.add_argument("--no-plot", action="store_true", help="do not write the learning-curve PNG")
    t.set_defaults(func=_cmd_train)

    r = sub.add_parser("report", help="a table of runs (markdown or CSV)")
    r.add_argument("runs", nargs="+", help="run files (.h5)")
    r.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    r.set_defaults(func=_cmd_report)

    pl = sub.add_parser(
        "plot", help="figures suited to the run kind (learning curves, raster, forgetting matrix, ...) as PNG",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Draw, from run files of one kind, the figures that suit it, as PNGs.",
        epilog="figures by run kind (default: all the file's content supports; rate runs: curves):\n"
               "  rate         curves     accuracy (%), training reward (nat), gradient alignment (degree) per epoch\n"
               "               alignment  angle between the rule's update and the true gradient (degree), per layer\n"
               "  spiking      raster     spikes, neuron index against time (s), first and last excerpt\n"
               "               weights    chosen and tracked synaptic weights (mV), rewards, eligibility, against time (s)\n"
               "               histogram  weight distribution of all plastic synapses over time and at start vs end\n"
               "               dopamine   dopamine concentration (uM) against time (s), rewards marked\n"
               "  continual    matrix     accuracy after each task on every task (%), class- and task-incremental\n"
               "               forgetting forgetting per task (percentage points)\n"
               "               fewshot    accuracy on new classes (%) against examples per class\n"
               "  stdp-window  window     weight change (%) against spike timing (ms) vs Bi & Poo (1998);\n"
               "                          also reads the .json written by `neuro-grlu stdp-window`\n"
               "curves, alignment, forgetting and fewshot overlay several runs in one figure; the others draw\n"
               "one figure per run. One figure goes to --out (default: first run's name with .png); several go\n"
               "to <out without .png>-<figure>.png. Python: read_run(path).plot() (see docs/notebooks.md).")
    pl.add_argument("runs", nargs="+", help="run files (.h5) of one kind, or one STDP-window result (.json)")
    pl.add_argument("--figure", "-f", action="append", metavar="NAME",
                    help="figure to draw (repeatable or comma-separated; default: all the content supports)")
    pl.add_argument("--out", help="PNG path, or the prefix of several PNGs (default: first run's name)")
    pl.add_argument("--list", action="store_true", help="list the figures each file can draw and exit")
    pl.set_defaults(func=_cmd_plot)

    i = sub.add_parser("inspect", help="everything a run file holds: config, versions, metrics, weights")
    i.add_argument("run", help="run file (.h5)")
    i.set_defaults(func=_cmd_inspect)

    st = sub.add_parser("strip", help="drop weights and spike trains from run files (keeps config, provenance, metrics)",
                        description="Rewrite run files without their weights, learner state, spike trains and "
                                    "synapse indices, keeping the schema, config, provenance, metrics and small "
                                    "arrays; state traces are kept every --trace-step s. The file is marked "
                                    "stripped and records digests of what was dropped and the numbers analyses "
                                    "computed from the full file (docs/run-file.md).")
    st.add_argument("runs", nargs="+", help="run files (.h5), stripped in place")
    st.add_argument("--out", help="write the stripped copy here instead (one run file only)")
    st.add_argument("--trace-step", type=float, default=1.0, metavar="S",
                    help="keep state-monitor traces every S seconds (default 1)")
    st.set_defaults(func=_cmd_strip)

    d = sub.add_parser("download", help="fetch a dataset into data/ from a list of mirrors (MD5-checked)")
    d.add_argument("dataset", nargs="?", default="mnist")
    d.add_argument("--dest", help="target directory (default data/DATASET)")
    d.add_argument("--mirror", action="append", help="base URL to try (repeatable; default: the known mirrors)")
    d.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(func=_cmd_download)

    m = sub.add_parser("models", help="list the named model definitions")
    m.set_defaults(func=_cmd_models)

    ru = sub.add_parser("rules", help="list the learning rules, the information each uses, and their parameters")
    ru.set_defaults(func=_cmd_rules)

    from .sweep_cli import add_subcommands as add_sweep_subcommands
    add_sweep_subcommands(sub)
    from .continual_cli import add_subcommands as add_continual_subcommands
    add_continual_subcommands(sub)
    from .spiking_cli import add_subcommands as add_spiking_subcommands
    add_spiking_subcommands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    # Batch-1 training multiplies small matrices: BLAS threads only add overhead and fight
    # the noise-drawing thread for the cores. Users can still override the variables.
    # Brian2 2.9 calls pyparsing APIs that pyparsing 3.2 deprecates: noise, not user news.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(brian2|pyparsing)(\..*)?$")
    if "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NeuroGRLUError as exc:
        print(f"neuro-grlu: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuro-grlu: interrupted; the run file keeps the completed epochs (status 'incomplete'; "
              "with --overwrite in FILE.new, the old file is intact); continue it with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
