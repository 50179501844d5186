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
than one delay ago) does not pair with a postsynaptic spike. "Fired at least one delay
ago" is tested as ``t - t_last_pre > delay - dt/2``: with ``>= delay`` the rounding of
``t - t_last_pre`` (both whole steps) dropped about half of the lag-0 pairs. If the presynaptic side
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

``update = "event"``: the same rule without the grid, ``dw/dt = eta c d`` and
``dc/dt = -c/tau_c`` integrated exactly and only when the synapse has an event. Between
two events of a synapse ``c(s) = c_hat Y(s)`` with ``Y(s) = exp(-(s - T)/tau_c)`` (``T`` the
start of the current epoch), so the weight change is ``eta c_hat (L(t) - L(t_last))``
with ``L(t) = integral from T to t of Y d``. ``Y`` and ``L`` are two numbers of the
dopamine group, advanced in closed form each step (:func:`dopamine_event_code`); each
synapse keeps ``c_hat`` and ``L_last``. At a pre or post event the synapse first adds
``eta c_hat (L - L_last)`` to ``w`` and clips, then adds the pair term ``/ Y`` to ``c_hat``.
This is exact, clipping included, because ``d >= 0`` and ``c`` keeps its sign between
events, so ``w`` moves monotonically and clipping at the next event equals clipping on
the way. Every ``rebase`` (10 tau_c, so ``1/Y <= e^10``) all synapses are brought up to
date and ``T``, ``Y``, ``L`` restart (a 1/10,000-step cost). The grid's O(update_dt/tau_c)
error disappears and the 10 ms pass over all synapses with it. ``w`` is then the weight
at the synapse's last event; the current weight is the subexpression ``w_now``
(monitored instead of ``w``) and ``c = c_hat Y``.

