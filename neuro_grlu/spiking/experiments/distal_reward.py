"""Izhikevich (2007), "Solving the distal reward problem", Fig. 1: analysis and figures.

The simulation itself is :func:`neuro_grlu.spiking.simulate.simulate` on
``models/izhikevich-distal-reward.toml`` (and ``...-control.toml``); this module reads
the run file and reports what the figure shows: the chosen synapse climbs to the cap
while the rest of the weight distribution stays where it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import RunFileError
from ...io import Run, read_run


def summarize(run: Run, cap_fraction: float = 0.99) -> dict:
    """Numbers of a distal-reward run (see ``docs/spiking.md``).

    Parameters
    ----------
    run : Run
        A spiking run file with a chosen synapse.
    cap_fraction : float
        The chosen synapse "reaches the cap" when ``w >= cap_fraction * w_max``.

    Returns
    -------
    dict with ``time_to_cap_s`` (None if never), ``chosen_final``, ``chosen_percentile_final``,
    ``others_mean_initial/final``, ``others_median_initial/final``, rates (Hz), counts of
    rewards and coincidences, timing and peak memory. For a stripped run file (no weights)
    the numbers computed from the full file before stripping (``strip_info["derived"]``),
    if it has them; otherwise a RunFileError saying the weights were stripped.
    """
    if "w_final" not in run.weights and run.stripped:
        stored = run.strip_info.get("derived", {}).get("distal_reward")
        if stored is None:
            raise RunFileError(run.missing("weights", "w_final") or
                               f"run file {run.path} was stripped without its distal-reward numbers")
        return dict(stored)
    cfg = run.config
    w_max = cfg["plasticity"]["w_max"]
    t = run.arrays["state_t"]
    w = run.arrays["tracked_w"][:, 0].astype(float)
    hit = np.flatnonzero(w >= cap_fraction * w_max)
    w0, w1 = run.weights["w_initial"].astype(float), run.weights["w_final"].astype(float)
    chosen = int(run.arrays["tracked_synapses"][0])
    o0, o1 = np.delete(w0, chosen), np.delete(w1, chosen)
    duration = float(run.metrics["time_s"][-1]) if run.epochs_completed else 0.0
    rates = {k[len("rate_"):-len("_hz")]: float(np.mean(v)) for k, v in run.metrics.items()
             if k.startswith("rate_")}
    timing = {k: float(run.arrays[k][0]) for k in ("timing_build_s", "timing_compile_s", "timing_run_s",
                                                    "timing_total_s", "timing_run_cpu_s", "peak_memory_bytes",
                                                    "peak_run_memory_bytes")
              if k in run.arrays}
    out = {
        "model": run.model, "target": cfg.get("target"), "seed": run.seed, "status": run.status,
        "simulated_s": duration,
        "time_to_cap_s": float(t[hit[0]]) if len(hit) else None,
        "chosen_initial": float(w0[chosen]), "chosen_final": float(w1[chosen]),
        "chosen_max": float(w.max()),
        "chosen_percentile_final": float(100.0 * np.mean(o1 < w1[chosen])),
        "others_mean_initial": float(o0.mean()), "others_mean_final": float(o1.mean()),
        "others_median_initial": float(np.median(o0)), "others_median_final": float(np.median(o1)),
        "others_std_final": float(o1.std()),
        "others_at_cap_final": int(np.count_nonzero(o1 >= cap_fraction * w_max)),
        "n_plastic": int(len(w1)),
        "rates_hz": rates,
        # runs written before the fix recorded the idle timers of kind "none" as rewards
        "rewards": int(len(run.arrays.get("reward_t", []))) if cfg["reward"]["kind"] != "none" else 0,
        "coincidences": int(len(run.arrays.get("scheduled_t", []))),
        "n_spikes": int(len(run.arrays.get("spike_t", []))),
        "realtime_factor": (duration / timing["timing_run_s"]) if timing.get("timing_run_s") else None,
        **timing,
    }
    return out


def plot(run: Run, out_dir, prefix: str | None = None, control: Run | None = None) -> list[Path]:
    """Write the Fig. 1 panels as PNGs into `out_dir`; returns their paths.

    ``<prefix>-weight.png``   chosen-synapse weight (and eligibility) over time, rewards marked,
                              the control run's chosen synapse if given
    ``<prefix>-hist.png``     weight distribution over time, and at start vs end with the chosen synapse marked
    ``<prefix>-raster.png``   spike raster of the first and the last `raster_excerpt_s`
    ``<prefix>-dopamine.png`` dopamine concentration over an excerpt around the first rewards

    The figures are those of ``neuro-grlu plot`` (:mod:`neuro_grlu.plotting`).
    """
    from ...figures.common import _save
    from ...figures.spiking import fig_dopamine, fig_raster, fig_weight_histograms, fig_weights

    out_dir = Path(out_dir)
    prefix = prefix or run.model
    paths = [_save(fig_weights(run, control=control), out_dir / f"{prefix}-weight.png")]
    if "w_final" in run.weights:  # a stripped run file has no weights
        paths.append(_save(fig_weight_histograms(run), out_dir / f"{prefix}-hist.png"))
    if "spike_t" in run.arrays and len(run.arrays["spike_t"]):
        paths.append(_save(fig_raster(run), out_dir / f"{prefix}-raster.png"))
    paths.append(_save(fig_dopamine(run), out_dir / f"{prefix}-dopamine.png"))
    return paths


def report(run_path, out_dir=None, control_path=None) -> dict:
    """Summarize and plot one run file (and its control); writes ``<stem>-summary.json``."""
    run = read_run(run_path)
    control = read_run(control_path) if control_path else None
    out_dir = Path(out_dir) if out_dir else Path(run_path).parent
    summary = summarize(run)
    if control is not None:
        summary["control"] = summarize(control)
    paths = plot(run, out_dir, prefix=Path(run_path).stem, control=control)
    summary["figures"] = [p.name for p in paths]
    (out_dir / f"{Path(run_path).stem}-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def markdown_table(summaries: dict[str, dict]) -> str:
    """A markdown table of several summaries (name -> :func:`summarize` output)."""
    rows = [("time chosen synapse reaches the cap (s)", lambda s: "never" if s["time_to_cap_s"] is None else f"{s['time_to_cap_s']:.0f}"),
            ("chosen synapse: start -> end (max)", lambda s: f"{s['chosen_initial']:.2f} -> {s['chosen_final']:.2f} ({s['chosen_max']:.2f})"),
            ("chosen synapse percentile at end", lambda s: f"{s['chosen_percentile_final']:.2f}"),
            ("others mean: start -> end", lambda s: f"{s['others_mean_initial']:.3f} -> {s['others_mean_final']:.3f}"),
            ("others median: start -> end", lambda s: f"{s['others_median_initial']:.3f} -> {s['others_median_final']:.3f}"),
            ("others at the cap at end", lambda s: f"{s['others_at_cap_final']} of {s['n_plastic'] - 1}"),
            ("firing rate (Hz)", lambda s: ", ".join(f"{k} {v:.2f}" for k, v in s["rates_hz"].items())),
            ("rewards / coincidences", lambda s: f"{s['rewards']} / {s['coincidences']}"),
            ("simulated (s)", lambda s: f"{s['simulated_s']:.0f}"),
            ("compile (s)", lambda s: f"{s.get('timing_compile_s', 0):.1f}"),
            ("simulation run (s)", lambda s: f"{s.get('timing_run_s', 0):.1f}"),
            ("total wall incl. build/compile/writing (s)", lambda s: f"{s.get('timing_total_s', 0):.1f}"),
            ("real-time factor (sim s / run s)", lambda s: f"{s['realtime_factor']:.1f}" if s.get("realtime_factor") else "-"),
            ("peak memory, whole command (MiB)", lambda s: f"{s.get('peak_memory_bytes', 0) / 2**20:.0f}"),
            ("peak memory, simulation alone (MiB)", lambda s: f"{s.get('peak_run_memory_bytes', 0) / 2**20:.0f}")]
    names = list(summaries)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(fn(summaries[n]) for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m neuro_grlu.spiking.experiments.distal_reward DIR [RUN.h5 ...]
    import sys

    directory = Path(sys.argv[1])
    runs = [Path(p) for p in sys.argv[2:]] or sorted(directory.glob("*.h5"))
    print(markdown_table({p.stem: summarize(read_run(p)) for p in runs}))
