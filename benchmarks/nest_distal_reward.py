"""Izhikevich (2007) distal reward, Fig. 1, in NEST 3 (``izhikevich`` + ``stdp_dopamine_synapse``).

A benchmark, not part of the package: the same network as
``models/izhikevich-distal-reward.toml`` built with NEST's own models, to compare speed
and behaviour with the Brian2 implementation (``neuro_grlu.spiking``). Needs
``pip install nest-simulator`` (or the ``nest`` extra of this package).

Network (identical to the Brian2 model; connectivity drawn by the same NumPy code and seed,
so every synapse, including the chosen one, connects the same pair of neurons):

- 800 RS + 200 FS ``izhikevich`` neurons with ``consistent_integration = False``
  (Izhikevich's published scheme: two 0.5 ms Euler half-steps for ``v``, one step for
  ``u`` with the new ``v``), resolution 1 ms;
- each excitatory neuron -> 100 distinct targets among all 1000 neurons,
  ``stdp_dopamine_synapse``, weight 1, ``Wmax`` 4, delay 1 ms; each inhibitory neuron
  -> 100 distinct excitatory targets, ``static_synapse``, weight -1, delay 1 ms;
- input: ``noise_generator`` with mean 0 and standard deviation 13/sqrt(12) (the
  standard deviation of Izhikevich's ``13*(rand - 0.5)``), redrawn every 1 ms,
  independently per neuron (Gaussian instead of uniform: NEST has no uniform current
  generator);
- plasticity: ``A_plus`` 1, ``A_minus`` 1.5, ``tau_plus`` = ``tau_minus`` = 20 ms,
  ``tau_c`` 1 s, ``tau_n`` 0.2 s. NEST integrates ``dw/dt = c (n - b)`` (per ms) with
  ``n`` jumping by ``1/tau_n`` per dopamine spike. The Brian2 model's ``dw/dt = eta c d``
  (``eta`` = 10/s, ``d`` = tonic 0.002 + 0.5 per reward decaying with 0.2 s) maps to
  ``n - b = (eta/1000 ms) d``: one dopamine spike per reward (0.005 = 0.01 * 0.5) and
  ``b = -0.01 * 0.002`` (a *negative* baseline is a constant tonic dopamine level);
- reward: a Python loop runs the network in chunks of ``--check-ms``; after each chunk it
  reads the spikes of the chosen synapse's two neurons, detects "post fires within
  20 ms after pre" (same rule as the Brian2 detector) and schedules one dopamine spike
  1000-3000 ms (uniform whole ms, drawn with NumPy) later on a ``spike_generator``
  that drives a ``parrot_neuron`` connected to the ``volume_transmitter`` (NEST does not
  connect devices to the transmitter directly; the two 1 ms connection delays are
  subtracted, so the dopamine arrives at the coincidence time + delay).

Fairness: the reward is closed-loop (it depends on the network's own spikes) and NEST
has no built-in "schedule a spike 1-3 s after this coincidence" device, so NEST cannot
run the hour in one ``Simulate``. The fewest calls the loop allows are used: a
coincidence in a chunk must be scheduled before its dopamine spike is due, i.e. the
chunk may be at most ``delay_min - 2 ms path - 1 ms`` = 997 ms long (the default,
``--check-ms auto``): about 3,600 ``nest.Run`` calls inside one ``Prepare``/``Cleanup``
for the hour (the earlier version used 100 ms chunks, 36,000 calls). The time spent
in Python between the calls is measured and reported (``python_s``).
``deliver_interval`` (default 1000 ms here, NEST's default is 1) is stored with the
result.

Writes ``<out>/nest-<label>.json`` (timings, rates, chosen-synapse summary) and
``<out>/nest-<label>-trace.csv`` (chosen weight once per second).

Example::

    python benchmarks/nest_distal_reward.py --duration 300 --out benchmarks/results/nest-comparison
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def build_connectivity(seed: int):
    """Pre/post index arrays (global 0..999) of the two projections, as the Brian2 builder draws them."""
    from neuro_grlu.spiking.build import _connect
    from neuro_grlu.spiking.config import load_spiking

    cfg = load_spiking("izhikevich-distal-reward", [f"simulation.seed={seed}"])
    rng = np.random.default_rng(seed)  # same stream and order as build_network (ee, then ie)
    n_exc, n_inh = cfg.populations["exc"].n, cfg.populations["inh"].n
    i_ee, j_ee = _connect(rng, cfg.projections["ee"], n_exc, np.arange(n_exc), np.arange(n_exc + n_inh))
    i_ie, j_ie = _connect(rng, cfg.projections["ie"], n_inh, np.arange(n_exc, n_exc + n_inh), np.arange(n_exc))
    return cfg, (i_ee, j_ee), (i_ie + n_exc, j_ie)


def run(duration_s: float, seed: int, reward: bool, check_ms: float | None, threads: int,
        deliver_interval: int = 1000, progress: bool = True) -> dict:
    import nest

    t_all = time.perf_counter()
    cfg, (i_ee, j_ee), (i_ie, j_ie) = build_connectivity(seed)
    p, dp, rw = cfg.plasticity, cfg.dopamine, cfg.reward
    n_exc, n_inh = cfg.populations["exc"].n, cfg.populations["inh"].n
    chosen = int(np.flatnonzero(i_ee == rw.chosen_pre)[rw.chosen_rank])
    chosen_pre, chosen_post = int(i_ee[chosen]), int(j_ee[chosen])
    eta_per_ms = p.eta_per_s / 1000.0

    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": cfg.simulation.dt_ms, "local_num_threads": threads,
                          "rng_seed": seed + 1, "print_time": False})
    common = {"V_m": -65.0, "U_m": 0.2 * -65.0, "V_th": 30.0, "consistent_integration": False,
              "tau_minus": p.tau_minus_ms}
    exc = nest.Create("izhikevich", n_exc, params={**common, "a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0})
    inh = nest.Create("izhikevich", n_inh, params={**common, "a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0})
    neurons = exc + inh
    noise = nest.Create("noise_generator", params={"mean": cfg.input.offset_mV,
                                                    "std": cfg.input.amplitude_mV / np.sqrt(12.0),
                                                    "dt": cfg.simulation.dt_ms})
    nest.Connect(noise, neurons, "all_to_all", {"delay": cfg.simulation.dt_ms})
    # deliver_interval (in min_delays = ms here): how often the transmitter triggers an
    # update of *every* dopamine synapse. NEST's default (1) updates all 80,000 synapses
    # every millisecond (measured: 10 s simulated in 300 s). A synapse also processes the
    # dopamine spikes received so far whenever its presynaptic neuron fires, and the
    # weight only acts at those spikes, so a longer interval changes only how often the
    # [Wmin, Wmax] clipping is applied between spikes.
    vt = nest.Create("volume_transmitter", params={"deliver_interval": deliver_interval})
    # a device cannot connect to the volume transmitter: spike_generator -> parrot_neuron -> volume_transmitter
    dopa_src = nest.Create("spike_generator")
    dopa_parrot = nest.Create("parrot_neuron")
    nest.Connect(dopa_src, dopa_parrot, syn_spec={"delay": cfg.simulation.dt_ms})
    nest.Connect(dopa_parrot, vt, syn_spec={"delay": cfg.simulation.dt_ms})
    path_delay = 2 * cfg.simulation.dt_ms
    nest.CopyModel("stdp_dopamine_synapse", "dopa_stdp", {
        "volume_transmitter": vt, "A_plus": p.a_plus, "A_minus": p.a_minus, "tau_plus": p.tau_plus_ms,
        "tau_c": p.tau_c_ms, "tau_n": dp.tau_d_ms, "b": -eta_per_ms * dp.tonic,
        "Wmin": p.w_min, "Wmax": p.w_max})
    ids = np.asarray(neurons.tolist())
    w0 = np.full(len(i_ee), cfg.projections["ee"].weight)
    w0[chosen] = rw.chosen_w_init
    nest.Connect(ids[i_ee], ids[j_ee], "one_to_one",
                 {"synapse_model": "dopa_stdp", "weight": w0,
                  "delay": np.full(len(i_ee), cfg.projections["ee"].delay_ms)})
    nest.Connect(ids[i_ie], ids[j_ie], "one_to_one",
                 {"synapse_model": "static_synapse", "weight": np.full(len(i_ie), cfg.projections["ie"].weight),
                  "delay": np.full(len(i_ie), cfg.projections["ie"].delay_ms)})
    rec_all = nest.Create("spike_recorder")
    nest.Connect(neurons, rec_all)
    rec_pair = nest.Create("spike_recorder")
    nest.Connect(nest.NodeCollection(sorted({int(ids[chosen_pre]), int(ids[chosen_post])})), rec_pair)
    syn_chosen = nest.GetConnections(source=nest.NodeCollection([int(ids[chosen_pre])]),
                                     target=nest.NodeCollection([int(ids[chosen_post])]),
                                     synapse_model="dopa_stdp")
    plastic = nest.GetConnections(source=exc, synapse_model="dopa_stdp")
    w_initial = np.asarray(plastic.get("weight"), dtype=float)
    build_s = time.perf_counter() - t0

    # reward schedule (Python, between NEST runs)
    rng = np.random.default_rng(seed + 12345)
    lo, hi = int(round(rw.delay_min_ms)), int(round(rw.delay_max_ms))
    dopa_times: list[float] = []
    all_due: list[float] = []
    coincidences, t_pre_last = [], -1e12
    pre_gid, post_gid = int(ids[chosen_pre]), int(ids[chosen_post])
    trace_t, trace_w = [0.0], [float(syn_chosen.get("weight"))]
    if check_ms is None:  # the longest chunk that still schedules every reward in time
        check_ms = float(lo) - path_delay - cfg.simulation.dt_ms
    if not 0 < check_ms <= lo - path_delay:
        raise ValueError(f"check_ms must be in (0, {lo - path_delay}] ms: rewards are due >= {lo} ms after "
                         "a coincidence, minus the 2 ms path to the volume transmitter")
    chunks = []  # chunk lengths (ms), the last one shortened to end at duration_s
    t_ms, end_ms = 0.0, duration_s * 1000.0
    while t_ms < end_ms - 1e-9:
        chunks.append(min(check_ms, end_ms - t_ms))
        t_ms += chunks[-1]
    seen = 0
    next_sample = 1.0  # s
    python_s = 0.0
    t0, cpu0 = time.perf_counter(), time.process_time()
    nest.Prepare()
    now = 0.0
    for k, chunk in enumerate(chunks):
        ta = time.perf_counter()
        nest.Run(chunk)
        tb = time.perf_counter()
        now += chunk
        ev = rec_pair.get("events")  # cumulative (recorders cannot be reset inside Prepare/Cleanup)
        senders, times = np.asarray(ev["senders"])[seen:], np.asarray(ev["times"])[seen:]
        seen += len(senders)
        # pre before post at equal times (the Brian2 detector's order); post at the same ms does not count
        order = np.lexsort((senders != pre_gid, times))
        new_due = []
        for s, t in zip(senders[order], times[order]):
            if s == pre_gid:
                t_pre_last = t
            if s == post_gid and t_pre_last < t < t_pre_last + rw.window_ms:
                coincidences.append(t)
                if reward:
                    due = t + rng.integers(lo, hi + 1) - path_delay  # minus generator -> parrot -> transmitter
                    new_due.append(due)
                    all_due.append(due)
        if new_due:
            dopa_times = sorted(x for x in dopa_times + new_due if x > now)
            dopa_src.spike_times = [float(x) for x in dopa_times]
        if now / 1000.0 >= next_sample - 1e-9:  # the chosen weight about once per simulated second
            trace_t.append(now / 1000.0)
            trace_w.append(float(syn_chosen.get("weight")))
            next_sample = np.floor(now / 1000.0 + 1e-9) + 1.0
            if progress and len(trace_t) % 60 == 0:
                print(f"t = {trace_t[-1]:7.1f} s  chosen w {trace_w[-1]:.3f}  coincidences {len(coincidences)}  "
                      f"wall {time.perf_counter() - t0:.1f} s", flush=True)
        python_s += time.perf_counter() - tb
    nest.Cleanup()
    run_s, run_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    t_sim = now / 1000.0

    ev = rec_all.get("events")
    senders = np.asarray(ev["senders"])
    n_spk_exc = int(np.count_nonzero(np.isin(senders, ids[:n_exc])))
    n_spk_inh = int(len(senders) - n_spk_exc)
    w_final = np.asarray(plastic.get("weight"), dtype=float)
    # chosen synapse's index inside `plastic` (GetConnections order may differ from creation order)
    src = np.asarray(plastic.get("source")); tgt = np.asarray(plastic.get("target"))
    ci = int(np.flatnonzero((src == pre_gid) & (tgt == post_gid))[0])
    others0, others1 = np.delete(w_initial, ci), np.delete(w_final, ci)
    trace_w_arr = np.asarray(trace_w)
    hit = np.flatnonzero(trace_w_arr >= 0.99 * p.w_max)
    out = {
        "simulator": "nest", "nest_version": nest.__version__, "threads": threads, "seed": seed,
        "reward": reward, "simulated_s": t_sim, "check_ms": check_ms, "run_calls": len(chunks),
        "python_s": python_s, "deliver_interval_ms": deliver_interval * cfg.simulation.dt_ms,
        "deliver_interval": deliver_interval,
        "build_s": build_s, "run_s": run_s, "run_cpu_s": run_cpu_s, "total_s": time.perf_counter() - t_all,
        "realtime_factor": t_sim / run_s,
        "rate_exc_hz": n_spk_exc / (n_exc * t_sim), "rate_inh_hz": n_spk_inh / (n_inh * t_sim),
        "n_spikes": int(len(senders)), "coincidences": len(coincidences),
        # a dopamine spike sent at `due` reaches the volume transmitter 2 ms later
        "rewards_delivered": int(sum(1 for x in all_due if x + path_delay <= t_sim * 1000.0)),
        "chosen_pre": chosen_pre, "chosen_post": chosen_post,
        "chosen_initial": float(w_initial[ci]), "chosen_final": float(w_final[ci]),
        "chosen_max_sampled": float(trace_w_arr.max()),
        "time_to_cap_s": float(np.asarray(trace_t)[hit[0]]) if len(hit) else None,
        "chosen_percentile_final": float(100.0 * np.mean(others1 < w_final[ci])),
        "others_mean_initial": float(others0.mean()), "others_mean_final": float(others1.mean()),
        "others_median_final": float(np.median(others1)),
        "others_at_cap_final": int(np.count_nonzero(others1 >= 0.99 * p.w_max)),
        "load_avg_end": list(os.getloadavg()),
    }
    out["_trace"] = (trace_t, trace_w)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=300.0, help="simulated seconds (default 300)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-reward", action="store_true", help="control: coincidences counted, no dopamine")
    ap.add_argument("--check-ms", default="auto",
                    help="reward-detection chunk (ms); auto = the longest allowed (delay_min - 3 ms = 997 ms)")
    ap.add_argument("--threads", type=int, default=1, help="NEST threads (default 1, like Brian2 standalone)")
    ap.add_argument("--deliver-interval", type=int, default=1000,
                    help="volume_transmitter deliver_interval in ms (NEST default 1; default here 1000)")
    ap.add_argument("--out", default="benchmarks/results/nest-comparison")
    ap.add_argument("--label", default=None, help="file label (default <duration>s[-control])")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    try:
        check_ms = None if args.check_ms == "auto" else float(args.check_ms)
    except ValueError:
        ap.error(f"--check-ms must be a number of ms or 'auto' (got {args.check_ms!r})")
    if check_ms is not None and not 0 < check_ms <= 998.0:
        ap.error("--check-ms must be in (0, 998]: rewards are due 1000 ms after a coincidence at the earliest, "
                 "minus the 2 ms path to the volume transmitter")
    label = args.label or f"{args.duration:g}s" + ("-control" if args.no_reward else "")
    load0 = os.getloadavg()
    res = run(args.duration, args.seed, not args.no_reward, check_ms, args.threads, args.deliver_interval,
              progress=not args.quiet)
    res["load_avg_start"] = list(load0)
    trace_t, trace_w = res.pop("_trace")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"nest-{label}.json").write_text(json.dumps(res, indent=2) + "\n")
    np.savetxt(out / f"nest-{label}-trace.csv", np.column_stack([trace_t, trace_w]), delimiter=",",
               header="time_s,chosen_weight", comments="", fmt="%.6g")
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
