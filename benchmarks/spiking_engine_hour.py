"""Issue 16: the distal-reward hour with the fast engine against NEST, interleaved in one script.

Phases, in this order (each a separate process; wall time, CPU time and peak memory per
process from ``os.wait4``; the load average before and after each):

1. ``ours-cold``   ``neuro-grlu simulate izhikevich-distal-reward --target standalone``
                   with ``input.kind = "philox"`` and ``plasticity.update = "event"``, seed 1,
                   in an EMPTY build cache (cold compile, stated);
2. ``nest-1``      ``benchmarks/nest_distal_reward.py``, 1 thread, same network and seed;
3. ``ours-warm``   the same command with seed 2 in the same cache: the seed goes through
                   ``run_args``, so nothing is recompiled (the warm start is the whole
                   command minus the simulation);
4. ``nest-2``      NEST with 2 threads;
5. ``control``     our control (no reward), seed 1 (its own build-cache slot);
6. ``profile``     per-object costs (``benchmarks/profile_standalone.py``, steady_clock
                   brackets, 300 s) of the fast engine and of today's engine (Brian2
                   ``rand()`` noise, 10 ms grid), each also run unprofiled;
7. ``ours-2``      (optional, ``--phases``) our engine with 2 OpenMP threads.

``--prepare`` compiles (without timing anything that is reported) the control's program
for the same duration and the profiled programs, so that the decisive run compiles only
the one cold build it states.

Our run files go to ``--runs`` (outside git: spike trains); the script writes only
``<out>/hour.json`` (every number), ``<out>/hour.md`` (the table) and
``<out>/chosen-trace.csv`` (chosen-synapse weight once per simulated second, ours and
NEST). Reference numbers for "same dynamics" are the stored grid/``rand()`` runs in
``benchmarks/results/distal-reward/distal-reward-summary.json``.

Usage (the decisive run, alone on the machine)::

    OMP_NUM_THREADS=1 python benchmarks/spiking_engine_hour.py --duration 3600 \\
        --out benchmarks/results/spiking-engine --runs /work/runs/engine/hour

Short check: ``--duration 20 --chunk 10``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--set", "input.kind=philox", "--set", "plasticity.update=event"]
#: label -> overrides of the per-object profiles
PROFILES = {"fast": FAST[1::2], "today": []}
PROFILE_TITLES = {"fast": "fast engine (Philox noise, event-driven plasticity)",
                  "today": "today's engine (Brian2 rand() noise, 10 ms grid)"}
REFERENCE = ROOT / "benchmarks/results/distal-reward/distal-reward-summary.json"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_process(cmd, env, log: Path) -> dict:
    """Run `cmd`, return wall time (s), CPU time (s, user + system of it and its
    children) and peak resident memory (bytes, the largest single process)."""
    load0 = _load()
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({code}); see {log}:\n" + log.read_text()[-3000:])
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_bytes": ru.ru_maxrss * 1024,
            "load_before": load0, "load_after": _load(), "command": " ".join(map(str, cmd))}


def _objects(cache: Path) -> dict:
    """mtime of every object file in the build cache."""
    return {str(f.relative_to(cache)): f.stat().st_mtime_ns for f in cache.rglob("*.o")} if cache.exists() else {}


def ours(model, seed, duration, chunk, runs: Path, label, cache: Path, threads=0) -> dict:
    from neuro_grlu import read_run
    from neuro_grlu.spiking.experiments.distal_reward import summarize

    out = runs / f"{label}.h5"
    cmd = [sys.executable, "-m", "neuro_grlu.cli", "simulate", model, "--duration", str(duration), "--chunk",
           str(chunk), "--seed", str(seed), "--target", "standalone", "--out", str(out), "--overwrite",
           "--no-plot", "--no-progress", "--threads", str(threads), *FAST]
    env = {**os.environ, "NEURO_GRLU_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    before = _objects(cache)
    proc = run_process(cmd, env, runs / f"{label}.log")
    after = _objects(cache)
    proc["recompiled"] = sorted(k for k, v in after.items() if before.get(k) != v)  # object files (re)built
    run = read_run(out)
    s = summarize(run)
    t = run.arrays["state_t"]
    w = run.arrays["tracked_w"][:, 0]
    per_s = np.searchsorted(t, np.arange(0.0, duration + 1e-9, 1.0) - 1e-9)
    per_s = np.minimum(per_s, len(t) - 1)
    res = {"label": label, "seed": seed, "threads": threads, **proc, **s,
           "realtime_factor_run": duration / s["timing_run_s"],
           "realtime_factor_run_cpu": duration / s["timing_run_cpu_s"] if s.get("timing_run_cpu_s") else None,
           "warm_start_s": proc["wall_s"] - s["timing_run_s"],
           "_trace": (np.arange(len(per_s), dtype=float).tolist(), w[per_s].astype(float).tolist())}
    return res


def nest(threads, duration, runs: Path, label, deliver_interval=1000) -> dict:
    out = runs / "nest"
    cmd = [sys.executable, str(ROOT / "benchmarks/nest_distal_reward.py"), "--duration", str(duration),
           "--threads", str(threads), "--deliver-interval", str(deliver_interval), "--out", str(out),
           "--label", label, "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = run_process(cmd, env, runs / f"{label}.log")
    res = json.loads((out / f"nest-{label}.json").read_text())
    trace = np.loadtxt(out / f"nest-{label}-trace.csv", delimiter=",", skiprows=1, ndmin=2)
    return {"label": label, **proc, **res, "realtime_factor_run_cpu": res["simulated_s"] / res["run_cpu_s"],
            "_trace": (trace[:, 0].tolist(), trace[:, 1].tolist())}


PROFILE_S = 300.0


def profile(label, overrides, runs: Path) -> dict:
    js = runs / f"profile-{label}.json"
    cmd = [sys.executable, str(ROOT / "benchmarks/profile_standalone.py"), "--duration", str(PROFILE_S),
           "--build-dir", str(runs / f"profile-{label}"), "--json", str(js)]
    for o in overrides:
        cmd += ["--set", o]
    proc = run_process(cmd, {**os.environ, "PYTHONPATH": str(ROOT)}, runs / f"profile-{label}.log")
    return {**json.loads(js.read_text()), "wall_s": proc["wall_s"], "load_before": proc["load_before"],
            "load_after": proc["load_after"]}


def profile_table(profiles: dict, top: int = 14) -> str:
    lines = []
    for label, pr in profiles.items():
        lines += [f"### {PROFILE_TITLES.get(label, label)}: {pr['plain_us_per_step']:.2f} us per 1 ms step unprofiled "
                  f"(real-time factor {pr['duration_s'] / pr['plain']['run_s']:.0f}); profiled run "
                  f"{pr['profiled']['run_s']:.2f} s vs {pr['plain']['run_s']:.2f} s unprofiled; load "
                  f"{pr['load_before'][0]} -> {pr['load_after'][0]}", "",
                  "| code object | us per step | share of the objects |", "|---|---|---|"]
        tot = pr["sum_objects_s"]
        for k, (name, sec) in enumerate(pr["objects_s"].items()):
            if k >= top:
                break
            lines.append(f"| `{name}` | {pr['objects_us_per_step'][name]:.3f} | {100 * sec / tot:.1f} % |")
        rest = list(pr["objects_s"].values())[top:]
        if rest:
            lines.append(f"| {len(rest)} others | {1e6 * sum(rest) / pr['steps']:.3f} | {100 * sum(rest) / tot:.1f} % |")
        lines.append("")
    return "\n".join(lines)


def table(results: dict, reference: dict) -> str:
    def f(x, fmt="{:.1f}"):
        return "—" if x is None else fmt.format(x)

    cols = list(results)
    rows = [("simulation (s)", lambda r: f(r.get("timing_run_s", r.get("run_s")))),
            ("real-time factor (simulated s / wall s of the simulation)",
             lambda r: f(r.get("realtime_factor_run", r.get("realtime_factor")))),
            ("simulated s per CPU s of the simulation", lambda r: f(r.get("realtime_factor_run_cpu"))),
            ("whole command, wall (s)", lambda r: f(r["wall_s"])),
            ("compile (s)", lambda r: f(r.get("timing_compile_s"))),
            ("warm start: command minus simulation (s)", lambda r: f(r.get("warm_start_s"))),
            ("object files rebuilt by make", lambda r: str(len(r["recompiled"])) if "recompiled" in r else "—"),
            ("NEST: Run calls / Python between calls (s)",
             lambda r: f"{r['run_calls']} / {r['python_s']:.2f}" if "run_calls" in r else "—"),
            ("peak memory, whole command (MiB)",
             lambda r: f(r.get("peak_memory_bytes", r["peak_rss_bytes"]) / 2**20, "{:.0f}")),
            ("peak memory, simulation alone (MiB)", lambda r: f((r.get("peak_run_memory_bytes") or 0) / 2**20, "{:.0f}")
             if "peak_run_memory_bytes" in r else "—"),
            ("rate exc / inh (Hz)", lambda r: "{:.3f} / {:.3f}".format(*(
                (r["rates_hz"]["exc"], r["rates_hz"]["inh"]) if "rates_hz" in r else (r["rate_exc_hz"], r["rate_inh_hz"])))),
            ("chosen synapse reaches the cap at (s)", lambda r: f(r.get("time_to_cap_s"), "{:.0f}") if r.get("time_to_cap_s") else "never"),
            ("chosen synapse max", lambda r: f(r.get("chosen_max", r.get("chosen_max_sampled")), "{:.3f}")),
            ("rewards / coincidences", lambda r: f"{r.get('rewards', r.get('rewards_delivered'))} / {r['coincidences']}"),
            ("load average before -> after (1 min)", lambda r: f"{r['load_before'][0]} -> {r['load_after'][0]}")]
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, get in rows:
        lines.append(f"| {name} | " + " | ".join(get(results[c]) for c in cols) + " |")
    ref = reference
    lines += ["", f"Reference (today's engine, stored, `{REFERENCE.relative_to(ROOT)}`): rates exc "
              f"{ref['rates_hz']['exc']:.3f} / inh {ref['rates_hz']['inh']:.3f} Hz, cap at {ref['time_to_cap_s']:.0f} s; "
              f"control max {ref['control']['chosen_max']:.3f}."]
    return "\n".join(lines) + "\n"


def fill_block(path: Path, name: str, text: str) -> bool:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in `path`."""
    if not path.exists():
        return False
    doc = path.read_text()
    a, b = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
    if a not in doc or b not in doc:
        return False
    head, rest = doc.split(a, 1)
    path.write_text(head + a + text.rstrip("\n") + "\n" + b + rest.split(b, 1)[1])
    return True


