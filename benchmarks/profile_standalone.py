"""Per-object cost of a spiking definition on the C++ standalone target, without the profiler's distortion.

Brian2's own profiler brackets every code object with two ``std::clock()`` calls, each a
system call of about a microsecond with 1 us resolution: for ~30 objects per 1 ms step
that is more than the simulation itself and ranks the small objects wrongly. Here the
generated code reads ``std::chrono::steady_clock`` instead (vDSO, tens of ns, no system
call; ``neuro_grlu.spiking.simulate._patch_profiler``), the per-step ``std::clock()`` of
the loop is gone, and the same program is also run *without* profiling in the same
script, so the total overhead of the brackets is measured (``overhead``).

Usage::

    python benchmarks/profile_standalone.py --duration 300 --build-dir DIR [--set input.kind=philox ...] \
        [--json OUT.json]

Prints (and writes) the seconds and microseconds per step of each code object, sorted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import brian2 as b2
from brian2 import second

from neuro_grlu.spiking.build import build_network
from neuro_grlu.spiking.config import load_spiking
from neuro_grlu.spiking.simulate import _children_cpu, _no_clock_per_step, _setup_target, _teardown_target


def run_once(cfg, directory, profile: bool) -> dict:
    _setup_target("standalone", directory)
    try:
        built = build_network(cfg)
        built.net.run(cfg.simulation.duration_s * second, namespace={}, report=None, profile=profile)
        t0 = time.perf_counter()
        with _no_clock_per_step():
            b2.device.build(directory=str(directory), compile=True, run=False)
        compile_s = time.perf_counter() - t0
        t0, cpu0 = time.perf_counter(), _children_cpu()
        b2.device.run(directory=str(directory), with_output=False, run_args=built.run_args)
        run_s, cpu_s = time.perf_counter() - t0, _children_cpu() - cpu0
        # the program's command line, for benchmarks/ab_standalone.py (rerun without Python)
        argv = [f"{name}={value}" for name, value, *_ in
                (b2.device._prepare_variableview_run_arg(k, v) for k, v in built.run_args.items())]
        out = {"compile_s": compile_s, "run_s": run_s, "run_cpu_s": cpu_s, "load_after": os.getloadavg()[0],
               "dir": str(Path(directory).resolve()), "argv": argv}
        if profile:
            info = b2.device.network_get_profiling_info(built.net)
            out["objects"] = {name: float(t / second) for name, t in info}
        return out
    finally:
        _teardown_target("standalone")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="izhikevich-distal-reward")
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--build-dir", required=True, help="two subdirectories: plain/ and profiled/ (reused)")
    ap.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)
    cfg = load_spiking(args.model, [f"simulation.duration_s={args.duration}", f"simulation.chunk_s={args.duration}",
                                    *args.set])
    steps = args.duration * 1000.0 / cfg.simulation.dt_ms
    load0 = os.getloadavg()[0]
    plain = run_once(cfg, os.path.join(args.build_dir, "plain"), profile=False)
    prof = run_once(cfg, os.path.join(args.build_dir, "profiled"), profile=True)
    objects = dict(sorted(prof.pop("objects").items(), key=lambda kv: -kv[1]))
    total = sum(objects.values())
    res = {"model": args.model, "overrides": args.set, "duration_s": args.duration, "steps": steps,
           "load_before": load0, "plain": plain, "profiled": prof,
           "objects_s": objects, "objects_us_per_step": {k: 1e6 * v / steps for k, v in objects.items()},
           "sum_objects_s": total,
           "overhead_s": prof["run_s"] - plain["run_s"],
           "plain_us_per_step": 1e6 * plain["run_s"] / steps}
    print(f"plain run {plain['run_s']:.2f} s ({res['plain_us_per_step']:.2f} us/step, RTF "
          f"{args.duration / plain['run_s']:.1f}), profiled run {prof['run_s']:.2f} s, objects sum {total:.2f} s; "
          f"load {load0:.1f} -> {plain['load_after']:.1f}")
    for name, sec in objects.items():
        print(f"{name:55s} {sec:8.3f} s {1e6 * sec / steps:8.3f} us/step {100 * sec / total:6.1f} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
