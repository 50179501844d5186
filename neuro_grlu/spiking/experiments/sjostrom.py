"""The frequency dependence of STDP (Sjöström, Turrigiano & Nelson 2001) on the model synapse.

Protocol (as in the paper and ``data/sjostrom_2001.csv``): at each pairing frequency
``f`` and timing ``dt = t_post - t_pre = ±10 ms``, ``pairs_per_burst`` pre/post pairs at
``f`` form a burst, repeated ``n_bursts`` times every ``burst_period_s`` (10-50 Hz: 5
pairs x 15 bursts, 10 s apart; 0.1 Hz: 50 single pairs, 10 s apart). Each data row gets an
independent pre/post pair of model neurons (``[populations.cell]`` of the definition),
made to fire at the chosen times by kicks from a spike generator, joined by one plastic
synapse with the definition's ``[plasticity]`` (any window: pair or triplet). The
presynaptic spike *arrives* (spike time + 1 ms axonal delay) ``dt`` before the
postsynaptic spike; the lags are measured from the recorded spikes.

The model's EPSP ratio is ``w_final / w_init`` (additive weights without reaching a
bound are proportional to the EPSP amplitude). Goodness of fit against the data's
standard errors: ``chi2 = sum(((model - data)/sem)^2)`` over the rows, ``rmse_over_sem
= sqrt(chi2/n)``, and the number of rows within one SEM.
"""

from __future__ import annotations

import copy

import numpy as np

from ...definitions import apply_overrides, load_raw
from ...errors import ConfigError
from ...reference import read_sjostrom
from ..config import SOURCE_MODELS, parse_spiking

AXONAL_DELAY_MS = 1.0
START_MS = 200.0


def read_data(path=None) -> list[dict]:
    """The data rows (:func:`neuro_grlu.reference.read_sjostrom`)."""
    return read_sjostrom(path)


def pairing_times(row: dict, start_ms: float = START_MS) -> tuple[np.ndarray, np.ndarray]:
    """Presynaptic *arrival* times and postsynaptic spike times (ms) of one protocol row,
    each of shape (pairs_per_burst * n_bursts,).

    At 0.1 Hz (one pair per burst) the pairs are ``burst_period_s`` apart. The first
    spike of each pair is at ``start_ms + burst * period + k / f``.
    """
    k = int(row["pairs_per_burst"])
    period = 1000.0 / row["frequency_hz"]
    if k > 1 and period < 2 * abs(row["dt_ms"]):
        raise ConfigError(f"{row['frequency_hz']} Hz with dt {row['dt_ms']} ms: the pairs would overlap")
    first = (np.arange(int(row["n_bursts"]))[:, None] * 1000.0 * row["burst_period_s"]
             + np.arange(k)[None, :] * period).ravel() + start_ms
    dt = row["dt_ms"]
    arrival = first + max(0.0, -dt)
    return arrival, arrival + dt


def protocol_config(raw: dict, name: str, rows: list[dict]):
    """The spiking configuration running every row at once (row ``k``: neurons ``k`` of
    populations ``pre`` and ``post``), and the planned (arrival, post) times per row."""
    cfg = parse_spiking(raw, name)
    if "cell" not in cfg.populations or cfg.populations["cell"].model in SOURCE_MODELS:
        raise ConfigError(f"model {name!r} needs a neuron population [populations.cell] (see models/stdp-triplet.toml)")
    dt_sim = cfg.simulation.dt_ms
    n = len(rows)
    idx, times, planned = [], [], []
    for k, row in enumerate(rows):
        arrival, post = pairing_times(row)
        planned.append((arrival, post))
        # a kick delivered at time T (delay dt_sim) makes the neuron fire at T + dt_sim
        pre_kick = arrival - AXONAL_DELAY_MS - 2 * dt_sim
        post_kick = post - 2 * dt_sim
        idx += [k] * len(pre_kick) + [n + k] * len(post_kick)
        times += [*np.round(pre_kick, 6), *np.round(post_kick, 6)]
    order = np.lexsort((idx, times))
    cell = dict(raw["populations"]["cell"])
    cell["n"] = n
    kick = float((raw.get("protocol") or {}).get("kick_mV", 100.0))
    raw = copy.deepcopy(raw)
    raw.pop("protocol", None)
    raw["populations"] = {"pre": dict(cell), "post": dict(cell),
                          "drive": {"model": "generator", "n": 2 * n, "indices": [int(idx[j]) for j in order],
                                    "times_ms": [float(times[j]) for j in order]}}
    raw["projections"] = {
        "syn": {"pre": "pre", "post": ["post"], "connectivity": "one_to_one", "weight": 1.0,
                "delay_ms": AXONAL_DELAY_MS, "plastic": True},
        "kick": {"pre": "drive", "post": ["pre", "post"], "connectivity": "one_to_one", "weight": kick,
                 "delay_ms": dt_sim},
    }
    end = max(float(p.max()) for _, p in planned) + 1000.0
    raw.setdefault("simulation", {}).update(duration_s=end / 1000.0, chunk_s=end / 1000.0)
    raw["input"] = {"kind": "none"}
    raw["reward"] = {"kind": "none"}
    raw.setdefault("recording", {})["spikes"] = True
    return parse_spiking(raw, name), planned


