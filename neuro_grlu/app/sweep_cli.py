"""``neuro-grlu sweep``: the command-line side of :mod:`neuro_grlu.sweep`.

Kept apart from :mod:`neuro_grlu.sweep` so that building the parser imports nothing heavy
(NumPy, h5py and Dask are imported only when the command runs).
"""

from __future__ import annotations

import shlex
import sys


def _cmd_sweep(args) -> int:
    from .sweep import disk_state, load_sweep, run_sweep

    sweep = load_sweep(args.sweep, out=args.out)
    if args.dry_run:
        states = [disk_state(p) for p in sweep.points]
        print(f"sweep {sweep.path}: model {sweep.model}, {len(sweep.points)} runs -> {sweep.out}")
        width = max(len(p.name) for p in sweep.points)
        for p, (state, _) in zip(sweep.points, states):
            action = "skip (complete)" if state == "complete" else f"run ({state})"
            print(f"  {p.index:4d}  {p.name:{width}s}  {action}")
        n_done = sum(s == "complete" for s, _ in states)
        print(f"{n_done} complete, {len(states) - n_done} to run (dry run: nothing started)")
        return 0
    command = "neuro-grlu " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["sweep"] else None
    try:
        result = run_sweep(sweep, workers=args.workers, scheduler=args.scheduler, data=args.data,
                           command=command, log=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print(f"neuro-grlu: interrupted; finished runs are kept, {sweep.summary_csv} lists the rest as "
              "pending: run the same command again to resume", file=sys.stderr)
        return 130
    n_ok = sum(r["status"] == "complete" for r in result.rows)
    print(f"{len(result.rows)} runs: {n_ok} complete ({result.skipped} from earlier), {len(result.failed)} failed; "
          f"summary {sweep.summary_csv} and {sweep.summary_h5.name}")
    for r in result.failed:
        print(f"  failed: {r['run']}: {r['error']}")
    return 1 if result.failed else 0


def add_subcommands(sub) -> None:
    """Add ``sweep`` to the ``neuro-grlu`` subcommands (``sub`` from ``add_subparsers``)."""
    s = sub.add_parser(
        "sweep", help="run a grid of config values x seeds on Dask, one run file each, plus a summary table",
        description="Expand SWEEP.toml (see docs/sweeps.md) into runs, train every run whose file is not "
                    "complete yet (a stopped sweep resumes), and write summary.csv / summary.h5 in the out "
                    "directory. Exit status 1 if any run failed.")
    s.add_argument("sweep", help="sweep file (TOML), e.g. models/sweeps/pairs-lr.toml")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="local Dask worker processes, one thread each (default: one per core); "
                            "0 = run in this process without Dask (debugging)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing Dask cluster, e.g. tcp://host:8786 (workers must see the out "
                            "and data directories under the same paths)")
    s.add_argument("--data", metavar="DIR",
                   help="directory with the four MNIST-layout IDX files, loaded without MD5 check "
                        "(as for train); default: canonical MNIST, MD5-verified")
    s.add_argument("--out", metavar="DIR", help="directory for run files and summary (replaces the file's out)")
    s.add_argument("--dry-run", action="store_true",
                   help="validate and list the runs (and which are complete already); train nothing")
    s.set_defaults(func=_cmd_sweep)
