"""The STDP window of the model synapse under the Bi & Poo (1998) pairing protocol.

For each target lag ``s`` (``lag_min_ms`` .. ``lag_max_ms``, step ``lag_step_ms``, 0
skipped) an independent pre/post pair of neurons (the model in ``[populations.cell]``) is
made to fire ``n_pairs`` times at ``rate_hz`` by 100 mV kicks from spike generators, so
that the presynaptic spike *arrives* (spike time + 1 ms axonal delay) ``s`` before the
postsynaptic spike. The weight change of the plastic synapse after the protocol, in %
of its initial value, is the measured window ``dw(s)``; ``s`` is measured from the
recorded spike times. Exponentials ``a+ exp(-s/tau+)`` (s > 0) and ``-a- exp(s/tau-)``
(s < 0) are fitted to the simulated points and to the reference points
(``data/bi_poo_1998.csv``) by least squares (grid over tau, amplitude in closed form).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np

from ...definitions import load_definition, load_raw
from ...errors import ConfigError, RunFileError
from ...io import RunWriter, read_run
from ...reference import BI_POO_1998 as DATA, read_reference  # noqa: F401  (re-exported)
from ..config import parse_spiking



def fit_exponential(lag_ms, values, taus=np.arange(1.0, 150.0, 0.01)) -> tuple[float, float]:
    """Least-squares ``values ~ a exp(-|lag|/tau)``: returns (a, tau in ms)."""
    x, y = np.abs(np.asarray(lag_ms, float)), np.asarray(values, float)
    basis = np.exp(-x[None, :] / taus[:, None])                # (n_tau, n)
    a = (basis @ y) / np.einsum("ij,ij->i", basis, basis)      # closed-form amplitude per tau
    sse = ((a[:, None] * basis - y[None, :]) ** 2).sum(axis=1)
    k = int(np.argmin(sse))
    return float(a[k]), float(taus[k])


def fit_window(lag_ms, dw) -> dict:
    """Fit both sides: ``{"a_plus", "tau_plus_ms", "a_minus", "tau_minus_ms"}`` (a_minus > 0 for depression)."""
    lag_ms, dw = np.asarray(lag_ms, float), np.asarray(dw, float)
    pos, neg = lag_ms > 0, lag_ms < 0
    if pos.sum() < 2 or neg.sum() < 2:
        raise ConfigError("the STDP window needs at least two positive and two negative lags")
    a_p, t_p = fit_exponential(lag_ms[pos], dw[pos])
    a_m, t_m = fit_exponential(lag_ms[neg], -dw[neg])
    return {"a_plus": a_p, "tau_plus_ms": t_p, "a_minus": a_m, "tau_minus_ms": t_m}


def protocol_config(raw: dict, name: str):
    """The network of the pairing protocol built from a definition with a [protocol] table."""
    cfg = parse_spiking(raw, name)
    if cfg.protocol is None:
        raise ConfigError(f"model {name!r} has no [protocol] table (see models/stdp-window.toml)")
    if "cell" not in cfg.populations or cfg.populations["cell"].model in ("poisson", "generator"):
        raise ConfigError(f"model {name!r} needs a neuron population [populations.cell]")
    p = cfg.protocol
    lags = np.arange(p.lag_min_ms, p.lag_max_ms + 1e-9, p.lag_step_ms)
    lags = lags[np.abs(lags) > 1e-9]
    n = len(lags)
    delay_ms = 1.0
    first = 1000.0 * 0.2 + max(0.0, float(lags.max()) + delay_ms)  # earliest postsynaptic kick (ms)
    period = 1000.0 / p.rate_hz
    if period <= 2 * np.abs(lags).max():
        raise ConfigError("protocol.rate_hz is too high for the lag range (pairs would overlap)")
    idx, times = [], []
    for k, lag in enumerate(lags):
        for m in range(p.n_pairs):
            t_post = first + m * period
            idx += [k, n + k]
            times += [round(t_post - lag - delay_ms, 6), round(t_post, 6)]
    order = np.lexsort((idx, times))
    cell = dict(raw["populations"]["cell"])
    cell["n"] = n
    raw = copy.deepcopy(raw)
    raw.pop("protocol", None)
    raw["populations"] = {"pre": dict(cell), "post": dict(cell),
                          "drive": {"model": "generator", "n": 2 * n,
                                    "indices": [int(idx[j]) for j in order],
                                    "times_ms": [float(times[j]) for j in order]}}
    raw["projections"] = {
        "syn": {"pre": "pre", "post": ["post"], "connectivity": "one_to_one", "weight": p.w_init,
                "delay_ms": delay_ms, "plastic": True},
        "kick": {"pre": "drive", "post": ["pre", "post"], "connectivity": "one_to_one", "weight": p.kick_mV,
                 "delay_ms": raw.get("simulation", {}).get("dt_ms", 0.1)},
    }
    duration = (first + (p.n_pairs - 1) * period + 500.0) / 1000.0
    raw.setdefault("simulation", {}).update(duration_s=duration, chunk_s=duration)
    raw["reward"] = {"kind": "none"}
    raw.setdefault("recording", {})["spikes"] = True
    return parse_spiking(raw, name), cfg.protocol, lags, delay_ms


def run_stdp_window(model: str = "stdp-window", *, out=None, out_dir=None, overrides=(), target: str = "runtime",
                    data=None, plot: bool = True, command: str = "", overwrite: bool = True) -> dict:
    """Run the pairing protocol and fit the window; if `out` (the run file, kind
    ``"stdp-window"``, see :func:`write_run_file`) or `out_dir` (then ``<out_dir>/<name>.h5``)
    is given, writes the run file and, beside it, the points as CSV and the figure as PNG.

    Returns
    -------
    dict with ``lags_ms`` (measured, shape (n_lags,)), ``dw_percent`` (same shape), ``fit``
    (model window), ``data_fit`` (reference points), ``parameters`` (the plasticity table)
    and protocol information.
    """
    import brian2 as b2
    from brian2 import second

    t_start = time.perf_counter()
    raw, name = load_definition(model, list(overrides))
    if out is None and out_dir is not None:
        out = Path(out_dir) / f"{name}.h5"
    if out is not None and Path(out).exists() and not overwrite:
        raise RunFileError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    cfg, protocol, target_lags, delay_ms = protocol_config(raw, name)
    b2.prefs.codegen.target = "cython" if target == "runtime" else "numpy"
    from ..build import build_network

    built = build_network(cfg)
    built.net.run(cfg.simulation.duration_s * second, namespace={})
    n = len(target_lags)
    w = np.asarray(built.groups["syn"].w[:], dtype=float)
    mon = built.monitors["spikes"]
    i, t = np.asarray(mon.i[:]), 1000.0 * np.asarray(mon.t_[:])
    lags = np.empty(n)
    for k in range(n):
        t_pre, t_post = t[i == k], t[i == n + k]
        if len(t_pre) != protocol.n_pairs or len(t_post) != protocol.n_pairs:
            raise ConfigError(f"lag {target_lags[k]:g} ms: the neurons fired {len(t_pre)}/{len(t_post)} times, "
                              f"not {protocol.n_pairs}; increase protocol.kick_mV")
        lags[k] = float(np.mean(t_post - (t_pre + delay_ms)))
    dw = 100.0 * (w - protocol.w_init) / protocol.w_init
    ref_lag, ref_dw = read_reference(data)
    result = {
        "model": name, "n_pairs": protocol.n_pairs, "pair_rate_hz": protocol.rate_hz,
        "target_lags_ms": target_lags.tolist(), "lags_ms": lags.tolist(), "dw_percent": dw.tolist(),
        "fit": fit_window(lags, dw), "data_fit": fit_window(ref_lag, ref_dw),
        "parameters": cfg.plasticity.to_dict(), "dt_ms": cfg.simulation.dt_ms, "axonal_delay_ms": delay_ms,
        "reference": str(Path(data) if data else DATA),
    }
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out.with_suffix(".csv"), "w") as f:
            f.write("lag_ms,dw_percent\n" + "".join(f"{a:.4f},{b:.4f}\n" for a, b in zip(lags, dw)))
        write_run_file(result, out, ref_lag=ref_lag, ref_dw=ref_dw, definition=cfg.to_dict(),
                       seed=cfg.simulation.seed, wall_time_s=time.perf_counter() - t_start, command=command)
        if plot:
            plot_window(result, ref_lag, ref_dw, out.with_suffix(".png"))
    return result


def plot_window(result: dict, ref_lag, ref_dw, path) -> Path:
    """The simulated window over the reference points, with both fits, saved as a PNG
    (:func:`neuro_grlu.plotting.fig_stdp_window`)."""
    from ...figures.common import _save
    from ...figures.stdp_window import fig_stdp_window

    return _save(fig_stdp_window(result, ref_lag, ref_dw), path)


#: Keys of the result dict (see :func:`run_stdp_window`) kept in a run file's configuration.
_RESULT_KEYS = ("model", "n_pairs", "pair_rate_hz", "fit", "data_fit", "parameters", "dt_ms",
                "axonal_delay_ms", "reference")


def write_run_file(result: dict, path, *, ref_lag, ref_dw, definition: dict | None = None, seed: int = 0,
                   wall_time_s: float = 0.0, command: str = "", overwrite: bool = True) -> Path:
    """Store a window as a run file of kind ``"stdp-window"`` (``docs/run-file.md``).

    One metrics row (the fitted ``tau_plus_ms``, ``tau_minus_ms`` (ms), ``a_plus``, ``a_minus`` (%)
    of the model and ``data_*`` of the reference); arrays ``lags_ms``, ``target_lags_ms`` (ms),
    ``dw_percent`` (%), ``reference_lag_ms`` and ``reference_dw_percent``; the configuration holds
    the result's other keys and the protocol's full definition (``definition``).
    """
    config = {"kind": "stdp-window", **{k: result[k] for k in _RESULT_KEYS if k in result},
              "definition": definition or {}}
    metrics = {**{k: result["fit"][k] for k in ("tau_plus_ms", "tau_minus_ms", "a_plus", "a_minus")},
               **{f"data_{k}": result["data_fit"][k] for k in ("tau_plus_ms", "tau_minus_ms", "a_plus", "a_minus")}}
    units = {k: ("ms" if k.endswith("_ms") else "%") for k in metrics}
    with RunWriter(path, config=config, seed=seed, model=result["model"], kind="stdp-window", epochs_planned=1,
                   command=command, overwrite=overwrite, metric_units=units) as writer:
        writer.append_epoch(metrics, wall_time_s=wall_time_s)
        writer.finish(arrays={"lags_ms": (np.asarray(result["lags_ms"], float), "ms"),
                              "target_lags_ms": (np.asarray(result["target_lags_ms"], float), "ms"),
                              "dw_percent": (np.asarray(result["dw_percent"], float), "%"),
                              "reference_lag_ms": (np.asarray(ref_lag, float), "ms"),
                              "reference_dw_percent": (np.asarray(ref_dw, float), "%")},
                      wall_time_s=wall_time_s)
    return Path(path)


def result_from_run(run) -> dict:
    """The result dict of :func:`run_stdp_window` back from a ``"stdp-window"`` run file."""
    out = {k: run.config[k] for k in _RESULT_KEYS if k in run.config}
    for key in ("lags_ms", "target_lags_ms", "dw_percent"):
        if key in run.arrays:
            out[key] = run.arrays[key].tolist()
    return out


def read_window(path) -> tuple[dict, np.ndarray, np.ndarray]:
    """A stored window from a run file of kind ``"stdp-window"``: ``(result, reference lags in
    ms, reference changes in %)``. The older JSON results are refused with a one-line
    :class:`~neuro_grlu.errors.RunFileError` naming the command that converts them."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        raise RunFileError(old_json_message(path))
    run = read_run(path)
    if run.kind != "stdp-window":
        raise RunFileError(f"run file {path} has kind {run.kind!r}, not 'stdp-window'")
    return result_from_run(run), run.arrays.get("reference_lag_ms"), run.arrays.get("reference_dw_percent")


