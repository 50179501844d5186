"""STDP-window runs (``neuro-grlu stdp-window``): the Bi & Poo (1998) pairing protocol on the
model synapse, one row with the fitted window (time constants in ms, amplitudes in %).

The definition is a spiking one with a ``[protocol]`` table (``models/stdp-window.toml``);
the run file has kind ``"stdp-window"``. ``--convert OLD.json`` turns a result of the older
JSON format into a run file.
"""

from __future__ import annotations

from pathlib import Path

from .registry import FigureSpec, Kind, RunRequest, last_value, load_config, register


def schema(raw: dict, name: str):
    """A spiking definition with a ``[protocol]`` table and a neuron population ``cell``."""
    from ..spiking.experiments.stdp_window import protocol_config

    return protocol_config(raw, name)[0]


def add_arguments(w) -> None:
    w.add_argument("--target", choices=("runtime", "numpy"), default="runtime")
    w.add_argument("--data", help="reference CSV (default: Bi & Poo 1998, neuro_grlu.reference.BI_POO_1998)")
    w.add_argument("--convert", metavar="OLD.json",
                   help="convert a result of the older JSON format to a run file (--out, default OLD.h5) and exit")


def overrides(args) -> list[str]:
    return []


def _out_path(out, name: str) -> Path:
    """``--out`` is the run file (``.h5``); a path without that suffix is a directory (the
    older meaning), holding ``<name>.h5``."""
    out = Path(out)
    return out if out.suffix == ".h5" else out / f"{Path(name).stem}.h5"


def run(request: RunRequest, args) -> int:
    """Run the protocol, fit the window, and write the run file with a CSV and PNG beside it."""
    from ..spiking.experiments.stdp_window import convert_json, run_stdp_window

    if args.convert:
        out = convert_json(args.convert, request.out, overwrite=request.overwrite, command=request.command)
        print(f"converted {args.convert} -> {out}")
        return 0
    load_config("stdp-window", request.model, request.overrides)  # bad input fails before Brian2 starts
    out = _out_path(request.out or "runs/stdp-window", request.model)
    result = run_stdp_window(request.model, out=out, overrides=request.overrides, target=args.target,
                             data=args.data, command=request.command, overwrite=request.overwrite)
    fit = result["fit"]
    print(f"STDP window ({result['n_pairs']} pairs at {result['pair_rate_hz']:g} Hz, {len(result['lags_ms'])} lags): "
          f"fitted tau+ = {fit['tau_plus_ms']:.1f} ms, tau- = {fit['tau_minus_ms']:.1f} ms, "
          f"A+ = {fit['a_plus']:.3g}, A- = {fit['a_minus']:.3g}; "
          f"data fit tau+ = {result['data_fit']['tau_plus_ms']:.1f} ms, tau- = {result['data_fit']['tau_minus_ms']:.1f} ms; "
          f"run file {out} (CSV and PNG beside it)")
    return 0


def summary(run) -> dict:
    """``tau_plus_ms``, ``tau_minus_ms``, ``a_plus``, ``a_minus`` (%), and the same for the
    reference data (``data_*``)."""
    return {k: last_value(run.metrics, k) for k in run.metrics}


def _window(runs):
    from ..figures.stdp_window import fig_stdp_window
    from ..spiking.experiments.stdp_window import result_from_run

    return fig_stdp_window(result_from_run(runs[0]))


KIND = register(Kind(
    name="stdp-window", command="stdp-window", schema=schema, run=run, add_arguments=add_arguments,
    overrides=overrides, summary=summary, model_default="stdp-window",
    help="STDP pairing protocol on the model synapse vs Bi & Poo (1998)",
    out_help="run file to write (default runs/stdp-window/MODEL.h5; a path without .h5 is a directory); "
             "the points (CSV) and the figure (PNG) go beside it",
    set_example="--set protocol.n_pairs=30",
    figures={
        "window": FigureSpec(_window, arrays=("lags_ms", "dw_percent"),
                             doc="weight change (%) against spike timing (ms) vs Bi & Poo (1998)"),
    },
))