def run_protocol(model: str, *, rows: list[dict] | None = None, overrides=(), target: str = "runtime",
                 data=None) -> dict:
    """Run the protocol on `model` (a definition with ``[populations.cell]`` and
    ``[plasticity]``).

    Returns
    -------
    dict with ``model``, ``plasticity`` (the table), ``rows`` (the data rows used) and, one
    value per row, ``model_ratio`` (w_final / w_init), ``lag_ms`` (mean measured arrival
    lag, ms) and ``n_pairs``; plus :func:`goodness` of the fit.
    """
    import brian2 as b2
    from brian2 import second

    from ..build import build_network

    rows = read_data(data) if rows is None else rows
    raw, name = load_raw(model)
    if overrides:
        raw = apply_overrides(raw, list(overrides))
    cfg, planned = protocol_config(raw, name, rows)
    b2.prefs.codegen.target = {"runtime": "cython", "numpy": "numpy"}[target]
    built = build_network(cfg)
    built.net.run(cfg.simulation.duration_s * second, namespace={})
    n = len(rows)
    w = np.asarray(built.groups["syn"].w[:], dtype=float)
    mon = built.monitors["spikes"]
    i, t = np.asarray(mon.i[:]), 1000.0 * np.asarray(mon.t_[:])
    lags = np.empty(n)
    for k, (arrival, post) in enumerate(planned):
        t_pre, t_post = t[i == k], t[i == n + k]
        if len(t_pre) != len(arrival) or len(t_post) != len(post):
            raise ConfigError(f"row {rows[k]['row_id']}: the neurons fired {len(t_pre)}/{len(t_post)} times, "
                              f"not {len(arrival)}; increase protocol.kick_mV")
        lags[k] = float(np.mean(t_post - (t_pre + AXONAL_DELAY_MS)))
        if abs(lags[k] - rows[k]["dt_ms"]) > 2 * cfg.simulation.dt_ms + 1e-9:
            raise ConfigError(f"row {rows[k]['row_id']}: measured lag {lags[k]:.2f} ms, planned {rows[k]['dt_ms']} ms")
    ratio = w / 1.0
    if np.any(w <= cfg.plasticity.w_min) or np.any(w >= cfg.plasticity.w_max):
        raise ConfigError(f"model {name!r}: a weight reached a bound ({cfg.plasticity.w_min}, {cfg.plasticity.w_max}); "
                          "the ratio would be clipped")
    out = {"model": name, "description": cfg.description, "plasticity": cfg.plasticity.to_dict(), "rows": rows,
           "model_ratio": ratio.tolist(), "lag_ms": lags.tolist(),
           "n_pairs": [int(r["pairs_per_burst"] * r["n_bursts"]) for r in rows],
           "dt_sim_ms": cfg.simulation.dt_ms, "axonal_delay_ms": AXONAL_DELAY_MS}
    out.update(goodness(ratio, rows))
    return out