def old_json_message(path) -> str:
    """What to do with an STDP-window result in the older JSON format."""
    path = Path(path)
    return (f"{path} is an STDP-window result in the older JSON format; convert it to a run file with "
            f"`neuro-grlu stdp-window --convert {path}` (writes {path.with_suffix('.h5')}) and use that")


#: Keys a JSON result written by the older ``neuro-grlu stdp-window`` must have.
_JSON_KEYS = ("model", "lags_ms", "dw_percent", "fit", "data_fit", "n_pairs", "pair_rate_hz")


def convert_json(path, out=None, *, overwrite: bool = False, command: str = "") -> Path:
    """Convert an older JSON result to a run file of kind ``"stdp-window"`` (default: the same
    name with ``.h5``). The reference points come from the JSON's ``reference`` CSV if it
    exists, else :data:`~neuro_grlu.reference.BI_POO_1998`; the definition and seed from the
    TOML beside the JSON (``<stem>.toml``) or the named model, if either exists (else seed 0
    and an empty definition). The configuration records ``converted_from``."""
    path = Path(path)
    out = Path(out) if out is not None else path.with_suffix(".h5")
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunFileError(f"cannot read STDP-window result {path} ({exc}); pass the .json written by "
                           "the older `neuro-grlu stdp-window`") from None
    if not isinstance(result, dict) or any(k not in result for k in _JSON_KEYS):
        raise RunFileError(f"{path} is not an STDP-window result (needs keys {', '.join(_JSON_KEYS)})")
    if out.exists() and not overwrite:
        raise RunFileError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    ref = Path(result.get("reference") or DATA)
    ref_lag, ref_dw = read_reference(ref if ref.is_file() else None)
    definition, seed = {}, 0
    for candidate in (path.with_suffix(".toml"), result["model"]):
        try:
            cfg = protocol_config(*load_raw(str(candidate)))[0]
        except (ConfigError, OSError):
            continue
        definition, seed = cfg.to_dict(), cfg.simulation.seed
        break
    result = {**result, "target_lags_ms": result.get("target_lags_ms", result["lags_ms"])}
    write_run_file(result, out, ref_lag=ref_lag, ref_dw=ref_dw, definition={**definition, "converted_from": str(path)},
                   seed=seed, command=command, overwrite=overwrite)
    return out
