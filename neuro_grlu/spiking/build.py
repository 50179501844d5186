"""Build a :class:`~neuro_grlu.spiking.config.SpikingConfig` into an explicit ``brian2.Network``.

This is the only module that creates Brian2 objects. Every group gets its own
``namespace`` (so nothing is read from the caller's frame), every object its own ``dt``
(the global ``defaultclock`` is never touched) and the caller runs the returned
network with ``net.run(duration, namespace={})``. Two built networks can therefore
live side by side in one process (runtime target).

All randomness that shapes the network (connectivity, frozen input noise, Poisson
trains, reward delays, uncorrelated reward times) is drawn with NumPy from the
configuration's seed, so it is identical for every code-generation target; the
``philox`` input noise is Philox4x32-10 of (seed, step, neuron) (:mod:`.philox`), also
identical on every target; only the ``uniform`` input noise uses Brian2's ``rand()``
(seeded with :func:`brian2.seed`, but a different stream in runtime and standalone mode).

Clocks: one ``brian2.Clock`` per period (:class:`Clocks`): every 1 ms object shares
one clock, the 10 ms plasticity grid and the 10 ms state monitors another, and so on
(Brian2 otherwise creates a clock per object, each advanced and compared every step).

Standalone: nothing that depends on the seed is written into the generated code. Arrays
(connectivity, initial values, tables) are data files; the Philox seed is a variable set
through ``run_args`` (:attr:`BuiltNetwork.run_args`), and Brian2's ``seed()`` is only
called for ``rand()`` (input ``uniform``). Another seed therefore recompiles nothing.

Structure
---------
``neurons``      one NeuronGroup holding every model population (subgroups by name)
``<source>``     a SpikeGeneratorGroup per Poisson population
``<projection>`` a Synapses object per projection (plastic ones with STDP and,
                 when dopamine-modulated, the eligibility trace ``c`` and a linked
                 read-only view ``da`` of the global dopamine concentration)
``dopamine``     a one-element NeuronGroup: ``d`` relaxes to the tonic level with
                 ``tau_d``; rewards arrive as spikes through Synapses (``d_post +=
                 amount``, the pattern of Brian2's ``Izhikevich_2007`` example); in RPE
                 mode a critic's reward-rate estimate ``rho`` is subtracted.
``detector``/``timers``  the distal-reward schedule (no ``network_operation``, so it
                 also runs in C++ standalone mode): ``detector`` remembers the chosen
                 synapse's last presynaptic spike; a postsynaptic spike within the
                 window arms one of ``max_pending`` timers with a delay drawn in
                 advance; a timer that expires spikes into ``dopamine``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .config import SOURCE_MODELS, IzhikevichPopulation, LIFPopulation, SpikingConfig
from .neurons import get_model
from . import philox
from .plasticity import dopamine_event_code, neuron_trace_code, rebase_ms, stdp_synapse

#: Largest frozen-noise table (values) accepted for ``input.kind = "frozen_uniform"``.
MAX_FROZEN_VALUES = 50_000_000
FAR_FUTURE_S = 1e9
#: Length of the table of pre-drawn reward delays (the k-th coincidence uses entry
#: k mod this length; more than the coincidences of a one-hour run).
DELAY_TABLE_SIZE = 1 << 18
#: Philox stream of the neurons' input noise (the counter's fourth word) and the seed range.
NOISE_STREAM = 0
PHILOX_SEEDS = 1 << 31
PHILOX_I_EXT_FLAGS = " (constant over dt)"


@dataclass
class BuiltNetwork:
    """A built network and what the experiments need to read it.

    Attributes
    ----------
    net : brian2.Network
    groups : dict of str to Brian2 object (``neurons``, ``dopamine``, sources, projections, ...)
    monitors : dict of str to Brian2 monitor
    offsets : dict of str to (start, stop)
        Index range of each model population inside ``neurons``.
    plastic : str or None
        Name of the plastic projection (the first one).
    chosen : int or None
        Synapse index of the chosen synapse inside the plastic projection.
    tracked : ndarray of int
        Indices of the plastic synapses whose ``w`` is sampled (chosen first), shape (k,).
    pre_idx, post_idx : dict of str to ndarray
        Presynaptic (source-local) and postsynaptic (``neurons``) indices per projection.
    """

    net: object
    config: SpikingConfig
    groups: dict = field(default_factory=dict)
    monitors: dict = field(default_factory=dict)
    offsets: dict = field(default_factory=dict)
    plastic: str | None = None
    chosen: int | None = None
    tracked: np.ndarray | None = None
    pre_idx: dict = field(default_factory=dict)
    post_idx: dict = field(default_factory=dict)
    run_args: dict = field(default_factory=dict)
    event: bool = False

    def weights_now(self) -> np.ndarray:
        """Current weights of the plastic projection (float64, shape (n_syn,)).

        With ``update = "event"`` the stored ``w`` is the weight at each synapse's last
        event; the current weight adds ``eta c_hat (L - L_last)`` (then clipped).
        """
        syn = self.groups[self.plastic]
        w = np.asarray(syn.w[:], dtype=np.float64)
        if not self.event:
            return w
        p = self.config.plasticity
        L = float(np.asarray(self.groups["dopamine"].L[:]).ravel()[0])
        c_hat = np.asarray(syn.c_hat[:], dtype=np.float64)
        L_last = np.asarray(syn.L_last[:], dtype=np.float64)
        return np.clip(w + p.eta_per_s * c_hat * (L - L_last), p.w_min, p.w_max)


class Clocks:
    """One shared ``brian2.Clock`` per period: ``clocks(dt_ms)`` (same period, same clock)."""

    def __init__(self):
        self._clocks = {}

    def __call__(self, dt_ms: float):
        import brian2 as b2

        key = round(float(dt_ms), 9)
        if key not in self._clocks:
            self._clocks[key] = b2.Clock(dt=key * b2.ms, name=f"clock_{len(self._clocks)}*")
        return self._clocks[key]


def _standalone() -> bool:
    import brian2 as b2
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    return isinstance(b2.get_device(), CPPStandaloneDevice)


def _connect(rng, proj, pre_n, pre_global, targets):
    """Presynaptic (local) and postsynaptic (global) index arrays, ordered by pre neuron."""
    targets = np.asarray(targets)
    if proj.connectivity == "all":
        i = np.repeat(np.arange(pre_n), len(targets))
        j = np.tile(targets, pre_n)
        if pre_global is not None:
            keep = j != pre_global[i]
            i, j = i[keep], j[keep]
        return i, j
    if proj.connectivity == "one_to_one":
        if len(targets) != pre_n:
            raise ConfigError(f"one_to_one projection needs equal sizes (pre {pre_n}, post {len(targets)})")
        return np.arange(pre_n), targets.copy()
    fan = proj.fanout
    i = np.repeat(np.arange(pre_n), fan)
    j = np.empty(pre_n * fan, dtype=np.int64)
    for k in range(pre_n):
        cand = targets if pre_global is None else targets[targets != pre_global[k]]
        if fan > len(cand):
            raise ConfigError(f"fanout {fan} exceeds the {len(cand)} possible targets")
        j[k * fan:(k + 1) * fan] = rng.choice(cand, size=fan, replace=False)
    return i, j


def _td_critic(out, dopamine, sources, dt) -> list:
    """The TD critic of ``dopamine.critic = "td"`` (Schultz, Dayan & Montague 1997).

    A tapped delay line ``critic`` of ``td_units`` units (a complete serial compound):
    unit ``k`` is on (``x = 1``) at the ``k+1``-th bin boundary after the last cue spike
    (age in ``(k*bin, (k+1)*bin]``, with half a time step of slack).
    Every ``td_bin`` (bin boundary ``t_n``), in this order within the time step:

    1. ``start``: ``x_prev = x``, ``x`` = the delay line at ``t_n``;
    2. ``groups``: ``V = sum(w*x)``, ``V_prev = sum(w*x_prev)`` (summed variables);
    3. ``after_groups``: ``delta = r_acc + gamma*V - V_prev`` with ``r_acc`` the rewards
       received since the last boundary (then reset); ``d += td_gain*delta``;
    4. ``end``: ``w += alpha*delta*x_prev`` (TD(0) with linear features).

    Returns the Brian2 objects to add to the network.
    """
    import brian2 as b2
    from brian2 import ms, second

    dp = out.config.dopamine
    if dp.cue not in sources:
        raise ConfigError(f"dopamine.cue = {dp.cue!r} must be a spike source (model \"generator\" or \"poisson\")")
    td_bin = dp.td_bin_ms * ms
    critic = b2.NeuronGroup(dp.td_units, "w : 1\nx : 1\nx_prev : 1\nt_cue : second", namespace=dict(td_bin=td_bin),
                            dt=dt, name="critic*")
    critic.t_cue = -FAR_FUTURE_S * second
    critic.run_regularly("x_prev = x\nx = int(t - t_cue > i*td_bin + 0.5*dt and t - t_cue <= (i + 1)*td_bin + 0.5*dt)",
                         dt=td_bin, when="start", name="critic_features*")
    seen = b2.Synapses(sources[dp.cue], critic, on_pre="t_cue_post = t", namespace={}, dt=dt, name="critic_cue*")
    seen.connect()
    value = b2.Synapses(critic, dopamine, model="V_post = w_pre*x_pre : 1 (summed)\nV_prev_post = w_pre*x_prev_pre : 1 (summed)",
                        namespace={}, dt=dt, name="critic_value*")
    value.connect()
    dopamine.run_regularly("delta = r_acc + gamma*V - V_prev\nr_acc = 0\nd += td_gain*delta", dt=td_bin,
                           when="after_groups", name="critic_error*")
    dopamine.namespace.update(gamma=dp.td_gamma, td_gain=dp.td_gain)
    learn = b2.Synapses(dopamine, critic, namespace=dict(alpha=dp.td_alpha), dt=dt, name="critic_learn*")
    learn.connect()
    learn.run_regularly("w_post += alpha*delta_pre*x_prev_post", dt=td_bin, when="end", name="critic_learn_update*")
    out.groups.update(critic=critic)
    return [critic, seen, value, learn]


def build_network(config: SpikingConfig, *, duration_s: float | None = None, record_spikes: bool | None = None):
    """Create all Brian2 objects of `config` and return a :class:`BuiltNetwork`.

    Parameters
    ----------
    config : SpikingConfig
    duration_s : float, optional
        Planned duration (s) for pre-drawn inputs (default ``simulation.duration_s``).
    record_spikes : bool, optional
        Override ``recording.spikes``.
    """
    import brian2 as b2
    from brian2 import mV, ms, second

    sim, rec = config.simulation, config.recording
    duration_s = sim.duration_s if duration_s is None else duration_s
    dt = sim.dt_ms * ms
    rng = np.random.default_rng(sim.seed)
    clocks = Clocks()
    clock = clocks(sim.dt_ms)
    standalone = _standalone()
    if config.input.kind == "uniform":
        b2.seed(sim.seed)
    out = BuiltNetwork(net=None, config=config)
    objects = []

    # the event-driven rule with nearest-spike traces between model neurons: the neurons keep
    # exp(t_last/tau) relative to an epoch, so no synapse event calls exp (plasticity.neuron_trace_code)
    pl = config.plasticity
    exp_traces = (pl.update == "event" and pl.modulation == "dopamine" and pl.traces == "nearest"
                  and pl.window != "triplet"
                  and any(p.plastic and config.populations[p.pre].model not in SOURCE_MODELS
                          for p in config.projections.values()))

    # -- neurons -------------------------------------------------------------------------
    model_pops = config.model_populations
    n_total = sum(config.populations[k].n for k in model_pops)
    neurons = None
    if model_pops:
        model = get_model(config.populations[model_pops[0]].model)
        inp = config.input
        ns = dict(I_offset=inp.offset_mV * mV, I_amplitude=inp.amplitude_mV * mV)
        if inp.kind == "uniform":
            i_ext = "I_ext = I_offset + I_amplitude*(rand() - 0.5) : volt (constant over dt)"
        elif inp.kind == "philox":
            ns["philox_prepare"], ns["philox_table"] = philox.brian2_step_table()
            # = philox_uniform(noise_seed, NOISE_STREAM, t_in_timesteps, i): the step's N values are
            # filled once before the loop over the neurons (philox.brian2_step_table)
            i_ext = ("I_ext = I_offset + I_amplitude*(philox_table(philox_prepare(noise_seed, NOISE_STREAM, "
                     "t_in_timesteps, N), noise_seed, NOISE_STREAM, t_in_timesteps, i) - 0.5) : volt"
                     + PHILOX_I_EXT_FLAGS + "\nnoise_seed : integer (shared, constant)")
            ns["NOISE_STREAM"] = NOISE_STREAM
        elif inp.kind == "frozen_uniform":
            steps = int(round(duration_s / (sim.dt_ms * 1e-3))) + 1
            if steps * n_total > MAX_FROZEN_VALUES:
                raise ConfigError(f"input.kind = \"frozen_uniform\" needs {steps * n_total:,} values for "
                                  f"{duration_s} s x {n_total} neurons (max {MAX_FROZEN_VALUES:,}); "
                                  "use kind = \"uniform\" for long runs")
            ns["noise"] = b2.TimedArray(rng.random((steps, n_total)), dt=dt)
            i_ext = "I_ext = I_offset + I_amplitude*(noise(t, i) - 0.5) : volt"
        elif inp.kind == "constant":
            i_ext = "I_ext = I_offset : volt"
        else:
            i_ext = "I_ext = 0*mV : volt"
        equations, reset = model.equations + "\n" + i_ext, model.reset
        if exp_traces:
            t_eqs, t_reset, t_rebase, t_epoch, t_ns = neuron_trace_code(pl, sim.dt_ms)
            equations, reset = equations + "\n" + t_eqs, reset + "\n" + t_reset
            ns.update(t_ns)
        neurons = b2.NeuronGroup(n_total, equations, threshold=model.threshold,
                                 reset=reset, refractory=model.refractory, method=model.method,
                                 namespace=ns, clock=clock, name="neurons*")
        if exp_traces:
            neurons.run_regularly(t_rebase, clock=clocks(t_epoch), when="start", order=-10,
                                  name="neurons_trace_epoch*")
        start = 0
        values = {k: np.empty(n_total) for k in model.per_neuron}
        v0 = np.empty(n_total)
        for name in model_pops:
            pop = config.populations[name]
            stop = start + pop.n
            out.offsets[name] = (start, stop)
            if isinstance(pop, IzhikevichPopulation):
                pv = pop.neuron_values()
                values["a"][start:stop], values["b"][start:stop] = pv["a"], pv["b"]
                values["v_reset"][start:stop], values["u_jump"][start:stop] = pv["v_reset_mV"], pv["u_jump_mV"]
            elif isinstance(pop, LIFPopulation):
                for key in model.per_neuron:
                    src = f"{key}_mV" if model.per_neuron[key] == "mV" else f"{key}_ms"
                    values[key][start:stop] = getattr(pop, src)
            v0[start:stop] = pop.v_init_mV
            start = stop
        for key, unit in model.per_neuron.items():
            setattr(neurons, key, values[key] * (mV if unit == "mV" else ms if unit == "ms" else 1))
        neurons.v = v0 * mV
        neurons.t_last = -FAR_FUTURE_S * second
        if inp.kind == "philox":
            if standalone:  # a data file, not a literal in main.cpp
                out.run_args[neurons.noise_seed] = int(sim.seed) % PHILOX_SEEDS
            else:
                neurons.noise_seed = int(sim.seed) % PHILOX_SEEDS
        if model.name == "izhikevich":
            neurons.u = values["b"] * v0 * mV
        objects.append(neurons)
        out.groups["neurons"] = neurons

    # -- Poisson sources (trains drawn with NumPy) ---------------------------------------
    sources = {}
    for name, pop in config.populations.items():
        if pop.model == "poisson":
            steps = int(round(duration_s / (sim.dt_ms * 1e-3)))
            p = min(1.0, pop.rate_hz * sim.dt_ms * 1e-3)
            n_spk = rng.binomial(steps, p, size=pop.n)
            idx = np.repeat(np.arange(pop.n), n_spk)
            step = (np.concatenate([np.sort(rng.choice(steps, size=k, replace=False)) for k in n_spk])
                    if n_spk.sum() else np.zeros(0, int))
            times = step * dt
        elif pop.model == "generator":
            idx = np.asarray(pop.indices, dtype=int)
            times = np.asarray(pop.times_ms, dtype=float) * ms
        else:
            continue
        sg = b2.SpikeGeneratorGroup(pop.n, idx, times, clock=clock, name=f"source_{name}*")
        sources[name] = sg
        objects.append(sg)
        out.groups[f"source_{name}"] = sg

    # -- dopamine ------------------------------------------------------------------------
    dp = config.dopamine
    td_vars = "\nV : 1\nV_prev : 1\nr_acc : 1\ndelta : 1" if dp.critic == "td" else ""
    out.event = event = (config.plasticity.update == "event" and config.plasticity.modulation == "dopamine"
                         and any(p.plastic for p in config.projections.values()))
    if event:
        # d, Y = exp(-(t - T)/tau_c) and L = integral of Y d since the epoch start T, in closed form
        step_code, rebase_code, dns = dopamine_event_code(config.plasticity, dp.tau_d_ms, dp.tonic, sim.dt_ms)
        dopamine = b2.NeuronGroup(1, "d : 1\nrho : 1/second\nY : 1\nYinv : 1\nL : second" + td_vars, namespace=dns,
                                  clock=clock, name="dopamine*")
        dopamine.run_regularly(step_code, clock=clock, when="groups", name="dopamine_step*")
        dopamine.Y = 1.0
        dopamine.Yinv = 1.0
    else:
        dopamine = b2.NeuronGroup(
            1, """dd/dt = (d_tonic - d)/tau_d - rpe*rho : 1
                  drho/dt = -rho/tau_critic : 1/second""" + td_vars,
            method="euler" if dp.rpe else "exact",
            namespace=dict(d_tonic=dp.tonic, tau_d=dp.tau_d_ms * ms, rpe=1.0 if dp.rpe else 0.0,
                           tau_critic=dp.tau_critic_s * second),
            clock=clock, name="dopamine*")
    dopamine.d = dp.tonic
    objects.append(dopamine)
    out.groups["dopamine"] = dopamine
    if dp.critic == "td":
        objects += _td_critic(out, dopamine, sources, dt)
    if dp.neurons:
        da = b2.NeuronGroup(dp.neurons, """rate = clip(base_rate + gain*(d_da - d_tonic), 0, inf)*Hz : Hz
                                           d_da : 1 (linked)""",
                            threshold="rand() < rate*dt", namespace=dict(base_rate=dp.base_rate_hz, gain=dp.gain_hz,
                                                                         d_tonic=dp.tonic, Hz=b2.Hz),
                            clock=clock, name="dopamine_neurons*")
        da.d_da = b2.linked_var(dopamine, "d", index=np.zeros(dp.neurons, dtype=int))
        objects.append(da)
        out.groups["dopamine_neurons"] = da

    # -- projections ---------------------------------------------------------------------
    rw = config.reward
    for jname, proj in config.projections.items():
        targets = np.concatenate([np.arange(*out.offsets[p]) for p in proj.post])
        pre_pop = config.populations[proj.pre]
        if pre_pop.model in SOURCE_MODELS:
            source, pre_global = sources[proj.pre], None
        else:
            a, b = out.offsets[proj.pre]
            source, pre_global = neurons[a:b], np.arange(a, b)
        i, j = _connect(rng, proj, pre_pop.n, pre_global, targets)
        effect = model.on_pre_exc if proj.weight >= 0 else model.on_pre_inh
        if proj.plastic:
            spec = stdp_synapse(config.plasticity, effect, delay_ms=proj.delay_ms,
                                neuron_traces=pre_pop.model not in SOURCE_MODELS, dt_ms=sim.dt_ms,
                                exp_traces=exp_traces)
            syn = b2.Synapses(source, neurons, model=spec["model"], on_pre=spec["on_pre"],
                              on_post=spec["on_post"], namespace=spec["namespace"],
                              delay=proj.delay_ms * ms, clock=clock, name=f"proj_{jname}*")
        else:
            syn = b2.Synapses(source, neurons, model="w : 1", on_pre=effect.format(w="w"), namespace={},
                              delay=proj.delay_ms * ms, clock=clock, name=f"proj_{jname}*")
        syn.connect(i=i, j=j)
        syn.w = proj.weight
        if proj.plastic:
            update_clock = clocks(float(spec["update_dt"] / ms))
            if spec["event"]:
                syn.c_hat = 0.0
                syn.L_da = b2.linked_var(dopamine, "L")
                syn.Y_da = b2.linked_var(dopamine, "Y")
                syn.Yinv_da = b2.linked_var(dopamine, "Yinv")
                # the epoch restart: every synapse catches up, then the dopamine group rebases
                syn.run_regularly(spec["regular"], clock=update_clock, when="end", order=-3,
                                  name=f"proj_{jname}_rebase*")
            elif config.plasticity.modulation == "dopamine":
                syn.c = 0.0
                syn.da = b2.linked_var(dopamine, "d")
                syn.run_regularly(spec["regular"], clock=update_clock, when="end",
                                  name=f"proj_{jname}_update*")
            if out.plastic is None:
                out.plastic = jname
        out.pre_idx[jname], out.post_idx[jname] = i, j
        objects.append(syn)
        out.groups[jname] = syn
    if event:
        dopamine.run_regularly(rebase_code, clock=clocks(rebase_ms(config.plasticity, sim.dt_ms)), when="end",
                               order=-2, name="dopamine_rebase*")

    # -- reward schedule -----------------------------------------------------------------
    reward_sources = []
    if out.plastic is not None and rw.projection:
        proj = config.projections[rw.projection]
        syn = out.groups[rw.projection]
        pre_local = out.pre_idx[rw.projection]
        rows = np.flatnonzero(pre_local == rw.chosen_pre)
        if rw.chosen_rank >= len(rows):
            raise ConfigError(f"reward.chosen_rank {rw.chosen_rank} but neuron {rw.chosen_pre} has {len(rows)} synapses")
        out.chosen = int(rows[rw.chosen_rank])
        w0 = np.full(len(pre_local), proj.weight)
        w0[out.chosen] = rw.chosen_w_init
        syn.w = w0
    if rw.kind in ("distal", "none") and out.chosen is not None:
        proj = config.projections[rw.projection]
        if config.populations[proj.pre].model in SOURCE_MODELS:
            pre_src, pre_i = sources[proj.pre], rw.chosen_pre
        else:
            pre_src, pre_i = neurons, out.offsets[proj.pre][0] + rw.chosen_pre
        post_i = int(out.post_idx[rw.projection][out.chosen])
        detector = b2.NeuronGroup(1, """t_pre_last : second
                                       pending : 1
                                       count : integer""",
                                  threshold="pending > 0.5", reset="pending = 0\ncount += 1",
                                  namespace={}, clock=clock, name="detector*")
        detector.t_pre_last = -FAR_FUTURE_S * second
        seen_pre = b2.Synapses(pre_src, detector, on_pre="t_pre_last_post = t", namespace={}, clock=clock,
                               order=-2, name="detector_pre*")
        seen_pre.connect(i=pre_i, j=0)
        seen_post = b2.Synapses(neurons, detector, namespace=dict(window=rw.window_ms * ms), clock=clock, order=-1,
                                on_pre="pending_post = 1.0*int(t - t_pre_last_post < window and t > t_pre_last_post)",
                                name="detector_post*")
        # twice (the statement sets, so a duplicate changes nothing): a one-element index
        # would be written into main.cpp as a literal, and it depends on the seed
        seen_post.connect(i=np.array([post_i, post_i]), j=np.array([0, 0]))
        k = rw.max_pending
        timers = b2.NeuronGroup(k, "t_due : second\nslot : integer (constant)", threshold="t >= t_due",
                                reset="t_due = far_future", namespace=dict(far_future=FAR_FUTURE_S * second),
                                clock=clock, name="timers*")
        timers.t_due = FAR_FUTURE_S * second
        timers.slot = np.arange(k)
        lo, hi = int(round(rw.delay_min_ms / sim.dt_ms)), int(round(rw.delay_max_ms / sim.dt_ms))
        max_count = max(1000, int(duration_s * 1000.0 / max(rw.window_ms, 1.0)) + 1)
        max_count = min(max_count, 2_000_000)
        delays = rng.integers(lo, hi + 1, size=max_count) * sim.dt_ms
        # a table of fixed length (the first max_count values repeated), so that the
        # generated code does not depend on the duration: a standalone build reused for
        # another duration recompiles main.cpp only
        delays = np.resize(delays, DELAY_TABLE_SIZE)
        arm = b2.Synapses(detector, timers, clock=clock, name="timers_arm*",
                          namespace=dict(delay_table=b2.TimedArray(delays * ms, dt=1 * ms), n_slots=k, step=dt,
                                         n_table=DELAY_TABLE_SIZE),
                          on_pre="t_due_post = t_due_post + int(slot_post == count_pre % n_slots)*"
                                 "(t - step + delay_table((count_pre % n_table)*ms) - t_due_post)")
        arm.connect()
        objects += [detector, seen_pre, seen_post, timers, arm]
        out.groups.update(detector=detector, timers=timers)
        if rw.kind == "distal":
            reward_sources.append(timers)
    elif rw.kind in ("uncorrelated", "times"):
        if rw.kind == "uncorrelated":
            steps = int(round(duration_s / (sim.dt_ms * 1e-3)))
            n = rng.binomial(steps, min(1.0, rw.rate_hz * sim.dt_ms * 1e-3))
            times = np.sort(rng.choice(steps, size=n, replace=False)) * dt
        else:
            times = np.asarray(rw.times_s, dtype=float) * second
            n = len(times)
        gen = b2.SpikeGeneratorGroup(1, np.zeros(n, dtype=int), times, clock=clock, name="reward_source*")
        objects.append(gen)
        out.groups["reward_source"] = gen
        reward_sources.append(gen)
    for src in reward_sources:
        # with the TD critic a reward enters the TD error of the current bin, not d directly
        on_reward = "r_acc_post += amount" if dp.critic == "td" else "d_post += amount\nrho_post += amount/tau_critic"
        release = b2.Synapses(src, dopamine, on_pre=on_reward,
                              namespace=dict(amount=rw.amount, tau_critic=dp.tau_critic_s * second),
                              clock=clock, name=f"release_{src.name}*")
        release.connect()
        objects.append(release)

    # -- monitors ------------------------------------------------------------------------
    state_clock = clocks(rec.state_dt_ms)
    record_spikes = rec.spikes if record_spikes is None else record_spikes
    if neurons is not None and record_spikes:
        out.monitors["spikes"] = b2.SpikeMonitor(neurons, record=True, name="spikes*")
    out.monitors["dopamine"] = b2.StateMonitor(dopamine, "d", record=[0], clock=state_clock, when="end",
                                               name="mon_dopamine*")
    if out.plastic is not None:
        syn = out.groups[out.plastic]
        n_syn = len(out.pre_idx[out.plastic])
        others = rng.choice(n_syn, size=min(8, n_syn), replace=False)
        first = out.chosen if out.chosen is not None else int(others[0])
        out.tracked = np.concatenate([[first], others[others != first]])[: min(8, n_syn)].astype(int)
        w_var = "w_now" if event else "w"  # event-driven: w is the weight at the last event
        variables = [w_var, "c"] if config.plasticity.modulation == "dopamine" else [w_var]
        out.monitors["synapses"] = b2.StateMonitor(syn, variables, record=out.tracked, clock=state_clock,
                                                   when="end", name="mon_synapses*")
        # "start": the k-th snapshot is the state after k*chunk_s exactly (what the runtime
        # target reads between chunks); at "end" it would include one more step
        out.monitors["weights"] = b2.StateMonitor(syn, w_var, record=True, clock=clocks(sim.chunk_s * 1000.0),
                                                  when="start", name="mon_weights*")
    if dp.critic == "td":
        out.monitors["td"] = b2.StateMonitor(dopamine, ["delta", "V"], record=[0], dt=dp.td_bin_ms * ms, when="end",
                                             name="mon_td*")
    if dp.neurons:
        out.monitors["dopamine_spikes"] = b2.SpikeMonitor(out.groups["dopamine_neurons"], name="mon_dopamine_spikes*")
    if "detector" in out.groups:
        out.monitors["scheduled"] = b2.SpikeMonitor(out.groups["detector"], name="mon_scheduled*")
        if rw.kind == "distal":  # with kind "none" the timers run but release nothing
            out.monitors["rewards"] = b2.SpikeMonitor(out.groups["timers"], name="mon_rewards*")
    elif "reward_source" in out.groups:
        out.monitors["rewards"] = b2.SpikeMonitor(out.groups["reward_source"], name="mon_rewards*")
    objects += list(out.monitors.values())
    out.net = b2.Network(*objects, name="network*")
    return out