def goodness(model_ratio, rows: list[dict]) -> dict:
    """``chi2`` = sum of squared (model - data)/SEM, ``rmse_over_sem`` = sqrt(chi2/n) and
    ``within_sem`` = number of rows with |model - data| <= SEM."""
    m = np.asarray(model_ratio, float)
    d = np.array([r["epsp_ratio"] for r in rows])
    s = np.array([r["sem"] for r in rows])
    z = (m - d) / s
    return {"chi2": float(np.sum(z ** 2)), "rmse_over_sem": float(np.sqrt(np.mean(z ** 2))),
            "within_sem": int(np.sum(np.abs(z) <= 1.0)), "n_points": len(rows), "z": z.tolist()}


def fit_pair_amplitudes(unit_ltp: dict, unit_ltd: dict, rows: list[dict]) -> dict:
    """The best additive pair rule for the data, from two runs of the same pair window with
    unit amplitudes (``unit_ltp``: A+ = a, A- = 0; ``unit_ltd``: A+ = 0, A- = a).

    Without bounds the change is linear in the amplitudes: ``ratio - 1 = x+ g+ + x- g-``
    with ``g±`` the changes of the unit runs, so weighted least squares (weights 1/SEM)
    gives the scale factors ``x±`` in closed form. Returns ``scale_plus``, ``scale_minus``,
    ``model_ratio`` and :func:`goodness`. A negative scale is kept (the fit is unconstrained)
    and flagged in ``constrained = False``.
    """
    g = np.column_stack([np.asarray(unit_ltp["model_ratio"]) - 1.0, np.asarray(unit_ltd["model_ratio"]) - 1.0])
    d = np.array([r["epsp_ratio"] for r in rows]) - 1.0
    s = np.array([r["sem"] for r in rows])
    x, *_ = np.linalg.lstsq(g / s[:, None], d / s, rcond=None)
    ratio = 1.0 + g @ x
    return {"scale_plus": float(x[0]), "scale_minus": float(x[1]), "model_ratio": ratio.tolist(),
            **goodness(ratio, rows)}


def triplet_reference(pre_arrival_ms, post_ms, p) -> float:
    """Weight change of one synapse under the triplet (or, with ``a3_* = 0``, pair) rule,
    computed event by event in NumPy: the closed-form reference the Brian2 synapse is
    tested against.

    Parameters
    ----------
    pre_arrival_ms, post_ms : array-like
        Presynaptic arrival times and postsynaptic spike times (ms). At equal times the
        arrival is processed first (as Brian2 does).
    p : PlasticityParams
        ``window = "triplet"``, ``rule = "additive"``, ``modulation = "none"``; bounds are
        ignored.

    Returns
    -------
    float : the summed weight change (weight units, times ``stdp_scale``).
    """
    events = sorted([(float(t), 0) for t in pre_arrival_ms] + [(float(t), 1) for t in post_ms])
    r1 = r2 = o1 = o2 = 0.0
    last = events[0][0] if events else 0.0
    dw = 0.0
    nearest = p.traces == "nearest"
    for t, kind in events:
        gap = t - last
        last = t
        r1 *= np.exp(-gap / p.tau_plus_ms)
        r2 *= np.exp(-gap / p.tau_x_ms)
        o1 *= np.exp(-gap / p.tau_minus_ms)
        o2 *= np.exp(-gap / p.tau_y_ms)
        if kind == 0:
            dw -= o1 * (p.a_minus + p.a3_minus * r2)
            r1, r2 = (1.0, 1.0) if nearest else (r1 + 1.0, r2 + 1.0)
        else:
            dw += r1 * (p.a_plus + p.a3_plus * o2)
            o1, o2 = (1.0, 1.0) if nearest else (o1 + 1.0, o2 + 1.0)
    return p.stdp_scale * dw


def table_rows(results: list[dict]) -> list[dict]:
    """One row per data point: frequency, dt, data ratio ± SEM, n, and each model's ratio."""
    rows = results[0]["rows"]
    out = []
    for k, r in enumerate(rows):
        row = {"frequency_hz": r["frequency_hz"], "dt_ms": r["dt_ms"], "data": r["epsp_ratio"], "sem": r["sem"],
               "n": int(r["n"])}
        for res in results:
            row[res["label"]] = res["model_ratio"][k]
        out.append(row)
    return out
