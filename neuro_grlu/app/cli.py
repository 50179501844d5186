"""``neuro-grlu`` command line: train, report, plot, inspect, download, models.

User errors (a :class:`~neuro_grlu.errors.NeuroGRLUError`) end with one line on stderr and
exit status 2, never a traceback; Ctrl-C exits with status 130 after the run file has been
marked incomplete.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from ..errors import NeuroGRLUError


def _run_command(kind_name: str):
    """The handler of a kind's run command: the shared request, then the kind's runner."""
    def handler(args) -> int:
        from ..kinds import get_kind
        from .commands import run_request

        kind = get_kind(kind_name)
        return kind.run(run_request(args, kind), args)
    return handler


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
    from ..spiking.experiments.stdp_window import old_json_message
    from .figures import figure_names, plot_runs, skipped_notes
    from .runs import read_run

    names = [n for item in (args.figure or []) for n in item.split(",") if n]
    for path in args.runs:
        if Path(path).suffix.lower() == ".json":  # the older STDP-window result format
            raise NeuroGRLUError(old_json_message(path))
    runs = [read_run(p) for p in args.runs]
    if args.list:
        for run in runs:
            print(f"{run.path} ({run.kind}{', stripped' if run.stripped else ''}): "
                  f"{', '.join(figure_names(run)) or 'none'}")
        return 0
    if not names:
        for note in skipped_notes(runs):
            print(f"note: skipped {note}", file=sys.stderr)
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


def _cmd_export(args) -> int:
    from ..errors import ConfigError
    from ..spiking.nwb import export_nwb

    if not args.nwb:
        raise ConfigError("say what to export to: neuro-grlu export RUN.h5 --nwb OUT.nwb")
    try:
        import pynwb  # noqa: F401
    except ImportError:
        raise ConfigError("NWB export needs pynwb: pip install 'neuro-grlu[nwb]'") from None
    out = export_nwb(args.run, args.nwb, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


def _cmd_download(args) -> int:
    from ..data import download

    path = download(args.dataset, args.dest, mirrors=args.mirror or None, timeout=args.timeout,
                    progress=not args.no_progress)
    print(f"{args.dataset} ready in {path}")
    return 0


def describe_model(name_or_path: str) -> tuple[str, str]:
    """``(kind, description)`` of a definition of any kind, validated by that kind's schema."""
    from ..kinds import describe

    return describe(name_or_path)


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


def _figures_epilog() -> str:
    """The figures of every registered kind, for ``neuro-grlu plot --help``."""
    from ..kinds import kinds

    lines = ["figures by run kind (default: all the file's content supports; rate runs: curves):"]
    for kind in kinds():
        for k, (name, spec) in enumerate(kind.figures.items()):
            lines.append(f"  {kind.name if k == 0 else '':12s} {name:10s} {spec.doc}")
    overlay = [n for kind in kinds() for n, spec in kind.figures.items() if spec.overlay]
    lines += [f"{', '.join(overlay)} overlay several runs in one figure; the others draw one figure per run.",
              "One figure goes to --out (default: first run's name with .png); several go to",
              "<out without .png>-<figure>.png. Python: read_run(path).plot() (see docs/notebooks.md)."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neuro-grlu", description="Learning without backpropagation: train, compare and inspect runs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from ..kinds import kinds
    from .commands import add_run_arguments

    for kind in kinds():  # train, simulate, stdp-window, continual: the shared run arguments, then the kind's own
        k = sub.add_parser(kind.command, help=kind.help)
        add_run_arguments(k, kind)
        kind.add_arguments(k)
        k.set_defaults(func=_run_command(kind.name))

    r = sub.add_parser("report", help="a table of runs (markdown or CSV)")
    r.add_argument("runs", nargs="+", help="run files (.h5)")
    r.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    r.set_defaults(func=_cmd_report)

    pl = sub.add_parser(
        "plot", help="figures suited to the run kind (learning curves, raster, forgetting matrix, ...) as PNG",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Draw, from run files of one kind, the figures that suit it, as PNGs.",
        epilog=_figures_epilog())
    pl.add_argument("runs", nargs="+", help="run files (.h5) of one kind")
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

    e = sub.add_parser("export", help="write a spiking run file in another format (NWB: Neurodata Without Borders)")
    e.add_argument("run", help="spiking run file (.h5) written by `neuro-grlu simulate`")
    e.add_argument("--nwb", metavar="OUT.nwb", help="NWB file to write (spike times per neuron with populations, "
                   "dopamine and tracked weights as time series, the definition and provenance as metadata)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    e.set_defaults(func=_cmd_export)

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
    except BrokenPipeError:  # the reader went away (neuro-grlu models | head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("neuro-grlu: interrupted; the run file keeps the completed epochs (status 'incomplete'; "
              "with --overwrite in FILE.new, the old file is intact); continue it with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
