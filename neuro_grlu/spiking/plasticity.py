"""Pair-based STDP and the three-factor (dopamine-gated) synapse as Brian2 code.

Pair term
---------
A pre-before-post pair at lag ``s = t_post - t_arrival > 0`` contributes
``+A+ exp(-s/tau_plus)``; a post-before-pre pair (``s = t_arrival - t_post >= 0``)
``-A- exp(-s/tau_minus)``, where ``t_arrival`` is the presynaptic spike time plus the
axonal delay. ``multiplicative`` scales LTP by ``(w_max - w)/w_max`` and LTD by
``w/w_max`` (soft bounds); ``additive`` clips ``w`` to ``[w_min, w_max]``.

``traces = "nearest"``: only the most recent spike on each side counts (Izhikevich's
code resets ``STDP(fired) = 0.1``). Because the nearest pre (post) spike is a property of
the neuron, not of the synapse, the rule reads the neurons' ``t_last`` (time of the last
spike, written by their reset) instead of keeping two event-driven traces in each of
the 80,000 synapses; this halves the cost of a postsynaptic spike. Consequences, the
same as in Izhikevich's code: a postsynaptic spike in the step a presynaptic spike
arrives counts as pre-before-post only; a presynaptic spike still in flight (fired less
than one delay ago) does not pair with a postsynaptic spike. If the presynaptic side
is a spike generator (no ``t_last``), per-synapse traces are used (``apre``, ``apost``,
event-driven), with the same result.

``traces = "all_to_all"``: per-synapse traces ``apre``/``apost`` that add 1 per spike.

Triplet term
------------
``window = "triplet"`` (Pfister & Gerstner 2006): four per-synapse traces, fast
``r1``/``o1`` (tau_plus, tau_minus) and slow ``r2``/``o2`` (tau_x, tau_y). A postsynaptic
spike adds ``r1 (A2+ + A3+ o2)``, a presynaptic arrival subtracts ``o1 (A2- + A3- r2)``,
each slow trace read before the spike's own jump. ``traces`` chooses the interaction:
``nearest`` sets a trace to 1 at a spike, ``all_to_all`` adds 1. With ``a3_plus =
a3_minus = 0`` it is the pair rule with per-synapse traces. The same ``rule``
(additive/multiplicative) and ``modulation`` (none/dopamine) apply.

Modulation
----------
``"none"``: classical STDP, the pair term (times ``stdp_scale``) is added to ``w``.

``"dopamine"`` (Izhikevich 2007): the pair term is added to the eligibility trace
``c``, and on a grid of ``update_dt`` (10 ms as in his code)::

    w <- clip(w + eta * update_dt * da * c, w_min, w_max)
    c <- c * exp(-update_dt / tau_c)

where ``da`` is the dopamine concentration of the one-element dopamine group, read by
every plastic synapse through a *shared* linked variable (one global value, not
per-synapse state). Izhikevich updates ``s`` and ``sd`` every 10 ms (``s +=
(0.002+DA)*sd; sd *= 0.99``); updating 80,000 synapses every 1 ms step would cost 10x
more, so the grid is kept deliberately and is a parameter (``update_dt_ms``).
"""

from __future__ import annotations

import numpy as np

from .config import PlasticityParams


