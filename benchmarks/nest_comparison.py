"""Brian2 (C++ standalone, runtime/Cython) vs NEST on the distal-reward network: speed side by side.

Runs, in one process tree and interleaved round by round (A B C A B C ...), the same
network for the same simulated duration:

- ``brian2-standalone``: ``neuro-grlu simulate izhikevich-distal-reward --target standalone``
  with the (warm) build cache;
- ``brian2-standalone-omp2``: the same with ``--threads 2`` (OpenMP), if requested;
- ``brian2-runtime``: ``--target runtime`` (Cython, warm cache), if requested;
- ``nest``: ``benchmarks/nest_distal_reward.py`` (one thread).

A warm-up phase first fills the caches (its cold standalone compile time is reported).
Before and after every run the load average is logged. Writes ``<out>/<label>.json``
(all measurements) and prints a markdown table; real-time factor = simulated seconds
per wall second of the simulation loop (without building/compiling); ratios are taken
within a round.

Example::

    python benchmarks/nest_comparison.py --duration 300 --rounds 2 --runtime --omp
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def brian2(target: str, duration: float, tmp: Path, tag: str, threads: int = 0) -> dict:
    from neuro_grlu.io import read_run
    from neuro_grlu.spiking.experiments.distal_reward import summarize

    out = tmp / f"{tag}.h5"
    cmd = ["neuro-grlu", "simulate", "izhikevich-distal-reward", "--duration", f"{duration:g}",
           "--chunk", f"{min(duration, 60.0):g}", "--target", target, "--out", str(out), "--overwrite",
           "--no-plot", "--no-progress"] + (["--threads", str(threads)] if threads else [])
    load0, t0 = _load(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    run = read_run(out)
    s = summarize(run)
    res = {"simulator": f"brian2-{target}" + (f"-omp{threads}" if threads else ""), "command": " ".join(cmd),
           "simulated_s": s["simulated_s"], "build_s": s.get("timing_build_s"), "compile_s": s.get("timing_compile_s"),
           "run_s": s.get("timing_run_s"), "run_cpu_s": s.get("timing_run_cpu_s"), "total_s": s.get("timing_total_s"),
           "command_wall_s": wall, "realtime_factor": s["simulated_s"] / s["timing_run_s"],
           "rate_exc_hz": s["rates_hz"].get("exc"), "rate_inh_hz": s["rates_hz"].get("inh"),
           "rewards": s["rewards"], "coincidences": s["coincidences"], "chosen_final": s["chosen_final"],
           "time_to_cap_s": s["time_to_cap_s"], "others_mean_final": s["others_mean_final"],
           "load_avg_start": load0, "load_avg_end": _load()}
    out.unlink()
    return res


def nest(duration: float, tmp: Path, tag: str) -> dict:
    load0, t0 = _load(), time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "nest_distal_reward.py"), "--duration",
                           f"{duration:g}", "--out", str(tmp), "--label", tag], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    res = json.loads((tmp / f"nest-{tag}.json").read_text())
    res.update(simulator="nest", command_wall_s=wall, load_avg_start=load0)
    res["rewards"] = res.pop("rewards_delivered")
    return res


def table(rows: list[dict]) -> str:
    lines = ["| round | simulator | simulated (s) | compile (s) | run wall (s) | run CPU (s) | real-time factor "
             "| RTF / NEST RTF (same round) | rate exc / inh (Hz) | rewards / coincidences | chosen w at end "
             "| load avg start -> end |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by_round = {}
    for r in rows:
        by_round.setdefault(r["round"], {})[r["simulator"]] = r
    for rnd, rs in by_round.items():
        nest_rtf = rs["nest"]["realtime_factor"] if "nest" in rs else float("nan")
        for name, r in rs.items():
            comp = r.get("compile_s")
            cpu = r.get("run_cpu_s")
            lines.append(
                f"| {rnd} | {name} | {r['simulated_s']:g} | {'-' if comp is None else f'{comp:.1f}'} | {r['run_s']:.1f} "
                f"| {'-' if cpu is None else f'{cpu:.1f}'} | {r['realtime_factor']:.2f} | {r['realtime_factor'] / nest_rtf:.2f} "
                f"| {r['rate_exc_hz']:.2f} / {r['rate_inh_hz']:.2f} | {r['rewards']} / {r['coincidences']} "
                f"| {r['chosen_final']:.3f} | {r['load_avg_start'][0]:.1f} -> {r['load_avg_end'][0]:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runtime", action="store_true", help="include Brian2 runtime (Cython)")
    ap.add_argument("--omp", action="store_true", help="include Brian2 standalone with 2 OpenMP threads")
    ap.add_argument("--no-nest", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "nest-comparison"))
    ap.add_argument("--label", default=None)
    args = ap.parse_args(argv)
    label = args.label or f"comparison-{args.duration:g}s"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, warm = [], []
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        print(f"== warm-up, load {_load()}", flush=True)
        warm.append(brian2("standalone", 10.0, tmp, "warm-standalone"))
        if args.omp:
            warm.append(brian2("standalone", 10.0, tmp, "warm-omp", threads=2))
        if args.runtime:
            warm.append(brian2("runtime", 2.0, tmp, "warm-runtime"))
        for w in warm:
            print(f"   {w['simulator']}: compile {w['compile_s']:.1f} s, command wall {w['command_wall_s']:.1f} s, "
                  f"load {w['load_avg_start']} -> {w['load_avg_end']}", flush=True)
        for rnd in range(1, args.rounds + 1):
            jobs = [("brian2-standalone", lambda: brian2("standalone", args.duration, tmp, f"sa{rnd}"))]
            if args.omp:
                jobs.append(("brian2-standalone-omp2", lambda: brian2("standalone", args.duration, tmp, f"omp{rnd}", 2)))
            if args.runtime:
                jobs.append(("brian2-runtime", lambda: brian2("runtime", args.duration, tmp, f"rt{rnd}")))
            if not args.no_nest:
                jobs.append(("nest", lambda: nest(args.duration, tmp, f"{label}-r{rnd}")))
            if rnd % 2 == 0:
                jobs.reverse()  # A B C, then C B A: neither side always runs first
            for name, job in jobs:
                r = job()
                r["round"] = rnd
                rows.append(r)
                print(f"== round {rnd} {name}: run {r['run_s']:.1f} s, RTF {r['realtime_factor']:.2f}, "
                      f"load {r['load_avg_start']} -> {r['load_avg_end']}", flush=True)
                if name == "nest":  # keep NEST's chosen-weight trace
                    trace = tmp / f"nest-{label}-r{rnd}-trace.csv"
                    (out / trace.name).write_text(trace.read_text())
    (out / f"{label}.json").write_text(json.dumps({"warm_up": warm, "runs": rows}, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