def readme_lines(results: dict, checks: dict, out: Path = Path("benchmarks/results/spiking-engine")) -> str:
    """A few README lines quoting the stored numbers."""
    r, parts = results.get("ours-cold"), []
    if r:
        parts.append(f"the fast engine (`--set input.kind=philox --set plasticity.update=event`) simulates the hour at "
                     f"**{r['realtime_factor_run']:.0f}× real time** on one thread ({r['timing_run_s']:.1f} s, load "
                     f"{r['load_before'][0]}; goal 150×), cold compile {r['timing_compile_s']:.0f} s")
    w = results.get("ours-warm")
    if w:
        what = ("recompiles nothing" if not w["recompiled"]
                else f"recompiled {', '.join(Path(x).name for x in w['recompiled'])}")
        parts.append(f"a warm run with another seed {what} ({w['timing_compile_s']:.1f} s of code "
                     f"generation and `make`) and starts in {w['warm_start_s']:.1f} s (whole command {w['wall_s']:.0f} s)")
    nests = [(k, v) for k, v in results.items() if k.startswith("nest-")]
    if nests:
        when = [k.split("(stored ", 1)[1].rstrip(")") for k, _ in nests if "(stored " in k]
        parts.append("NEST 3.10 on the same network (`deliver_interval` 1000 ms, "
                     f"{nests[0][1]['run_calls']} `Run` calls of 997 ms, the fewest the closed reward loop allows"
                     + (f"; measured {when[0]} UTC" if when else "") + "): "
                     + ", ".join(f"{v['realtime_factor']:.1f}× with {v['threads']} thread{'s' if v['threads'] > 1 else ''}"
                                 for _, v in nests))
    if r:
        cap = f"reaches the cap at {r['time_to_cap_s']:.0f} s" if r["time_to_cap_s"] else "never reaches the cap"
        parts.append(f"the chosen synapse {cap}"
                     + (f", the control's stays ≤ {results['control']['chosen_max']:.2f}" if "control" in results else ""))
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:] + f" Numbers: `{out.as_posix()}/hour.md`."


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--chunk", type=float, default=60.0)
    ap.add_argument("--phases", default="ours-cold,nest-1,ours-warm,nest-2,control",
                    help="comma-separated subset/order of ours-cold, nest-1, ours-warm, nest-2, control, ours-2")
    ap.add_argument("--out", default="benchmarks/results/spiking-engine")
    ap.add_argument("--runs", default="/work/runs/engine/hour", help="run files and logs (outside git)")
    ap.add_argument("--cache", help="build cache of the warm phases (default: a new empty directory = cold)")
    ap.add_argument("--stop-at", metavar="HH:MM", help="UTC time after which no further phase is started")
    ap.add_argument("--docs", action="store_true",
                    help="also write the measurement section of benchmarks/results/spiking-speed.md")
    ap.add_argument("--nest-from", metavar="HOUR_JSON",
                    help="quote the NEST phases of an earlier run of this script (a column marked 'stored')")
    ap.add_argument("--prepare", action="store_true",
                    help="only compile the control (this duration) and the profiled programs, then stop")
    args = ap.parse_args(argv)
    phases = args.phases.split(",")
    known = {"ours-cold", "nest-1", "ours-warm", "nest-2", "control", "ours-2", "profile"}
    if not set(phases) <= known:
        ap.error(f"unknown phase(s) {sorted(set(phases) - known)}; known: {sorted(known)}")
    if abs(round(args.duration / args.chunk) * args.chunk - args.duration) > 1e-9:
        ap.error("--duration must be a whole multiple of --chunk")
    runs, out = Path(args.runs), ROOT / args.out
    runs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="engine-cold-", dir=runs))
    ctrl_cache = runs / "control-cache"  # warmed before the decisive run (its compile is not the measured one)
    d, c = args.duration, args.chunk
    if args.prepare:
        from neuro_grlu.spiking.config import load_spiking
        from neuro_grlu.spiking.simulate import prepare_standalone

        os.environ["NEURO_GRLU_CACHE_DIR"] = str(ctrl_cache)
        cfg = load_spiking("izhikevich-distal-reward-control",
                           [f"simulation.duration_s={d}", f"simulation.chunk_s={c}", *FAST[1::2]])
        print(f"control compiled in {prepare_standalone(cfg):.1f} s", flush=True)
        for label, overrides in PROFILES.items():
            profile(label, overrides, runs)
            print(f"profile {label} compiled and run", flush=True)
        return 0
    results, profiles, skipped = {}, {}, []
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stored = {}
    if args.nest_from:  # read now: this run may overwrite the file
        old = json.loads(Path(args.nest_from).read_text())
        for k, r in old["results"].items():
            if k.startswith("nest-") and k not in phases:
                stored[f"{k} (stored {old['started_utc'][:16]})"] = {**r, "_trace": ([], []),
                                                                       "stored_from": args.nest_from}
    def write_outputs():
        traces = {k: r["_trace"] for k, r in results.items()}
        if not results:
            traces = {}
        shown = {**results, **stored}  # table columns: this run, then the quoted NEST runs
        reference = json.loads(REFERENCE.read_text())
        checks = {}
        if "ours-cold" in results:
            r = results["ours-cold"]
            checks["rates_within_5pct"] = {k: abs(r["rates_hz"][k] / reference["rates_hz"][k] - 1.0)
                                           for k in ("exc", "inh")}
            checks["chosen_reaches_cap"] = r["time_to_cap_s"] is not None
            checks["realtime_factor_goal_150"] = r["realtime_factor_run"] >= 150.0
        if "control" in results:
            checks["control_stays_low"] = results["control"]["time_to_cap_s"] is None
            checks["control_max"] = results["control"]["chosen_max"]
        if "ours-warm" in results:
            checks["warm_start_s"] = results["ours-warm"]["warm_start_s"]
            checks["warm_whole_command_s"] = results["ours-warm"]["wall_s"]
            checks["warm_recompiled_s"] = results["ours-warm"]["timing_compile_s"]
        if "ours-cold" in results and "nest-1" in results:
            checks["speedup_vs_nest_1thread"] = results["ours-cold"]["realtime_factor_run"] / results["nest-1"]["realtime_factor"]
        for k, r in stored.items():
            if k.startswith("nest-1") and "ours-cold" in results:
                checks["speedup_vs_stored_nest_1thread"] = results["ours-cold"]["realtime_factor_run"] / r["realtime_factor"]
        doc = {"started_utc": started, "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "duration_s": d, "chunk_s": c, "machine": {"nproc": os.cpu_count(), "platform": platform.platform(),
                                                         "python": sys.version.split()[0]},
               "engine_overrides": FAST[1::2], "phases": phases,
               "results": {k: {a: b for a, b in r.items() if a != "_trace"} for k, r in results.items()},
               "checks": checks,
               "profiles": profiles, "skipped_phases": skipped,
               "stored_nest": {k: {a: b for a, b in r.items() if a != "_trace"} for k, r in stored.items()},
               "reference": str(REFERENCE.relative_to(ROOT)),
               "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}
        try:
            doc["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                               text=True).stdout.strip()
        except OSError:
            pass
        tag = "hour" if d >= 3600 else f"{d:g}s"
        (out / f"{tag}.json").write_text(json.dumps(doc, indent=2, default=float) + "\n")
        (out / f"{tag}.md").write_text(f"# Distal-reward {d:g} s: fast engine vs NEST ({started})\n\n"
                                       f"Command: `{doc['command']}`\n\n" + table(shown, reference)
                                       + "\nChecks: `" + json.dumps(checks, default=float) + "`\n"
                                       + (f"\nNot run (no time left in the measurement window): {', '.join(skipped)}\n"
                                          if skipped else "")
                                       + ("\n## Per-object costs (steady_clock brackets)\n\n" + profile_table(profiles)
                                          if profiles else ""))
        n = max([len(t[0]) for t in traces.values()] + [1])
        cols = {"time_s": np.arange(n, dtype=float)}
        for k, (tt, ww) in traces.items():
            col = np.full(n, np.nan)
            idx = np.rint(np.asarray(tt)).astype(int)
            ok = idx < n
            col[idx[ok]] = np.asarray(ww)[ok]
            cols[k] = col
        np.savetxt(out / f"{tag}-chosen-trace.csv", np.column_stack(list(cols.values())), delimiter=",",
                   header=",".join(cols), comments="", fmt="%.5g")
        if args.docs:
            md = (out / f"{tag}.md").read_text().split("\n", 2)[2]  # without the title
            fill_block(ROOT / "benchmarks/results/spiking-speed.md", "engine-hour",
                       f"From `{Path(args.out) / (tag + '.md')}` ({started}):\n\n" + md.replace("\n## ", "\n### "))
            if not fill_block(ROOT / "README.md", "engine-readme", readme_lines(shown, checks, Path(args.out))):
                print("README.md has no engine-readme block: update its speed lines by hand", flush=True)
        print(json.dumps(checks, default=float), flush=True)

    for ph in phases:
        if args.stop_at and time.strftime("%H:%M", time.gmtime()) >= args.stop_at:
            print(f"== {ph} skipped: past --stop-at {args.stop_at} UTC", flush=True)
            skipped.append(ph)
            continue
        print(f"== {ph} {time.strftime('%H:%M:%S', time.gmtime())} load {_load()}", flush=True)
        if ph == "ours-cold":
            results[ph] = ours("izhikevich-distal-reward", 1, d, c, runs, ph, cache)
        elif ph == "ours-warm":
            results[ph] = ours("izhikevich-distal-reward", 2, d, c, runs, ph, cache)
        elif ph == "ours-2":
            results[ph] = ours("izhikevich-distal-reward", 1, d, c, runs, ph, cache, threads=2)
        elif ph == "control":
            results[ph] = ours("izhikevich-distal-reward-control", 1, d, c, runs, ph, ctrl_cache)
        elif ph.startswith("nest-"):
            results[ph] = nest(int(ph[-1]), d, runs, ph)
        elif ph == "profile":
            for label, overrides in PROFILES.items():
                profiles[label] = profile(label, overrides, runs)
            write_outputs()
            continue
        r = results[ph]
        print(f"   wall {r['wall_s']:.1f} s, run {r.get('timing_run_s', r.get('run_s')):.1f} s", flush=True)
        write_outputs()  # after every phase: a stopped run keeps what it measured
    return 0


if __name__ == "__main__":
    sys.exit(main())
