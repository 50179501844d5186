"""Training speed of the spiking prototype hippocampus (issue 16, item 6): images per CPU second.

The network of ``cls-hippocampus-pixels-spiking-label`` (4,000 dentate inputs, 50 units per
class, 71 steps of 0.1 ms per image) trained in one pass on the first ``--warmup + --images``
MNIST training images (pixels, all classes, in file order). The first ``--warmup`` images
(one block) build the network and compile its Cython code and are not timed; the rest are,
with ``time.process_time`` (CPU seconds of this process) and wall time. Prints one JSON line
(also appended to ``--json``): images per CPU second, per wall second, load average, the
accuracy of the first spike over the timed images (the same number before and after a change
that keeps the dynamics), and the CPU seconds per image of each component: the dentate code
(numpy), ``set_spikes`` (the input spike list) and Brian2's ``Network.run``; with ``--profile``
also Brian2's own CPU time per code object (synaptic pathways, thresholders, monitor, ...).
``--features cortex`` feeds the row's frozen patch cortex instead of pixels (shaped untimed on its
classes' training images, as the experiment does) and counts the cortex's transform of the timed
images in the time per image (component ``cortex``): the speed of the whole one-pass row.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/spiking_prototype_speed.py --images 2000 [--json OUT] [--label NAME] \
        [--model NAME] [--set hippocampus.race_steps=35 ...] [--features cortex] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _huge_pages_mb() -> float | None:
    """This process's memory in transparent huge pages (MB; Linux): the 16-million-synapse arrays
    are read with a stride, so their page size moves the speed by tens of percent between runs."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="cls-hippocampus-pixels-spiking-label")
    ap.add_argument("--warmup", type=int, default=1000, help="untimed images (build and compile)")
    ap.add_argument("--images", type=int, default=2000, help="timed training images")
    ap.add_argument("--label", default="", help="stored with the numbers (e.g. before/after)")
    ap.add_argument("--json", help="append the result line here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override of the definition (repeatable)")
    ap.add_argument("--features", choices=("pixels", "cortex"), default="pixels",
                    help="the hippocampus's input: pixels, or the definition's frozen patch cortex (shaped first, "
                         "untimed; its transform of the timed images is timed as the component 'cortex')")
    ap.add_argument("--profile", action="store_true", help="also store Brian2's CPU time per code object (Network.run(profile=True))")
    args = ap.parse_args(argv)

    from neuro_grlu.cls.hippocampus import learner_params, make_learner
    from neuro_grlu.data import load_mnist
    from neuro_grlu.definitions import load_definition

    raw, _ = load_definition(args.model, args.set)
    name, params = learner_params(raw["hippocampus"])
    ds = load_mnist()
    n = args.warmup + args.images
    y = ds.y_train[:n].astype(np.int64)
    parts = {"code": 0.0, "set_spikes": 0.0, "network_run": 0.0}
    if args.features == "cortex":  # the row's own input: the frozen cortex of its definition
        from neuro_grlu.cls.config import load_continual
        from neuro_grlu.cls.experiment import shape_front_end

        cfg = load_continual(args.model, args.set)
        if cfg.patch is None:
            ap.error(f"--features cortex: {args.model} has no [cortex.patch] table (use --features pixels)")
        n_fit = len(ds.y_train) - cfg.protocol.validation
        cortex = shape_front_end(cfg, ds.x_train[:n_fit], ds.y_train[:n_fit].astype(np.int64))
        x = cortex.features(ds.x_train[: args.warmup])
        c, w = time.process_time(), time.perf_counter()
        x = np.concatenate([x, cortex.features(ds.x_train[args.warmup : n])])
        parts["cortex"], cortex_wall = time.process_time() - c, time.perf_counter() - w
    else:
        x = ds.x_train[:n].astype(np.float32) / 255.0
    h = make_learner(name, params, x.shape[1], 10)
    h.fit_online(x[: args.warmup], y[: args.warmup])

    def timed(name, f):  # CPU seconds spent in one component
        def call(*a, **kw):
            c = time.process_time()
            try:
                return f(*a, **kw)
            finally:
                parts[name] += time.process_time() - c
        return call

    h.code = timed("code", h.code)
    h._inp.set_spikes = timed("set_spikes", h._inp.set_spikes)
    run, per_object = h._net.run, {}

    def run_profiled(*a, **kw):  # Brian2 keeps the profile of the last run only: sum over blocks
        run(*a, profile=True, **kw)
        for obj, seconds in h._net.profiling_info:
            per_object[obj] = per_object.get(obj, 0.0) + float(seconds)

    h._net.run = timed("network_run", run_profiled if args.profile else run)
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    first = h.fit_online(x[args.warmup:], y[args.warmup:])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.features == "cortex":  # the cortex's transform of the timed images, made before the loop
        cpu, wall = cpu + parts["cortex"], wall + cortex_wall
    import neuro_grlu

    code = Path(neuro_grlu.__file__).resolve().parents[1]  # the checkout whose code ran (PYTHONPATH)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True,
                            text=True).stdout.strip()
    res = {"label": args.label, "model": args.model, "overrides": args.set, "features": args.features, "code": str(code), "commit": commit, "warmup": args.warmup, "images": args.images,
           "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "images_per_cpu_s": round(args.images / cpu, 1),
           "images_per_wall_s": round(args.images / wall, 1), "first_spike_accuracy": float(np.mean(first)),
           "decisions_per_image": float(np.mean(h.guesses[-1])), "simulated_ms_per_image": round(h.slot_ms, 3),
           "cpu_ms_per_image": {k: round(1e3 * v / args.images, 3) for k, v in parts.items()}
           | {"other": round(1e3 * (cpu - sum(parts.values())) / args.images, 3)},
           "load_before": round(load0, 2), "huge_pages_mb": _huge_pages_mb(),
           "load_after": round(os.getloadavg()[0], 2),
           "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args.profile:  # Brian2's own timer per code object, summed over the timed blocks
        res["brian2_ms_per_image"] = {obj: round(1e3 * t / args.images, 3)
                                      for obj, t in sorted(per_object.items(), key=lambda ot: -ot[1])}
    line = json.dumps(res)
    print(line, flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
