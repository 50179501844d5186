"""Before/after in one run: rerun compiled standalone programs alternately and compare them.

Speed numbers on a shared machine are only comparable when taken side by side. Each
``--json`` is the output of ``benchmarks/profile_standalone.py`` (which compiled a plain and
a profiled program of one code version, e.g. ``PYTHONPATH=/work/main`` for main and the
checkout for a branch, and recorded their directories and command lines). This script
runs the programs without Python, alternating ``A B A B ...`` for ``--rounds`` rounds (plain
programs first, then the profiled ones), and reports per version the median and minimum
wall time of the simulation, per object the median of the steady_clock brackets, and the
ratios to the first version, with the load average before and after each run.

Usage::

    python benchmarks/ab_standalone.py --json before.json --json after.json --label before --label after \
        --rounds 5 [--out RESULT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run_program(build: dict) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of the program in ``build['dir']``
    (its results go to results/)."""
    d = Path(build["dir"])
    cmd = [str(d / "main"), "--results_dir", os.path.join(str(d / "results"), ""), *build.get("argv", [])]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return wall, ru.ru_utime + ru.ru_stime


def profiling_info(build: dict) -> dict:
    """Seconds per code object from the last profiled run."""
    out = {}
    for line in (Path(build["dir"]) / "results" / "profiling_info.txt").read_text().splitlines():
        name, sec = line.rsplit("\t", 1)
        out[name] = float(sec)
    return out


def _median(x):
    x = sorted(x)
    n = len(x)
    return x[n // 2] if n % 2 else 0.5 * (x[n // 2 - 1] + x[n // 2])


def _base(name: str) -> str:
    """Object name without Brian2's instance suffix (``neurons_1_stateupdater`` -> ``neurons_stateupdater``)."""
    parts = name.split("_")
    return "_".join(p for p in parts if not p.isdigit())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="append", required=True, help="profile_standalone.py output (repeat)")
    ap.add_argument("--label", action="append", help="a name per --json (default: the file names)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-profile", action="store_true", help="plain programs only")
    ap.add_argument("--out", help="write the numbers here (JSON)")
    args = ap.parse_args(argv)
    docs = [json.loads(Path(j).read_text()) for j in args.json]
    labels = args.label or [Path(j).stem for j in args.json]
    if len(labels) != len(docs):
        ap.error("give one --label per --json")
    steps = docs[0]["steps"]
    if any(d["steps"] != steps for d in docs):
        ap.error("the programs simulate different durations")
    res = {"labels": labels, "jsons": args.json, "rounds": args.rounds, "steps": steps,
           "duration_s": docs[0]["duration_s"], "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "runs": []}
    kinds = ["plain"] + ([] if args.no_profile else ["profiled"])
    objects = {lab: [] for lab in labels}
    for kind in kinds:
        for r in range(args.rounds):
            for lab, doc in zip(labels, docs):
                load0 = os.getloadavg()[0]
                wall, cpu = run_program(doc[kind])
                row = {"kind": kind, "round": r, "label": lab, "wall_s": wall, "cpu_s": cpu, "load_before": round(load0, 2),
                       "load_after": round(os.getloadavg()[0], 2)}
                res["runs"].append(row)
                if kind == "profiled":
                    objects[lab].append({_base(k): v for k, v in profiling_info(doc[kind]).items()})
                print(f"{kind:8s} round {r} {lab:10s} {wall:7.3f} s ({1e6 * wall / steps:6.2f} us/step), "
                      f"CPU {cpu:7.3f} s ({1e6 * cpu / steps:6.2f} us/step) "
                      f"load {row['load_before']} -> {row['load_after']}", flush=True)
    summary = {}
    for lab in labels:
        s = {}
        for kind in kinds:
            w = [x["wall_s"] for x in res["runs"] if x["label"] == lab and x["kind"] == kind]
            c = [x["cpu_s"] for x in res["runs"] if x["label"] == lab and x["kind"] == kind]
            s[kind] = {"median_s": _median(w), "min_s": min(w), "median_us_per_step": 1e6 * _median(w) / steps,
                       "min_us_per_step": 1e6 * min(w) / steps, "cpu_median_s": _median(c),
                       "cpu_median_us_per_step": 1e6 * _median(c) / steps}
        if objects[lab]:
            names = sorted(objects[lab][0], key=lambda k: -objects[lab][0][k])
            s["objects_us_per_step"] = {k: 1e6 * _median([o.get(k, 0.0) for o in objects[lab]]) / steps for k in names}
        summary[lab] = s
    ref = labels[0]
    for lab in labels:
        p, q = summary[lab]["plain"], summary[ref]["plain"]
        summary[lab]["speedup_vs_" + ref] = {"median": q["median_s"] / p["median_s"], "min": q["min_s"] / p["min_s"],
                                             "cpu_median": q["cpu_median_s"] / p["cpu_median_s"]}
    res["summary"] = summary
    res["load_range"] = [min(x["load_before"] for x in res["runs"]), max(x["load_after"] for x in res["runs"])]
    res["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print()
    for lab in labels:
        p = summary[lab]["plain"]
        sp = summary[lab]["speedup_vs_" + ref]
        print(f"{lab:10s} plain median {p['median_us_per_step']:.2f} us/step (min {p['min_us_per_step']:.2f}, CPU median "
              f"{p['cpu_median_us_per_step']:.2f}); speed-up vs {ref}: {sp['median']:.2f}x median wall, "
              f"{sp['min']:.2f}x min wall, {sp['cpu_median']:.2f}x median CPU")
    if not args.no_profile:
        names = list(summary[ref]["objects_us_per_step"])
        print("\n" + f"{'object (median us/step)':45s}" + "".join(f"{lab:>12s}" for lab in labels))
        for k in names[:16]:
            print(f"{k:45s}" + "".join(f"{summary[lab]['objects_us_per_step'].get(k, 0.0):12.3f}" for lab in labels))
    print(f"load {res['load_range'][0]} .. {res['load_range'][1]}")
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
