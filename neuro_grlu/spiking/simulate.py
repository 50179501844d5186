"""Run a spiking definition chunk by chunk and write a run file (``kind = "spiking"``).

Code-generation targets
-----------------------
``runtime``    Brian2's runtime mode with the Cython target (code compiled on first use
               and cached in ``~/.cython``). The network runs one chunk (``chunk_s``) at a
               time; after each chunk the monitors are drained into the run file's
               streams and cleared, so memory stays bounded however long the run.
``standalone`` Brian2's C++ standalone mode: the whole duration is generated as one C++
               program, compiled and run once; the monitors' data are then written chunk
               by chunk. Much faster per simulated second, but the program holds every
               recorded spike until it ends. The build directory persists in a cache
               keyed by the network's *structure* (:func:`standalone_cache_key`), so a
               second run of the same network (another seed, duration or parameter
               value) only regenerates the code, recompiles the files that changed
               (usually ``main.cpp`` alone) and runs the program.
``numpy``      Brian2's runtime mode with the NumPy target (no compiler; slow; for tests).

Each checkpoint row of the run file is one chunk (see ``METRICS``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io import RunWriter
from .config import SpikingConfig
from .recording import PeakMemory, spikes_in, states_in

TARGETS = ("runtime", "standalone", "numpy")
HIST_BINS = 100

METRICS = {
    "time_s": ("s", "simulated time at the end of the chunk"),
    "wall_s": ("s", "wall time spent simulating this chunk (standalone: run time prorated by simulated time)"),
    "chosen_weight": ("", "weight of the chosen synapse at the end of the chunk"),
    "chosen_percentile": ("", "percentage of plastic synapses with a smaller weight than the chosen one"),
    "mean_weight": ("", "mean weight of the other plastic synapses"),
    "median_weight": ("", "median weight of the other plastic synapses"),
    "rewards": ("", "dopamine releases in the chunk"),
    "coincidences": ("", "post-within-window-after-pre events on the chosen synapse in the chunk"),
    "dopamine_mean": ("", "mean dopamine concentration over the chunk"),
}


@dataclass
class SimulationResult:
    """Summary of a finished simulation (the data are in the run file)."""

    path: Path
    target: str
    simulated_s: float
    build_s: float
    compile_s: float
    run_s: float
    wall_s: float
    peak_memory_bytes: int
    peak_run_memory_bytes: int | None
    n_spikes: int
    rates_hz: dict = field(default_factory=dict)
    run_cpu_s: float = float("nan")

    @property
    def realtime_factor(self) -> float:
        """Simulated seconds per wall second of the simulation loop (without compilation)."""
        return self.simulated_s / self.run_s if self.run_s > 0 else float("inf")


#: Maximum number of build directories per structure key (one per concurrent run).
CACHE_SLOTS = 4


def standalone_cache_root() -> Path:
    """Root of the standalone build cache: ``$NEURO_GRLU_CACHE_DIR/standalone``, else
    ``$XDG_CACHE_HOME/neuro_grlu/standalone``, else ``~/.cache/neuro_grlu/standalone``."""
    if os.environ.get("NEURO_GRLU_CACHE_DIR"):
        return Path(os.environ["NEURO_GRLU_CACHE_DIR"]) / "standalone"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "neuro_grlu" / "standalone"


def _structure(value):
    """`value` with every number replaced by its type name (booleans and strings kept)."""
    if isinstance(value, dict):
        return {k: _structure(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return ["list", sorted({json.dumps(_structure(v), sort_keys=True) for v in value})]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return type(value).__name__


def standalone_cache_key(config: SpikingConfig, threads: int = 0) -> str:
    """Hex key (16 digits) of the network's structure for the standalone build cache.

    The key covers what decides *which* C++ files Brian2 generates (models, kinds,
    flags, population and projection names), the Brian2 version, the compiler flags and
    the number of OpenMP threads, but not numbers (sizes, time constants, seed,
    duration): runs that differ only in numbers share a build directory, where Brian2
    rewrites only the files whose content changed and ``make`` recompiles only those.
    The key is a cache *slot*, not a correctness condition: whatever directory is used,
    Brian2 regenerates every file from the current network before compiling.
    """
    import brian2 as b2

    raw = config.to_dict()
    raw.pop("description", None)
    raw.pop("name", None)
    raw.pop("protocol", None)
    payload = {"structure": _structure(raw), "brian2": b2.__version__, "threads": int(threads),
               "flags": list(b2.prefs.codegen.cpp.extra_compile_args_gcc),
               "compiler": os.environ.get("CXX", "")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@contextmanager
def _cached_build_dir(key: str):
    """Lock and yield ``<cache root>/<key>`` (or ``<key>-1`` ... if another process holds
    it); a temporary directory (deleted afterwards) when every slot is busy."""
    root = standalone_cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        root = None
    for slot in range(CACHE_SLOTS if root is not None else 0):
        d = root / (key if slot == 0 else f"{key}-{slot}")
        try:
            f = open(root / f"{d.name}.lock", "w")
        except OSError:  # not writable: fall back to a temporary directory
            break
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        try:
            d.mkdir(exist_ok=True)
            yield d
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()
        return
    tmp = Path(tempfile.mkdtemp(prefix="neuro_grlu_standalone_"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _setup_target(target: str, build_dir: Path | None, threads: int = 0):
    import brian2 as b2

    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if target == "standalone":
        b2.set_device("cpp_standalone", directory=str(build_dir), build_on_run=False)
        # Brian2's default is `make -j` (unbounded): dozens of compilers at once on a
        # shared machine. Use as many jobs as cores.
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
        b2.prefs.devices.cpp_standalone.openmp_threads = int(threads)
    else:
        b2.prefs.codegen.target = "cython" if target == "runtime" else "numpy"


def _teardown_target(target: str):
    import brian2 as b2

    if target == "standalone":
        b2.device.reinit()
        b2.set_device("runtime")
        b2.prefs.devices.cpp_standalone.openmp_threads = 0


#: Brian2 2.9's standalone loop reads the process CPU clock (``std::clock()``, a system
#: call) after every time step although nothing uses it before the loop ends (no
#: ``maximum_run_time``); :func:`_no_clock_per_step` moves that read behind the loop.
_CLOCK_IN_LOOP = ("        current = std::clock();\n"
                  "        elapsed_realtime = (double)(current - start)/(1 * CLOCKS_PER_SEC);\n")
_LOOP_END = "    Network::_globally_running = false;\n"


def _patch_network_cpp(text: str) -> str:
    """``network.cpp`` without the per-step clock read (unchanged if the pattern is absent)."""
    if text.count(_CLOCK_IN_LOOP) != 1 or text.count(_LOOP_END) != 1:
        return text
    return text.replace(_CLOCK_IN_LOOP, "").replace(_LOOP_END, _LOOP_END + _CLOCK_IN_LOOP.replace("        ", "    "))


_CLOCK_RESETS = re.compile(r"(?:[ \t]*_array_(\w+)_timestep\[0\] = 0;\n[ \t]*_array_\1_t\[0\] = 0\.0;\n)+")
_CLOCK_RESET = re.compile(r"[ \t]*_array_(\w+)_timestep\[0\] = 0;\n[ \t]*_array_\1_t\[0\] = 0\.0;\n")


def _patch_main_cpp(text: str) -> str:
    """``main.cpp`` with the clocks' start-of-run resets in name order (Brian2 writes them in
    the iteration order of a set of clocks, which changes between processes and would
    make ``make`` recompile ``main.cpp`` on every run)."""
    def ordered(block):
        pairs = [m.group(0) for m in _CLOCK_RESET.finditer(block.group(0))]
        return "".join(sorted(pairs, key=lambda x: _CLOCK_RESET.match(x).group(1)))
    return _CLOCK_RESETS.sub(ordered, text)


#: Brian2's profiler brackets every code object with ``std::clock()`` (a system call of
#: about a microsecond, 1 us resolution); :func:`_patch_profiler` uses the vDSO
#: ``steady_clock`` (tens of ns, no system call) instead.
_PROFILE_START = "const std::clock_t _start_time = std::clock();"
_PROFILE_END = "const double _run_time = (double)(std::clock() -_start_time)/CLOCKS_PER_SEC;"


def _patch_profiler(text: str) -> str:
    """A code object's C++ with the profiling bracket read from ``steady_clock``."""
    if _PROFILE_START not in text:
        return text
    text = text.replace(_PROFILE_START, "const auto _start_time = std::chrono::steady_clock::now();")
    text = text.replace(_PROFILE_END, "const double _run_time = std::chrono::duration<double>("
                                      "std::chrono::steady_clock::now() - _start_time).count();")
    return "#include <chrono>\n" + text