def stdp_synapse(p: PlasticityParams, on_pre_effect: str, *, delay_ms: float, neuron_traces: bool) -> dict:
    """Brian2 ``Synapses`` arguments for a plastic excitatory projection.

    Parameters
    ----------
    p : PlasticityParams
        Rule, traces, amplitudes, bounds and modulation.
    on_pre_effect : str
        Statement applying the spike to the postsynaptic neuron, with ``{w}`` for the
        weight (e.g. ``"v_post += {w}*mV"``).
    delay_ms : float
        Axonal delay of the projection (ms), homogeneous.
    neuron_traces : bool
        Pre and post neurons both have ``t_last`` (NeuronGroups, not spike generators):
        use the neuron-level nearest-spike rule when ``p.traces == "nearest"``.

    Returns
    -------
    dict
        ``model``, ``on_pre``, ``on_post`` (str), ``namespace`` (dict of Brian2
        quantities and numbers), ``regular`` (code run every ``update_dt``, or None) and
        ``update_dt`` (Brian2 time).
    """
    from brian2 import ms

    namespace = dict(tau_plus=p.tau_plus_ms * ms, tau_minus=p.tau_minus_ms * ms, A_plus=p.a_plus,
                     A_minus=p.a_minus, w_min=p.w_min, w_max=p.w_max, syn_delay=delay_ms * ms)
    model = ["w : 1"]
    if p.window == "triplet":
        model += triplet_traces(p, namespace)
        pre_trace, post_trace = "r1*(A_plus + A3_plus*o2)", "o1*(A_minus + A3_minus*r2)"
        op = "=" if p.traces == "nearest" else "+="
        set_pre, set_post = [f"r1 {op} 1", f"r2 {op} 1"], [f"o1 {op} 1", f"o2 {op} 1"]
    elif p.traces == "nearest" and neuron_traces:
        pre_trace = "exp(-(t - t_last_pre - syn_delay)/tau_plus)*int(t - t_last_pre >= syn_delay)"
        post_trace = "exp(-(t - t_last_post)/tau_minus)"
        set_pre, set_post = [], []
    else:
        model += ["dapre/dt = -apre/tau_plus : 1 (event-driven)",
                  "dapost/dt = -apost/tau_minus : 1 (event-driven)"]
        pre_trace, post_trace = "apre", "apost"
        set_pre = ["apre = 1" if p.traces == "nearest" else "apre += 1"]
        set_post = ["apost = 1" if p.traces == "nearest" else "apost += 1"]
    if p.window == "triplet":  # the amplitudes are inside the trace expressions
        ltp, ltd = f"({pre_trace})", f"({post_trace})"
    else:
        ltp, ltd = f"A_plus*{pre_trace}", f"A_minus*{post_trace}"
    if p.rule == "multiplicative":
        ltp, ltd = f"{ltp}*(w_max - w)/w_max", f"{ltd}*w/w_max"
    effect = on_pre_effect.format(w="w")
    if p.modulation == "none":
        namespace["stdp_scale"] = p.stdp_scale
        # each change is computed before the spike's own trace jumps (the triplet rule
        # reads its slow traces from before the spike; the pair terms do not care)
        on_pre = [effect, f"w = clip(w - stdp_scale*{ltd}, w_min, w_max)", *set_pre]
        on_post = [f"w = clip(w + stdp_scale*{ltp}, w_min, w_max)", *set_post]
        regular = None
    else:
        model += ["c : 1", "da : 1 (linked, shared)"]
        # LTD is computed before the presynaptic trace is set (the pair is post-before-pre)
        on_pre = [effect, f"c -= {ltd}", *set_pre]
        on_post = [f"c += {ltp}", *set_post]
        namespace.update(eta=p.eta_per_s / (1000.0 * ms), update_dt=p.update_dt_ms * ms,
                         tau_c=p.tau_c_ms * ms)
        regular = ("w = clip(w + eta*update_dt*da*c, w_min, w_max)\n"
                   "c = c*exp(-update_dt/tau_c)")
    return dict(model="\n".join(model), on_pre="\n".join(on_pre), on_post="\n".join(on_post),
                namespace=namespace, regular=regular, update_dt=p.update_dt_ms * ms)


def triplet_traces(p: PlasticityParams, namespace: dict) -> list[str]:
    """Equations of the four per-synapse traces of the triplet rule; adds their
    constants to `namespace`.

    ``r1`` (tau_plus) and ``r2`` (tau_x) jump at each presynaptic arrival, ``o1``
    (tau_minus) and ``o2`` (tau_y) at each postsynaptic spike: by 1 (all-to-all) or to 1
    (nearest). A postsynaptic spike adds ``r1*(A2+ + A3+*o2)`` with ``o2`` read *before*
    its own jump; an arrival subtracts ``o1*(A2- + A3-*r2)`` with ``r2`` read before its
    jump (Pfister & Gerstner 2006, eqs. 3-4).
    """
    from brian2 import ms

    namespace.update(tau_x=p.tau_x_ms * ms, tau_y=p.tau_y_ms * ms, A3_plus=p.a3_plus, A3_minus=p.a3_minus)
    return ["dr1/dt = -r1/tau_plus : 1 (event-driven)", "dr2/dt = -r2/tau_x : 1 (event-driven)",
            "do1/dt = -o1/tau_minus : 1 (event-driven)", "do2/dt = -o2/tau_y : 1 (event-driven)"]


def pair_term(lag_ms, p: PlasticityParams, w: float | None = None):
    """Analytic STDP term of one spike pair, ``lag_ms = t_post - t_arrival`` (ms).

    Parameters
    ----------
    lag_ms : array-like
        Lags in ms (positive: pre before post).
    p : PlasticityParams
    w : float, optional
        Current weight for the multiplicative rule (default ``w_max/2``).

    Returns
    -------
    ndarray of the same shape: ``A+ e^{-s/tau+}`` for s >= 0 (lag 0 = pre arrives in
    the step post fires, counted as LTP), ``-A- e^{s/tau-}`` for s < 0.
    """
    s = np.asarray(lag_ms, dtype=float)
    ltp = p.a_plus * np.exp(-np.abs(s) / p.tau_plus_ms)
    ltd = -p.a_minus * np.exp(-np.abs(s) / p.tau_minus_ms)
    if p.rule == "multiplicative":
        w = 0.5 * p.w_max if w is None else w
        ltp, ltd = ltp * (p.w_max - w) / p.w_max, ltd * w / p.w_max
    return np.where(s >= 0, ltp, ltd)
