"""Does a change to the spiking prototype hippocampus keep every decision? Two checkouts, bit for bit.

Runs the learner of ``--model`` from two checkouts of the package (``--old`` and ``--new``, each
in its own process with ``PYTHONPATH`` set to it): one pass over the first ``--images`` MNIST
training images (pixels, file order, Brian2's noise seeded from one fixed stream), then the logits
of the first ``--eval`` test images. Compares the weights ``W``, the rewarded wins, the expected
rewards, the first-spike outcome and the decisions (spikes) of every training image, and the
logits, and prints one JSON line (also appended to ``--json``): ``identical`` per array, or the
largest absolute difference. A speed change that is meant to keep the dynamics must give
``identical`` everywhere (the stored test rows then stand as they are). Exit status: 0 identical,
3 different, 1 a run failed (or imported another copy of the package than its checkout), 2 bad
arguments.

Usage::

    python benchmarks/spiking_prototype_identity.py --old /path/to/old/checkout --new . \
        --model cls-patch7-intrinsic-spiking-label-gate-wide [--set hippocampus.dips=depress ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ARRAYS = ("W", "wins", "expected_reward", "first", "decisions", "logits")


def _worker(model: str, sets: list[str], images: int, n_eval: int, out: str) -> None:
    """Train and evaluate with the package on ``sys.path``; save the arrays to ``out`` (.npz)."""
    import neuro_grlu
    from neuro_grlu.cls.hippocampus import learner_params, make_learner
    from neuro_grlu.data import load_mnist
    from neuro_grlu.definitions import load_definition

    raw, _ = load_definition(model, sets)
    name, params = learner_params(raw["hippocampus"])
    ds = load_mnist()
    x = ds.x_train[:images].astype(np.float32) / 255.0
    h = make_learner(name, params, x.shape[1], 10)
    first = h.fit_online(x, ds.y_train[:images].astype(np.int64), np.random.default_rng(5))
    logits = h.logits(ds.x_test[:n_eval].astype(np.float32) / 255.0)
    np.savez(out, W=h.W, wins=h.wins, expected_reward=h.state_dict()["hippocampus_expected_reward"],
             first=first, decisions=h.guesses[-1], logits=logits, package=str(Path(neuro_grlu.__file__).resolve()))


def compare(old: dict, new: dict) -> dict:
    """Per array: ``"identical"``, ``"shape A != B"``, or the largest absolute difference."""
    out = {}
    for k in ARRAYS:
        a, b = np.asarray(old[k]), np.asarray(new[k])
        if a.shape != b.shape:
            out[k] = f"shape {a.shape} != {b.shape}"
        else:
            out[k] = "identical" if np.array_equal(a, b) else float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True, help="checkout of the reference code (its directory holds neuro_grlu/)")
    ap.add_argument("--new", default=".", help="checkout of the changed code")
    ap.add_argument("--model", default="cls-patch7-intrinsic-spiking-label-gate-wide")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override of the definition (repeatable)")
    ap.add_argument("--images", type=int, default=3000, help="training images (one pass)")
    ap.add_argument("--eval", type=int, default=1000, help="test images whose logits are compared")
    ap.add_argument("--json", help="append the result line here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # internal: save the arrays to this .npz
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.model, args.set, args.images, args.eval, args.worker)
        return 0
    if args.images < 1 or args.eval < 1:
        ap.error(f"--images and --eval must be at least 1 (got {args.images}, {args.eval})")
    from neuro_grlu.cls.hippocampus import learner_params
    from neuro_grlu.definitions import load_definition
    from neuro_grlu.errors import NeuroGRLUError

    try:  # the definition and overrides checked once here, before either checkout runs
        learner_params(load_definition(args.model, args.set)[0]["hippocampus"])
    except (NeuroGRLUError, KeyError) as err:
        ap.error(f"{args.model} with {args.set}: {err}")
    for side in (args.old, args.new):
        if not (Path(side) / "neuro_grlu" / "__init__.py").is_file():
            ap.error(f"{side} is not a checkout of neuro_grlu (no neuro_grlu/__init__.py): give the directory that holds it")
    saved = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side, code in (("old", args.old), ("new", args.new)):
            out = os.path.join(tmp, f"{side}.npz")
            cmd = [sys.executable, __file__, "--old", args.old, "--model", args.model, "--images", str(args.images),
                   "--eval", str(args.eval), "--worker", out] + [f"--set={s}" for s in args.set]
            env = dict(os.environ, PYTHONPATH=str(Path(code).resolve()), OMP_NUM_THREADS="1")
            run = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if run.returncode:
                print(f"error: the {side} checkout failed:\n{run.stderr[-2000:]}", file=sys.stderr)
                return 1
            with np.load(out) as f:
                saved[side] = {k: f[k] for k in ARRAYS}
                package = Path(str(f["package"]))
            if Path(code).resolve() not in package.parents:  # e.g. an installed copy shadowed PYTHONPATH
                print(f"error: the {side} run imported {package}, not the checkout {code}", file=sys.stderr)
                return 1

    def commit(code):  # "-dirty" when the checkout has uncommitted changes
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=code, capture_output=True,
                              text=True).stdout.strip()

    compared = compare(saved["old"], saved["new"])
    res = {"model": args.model, "overrides": args.set, "images": args.images, "eval_images": args.eval,
           "old": commit(args.old), "new": commit(args.new), "compared": compared,
           "all_identical": all(v == "identical" for v in compared.values())}
    line = json.dumps(res)
    print(line, flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(line + "\n")
    return 0 if res["all_identical"] else 3  # 1: a run failed, 2: bad arguments


if __name__ == "__main__":
    sys.exit(main())