@contextmanager
def _no_clock_per_step():
    """While generating standalone code, write ``network.cpp`` through :func:`_patch_network_cpp`,
    ``main.cpp`` through :func:`_patch_main_cpp` (and profiled code objects through
    :func:`_patch_profiler`).

    The patched text is the same every time, so Brian2's writer (which skips files whose
    content did not change) leaves it alone on a warm run and ``make`` recompiles nothing.
    """
    from brian2.devices.cpp_standalone.device import CPPWriter

    original = CPPWriter.write

    def write(self, filename, contents):
        if filename == "network.cpp":
            contents = _patch_network_cpp(contents)
        elif filename == "main.cpp":
            contents = _patch_main_cpp(contents)
        elif isinstance(contents, str) and filename.endswith(".cpp"):
            contents = _patch_profiler(contents)
        return original(self, filename, contents)

    CPPWriter.write = write
    try:
        yield
    finally:
        CPPWriter.write = original


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (the standalone program)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _weights_now(built):
    return built.weights_now()


def _chunk_metrics(built, w, t_end, spikes, rewards, scheduled, dopa, wall) -> dict:
    cfg = built.config
    m = {"time_s": t_end, "wall_s": wall}
    i = spikes
    for name, (a, b) in built.offsets.items():
        n = int(np.count_nonzero((i >= a) & (i < b)))
        m[f"rate_{name}_hz"] = n / ((b - a) * cfg.simulation.chunk_s)
    if built.plastic is not None:
        chosen = built.chosen if built.chosen is not None else 0
        others = np.delete(w, chosen)
        m["chosen_weight"] = float(w[chosen])
        m["chosen_percentile"] = float(100.0 * np.mean(others < w[chosen]))
        m["mean_weight"] = float(others.mean())
        m["median_weight"] = float(np.median(others))
    m["rewards"] = float(rewards)
    m["coincidences"] = float(scheduled)
    m["dopamine_mean"] = float(np.mean(dopa)) if len(dopa) else float("nan")
    return m


