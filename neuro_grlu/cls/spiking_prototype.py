"""The spiking prototype hippocampus: a first-spike race in Brian2, learning by STDP eligibility × dopamine.

Learner ``"spiking-prototype"`` (:class:`SpikingPrototype`), behind the interface of the rate
learners of :mod:`.hippocampus` (``fit_online``, ``logits``, ``predict``, ``uses``, ``state_dict``).

Code (dentate gyrus, fixed)
    The features ``f`` (cortex output or pixels) are layer-normalised, projected by a fixed
    random matrix ``P`` ``(expand, n_features)`` (drawn once from ``code_seed``, never learns)
    and cut by k-winners-take-all: ``K = floor(k · expand)`` input neurons fire one spike each at
    the start of the presentation, the others stay silent (a sparse binary code, like the fly's
    Kenyon cells). The normalised code is ``x̂_i = [i active] / √K`` (unit length).

Output neurons (CA3/CA1-like units)
    ``units_per_class`` units per class (``cls_j`` fixed). Each input spike adds ``w_ij`` to
    the unit's synaptic drive ``I_j``; a unit's normalised drive is its cosine with the input,
    ``a_j = I_j / (√K ‖w_j‖)`` (``‖w_j‖²`` is a neuron variable kept up to date by the
    plasticity, synaptic scaling). The *candidate* of each class — its next unused unit (no
    rewarded win yet, ``w_j = 0``) — receives instead a tonic novelty drive
    ``recruit + recruit_jitter · u`` (``u ~ U(0, 1)`` per presentation) during training only;
    when its first spike is rewarded, a synapse to the next unit of its class makes that unit
    the candidate (one recruit per class and presentation: no duplicate prototypes).

Decision: a first-spike race
    The firing threshold falls linearly during the presentation by ``(theta_high −
    theta_low) / race_steps`` per step, from ``theta_high`` at step 1 to one step above
    ``theta_low`` at step ``race_steps`` (``theta_low`` itself is never reached; a ramp of
    common excitation); a unit fires when
    its drive reaches it, so units fire in order of their drive: the first spike is the best
    match (ties within one time step are possible: resolution ``(theta_high − theta_low) /
    race_steps``). A familiar input (best cosine above ``recruit``) is claimed by a committed
    unit; a novel one by an unused unit (recruitment). Every unit fires at most once per
    presentation. Lateral connections (output → output) carry the lock-out:

    * a spike whose decision is rewarded (``cls_j = y``) silences every other unit;
    * a wrong spike silences its own class (``retry = true``): the race goes on and the next
      unit makes the next decision; with ``retry = false`` any spike ends the trial;
    * ``teacher = "label"`` only: after a wrong spike the label (the unconditioned stimulus)
      silences every population but the correct one, so the next spike is of class ``y``.

    The network's decision is its first spike; ``logits`` return, per class, minus the time of
    the class's first spike (a class that did not fire scores ``−slot_steps``, below every
    spike), with ties in one step, and among classes that did not fire, broken by ``U(0, 0.5)``
    steps (evaluation: no learning, no recruitment, no lock-out across classes, the race runs to
    its last step).

Plasticity: STDP eligibility × dopamine (on the spiking unit's synapses)
    Presynaptic trace: ``x_i = [input i spiked in this presentation] / √K`` (nearest-spike,
    a box window of one presentation). A postsynaptic spike tags each of the unit's synapses
    with the eligibility ``c_ij = x_i − w_ij`` (pre-before-post potentiation, weight-dependent
    depression on a post spike). Dopamine arrives with the decision:
    ``d = R − E_j``, reward ``R = [cls_j = y]``, expected reward ``E_j`` (the unit's running
    mean reward, ``E_j ← E_j + alpha (R − E_j)``, starting at ``1/C``). Then

        ``w_ij ← clip(w_ij + η_j d c_ij, 0, 1)``,   ``η_j = 1 / (wins_j + 1)`` for ``d > 0``,

    ``wins_j`` = the unit's rewarded wins so far (metaplasticity: a running mean, so the first
    rewarded spike of an unused unit stores the input, ``w_j = d x̂``, one-shot).
    ``dopamine_gain = "gate"`` instead lets a positive ``d`` gate the whole step,
    ``w_ij ← clip(w_ij + η_j c_ij, 0, 1)`` for ``d > 0``: the unit keeps the running mean of the
    inputs it won (with ``"rpe"``, the default, the step shrinks as the unit's expected reward
    ``E_j`` approaches 1, so a reliable unit stops following its inputs).
    Dopamine dips (``d < 0``) are written only with ``dips = "depress"`` (``η = dip_rate``,
    constant, as in reward-modulated STDP); with
    ``dips = "lockout"`` a dip silences the wrong population for the rest of the presentation
    and leaves its synapses alone (the mechanism that protects old classes: a new class can
    never depress an old class's weights, and the race continues to a unit of the right class
    or an unused one).

Teaching signals (what :attr:`uses` declares)
    ``teacher = "reward"``: the units receive one scalar reward per decision (through ``d``);
    the label never reaches them — the right class is found by trial and error within the
    presentation (each guess rewarded or not). ``teacher = "label"``: additionally the label
    gates which population may fire after an error (an unconditioned stimulus).

Speed: a block of ``block_images`` presentations is one ``Network.run`` (input spikes from a
``SpikeGeneratorGroup``; labels and the binary codes in ``TimedArray`` tables rewritten in place
and read by presentation); each presentation lasts ``(race_steps + 1) · dt_ms`` of simulated time.
An input spike only adds its weight (``I_post += w``); each unit's cosine is computed once per
presentation, so the per-step threshold compares a stored number with the ramp. A spike's reset
stores the step its dopamine writes (``eta``), and the synapses are written on "learn" events
(``eta != 0`` on a spike of this step, checked after the resets) only: a burst, or a dip with
``dips = "depress"``; every other spike's step is exactly 0. The lock-out and the recruitment
chain share one ``Synapses`` object. ``benchmarks/spiking_prototype_speed.py --profile`` gives
the CPU time of each Brian2 code object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..network import layer_norm, topk_count, topk_mask
from ..params import ParamSet, param

@dataclass(frozen=True)
class SpikingPrototypeParams(ParamSet):
    teacher: str = param("label", choices=("label", "reward"), doc="'reward': one scalar reward per decision only; 'label': after an error the label gates which population may fire")
    units_per_class: int = param(50, low=1, doc="output units per class")
    expand: int = param(2000, low=1, doc="dentate-gyrus width: input neurons of the fixed random expansion")
    k: float = param(0.05, low=0.0, low_open=True, high=1.0, doc="fraction of input neurons that fire (k-WTA)")
    code_seed: int = param(0, low=0, doc="seed of the fixed random expansion")
    recruit: float = param(0.5, low=0.0, high=1.0, doc="novelty drive of unused units: an input whose best cosine is below it recruits an unused unit (0 = no recruitment)")
    recruit_jitter: float = param(0.05, low=0.0, doc="random spread U(0, jitter) added to the novelty drive per presentation (explores among unused units)")
    dips: str = param("lockout", choices=("lockout", "depress"), doc="what a dopamine dip (d < 0) does: 'lockout' silences the wrong population, weights untouched; 'depress' writes d c into its synapses")
    dip_rate: float = param(0.5, low=0.0, high=1.0, doc="learning rate of a written dip (dips = 'depress'; a constant, as in reward-modulated STDP)")
    retry: bool = param(True, doc="after a wrong spike the race continues (the wrong class is silenced); false: any spike ends the trial")
    alpha: float = param(0.05, low=0.0, low_open=True, high=1.0, doc="rate of each unit's expected reward E_j")
    dopamine_gain: str = param("rpe", choices=("rpe", "gate"), doc="how a dopamine burst (d > 0) scales the running-mean step: 'rpe' by d = R - E_j (small once the unit is reliable); 'gate' not at all (d > 0 gates the step eta (x - w))")
    theta_high: float = param(1.0, low=0.0, low_open=True, doc="threshold (cosine) at the first race step")
    theta_low: float = param(0.0, low=0.0, doc="threshold (cosine) the ramp falls towards: the last race step is one step, (theta_high - theta_low) / race_steps, above it")
    race_steps: int = param(50, low=1, doc="steps over which the threshold falls; a presentation is race_steps + 1 steps")
    dt_ms: float = param(0.1, low=0.0, low_open=True, doc="integration time step (ms)")
    block_images: int = param(1000, low=1, doc="presentations per Network.run")
    seed: int = param(0, low=0, doc="seed of the evaluation's noise and tie-breaking, and of training when fit_online gets no rng")

    def __post_init__(self):
        super().__post_init__()
        if self.theta_low >= self.theta_high:
            raise ConfigError(f"hippocampus.theta_low ({self.theta_low}) must be below theta_high ({self.theta_high})")


def dentate_code(features: np.ndarray, P: np.ndarray, k: float) -> np.ndarray:
    """Binary k-WTA code ``(B, expand)`` float32 of ``layer_norm(features) @ P.T``."""
    z = layer_norm(np.asarray(features, np.float32)) @ P.T
    return topk_mask(z, topk_count(k, z.shape[1]))


class SpikingPrototype:
    """Brian2 first-spike race with recruitment and dopamine-gated STDP; see the module docstring.

    Attributes
    ----------
    W : float32 ``(n_classes * units_per_class, expand)`` — current weights (a copy).
    wins : int64 ``(n_units,)`` — rewarded wins per unit.
    timing : dict — simulated and wall seconds of training and evaluation.
    last_raster : (presentation, unit, step) int arrays of the output spikes of the last training
        block while ``record_raster`` is set (step = time step within the presentation).
    """

    name = "spiking-prototype"

    def __init__(self, params: SpikingPrototypeParams, n_features: int, n_classes: int = 10):
        self.params = p = params
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.n_units = self.n_classes * p.units_per_class
        self.P = (np.random.default_rng(p.code_seed).standard_normal((p.expand, self.n_features))
                  / np.sqrt(self.n_features)).astype(np.float32)
        self.K = topk_count(p.k, p.expand)
        self.examples_seen = 0
        self.timing = {"train_sim_s": 0.0, "train_wall_s": 0.0, "train_cpu_s": 0.0, "train_examples": 0,
                       "eval_sim_s": 0.0, "eval_wall_s": 0.0, "eval_cpu_s": 0.0, "eval_examples": 0, "build_wall_s": 0.0}
        self._rng = np.random.default_rng([p.seed, 7])  # training noise when fit_online is given no rng
        self._eval_rng = np.random.default_rng([p.seed, 8])  # evaluation: never shifts the training stream
        self._cache: dict = {}
        self._net = None
        self.record_raster = False
        self.last_raster = None
        self.guesses = []  # spikes per training presentation (decisions made), per fit_online call

    # -- interface ------------------------------------------------------------------------
    @property
    def uses(self) -> tuple[str, ...]:
        base = ("global_reward", "local_activity", "own_decision")
        return base + ("label_gates_population",) if self.params.teacher == "label" else base

    @property
    def slot_steps(self) -> int:
        return self.params.race_steps + 1

    @property
    def slot_ms(self) -> float:
        return self.slot_steps * self.params.dt_ms

    def code(self, features: np.ndarray) -> np.ndarray:
        return dentate_code(features, self.P, self.params.k)

    @property
    def W(self) -> np.ndarray:
        self._build()
        return np.asarray(self._syn.w[:], np.float32).reshape(self.params.expand, self.n_units).T.copy()

    @property
    def wins(self) -> np.ndarray:
        self._build()
        return np.asarray(self._out.wins[:], np.int64)

    def fit_online(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """One pass in order; returns 1 per example whose first spike (the decision) was of its class.

        ``rng`` (the experiment's noise stream) seeds Brian2's noise of every block (the novelty
        jitter); without it the learner's own stream (``seed``) does.
        """
        y_all = np.asarray(labels, np.int64)
        if len(y_all) != len(features):
            raise ConfigError(f"{len(features)} feature rows but {len(y_all)} labels")
        if len(y_all) and (y_all.min() < 0 or y_all.max() >= self.n_classes):
            raise ConfigError(f"labels must be in 0..{self.n_classes - 1} (got {y_all.min()}..{y_all.max()})")
        self._build()
        t0, c0 = time.perf_counter(), time.process_time()
        first = np.zeros(len(y_all), np.float32)
        guesses = np.zeros(len(y_all), np.int64)
        self._set_mode(train=True)
        for start in range(0, len(y_all), self.params.block_images):
            x = self.code(features[start : start + self.params.block_images])
            y = y_all[start : start + len(x)]
            k, i, step = self._run_block(x, y, self._rng if rng is None else rng)
            if self.record_raster:
                self.last_raster = (k, i, step)
            order = np.lexsort((step, k))
            k, i, step = k[order], i[order], step[order]
            is_first = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)
            cls = i // self.params.units_per_class
            first[start + k[is_first]] = cls[is_first] == y[k[is_first]]
            np.add.at(guesses, start + k, 1)
        self.guesses.append(guesses)
        self.timing["train_wall_s"] += time.perf_counter() - t0
        self.timing["train_cpu_s"] += time.process_time() - c0
        self.timing["train_sim_s"] += len(y_all) * self.slot_ms * 1e-3
        self.timing["train_examples"] += len(y_all)
        self.examples_seen += len(y_all)
        self._cache.clear()
        return first

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Minus the step of each class's first spike (+ U(0, 0.5) tie-breaking); ``(B, C)`` float32."""
        features = np.ascontiguousarray(features, np.float32)
        if not len(features):
            return np.zeros((0, self.n_classes), np.float32)
        key = (features.shape, hash(features.tobytes()))
        if key in self._cache:
            return self._cache[key]
        self._build()
        t0, c0 = time.perf_counter(), time.process_time()
        # A class that never fires scores -slot_steps: below every spike step (0 .. slot_steps - 1)
        # even after the U(0, 0.5) tie-breaking, and small enough for that to break its ties too.
        out = np.full((len(features), self.n_classes), -float(self.slot_steps), np.float32)
        self._set_mode(train=False)
        for start in range(0, len(features), self.params.block_images):
            x = self.code(features[start : start + self.params.block_images])
            k, i, step = self._run_block(x, None, self._eval_rng)
            cls = i // self.params.units_per_class
            score = -step.astype(np.float32)
            np.maximum.at(out, (start + k, cls), score)
        self.timing["eval_wall_s"] += time.perf_counter() - t0
        self.timing["eval_cpu_s"] += time.process_time() - c0
        self.timing["eval_sim_s"] += len(features) * self.slot_ms * 1e-3
        self.timing["eval_examples"] += len(features)
        out = out + 0.5 * self._eval_rng.random(out.shape, dtype=np.float32)
        self._cache[key] = out
        return out

    def predict(self, features: np.ndarray, allowed=None) -> np.ndarray:
        from .tasks import masked_predict

        s = self.logits(features)
        return s.argmax(axis=1) if allowed is None else masked_predict(s, allowed)

    def state_dict(self) -> dict[str, np.ndarray]:
        self._build()
        out = {"hippocampus_W": self.W, "hippocampus_wins": self.wins,
               "hippocampus_expected_reward": np.asarray(self._out.E[:], np.float32),
               "hippocampus_projection": self.P}
        t = self.timing
        for k in ("train", "eval"):
            n = max(t[f"{k}_examples"], 1)
            for what in ("sim", "wall", "cpu"):
                out[f"hippocampus_{k}_{what}_ms_per_example"] = np.array([1e3 * t[f"{k}_{what}_s"] / n], np.float32)
        return out

    # -- network --------------------------------------------------------------------------
    def _build(self):
        if self._net is not None:
            return
        import brian2 as b2
        from brian2 import ms

        t_build = time.perf_counter()
        b2.prefs.codegen.target = "cython"
        b2.BrianLogger.suppress_name("brian2.codegen.generators.base")  # order warnings: one spike per event
        self._b2 = b2
        p = self.params
        C, M, N = self.n_classes, p.units_per_class, p.expand
        dt = p.dt_ms * ms
        # one clock for every per-step object (with dt=... each object gets its own clock, and
        # Brian2's run loop compares all of them every step)
        clock = b2.Clock(dt=dt, name="proto_clock")
        self._slot = self.slot_steps * dt
        self._labels = b2.TimedArray(-np.ones(p.block_images + 1), dt=self._slot, name="proto_labels")
        self._ns = ns = dict(y_table=self._labels, t_block=0 * b2.second, slot_steps=self.slot_steps,
                             race_steps=float(p.race_steps), th_hi=p.theta_high, th_lo=p.theta_low,
                             xs=1.0 / np.sqrt(self.K), rho=p.recruit, jitter=p.recruit_jitter, alpha=p.alpha,
                             depress=float(p.dips == "depress"), dip_rate=p.dip_rate, retry=float(p.retry),
                             teach=float(p.teacher == "label"), rpe_gain=float(p.dopamine_gain == "rpe"))
        phase = "(timestep(t - t_block, dt) % slot_steps)"
        self._inp = inp = b2.SpikeGeneratorGroup(N, np.zeros(0, int), np.zeros(0) * ms, clock=clock, name="proto_input")
        eqs = f"""
        I : 1
        wn2 : 1
        wins : 1
        E : 1
        blocked : 1
        noise : 1
        candidate : 1
        cosine : 1
        eta : 1
        t_spike : second
        cls : integer (constant)
        plastic : 1 (shared)
        recruiting : 1 (shared)
        label : 1 (shared)
        tgt = 1.0*int(cls == label) : 1
        drive = int(wins > 0.5)*cosine + int(wins < 0.5)*candidate*plastic*recruiting*(rho + jitter*noise) : 1
        theta = th_hi - (th_hi - th_lo)*clip(({phase} - 1.0)/race_steps, 0.0, 1.0) : 1
        """
        fires = f"{phase} >= 1 and blocked < 0.5 and drive >= theta"
        # A spike's reset stores the step its dopamine writes, eta (0 unless a burst, or a dip with
        # dips = "depress"), with E and wins as they were at the spike, and the spike's time; a
        # "learn" event (eta != 0 on a spike of this time step), checked after the resets, runs the
        # plasticity over the unit's `expand` synapses. Every other spike (a wrong guess under
        # lock-out, any spike in evaluation) has a step of exactly 0 and skips that pass.
        out = b2.NeuronGroup(C * M, eqs, threshold=fires, events={"learn": "eta != 0 and t_spike == t"},
                             reset="""
                             dop = plastic*(tgt - E)
                             eta = int(dop > 0)/(wins + 1)*(rpe_gain*dop + 1 - rpe_gain) + depress*dip_rate*int(dop < 0)*dop
                             t_spike = t
                             blocked = 1
                             E += plastic*alpha*(tgt - E)
                             wins += plastic*tgt
                             """,
                             clock=clock, namespace=ns, name="proto_output")
        out.t_spike = -1 * b2.second
        out.set_event_schedule("learn", when="after_resets", order=0)
        out.cls = np.repeat(np.arange(C), M)
        out.candidate = (np.arange(C * M) % M == 0).astype(float)  # the next free unit of each class
        out.E = 1.0 / C
        # a new presentation: drive and lock-out cleared, the novelty noise drawn, the label read
        # once (-1 in evaluation: no unit is the target)
        slot_clock = b2.Clock(dt=self._slot, name="proto_slot_clock")  # one clock for both per-presentation objects
        out.run_regularly("label = y_table(t - t_block)\nI = 0\nblocked = 0\nnoise = rand()", clock=slot_clock,
                          when="start", name="proto_slot_start")
        # each unit's cosine with the input, once per presentation (after the input spikes of its
        # first step have arrived): the drive of a committed unit is fixed for the race (only a
        # unit that has just learnt changes its wn2, and it stays blocked), so the thresholder
        # compares a stored number with the ramp instead of dividing by a square root every step
        out.run_regularly("cosine = I*xs/sqrt(wn2 + 1e-12)", clock=slot_clock, when="after_synapses",
                          name="proto_slot_cosine")
        # the presynaptic trace reads the block's binary code (a TimedArray of one row per
        # presentation, rewritten in place per block), so an input spike only adds its weight
        self._code_table = b2.TimedArray(np.zeros((p.block_images + 1, N)), dt=self._slot, name="proto_code")
        ns["code_table"] = self._code_table
        syn = b2.Synapses(inp, out, "w : 1", clock=clock, namespace=ns, name="proto_syn",
                          on_event={"pre": "spike", "post": "learn"},
                          on_pre="I_post += w",
                          on_post="""
                          x_pre_trace = xs*code_table(t - t_block, i)
                          w_new = clip(w + eta_post*(x_pre_trace - w), 0, 1)
                          wn2_post += w_new**2 - w**2
                          w = w_new
                          """)
        # the plasticity runs after the resets (where eta is stored) and the learn event's check
        syn.post.when, syn.post.order = "after_resets", 1
        syn.connect()  # ordered by presynaptic index: w[:] reshapes to (expand, n_units)
        syn.w = 0.0
        # Lateral connections (every ordered pair of units) carry the lock-out and the recruitment
        # chain: next_unit = 1 from each unit to the next of its class, so that a rewarded first
        # spike of the candidate makes the next unit of its class the candidate (one unit recruited
        # per class and presentation, no duplicates). One Synapses object, one code object per step.
        lat = b2.Synapses(out, out, "next_unit : 1 (constant)", clock=clock, namespace=ns,
                          name="proto_lateral",
                          on_pre="""
                          same = 1.0*int(cls_pre == cls_post)
                          lock = plastic*clip(tgt_pre + 1 - retry, 0, 1)
                          wrong = plastic*(1 - tgt_pre)
                          blocked_post = clip(blocked_post + lock + wrong*same + wrong*teach*(1 - tgt_post) + (1 - plastic)*same, 0, 1)
                          candidate_post = clip(candidate_post + next_unit*plastic*tgt_pre*int(wins_pre < 0.5), 0, 1)
                          """)
        lat.connect(condition="i != j")
        pre, post = np.asarray(lat.i[:]), np.asarray(lat.j[:])
        lat.next_unit = ((post == pre + 1) & (pre % M < M - 1)).astype(float)
        self._mon = b2.SpikeMonitor(out, name="proto_spikes")
        self._out, self._syn = out, syn
        self._net = b2.Network(inp, out, syn, lat, self._mon, name="proto_network")
        self.timing["build_wall_s"] += time.perf_counter() - t_build

    def _set_mode(self, train: bool):
        self._out.plastic = 1.0 if train else 0.0
        self._out.recruiting = 1.0 if (train and self.params.recruit > 0) else 0.0

    def _run_block(self, x: np.ndarray, y, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Present a block of binary codes ``x`` ``(B, expand)`` with Brian2's noise seeded from
        ``rng``; return the output spikes as (presentation, unit, step within the presentation)."""
        b2 = self._b2
        n = len(x)
        t_block = self._net.t
        self._ns["t_block"] = t_block
        self._labels.values[:] = -1.0
        if y is not None:
            self._labels.values[:n] = y
        self._code_table.values[:n] = x
        self._code_table.values[n:] = 0.0
        k, idx = np.nonzero(x)
        steps0 = int(round(float(t_block / self._b2.ms) / self.params.dt_ms))
        times = (steps0 + k * self.slot_steps) * self.params.dt_ms
        self._inp.set_spikes(idx, times * b2.ms)
        self._rng_seed = int(rng.integers(2**31 - 1))
        b2.seed(self._rng_seed)
        seen = self._mon.num_spikes  # the monitor only grows (a few spikes per presentation)
        self._net.run(n * self._slot, namespace={})
        steps = np.rint((np.asarray(self._mon.t[seen:] / b2.ms) / self.params.dt_ms)).astype(np.int64) - steps0
        units = np.asarray(self._mon.i[seen:], np.int64)
        return steps // self.slot_steps, units, steps % self.slot_steps