With nearest-spike traces between model neurons the event-driven rule also calls no
``exp`` per synapse event: each neuron keeps ``E = exp((t_last - T_trace)/tau)`` (set by
its reset, one ``exp`` per spike) and the pair term is ``A E exp(-(t - T_trace)/tau)``,
whose second factor is one number per step (:func:`neuron_trace_code`); the division by
``Y`` is a multiplication by ``Yinv``, divided once per step by the dopamine group. The same
rule, rounded differently (relative differences of order 1e-16 per term).
"""

from __future__ import annotations

import numpy as np

from .config import PlasticityParams


def stdp_synapse(p: PlasticityParams, on_pre_effect: str, *, delay_ms: float, neuron_traces: bool,
                 dt_ms: float = 1.0, exp_traces: bool = False) -> dict:
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
        ``update_dt`` (Brian2 time: the grid, or the epoch for ``update = "event"``)
        and ``event`` (bool, event-driven dopamine update).
    dt_ms : float
        Simulation step (ms), for the event-driven epoch length.
    exp_traces : bool
        The neurons carry ``E_plus``/``E_minus``/``T_trace`` (:func:`neuron_trace_code`): the
        nearest-spike pair terms read them instead of calling ``exp`` per synapse event.
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
    elif p.traces == "nearest" and neuron_traces and exp_traces:
        # exp(-(t - t_last)/tau) = E*exp(-(t - T_trace)/tau): the second factor is the same for
        # every synapse of the step (Brian2 computes it once, before the loop over the events)
        pre_trace = ("E_plus_pre*exp(-(t - T_trace_pre - syn_delay)/tau_plus)"
                     "*int(t - t_last_pre > syn_delay - 0.5*dt)")
        post_trace = "E_minus_post*exp(-(t - T_trace_post)/tau_minus)"
        set_pre, set_post = [], []
    elif p.traces == "nearest" and neuron_traces:
        pre_trace = "exp(-(t - t_last_pre - syn_delay)/tau_plus)*int(t - t_last_pre > syn_delay - 0.5*dt)"
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
    elif p.update == "event":
        model += ["c_hat : 1", "L_last : second", "L_da : second (linked, shared)", "Y_da : 1 (linked, shared)",
                  "Yinv_da : 1 (linked, shared)", "c = c_hat*Y_da : 1",
                  "w_now = clip(w + eta*c_hat*(L_da - L_last), w_min, w_max) : 1"]
        catch_up = ["w = clip(w + eta*c_hat*(L_da - L_last), w_min, w_max)", "L_last = L_da"]
        # Yinv = 1/Y, divided once per step by the dopamine group (not once per event)
        on_pre = [*catch_up, effect, f"c_hat -= ({ltd})*Yinv_da", *set_pre]
        on_post = [*catch_up, f"c_hat += ({ltp})*Yinv_da", *set_post]
        namespace.update(eta=p.eta_per_s / (1000.0 * ms))
        regular = ("w = clip(w + eta*c_hat*(L_da - L_last), w_min, w_max)\n"
                   "c_hat = c_hat*Y_da\n"
                   "L_last = 0*second")
    else:
        model += ["c : 1", "da : 1 (linked, shared)"]
        # LTD is computed before the presynaptic trace is set (the pair is post-before-pre)
        on_pre = [effect, f"c -= {ltd}", *set_pre]
        on_post = [f"c += {ltp}", *set_post]
        namespace.update(eta=p.eta_per_s / (1000.0 * ms), update_dt=p.update_dt_ms * ms,
                         tau_c=p.tau_c_ms * ms)
        regular = ("w = clip(w + eta*update_dt*da*c, w_min, w_max)\n"
                   "c = c*exp(-update_dt/tau_c)")
    event = p.modulation == "dopamine" and p.update == "event"
    update_dt = rebase_ms(p, dt_ms) * ms if event else p.update_dt_ms * ms
    return dict(model="\n".join(model), on_pre="\n".join(on_pre), on_post="\n".join(on_post),
                namespace=namespace, regular=regular, update_dt=update_dt, event=event)


def trace_epoch_ms(p: PlasticityParams, dt_ms: float) -> float:
    """Epoch of the neurons' exponential traces (:func:`neuron_trace_code`): at most 400 of the
    shorter STDP time constant (so ``exp`` of ``epoch / tau`` stays far inside double range),
    a whole number of steps (>= 1)."""
    return max(1, int(400.0 * min(p.tau_plus_ms, p.tau_minus_ms) / dt_ms)) * dt_ms


def neuron_trace_code(p: PlasticityParams, dt_ms: float):
    """The neurons' side of ``exp_traces`` (nearest-spike pair terms without ``exp`` per event).

    Each neuron keeps ``E_plus = exp((t_last - T_trace)/tau_plus)`` and ``E_minus`` likewise,
    set by its reset (one ``exp`` per spike instead of one per synapse event); ``T_trace``
    (shared) is the start of the current epoch, restarted every :func:`trace_epoch_ms` at the
    start of the step: ``T_trace = t`` and both ``E`` scaled by ``exp(-epoch/tau)``. Within
    an epoch ``0 <= t - T_trace < epoch``, so neither factor of a trace overflows; the trace of
    a spike older than about one epoch (400 tau) underflows to 0 (its exact value is below
    ``e**-400``).

    Returns ``(equations, reset, rebase_code, epoch_ms, namespace)``.
    """
    from brian2 import ms

    epoch = trace_epoch_ms(p, dt_ms)
    equations = "E_plus : 1\nE_minus : 1\nT_trace : second (shared)"
    reset = "E_plus = exp((t - T_trace)/tau_plus)\nE_minus = exp((t - T_trace)/tau_minus)"
    rebase = "T_trace = t\nE_plus = E_plus*trace_decay_plus\nE_minus = E_minus*trace_decay_minus"
    ns = dict(tau_plus=p.tau_plus_ms * ms, tau_minus=p.tau_minus_ms * ms,
              trace_decay_plus=np.exp(-epoch / p.tau_plus_ms), trace_decay_minus=np.exp(-epoch / p.tau_minus_ms))
    return equations, reset, rebase, epoch, ns


def rebase_ms(p: PlasticityParams, dt_ms: float) -> float:
    """Epoch length (ms) of the event-driven update: 10 tau_c as a whole number of steps (>= 1)."""
    return max(1, int(round(10.0 * p.tau_c_ms / dt_ms))) * dt_ms


def dopamine_event_code(p: PlasticityParams, tau_d_ms: float, tonic: float, dt_ms: float):
    """Closed-form step of the dopamine group for ``update = "event"``.

    Returns ``(step_code, rebase_code, namespace)``: `step_code` advances ``d`` (relaxing
    to `tonic` with `tau_d_ms`), ``Y`` (decaying with tau_c, and ``Yinv = 1/Y``) and ``L += integral of Y d``
    over one step of `dt_ms` exactly (between the reward jumps, which happen between
    steps, ``d`` is an exponential); `rebase_code` restarts the epoch.
    """
    from brian2 import ms

    tc, td, dt = p.tau_c_ms, tau_d_ms, dt_ms
    tx = 1.0 / (1.0 / tc + 1.0 / td)
    ns = dict(d_tonic=tonic, k_c=tc * -np.expm1(-dt / tc) * ms, k_x=tx * -np.expm1(-dt / tx) * ms,
              decay_d=np.exp(-dt / td), decay_c=np.exp(-dt / tc))
    step = ("L = L + Y*(d_tonic*k_c + (d - d_tonic)*k_x)\n"
            "d = d_tonic + (d - d_tonic)*decay_d\n"
            "Y = Y*decay_c\n"
            "Yinv = 1.0/Y")
    rebase = "L = 0*second\nY = 1.0\nYinv = 1.0"
    return step, rebase, ns


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