def simulate(config: SpikingConfig, *, out, target: str = "runtime", overwrite: bool = False,
             progress: bool = True, command: str = "", build_dir=None, cache: bool = True,
             threads: int = 0, log=print) -> SimulationResult:
    """Simulate `config` and write the run file `out`.

    Parameters
    ----------
    config : SpikingConfig
    out : path-like
        Run file to write (its streamed chunks go to ``<out>.d/`` until the run finishes).
    target : {"runtime", "standalone", "numpy"}
    overwrite : bool
        Replace an existing run file.
    progress : bool
        Print one line per chunk (runtime) or the program's output (standalone; Brian2's
        per-step progress report is never compiled in: with it Brian2 reads the system
        clock for every object in every step).
    command : str
        Command line stored in the run file.
    build_dir : path-like, optional
        Standalone build directory. Default: the build cache
        (:func:`standalone_cache_root` / :func:`standalone_cache_key`) when `cache`,
        else a temporary directory deleted afterwards.
    cache : bool
        Use (and fill) the persistent standalone build cache when `build_dir` is None.
    threads : int
        Standalone only: OpenMP threads (0 = no OpenMP, Brian2's default). Part of the
        cache key.
    log : callable
        Receives progress lines.

    Returns
    -------
    SimulationResult
    """
    from . import import_brian2

    b2 = import_brian2()  # first: without matplotlib (a faster warm start)
    from brian2 import second

    from .build import build_network

    sim = config.simulation
    n_chunks = int(round(sim.duration_s / sim.chunk_s))
    if n_chunks < 1 or abs(n_chunks * sim.chunk_s - sim.duration_s) > 1e-9 * max(1.0, sim.duration_s):
        raise ConfigError(f"simulation.duration_s ({sim.duration_s}) must be a whole multiple of "
                          f"simulation.chunk_s ({sim.chunk_s})")
    if threads < 0:
        raise ConfigError(f"threads must be >= 0 (got {threads})")
    if threads and target != "standalone":
        raise ConfigError("threads (OpenMP) is only available with target standalone")
    if target == "standalone" and build_dir is None:
        with ExitStack() as stack:
            if cache:
                build_dir = stack.enter_context(_cached_build_dir(standalone_cache_key(config, threads)))
                # keep the compiled program, not the (possibly large) recorded data
                stack.callback(shutil.rmtree, build_dir / "results", ignore_errors=True)
            else:
                build_dir = Path(tempfile.mkdtemp(prefix="neuro_grlu_standalone_"))
                stack.callback(shutil.rmtree, build_dir, ignore_errors=True)
            return simulate(config, out=out, target=target, overwrite=overwrite, progress=progress,
                            command=command, build_dir=build_dir, threads=threads, log=log)
    stored = config.to_dict()
    stored["target"] = target
    if threads:
        stored["openmp_threads"] = int(threads)
    units = {k: v[0] for k, v in METRICS.items()}
    descriptions = {k: v[1] for k, v in METRICS.items()}
    for name in config.model_populations:
        units[f"rate_{name}_hz"] = "1/s"
        descriptions[f"rate_{name}_hz"] = f"mean firing rate of population {name} in the chunk"
    t_start = time.perf_counter()
    _setup_target(target, build_dir, threads)
    try:
        with PeakMemory() as mem, RunWriter(out, config=stored, seed=sim.seed, model=config.name, kind="spiking",
                                            epochs_planned=n_chunks, command=command, overwrite=overwrite,
                                            metric_units=units, metric_descriptions=descriptions) as writer:
            t0 = time.perf_counter()
            built = build_network(config)
            build_s = time.perf_counter() - t0
            mons = built.monitors
            plastic = built.plastic is not None
            w_edges = np.linspace(config.plasticity.w_min, config.plasticity.w_max, HIST_BINS + 1)
            extra = {}
            if plastic:
                extra = {"pre_idx": built.pre_idx[built.plastic].astype(np.int32),
                         "post_idx": built.post_idx[built.plastic].astype(np.int32),
                         "tracked_synapses": built.tracked.astype(np.int32)}
                w_initial = _weights_now(built) if target != "standalone" else None
            chunk = sim.chunk_s
            w_var = "w_now" if built.event else "w"  # the monitored weight variable
            compile_s = 0.0
            n_spikes = 0
            totals = {name: 0 for name in built.offsets}
            if target == "standalone":
                built.net.run(sim.duration_s * second, namespace={}, report=None)
                t0 = time.perf_counter()
                with _no_clock_per_step():
                    b2.device.build(directory=str(build_dir), compile=True, run=False)
                compile_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                cpu0 = _children_cpu()
                with PeakMemory() as run_mem:
                    b2.device.run(directory=str(build_dir), with_output=progress, run_args=built.run_args)
                run_s = time.perf_counter() - t0
                run_cpu_s = _children_cpu() - cpu0
                peak_run = run_mem.peak
                snapshots = np.array(getattr(mons["weights"], w_var), copy=True).T if plastic else None  # (n_snap, n_syn)
                if plastic:
                    w_initial = snapshots[0].copy()
            else:
                run_s = run_cpu_s = 0.0
                peak_run = None
            read_cache = {}  # standalone: each monitor's arrays are read once, then sliced per chunk
            for k in range(n_chunks):
                a, b = k * chunk, (k + 1) * chunk
                if target != "standalone":
                    t0, cpu0 = time.perf_counter(), time.process_time()
                    built.net.run(chunk * second, namespace={})
                    wall = time.perf_counter() - t0
                    run_s += wall
                    run_cpu_s += time.process_time() - cpu0
                    clear = True
                else:
                    wall = run_s / n_chunks
                    clear = False
                if "spikes" in mons:
                    si, st = spikes_in(mons["spikes"], a, b, clear=clear, cache=read_cache)
                    writer.stream("spike_i", si)
                    writer.stream("spike_t", st, units="s")
                else:
                    si = np.zeros(0, np.int32)
                n_spikes += len(si)
                for name, (lo, hi) in built.offsets.items():
                    totals[name] += int(np.count_nonzero((si >= lo) & (si < hi)))
                t_s, dvals = states_in(mons["dopamine"], ["d"], a, b, clear=clear, cache=read_cache)
                writer.stream("state_t", t_s, units="s")
                writer.stream("dopamine", dvals["d"][:, 0])
                if plastic:
                    names = [w_var, "c"] if config.plasticity.modulation == "dopamine" else [w_var]
                    _, svals = states_in(mons["synapses"], names, a, b, clear=clear, cache=read_cache)
                    for n in names:
                        writer.stream(f"tracked_{'w' if n == w_var else n}", svals[n].astype(np.float32))
                    if target == "standalone":
                        w_start = snapshots[k]
                        w_end = snapshots[k + 1] if k + 1 < len(snapshots) else _weights_now(built)
                    else:
                        w_start = np.array(getattr(mons["weights"], w_var), copy=True).T[0]
                        mons["weights"].resize(0)
                        w_end = _weights_now(built)
                    writer.stream("w_hist", np.histogram(w_start, bins=w_edges)[0][None, :].astype(np.int64))
                else:
                    w_end = None
                n_rew = n_sched = 0
                if "rewards" in mons:
                    _, rt = spikes_in(mons["rewards"], a, b, clear=clear, cache=read_cache)
                    writer.stream("reward_t", rt, units="s")
                    n_rew = len(rt)
                if "scheduled" in mons:
                    _, ct = spikes_in(mons["scheduled"], a, b, clear=clear, cache=read_cache)
                    writer.stream("scheduled_t", ct, units="s")
                    n_sched = len(ct)
                metrics = _chunk_metrics(built, w_end, b, si, n_rew, n_sched, dvals["d"][:, 0], wall)
                if not plastic:
                    for key in ("chosen_weight", "chosen_percentile", "mean_weight", "median_weight"):
                        metrics[key] = float("nan")
                arrays = dict(extra)
                if plastic:
                    arrays["w_hist_edges"] = w_edges
                writer.append_epoch(metrics, arrays=arrays, wall_time_s=time.perf_counter() - t_start)
                if progress and target != "standalone":
                    rates = " ".join(f"{n} {metrics[f'rate_{n}_hz']:.2f} Hz" for n in built.offsets)
                    chosen = f" chosen w {metrics['chosen_weight']:.3f} (pct {metrics['chosen_percentile']:.1f})" if plastic else ""
                    log(f"t = {b:7.1f} s  {rates}{chosen}  rewards {n_rew}  wall {wall:.1f} s")
            weights = {}
            if plastic:
                weights = {"w_initial": w_initial.astype(np.float32), "w_final": _weights_now(built).astype(np.float32)}
            wall_total = time.perf_counter() - t_start
            timing = {"timing_build_s": build_s, "timing_compile_s": compile_s, "timing_run_s": run_s,
                      "timing_run_cpu_s": run_cpu_s, "load_average_end": os.getloadavg()[0],
                      "timing_total_s": wall_total, "peak_memory_bytes": float(mem.peak),
                      "peak_run_memory_bytes": float(peak_run if peak_run is not None else mem.peak)}
            writer.finish(weights=weights, arrays={k: np.array([v]) for k, v in timing.items()},
                          wall_time_s=wall_total)
    finally:
        _teardown_target(target)
    rates = {n: totals[n] / ((hi - lo) * sim.duration_s) for n, (lo, hi) in built.offsets.items()}
    return SimulationResult(path=Path(out), target=target, simulated_s=sim.duration_s, build_s=build_s,
                            compile_s=compile_s, run_s=run_s, wall_s=wall_total,
                            peak_memory_bytes=mem.peak, peak_run_memory_bytes=peak_run, n_spikes=n_spikes, rates_hz=rates,
                            run_cpu_s=run_cpu_s)


def prepare_standalone(config: SpikingConfig, *, threads: int = 0) -> float:
    """Generate and compile the standalone program of `config` in its build-cache slot
    without running it (so that a later :func:`simulate` of the same network, seed aside,
    compiles nothing); returns the compile time (s)."""
    from . import import_brian2

    b2 = import_brian2()
    from brian2 import second

    from .build import build_network

    with _cached_build_dir(standalone_cache_key(config, threads)) as build_dir:
        _setup_target("standalone", build_dir, threads)
        try:
            built = build_network(config)
            built.net.run(config.simulation.duration_s * second, namespace={}, report=None)
            t0 = time.perf_counter()
            with _no_clock_per_step():
                b2.device.build(directory=str(build_dir), compile=True, run=False)
            return time.perf_counter() - t0
        finally:
            _teardown_target("standalone")
