"""Spiking runs (``neuro-grlu simulate``): a Brian2 network simulated in chunks, one row per chunk.

Registers the schema (:func:`neuro_grlu.spiking.config.parse_spiking`), the runner, the
headline numbers (rates in Hz, the chosen synapse's weight in mV) and the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

from .registry import FigureSpec, Kind, RunRequest, finite_or_none, last_value, load_config, register


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


def schema(raw: dict, name: str):
    """A spiking definition (:func:`neuro_grlu.spiking.config.parse_spiking`)."""
    from ..spiking.config import parse_spiking

    return parse_spiking(raw, name)


def add_arguments(s) -> None:
    s.add_argument("--duration", type=float, metavar="S", help="override simulation.duration_s (seconds)")
    s.add_argument("--chunk", type=float, metavar="S", help="override simulation.chunk_s (seconds per checkpoint)")
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


def overrides(args) -> list[str]:
    """The overrides the command's own flags imply (after ``--set``; ``--seed`` is shared)."""
    out = []
    if args.duration is not None:
        out.append(f"simulation.duration_s={args.duration}")
    if args.chunk is not None:
        out.append(f"simulation.chunk_s={args.chunk}")
    return out


def run(request: RunRequest, args) -> int:
    """Simulate the definition and write its run file (and, for a distal-reward model, its
    summary and figures unless ``--no-plot``)."""
    from ..spiking.simulate import simulate

    config = load_config("spiking", request.model, request.overrides)
    if args.chunk is None and config.simulation.chunk_s > config.simulation.duration_s:
        config = load_config("spiking", request.model,
                             request.overrides + [f"simulation.chunk_s={config.simulation.duration_s}"])
    sim = config.simulation
    out = request.out or f"runs/{config.name}-seed{sim.seed}-{args.target}.h5"
    print(f"model {config.name}: {config.description}", flush=True)
    print(f"simulating {sim.duration_s:g} s (chunks of {sim.chunk_s:g} s), seed {sim.seed}, "
          f"target {args.target} -> {out}", flush=True)
    result = simulate(config, out=out, target=args.target, overwrite=request.overwrite,
                      progress=request.progress, command=request.command, build_dir=args.build_dir,
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

        summary_ = report(out, control_path=args.control)
        keys = ("time_to_cap_s", "chosen_final", "chosen_percentile_final", "others_mean_final",
                "others_median_final", "rewards", "coincidences")
        print("summary: " + json.dumps({k: summary_[k] for k in keys}), flush=True)
        print(f"figures and {Path(out).stem}-summary.json in {Path(out).parent}")
    return 0


def summary(run) -> dict:
    """``simulated_s``, ``rate_<population>_hz`` (mean over chunks), ``n_spikes``, ``rewards``,
    ``chosen_weight`` (final, mV)."""
    import numpy as np

    m, cfg = run.metrics, run.config
    row = {"simulated_s": last_value(m, "time_s")}
    for k, v in m.items():
        if k.startswith("rate_") and k.endswith("_hz"):
            row[k] = float(np.mean(v)) if len(v) else None
    dropped = run.strip_info.get("dropped", {}).get("arrays/spike_t")
    row["n_spikes"] = int(dropped["shape"][0]) if dropped and "spike_t" not in run.arrays else \
        int(len(run.arrays.get("spike_t", ())))
    row["rewards"] = int(len(run.arrays.get("reward_t", ()))) if cfg.get("reward", {}).get("kind") != "none" else 0
    row["chosen_weight"] = finite_or_none(last_value(m, "chosen_weight"))
    return row


def _one(name):
    def draw(runs):
        from ..figures import spiking

        return getattr(spiking, name)(runs[0])
    return draw


KIND = register(Kind(
    name="spiking", command="simulate", definition_kind="spiking", seed_key="simulation.seed",
    help="simulate a spiking model (kind = \"spiking\") with Brian2 and write a run file",
    schema=schema, run=run, add_arguments=add_arguments, overrides=overrides, summary=summary,
    out_help="run file to write (default runs/MODEL-seedSEED-TARGET.h5)",
    set_example="--set reward.amount=0 or --set populations.exc.n=400",
    figures={
        "raster": FigureSpec(_one("fig_raster"), arrays=("spike_t", "spike_i"),
                             doc="spikes, neuron index against time (s), first and last excerpt"),
        "weights": FigureSpec(_one("fig_weights"), arrays=("state_t", "tracked_w"), config=("plasticity",),
                              doc="chosen and tracked synaptic weights (mV), rewards, eligibility, against time (s)"),
        "histogram": FigureSpec(_one("fig_weight_histograms"), arrays=("w_hist", "w_hist_edges"),
                                weights=("w_initial", "w_final"), derived=("w_hist_initial", "w_hist_final"),
                                doc="weight distribution of all plastic synapses over time and at start vs end"),
        "dopamine": FigureSpec(_one("fig_dopamine"), arrays=("state_t", "dopamine"),
                               doc="dopamine concentration (uM) against time (s), rewards marked"),
    },
))
