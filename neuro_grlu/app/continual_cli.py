"""``neuro-grlu continual MODEL``: run a complementary-learning-systems definition (kind "continual")."""

from __future__ import annotations

import shlex
from pathlib import Path
import sys


def _cmd_continual(args) -> int:
    from ..data import load_idx_dir, load_mnist
    from ..cls.config import load_continual
    from ..cls.experiment import check_continual_data, run_continual

    overrides = list(args.set or [])
    if args.seed is not None:
        overrides.append(f"protocol.seed={args.seed}")
    cfg = load_continual(args.model, overrides)
    out = args.out or f"runs/{cfg.name}-seed{cfg.protocol.seed}.h5"
    print(f"model {cfg.name} ({cfg.system}): {cfg.description}", flush=True)
    if args.set:  # the description is the definition's own: say what the overrides changed
        print(f"  changed by --set: {', '.join(args.set)} (the run file stores the full configuration)", flush=True)
    if args.data is None:
        dataset = load_mnist()
    else:
        dataset = load_idx_dir(args.data, name=Path(args.data).expanduser().resolve().name or "idx", md5=None)
    check_continual_data(cfg, dataset)
    print(f"tasks {cfg.tasks} -> {out}", flush=True)
    command = "neuro-grlu " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    s = run_continual(cfg, dataset, out=out, overwrite=args.overwrite, progress=not args.no_progress,
                      command=command, log=print)
    print(f"final average accuracy: class-incremental {100 * s['average_accuracy_class']:.2f}%, "
          f"task-incremental {100 * s['average_accuracy_task']:.2f}% after {s['wall_time_s']:.0f} s; run file {out}")
    return 0


def add_subcommands(sub) -> None:
    c = sub.add_parser("continual", help="sequential tasks / few-shot protocol of a kind = \"continual\" definition")
    c.add_argument("model", help="model name in models/ or path to a .toml file (kind = \"continual\")")
    c.add_argument("--seed", type=int, help="override protocol.seed")
    c.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE",
                   help="override any key, e.g. --set cortex.epochs=5 or --set cortex.rule.lr_max=0.05 (repeatable)")
    c.add_argument("--out", help="run file to write (default runs/MODEL-seedSEED.h5)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    c.add_argument("--no-progress", action="store_true", help="accepted for symmetry; the protocol prints one line per stage")
    c.add_argument("--data", metavar="DIR", help="directory with the four MNIST-layout IDX files, loaded as is (no MD5 "
                                                  "check), as for `neuro-grlu train --data`; default: canonical MNIST")
    c.set_defaults(func=_cmd_continual)
