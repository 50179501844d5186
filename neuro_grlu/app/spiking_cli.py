"""``neuro-grlu simulate``, ``neuro-grlu stdp-window`` and ``neuro-grlu export``: the spiking
learner's commands.

:func:`add_subcommands` registers them on the main parser's subparsers; user errors
are :class:`~neuro_grlu.errors.NeuroGRLUError` and reach the user as one line.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path


def _cmd_simulate(args) -> int:
    from ..spiking.config import load_spiking
    from ..spiking.simulate import simulate

    overrides = list(args.set or [])
    if args.duration is not None:
        overrides.append(f"simulation.duration_s={args.duration}")
    if args.seed is not None:
        overrides.append(f"simulation.seed={args.seed}")
    if args.chunk is not None:
        overrides.append(f"simulation.chunk_s={args.chunk}")
    config = load_spiking(args.model, overrides)
    if args.chunk is None and config.simulation.chunk_s > config.simulation.duration_s:
        config = load_spiking(args.model, overrides + [f"simulation.chunk_s={config.simulation.duration_s}"])
    sim = config.simulation
    out = args.out or f"runs/{config.name}-seed{sim.seed}-{args.target}.h5"
    print(f"model {config.name}: {config.description}", flush=True)
    print(f"simulating {sim.duration_s:g} s (chunks of {sim.chunk_s:g} s), seed {sim.seed}, "
          f"target {args.target} -> {out}", flush=True)
    command = "neuro-grlu " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = simulate(config, out=out, target=args.target, overwrite=args.overwrite,
                      progress=not args.no_progress, command=command, build_dir=args.build_dir,
                      cache=not args.fresh_build, threads=args.threads)
    rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in result.rates_hz.items())
    print(f"done: {result.simulated_s:g} s simulated; build {result.build_s:.1f} s, compile {result.compile_s:.1f} s, "
          f"run {result.run_s:.1f} s (CPU {result.run_cpu_s:.1f} s; real-time factor {result.realtime_factor:.1f}), "
          f"total {result.wall_s:.1f} s; "
          f"peak memory {result.peak_memory_bytes / 2**20:.0f} MiB"
          + (f" (simulation alone {result.peak_run_memory_bytes / 2**20:.0f} MiB)" if result.peak_run_memory_bytes else "")
          + f"; {result.n_spikes} spikes ({rates}); run file {out}", flush=True)
    if config.reward.projection and not args.no_plot:
        from ..spiking.experiments.distal_reward import report

        summary = report(out, control_path=args.control)
        keys = ("time_to_cap_s", "chosen_final", "chosen_percentile_final", "others_mean_final",
                "others_median_final", "rewards", "coincidences")
        print("summary: " + json.dumps({k: summary[k] for k in keys}), flush=True)
        print(f"figures and {Path(out).stem}-summary.json in {Path(out).parent}")
    return 0


def _cmd_stdp_window(args) -> int:
    from ..spiking.experiments.stdp_window import run_stdp_window

    command = "neuro-grlu " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_stdp_window(args.model, out_dir=args.out, overrides=list(args.set or []),
                             target=args.target, data=args.data, command=command)
    fit = result["fit"]
    print(f"STDP window ({result['n_pairs']} pairs at {result['pair_rate_hz']:g} Hz, {len(result['lags_ms'])} lags): "
          f"fitted tau+ = {fit['tau_plus_ms']:.1f} ms, tau- = {fit['tau_minus_ms']:.1f} ms, "
          f"A+ = {fit['a_plus']:.3g}, A- = {fit['a_minus']:.3g}; "
          f"data fit tau+ = {result['data_fit']['tau_plus_ms']:.1f} ms, tau- = {result['data_fit']['tau_minus_ms']:.1f} ms; "
          f"files in {args.out}")
    return 0


def _cmd_export(args) -> int:
    from ..errors import ConfigError
    from ..spiking.nwb import export_nwb

    if not args.nwb:
        raise ConfigError("say what to export to: neuro-grlu export RUN.h5 --nwb OUT.nwb")
    try:
        import pynwb  # noqa: F401
    except ImportError:
        raise ConfigError("NWB export needs pynwb: pip install 'neuro-grlu[nwb]'") from None
    out = export_nwb(args.run, args.nwb, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


def _threads(text: str) -> int:
    """--threads: a whole number >= 0 (checked before anything runs)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        import argparse

        raise argparse.ArgumentTypeError(f"must be a whole number >= 0 (0 = no OpenMP), got {text!r}")
    return n


def add_subcommands(sub) -> None:
    """Register ``simulate``, ``stdp-window`` and ``export`` on an argparse subparsers object."""
    s = sub.add_parser("simulate", help="simulate a spiking model (kind = \"spiking\") with Brian2 and write a run file")
    s.add_argument("model", help="spiking model name in models/ or path to a .toml file")
    s.add_argument("--duration", type=float, metavar="S", help="override simulation.duration_s (seconds)")
    s.add_argument("--chunk", type=float, metavar="S", help="override simulation.chunk_s (seconds per checkpoint)")
    s.add_argument("--seed", type=int, help="override simulation.seed")
    s.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE",
                   help="override any key, e.g. --set reward.amount=0 or --set populations.exc.n=400 (repeatable)")
    s.add_argument("--out", help="run file to write (default runs/MODEL-seedSEED-TARGET.h5)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    s.add_argument("--target", choices=("runtime", "standalone", "numpy"), default="runtime",
                   help="Brian2 code generation: runtime (Cython, interactive/tests), standalone (C++, long runs), numpy")
    s.add_argument("--build-dir", help="standalone build directory (default: the build cache, "
                   "~/.cache/neuro_grlu/standalone/<structure key>, or $NEURO_GRLU_CACHE_DIR/standalone/...)")
    s.add_argument("--fresh-build", action="store_true",
                   help="standalone: compile in a new temporary directory instead of the build cache")
    s.add_argument("--threads", type=_threads, default=0, metavar="N",
                   help="standalone: OpenMP threads (default 0 = single-threaded without OpenMP)")
    s.add_argument("--control", metavar="RUN", help="control run file to draw in the weight figure")
    s.add_argument("--no-plot", action="store_true", help="no summary and figures")
    s.add_argument("--no-progress", action="store_true", help="no progress lines")
    s.set_defaults(func=_cmd_simulate)

    w = sub.add_parser("stdp-window", help="STDP pairing protocol on the model synapse vs Bi & Poo (1998)")
    w.add_argument("model", nargs="?", default="stdp-window", help="spiking model with the protocol (default stdp-window)")
    w.add_argument("--out", default="runs/stdp-window", help="output directory (CSV, JSON, PNG and the run file MODEL.h5)")
    w.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE", help="override a key (repeatable)")
    w.add_argument("--target", choices=("runtime", "numpy"), default="runtime")
    w.add_argument("--data", help="reference CSV (default data/bi_poo_1998.csv)")
    w.set_defaults(func=_cmd_stdp_window)

    e = sub.add_parser("export", help="write a spiking run file in another format (NWB: Neurodata Without Borders)")
    e.add_argument("run", help="spiking run file (.h5) written by `neuro-grlu simulate`")
    e.add_argument("--nwb", metavar="OUT.nwb", help="NWB file to write (spike times per neuron with populations, "
                   "dopamine and tracked weights as time series, the definition and provenance as metadata)")
    e.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    e.set_defaults(func=_cmd_export)
