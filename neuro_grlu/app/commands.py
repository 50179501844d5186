"""The run arguments every run command shares, defined once.

``neuro-grlu train|simulate|continual|stdp-window`` all take a model, ``--set`` overrides,
``--out``, ``--overwrite`` and ``--no-progress`` (and ``--seed`` where the kind has a seed),
and store the invocation line in the run file. :func:`add_run_arguments` declares them on a
subcommand; :func:`run_request` turns the parsed arguments into the
:class:`~neuro_grlu.kinds.registry.RunRequest` a kind's runner takes.
"""

from __future__ import annotations

import shlex
import sys

from ..kinds.registry import Kind, RunRequest


def invocation(argv: list[str] | None = None) -> str:
    """The command line as typed (``neuro-grlu ...``), stored in run files."""
    return "neuro-grlu " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))


def add_run_arguments(p, kind: Kind) -> None:
    """The shared run arguments on subcommand parser `p` (then the kind adds its own)."""
    if kind.model_default is None:
        p.add_argument("model", help=f"model name in models/ (see 'neuro-grlu models') or path to a .toml file")
    else:
        p.add_argument("model", nargs="?", default=kind.model_default,
                       help=f"model name in models/ or path to a .toml file (default {kind.model_default})")
    if kind.seed_key:
        p.add_argument("--seed", type=int, help=f"override {kind.seed_key}")
    p.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE",
                   help=f"override any key, e.g. {kind.set_example} (repeatable)")
    p.add_argument("--out", help=kind.out_help)
    p.add_argument("--overwrite", action="store_true", help=kind.overwrite_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")


def run_request(args, kind: Kind, argv: list[str] | None = None) -> RunRequest:
    """The :class:`RunRequest` of parsed arguments: ``--set`` items, then the overrides the
    kind's own flags imply, then ``--seed``."""
    set_items = list(args.set or [])
    overrides = set_items + kind.overrides(args)
    if kind.seed_key and args.seed is not None:
        overrides.append(f"{kind.seed_key}={args.seed}")
    return RunRequest(model=args.model, overrides=overrides, set_items=set_items, out=args.out,
                      overwrite=args.overwrite, progress=not args.no_progress, command=invocation(argv))
