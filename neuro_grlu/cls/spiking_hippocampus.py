"""The spiking hippocampus: a Brian2 network that learns by reward-modulated STDP and dopamine.

Learner ``"spiking-rstdp"`` (:class:`SpikingRSTDP`), behind the same interface as the rate
learners of :mod:`.hippocampus` (``fit_online``, ``logits``, ``predict``, ``uses``,
``state_dict``).

Network (one ``brian2.Network``, built once, Cython runtime target)
-------------------------------------------------------------------
* **Input** — the code ``x = relu(layer_norm(features)) / sum`` (the features above their
  own mean) drives ``n_in`` Poisson sources at
  ``input_rate_hz · x_i`` Hz (x normalised to sum 1, see :func:`input_code`) during
  ``present_ms``; silent during ``rest_ms``.
* **Output** — ``n_classes`` populations of ``n_per_class`` current-based LIF neurons
  (:data:`neuro_grlu.spiking.neurons.LIF_CURRENT`, v_rest −70 mV, threshold −50 mV,
  τ_m 20 ms, τ_syn 5 ms, 2 ms refractory); an input spike adds ``w`` mV to ``I_syn``.
  Optional lateral inhibition: a spike subtracts ``w_inh`` mV from ``I_syn`` of every
  neuron of the *other* populations.
* **Decision** — the population with most spikes in the presentation window (ties broken
  at random), computed inside the network: a ``decision`` group of one unit per class
  counts its population's spikes; at the end of the window the unit whose count is not
  exceeded by any other (a summed comparison over all pairs) emits one spike. The
  decision is the only output; the label never reaches the output neurons.
* **Dopamine** — a one-unit ``critic`` group. The winner's spike reaches it with the reward
  ``R = 1`` if the decision equals the label, else ``0``; the critic releases
  ``d += dopamine_gain · (R − E)`` (dips scaled by ``negative_rpe``), ``dd/dt = −d / τ_d``
  between releases. The expected reward ``E`` is either the running mean
  ``R̄ ← R̄ + baseline_alpha · (R − R̄)`` (``critic = "running"``) or the winning population's
  share of the output spikes, ``(n_win + 1/C) / (n_total + 1)`` (``critic = "confidence"``,
  the spiking form of the rate learner's ``baseline = "policy"``: a confident wrong decision
  is punished hard, a hesitant right one rewarded). With ``confidence_temperature = T > 0`` the
  share is replaced by the winner's softmax probability ``exp(n_win/T) / Σ_k exp(n_k/T)``
  (counts in spikes): a sharper critic, closer to the rate learner's policy at temperature
  0.05 (the linear share stays near 1/C when all populations fire, so errors barely dip;
  on MNIST cortex features at 1,000 training images T = 3 gave 53 %, the linear share 30-33 %,
  the running mean 34-52 %; benchmarks/results/cls/README.md). With a running mean on ten classes one
  population that wins often keeps winning (the rate learner with ``baseline = "running"``
  stays at 20 % on MNIST features for the same reason), so ``"confidence"`` is the default.
* **Synapses** — input → output, all to all, STDP writing an eligibility trace
  (:func:`neuro_grlu.spiking.plasticity.stdp_synapse`, all-to-all traces,
  ``modulation = "dopamine"``): ``c += A+ apre`` on a postsynaptic spike,
  ``c −= A− apost`` on a presynaptic one; on a grid of ``update_dt_ms``
  ``w ← clip(w + η · update_dt · d · c · chosen_post, 0, w_max)`` and
  ``c ← c · exp(−update_dt / τ_c)``, i.e. ``dw/dt = η c d`` (Izhikevich 2007) with
  ``chosen_post = 1`` everywhere (``credit = "spikes"``) or only on the chosen population
  until the next decision (``credit = "winner"``: the decision gates which synapses the
  dopamine consolidates — the spiking form of the rate rule's ``onehot(a) ⊗ pre``).
  With ``normalize`` (synaptic scaling, the spiking form of the rate learner's ``row_norm``)
  a dopamine-gated update also rescales each output neuron's incoming weights to a fixed
  norm, the expected one of the initial weights (a Brian2 summed variable): ``scaling =
  "l2"`` keeps ``Σ w²`` (the drive ``w · x`` is then ``‖w‖ ‖x‖ cos``: populations compete by
  cosine, exactly the rate learner's score), ``"l1"`` keeps ``Σ w``. Weights move between
  inputs but a population cannot win everything by growing, nor fall silent by shrinking
  (without it, early dips silence the output and learning stops). With ``"l1"`` a neuron can
  still raise its drive for *every* input by concentrating its weights on the commonly active
  features (its L2 norm grows): on MNIST features two populations did so, fired twice as
  much as the others and won almost every decision.
* **Initial weights** — ``w_init · U(1 − w_spread, 1 + w_spread)``. With ``w_spread = 1``
  (uniform in [0, 2 w_init]) a population whose weights have learnt a prototype is much
  better aligned with every input than the random others and wins everything; a small
  spread (0.1) starts all populations near the same flat vector.
* **Homeostasis** (``theta_plus_mv > 0``) — every decision raises the winning population's
  thresholds by ``theta_plus_mv``; they decay back to −50 mV with ``tau_theta_s`` (simulated
  time) and are frozen during evaluation (adaptive thresholds as in Diehl & Cook 2015, here
  per win). A population that wins too often gets harder to fire, so every population gets
  to win, hence to learn (``credit = "winner"`` learns only from one's own decisions).

* **Metaplasticity** (``consolidation_wins = n0 > 0``) — each population's η is divided by
  ``1 + wins / n0`` (``wins`` = its training decisions so far, counted in every run and stored
  as ``hippocampus_wins``): a population's weights become an average over its many decisions
  instead of tracking the last few (with a constant η the weights keep moving, and accuracy
  on MNIST features rose and fell between 5,000 and 10,000 images).
* **Tonic input** ``bias_mv`` (≤ 0) — a constant input to every output neuron (tonic
  inhibition): moves the operating point relative to threshold.
* **Presentation time** — the decision is a count of spikes, so it is as noisy as the counts:
  writing the same ideal weights into the network, 50 ms presentations lose 13-29 points
  against the rate readout of those weights, 200 ms lose 0-4 and 500 ms none
  (benchmarks/results/cls/README.md); hence ``present_ms = 200`` in the model files.

Time line of one example (slot of ``rest_ms + present_ms``): the previous example's reward
window (input off, its dopamine acts on the eligibility), then the presentation; the
decision and the dopamine release happen at the first step of the next slot. A block of
``block_images`` examples is one ``Network.run`` (rates and labels in ``TimedArray`` s that
are rewritten in place, so the compiled code is reused); one run per image would cost
~0.2 s of Brian2 set-up each. Evaluation runs the same input and output groups with a
static copy of the weights (no STDP, no decision, no dopamine: the weights cannot change)
in blocks, and returns the spike count of each population plus a tie-breaking ``U(0, 0.5)``.

Forgetting in class-incremental learning: a signed RPE depresses the chosen population's
synapses from the *new* classes' inputs and nothing restores them (the rate results).
``negative_rpe = 0`` keeps only dopamine bursts (``R > R̄``), ``credit = "winner"`` only the
chosen population's synapses: together a population learns only from examples it
classified right, so a new class cannot depress an old one — but it must first win by
chance (exploration by spiking noise) to learn at all.

Information used: one global scalar reward per example (via dopamine) and local pre/post
spike timing; with ``credit = "winner"`` also the network's own decision (not the label).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..network import layer_norm
from ..params import ParamSet, param

TARGETS = {"runtime": "cython", "numpy": "numpy"}


@dataclass(frozen=True)
class SpikingRSTDPParams(ParamSet):
    n_per_class: int = param(10, low=1, doc="LIF output neurons per class population")
    input_rate_hz: float = param(4000.0, low=0.0, low_open=True, doc="summed Poisson rate of all inputs during a presentation (Hz)")
    present_ms: float = param(50.0, low=0.0, low_open=True, doc="presentation time per example (ms)")
    rest_ms: float = param(20.0, low=0.0, low_open=True, doc="input-free reward window before the next example (ms)")
    dt_ms: float = param(1.0, low=0.0, low_open=True, high=5.0, doc="integration time step (ms)")
    w_init: float = param(1.0, low=0.0, doc="initial weights uniform in w_init (1 +- w_spread) (mV per input spike)")
    w_spread: float = param(1.0, low=0.0, high=1.0, doc="relative spread of the initial weights (1 = uniform in [0, 2 w_init])")
    w_max: float = param(3.0, low=0.0, low_open=True, doc="upper weight bound (mV); lower bound 0")
    bias_mv: float = param(0.0, high=0.0, doc="tonic input to every output neuron (mV, added to I_syn; negative = tonic inhibition, sets the operating point relative to threshold)")
    w_inh: float = param(0.0, low=0.0, doc="lateral inhibition between populations (mV per spike, 0 = none)")
    a_plus: float = param(1.0, low=0.0, doc="LTP amplitude per pre-before-post pair (eligibility units)")
    a_minus: float = param(0.5, low=0.0, doc="LTD amplitude per post-before-pre pair")
    tau_plus_ms: float = param(20.0, low=0.0, low_open=True, doc="presynaptic STDP trace time constant (ms)")
    tau_minus_ms: float = param(20.0, low=0.0, low_open=True, doc="postsynaptic STDP trace time constant (ms)")
    tau_c_ms: float = param(50.0, low=0.0, low_open=True, doc="eligibility-trace time constant (ms)")
    eta_per_s: float = param(1.0, low=0.0, doc="dw/dt = eta c d (1/s)")
    consolidation_wins: float = param(0.0, low=0.0, doc="metaplasticity: a population's eta is divided by 1 + wins / consolidation_wins, wins = its training decisions so far (0 = eta stays constant)")
    update_dt_ms: float = param(1.0, low=0.0, low_open=True, doc="grid on which w and c are updated (ms)")
    tau_d_ms: float = param(10.0, low=0.0, low_open=True, doc="dopamine decay time constant (ms)")
    dopamine_gain: float = param(1.0, low=0.0, doc="dopamine released per unit of reward-prediction error (0 = dopamine off)")
    negative_rpe: float = param(1.0, low=0.0, high=1.0, doc="scale of dopamine dips (R < R-bar): 1 = signed RPE, 0 = bursts only")
    baseline_alpha: float = param(0.01, low=0.0, low_open=True, high=1.0, doc="critic: rate of the running mean reward R-bar")
    critic: str = param("confidence", choices=("confidence", "running"), doc="expected reward E: 'running' = R-bar, the running mean reward; 'confidence' = the winning population's share of the output spikes (a per-example critic)")
    confidence_temperature: float = param(0.0, low=0.0, doc="critic 'confidence': 0 = E is the winner's share of the spikes; > 0 = E = softmax(counts / T) of the winner (T in spikes; a sharper critic, the rate learner's policy probability)")
    normalize: bool = param(True, doc="synaptic scaling: a dopamine-gated update rescales each output neuron's incoming weights to a fixed norm (see scaling)")
    scaling: str = param("l2", choices=("l2", "l1"), doc="norm kept fixed by normalize: 'l2' = sqrt(sum w^2) = sqrt(4/3 n_in) w_init (the rate learner's row_norm: scores are cosines), 'l1' = sum w = n_in w_init")
    theta_plus_mv: float = param(0.0, low=0.0, doc="homeostasis (adaptive threshold): each win raises the threshold of the winning population's neurons by this (mV); 0 = off")
    tau_theta_s: float = param(5.0, low=0.0, low_open=True, doc="decay time constant of the threshold raise back to -50 mV (s of simulated time; frozen during evaluation)")
    credit: str = param("winner", choices=("winner", "spikes"), doc="'winner': dopamine consolidates the chosen population's eligibility only; 'spikes': every synapse's")
    block_images: int = param(1000, low=1, doc="examples per Network.run (training and evaluation)")
    seed: int = param(0, low=0, doc="seed of the initial weights and of evaluation noise")
    target: str = param("runtime", choices=tuple(TARGETS), doc="Brian2 code generation: 'runtime' (Cython, compiled and cached) or 'numpy'")

    def __post_init__(self):
        super().__post_init__()
        for key in ("present_ms", "rest_ms", "update_dt_ms"):
            steps = getattr(self, key) / self.dt_ms
            if abs(steps - round(steps)) > 1e-9:
                raise ConfigError(f"SpikingRSTDPParams.{key} ({getattr(self, key)}) must be a whole multiple of dt_ms ({self.dt_ms})")


@contextlib.contextmanager
def _codegen(target: str):
    import brian2 as b2

    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = TARGETS[target]
    try:
        yield
    finally:
        b2.prefs.codegen.target = old


def input_code(features: np.ndarray) -> np.ndarray:
    """Non-negative input code summing to 1 per example: ``relu(layer_norm(f))`` / its row sum.

    Input ``i`` fires at ``input_rate_hz · x_i``: the summed input rate, hence the mean drive
    of an output neuron for given weights, is the same for every example and input width
    (pixels or cortex features), so one weight scale serves both.
    """
    x = np.maximum(layer_norm(np.asarray(features, np.float32)), 0.0)
    s = x.sum(axis=1, keepdims=True)
    return np.where(s > 0, x / np.maximum(s, 1e-12), 0.0).astype(np.float32)


class SpikingRSTDP:
    """Brian2 spiking readout learning from a global dopamine RPE; see the module docstring.

    Parameters
    ----------
    params : SpikingRSTDPParams
    n_features : int — input width (one Poisson source per feature)
    n_classes : int — output populations
    trace_dopamine : bool — record the critic's ``d`` and ``Rbar`` every step (tests)

    Attributes
    ----------
    W : float32 ``(n_classes * n_per_class, n_features)`` — current weights (mV), a copy.
    examples_seen : int
    timing : dict — simulated and wall seconds of training and evaluation so far.
    """

    name = "spiking-rstdp"

    def __init__(self, params: SpikingRSTDPParams, n_features: int, n_classes: int = 10, *, trace_dopamine=False):
        self.params = params
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.n_out = self.n_classes * params.n_per_class
        self.examples_seen = 0
        self.trace_dopamine = trace_dopamine
        self._version = 0
        self._cache: dict = {}
        self._eval_rng = np.random.default_rng([params.seed, 1])
        self.timing = {"train_sim_s": 0.0, "train_wall_s": 0.0, "train_examples": 0,
                       "eval_sim_s": 0.0, "eval_wall_s": 0.0, "eval_examples": 0, "build_wall_s": 0.0}
        self._net = None
        self._t_build = None

    # -- interface ------------------------------------------------------------------------
    @property
    def uses(self) -> tuple[str, ...]:
        base = ("global_reward", "local_activity")
        return base + ("own_decision",) if self.params.credit == "winner" else base

    @property
    def W(self) -> np.ndarray:
        self._build()
        return self._weights().reshape(self.n_features, self.n_out).T.copy()

    @property
    def slot_ms(self) -> float:
        return self.params.present_ms + self.params.rest_ms

    def fit_online(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One pass in order; returns the reward (1 if the network's decision was right) per example."""
        import time

        y_all = np.asarray(labels, np.int64)
        if len(y_all) and (y_all.min() < 0 or y_all.max() >= self.n_classes):
            raise ConfigError(f"labels must be in 0..{self.n_classes - 1}")
        if len(y_all) != len(features):
            raise ConfigError(f"{len(features)} feature rows but {len(y_all)} labels")
        self._build()
        b2 = self._b2
        rewards = np.full(len(y_all), np.nan, np.float32)
        g = self._groups
        t0 = time.perf_counter()
        with _codegen(self.params.target):
            self._set_mode(train=True)
            g["syn"].c = 0.0  # a call starts from rest: no eligibility, no dopamine left over
            g["critic"].d = 0.0
            for start in range(0, len(y_all), self.params.block_images):
                x = input_code(features[start : start + self.params.block_images])
                y = y_all[start : start + len(x)]
                b2.seed(int(rng.integers(2**31 - 1)))
                t_block = self._load_block(x, y)
                self._net.run((len(x) + 1) * self._slot, namespace={})
                mon = self._mons["decisions"]
                k = np.rint((np.asarray(mon.t[:] / b2.second) - t_block) / (self.slot_ms * 1e-3)).astype(np.int64) - 1
                choice = np.asarray(mon.i[:], np.int64)
                ok = (k >= 0) & (k < len(y))
                rewards[start + k[ok]] = (choice[ok] == y[k[ok]])
                mon.resize(0)
                self._clear_spikes()
        self.timing["train_wall_s"] += time.perf_counter() - t0
        self.timing["train_sim_s"] += len(y_all) * self.slot_ms * 1e-3
        self.timing["train_examples"] += len(y_all)
        self.examples_seen += len(y_all)
        self._version += 1
        self._cache.clear()
        return rewards

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Spike count of each class population while the example is presented, plus U(0, 0.5)
        tie-breaking; ``(B, n_classes)`` float32. Cached per weight state and input."""
        import time

        features = np.ascontiguousarray(features, np.float32)
        if not len(features):
            return np.zeros((0, self.n_classes), np.float32)
        key = (self._version, features.shape, hashlib.sha1(features.tobytes()).hexdigest())
        if key in self._cache:
            return self._cache[key]
        self._build()
        b2 = self._b2
        t0 = time.perf_counter()
        counts = np.zeros((len(features), self.n_classes), np.float32)
        with _codegen(self.params.target):
            self._set_mode(train=False)
            for start in range(0, len(features), self.params.block_images):
                x = input_code(features[start : start + self.params.block_images])
                b2.seed(int(self._eval_rng.integers(2**31 - 1)))
                t_block = self._load_block(x, None)
                self._net.run(len(x) * self._slot, namespace={})
                counts[start : start + len(x)] = self._counts(t_block, len(x))
        self.timing["eval_wall_s"] += time.perf_counter() - t0
        self.timing["eval_sim_s"] += len(features) * self.slot_ms * 1e-3
        self.timing["eval_examples"] += len(features)
        out = counts + 0.5 * self._eval_rng.random(counts.shape, dtype=np.float32)
        self._cache = {key: out}  # keep only the latest (the class and task scenarios ask twice)
        return out

    def predict(self, features: np.ndarray, allowed=None) -> np.ndarray:
        from .tasks import masked_predict

        s = self.logits(features)
        return s.argmax(axis=1) if allowed is None else masked_predict(s, allowed)

    def state_dict(self) -> dict[str, np.ndarray]:
        self._build()
        out = {"hippocampus_W": self.W, "hippocampus_eligibility": self.eligibility(),
               "hippocampus_expected_reward": np.array([float(self._groups["critic"].Rbar[0])], np.float32),
               "hippocampus_threshold_mV": np.asarray(self._groups["out"].v_th[:] / self._b2.mV, np.float32),
               "hippocampus_wins": np.asarray(self._groups["out"].wins[::self.params.n_per_class], np.float32)}
        t = self.timing
        for k in ("train", "eval"):
            n = max(t[f"{k}_examples"], 1)
            out[f"hippocampus_{k}_sim_ms_per_example"] = np.array([1e3 * t[f"{k}_sim_s"] / n], np.float32)
            out[f"hippocampus_{k}_wall_ms_per_example"] = np.array([1e3 * t[f"{k}_wall_s"] / n], np.float32)
        return out

    def eligibility(self) -> np.ndarray:
        """Eligibility traces ``c`` as ``(n_out, n_features)`` float32."""
        self._build()
        return np.asarray(self._groups["syn"].c[:], np.float32).reshape(self.n_features, self.n_out).T.copy()

    def dopamine_trace(self):
        """``(t s, d, Rbar)`` recorded every step since the last call (``trace_dopamine=True``)."""
        mon = self._mons["critic"]
        out = (np.asarray(mon.t[:] / self._b2.second), np.asarray(mon.d[0]).copy(), np.asarray(mon.Rbar[0]).copy())
        mon.resize(0)
        return out

    # -- network --------------------------------------------------------------------------
    def _weights(self) -> np.ndarray:
        return np.asarray(self._groups["syn"].w[:], np.float32)

    def _build(self):
        if self._net is not None:
            return
        import time

        import brian2 as b2
        from brian2 import Hz, mV, ms

        from ..spiking.config import PlasticityParams
        from ..spiking.neurons import LIF_CURRENT
        from ..spiking.plasticity import stdp_synapse

        t_build = time.perf_counter()
        self._b2 = b2
        p = self.params
        C, M, N = self.n_classes, p.n_per_class, self.n_features
        dt = p.dt_ms * ms
        self._slot = (p.present_ms + p.rest_ms) * ms
        rows = p.block_images + 1
        # Rates and labels of one block; rewritten in place for every block (same compiled code).
        self._rates = b2.TimedArray(np.zeros((rows, N)), dt=self._slot, name="rstdp_rates")
        self._labels = b2.TimedArray(-np.ones(rows), dt=self._slot, name="rstdp_labels")
        self._ns = dict(rate_total=p.input_rate_hz * Hz, x_table=self._rates, y_table=self._labels, t_block=0 * b2.second,
                        slot_steps=int(round((p.present_ms + p.rest_ms) / p.dt_ms)),
                        rest_steps=int(round(p.rest_ms / p.dt_ms)), n_classes=C)
        ns = self._ns
        phase = "(timestep(t - t_block, dt) % slot_steps)"
        present = f"int({phase} >= rest_steps)"
        # one named clock: with dt=... every object got its own auto-numbered clock, whose name enters
        # the generated code, so every new network in a process compiled its code objects again
        clock = b2.Clock(dt=dt, name="rstdp_clock")
        inp = b2.PoissonGroup(N, rates=f"rate_total*x_table(t - t_block, i)*{present}", clock=clock, namespace=ns,
                              name="rstdp_input")
        homeo = p.theta_plus_mv > 0
        eqs = LIF_CURRENT.equations.replace("v_th : volt (constant)", "v_th : volt") if homeo else LIF_CURRENT.equations
        ns["bias_mv"] = p.bias_mv
        ns["theta_decay"] = float(np.exp(-p.dt_ms / (1e3 * p.tau_theta_s)))
        out = b2.NeuronGroup(self.n_out, eqs + "\nI_ext = bias_mv*mV : volt\nchosen : 1\nwsum : 1\nwins : 1\nplasticity : 1"
                             "\ncls : integer (constant)",
                             threshold=LIF_CURRENT.threshold, reset=LIF_CURRENT.reset,
                             refractory=LIF_CURRENT.refractory, method=LIF_CURRENT.method, clock=clock,
                             namespace=ns, name="rstdp_output")
        out.v_rest, out.v_th, out.v_reset = -70 * mV, -50 * mV, -70 * mV
        out.tau_m, out.tau_syn, out.t_ref = 20 * ms, 5 * ms, 2 * ms
        out.v = -70 * mV
        out.cls = np.repeat(np.arange(C), M)
        out.chosen = 1.0
        out.plasticity = 1.0  # eta multiplier, 1 / (1 + wins / consolidation_wins)
        plasticity = PlasticityParams(rule="additive", traces="all_to_all", a_plus=p.a_plus, a_minus=p.a_minus,
                                      tau_plus_ms=p.tau_plus_ms, tau_minus_ms=p.tau_minus_ms, w_min=0.0,
                                      w_max=p.w_max, modulation="dopamine", tau_c_ms=p.tau_c_ms,
                                      eta_per_s=p.eta_per_s, update_dt_ms=p.update_dt_ms)
        spec = stdp_synapse(plasticity, LIF_CURRENT.on_pre_exc, delay_ms=p.dt_ms, neuron_traces=False)
        update_clock = b2.Clock(dt=spec["update_dt"], name="rstdp_update_clock")
        l2 = p.scaling == "l2"
        model = spec["model"] + (f"\nwsum_post = {'w**2' if l2 else 'w'} : 1 (summed)" if p.normalize else "")
        syn = b2.Synapses(inp, out, model=model, on_pre=spec["on_pre"], on_post=spec["on_post"],
                          namespace=spec["namespace"], delay=p.dt_ms * ms, clock=clock, name="rstdp_plastic")
        syn.connect()  # ordered by presynaptic index: w[:] reshapes to (n_in, n_out)
        rng = np.random.default_rng(p.seed)
        w0 = p.w_init * rng.uniform(1.0 - p.w_spread, 1.0 + p.w_spread, (N, self.n_out))
        # target norm: the expected one of the initial weights (sum n w_init, or sum of squares (1 + spread^2/3) n w_init^2)
        w_total = (1.0 + p.w_spread**2 / 3.0) * N * p.w_init**2 if l2 else N * p.w_init
        if p.normalize:
            norm = (w0**2).sum(axis=0, keepdims=True) if l2 else w0.sum(axis=0, keepdims=True)
            w0 *= ((w_total / np.maximum(norm, 1e-12)) ** (0.5 if l2 else 1.0))
        syn.w = w0.ravel()
        syn.c = 0.0
        # the plasticity module's dopamine update, times the credit factor chosen_post
        ratio = "sqrt(w_total/(wsum_post + 1e-12))" if l2 else "w_total/(wsum_post + 1e-12)"
        scale = f"*(1 + int(da != 0)*({ratio} - 1))" if p.normalize else ""
        syn.namespace["w_total"] = w_total
        syn.run_regularly(f"w = clip((w + eta*update_dt*da*c*chosen_post*plasticity_post){scale}, w_min, w_max)\n"
                          "c = c*exp(-update_dt/tau_c)", clock=update_clock, when="end", name="rstdp_plastic_update")
        static = b2.Synapses(inp, out, model="w : 1", on_pre=LIF_CURRENT.on_pre_exc.format(w="w"),
                             delay=p.dt_ms * ms, clock=clock, namespace={}, name="rstdp_static")
        static.connect()
        objects = [inp, out, syn, static]
        if p.w_inh > 0:
            inh = b2.Synapses(out, out, on_pre="I_syn_post -= w_inh*mV", namespace=dict(w_inh=p.w_inh), clock=clock,
                              name="rstdp_inhibition")
            inh.connect("cls_pre != cls_post")
            objects.append(inh)
        # decision: one unit per class counts its population's spikes in the presentation window
        decision = b2.NeuronGroup(C, "count : 1\njitter : 1\nn_above : 1", clock=clock, namespace=ns,
                                  threshold=f"{phase} == 0 and n_above < 0.5 and y_table(t - t_block) >= 0",
                                  reset="", name="rstdp_decision")
        tally = b2.Synapses(out, decision, on_pre=f"count_post += {present}", clock=clock, namespace=ns, name="rstdp_tally")
        tally.connect(j="cls_pre")
        compare = b2.Synapses(decision, decision, "n_above_post = 1.0*int(count_pre + jitter_pre > count_post + jitter_post) : 1 (summed)",
                              clock=clock, namespace={}, name="rstdp_compare")
        compare.connect()
        decision.run_regularly(f"is_new = int({phase} == 0)\ncount = count*(1 - is_new)\n"
                               "jitter = is_new*0.5*rand() + (1 - is_new)*jitter", when="after_synapses",
                               name="rstdp_decision_reset")
        critic = b2.NeuronGroup(1, "dd/dt = -d/tau_d : 1\nRbar : 1\nR : 1\ndecided : 1\nshare : 1\ntotal : 1",
                                method="exact", clock=clock, name="rstdp_critic",
                                namespace=dict(tau_d=p.tau_d_ms * ms, gain=p.dopamine_gain, neg=p.negative_rpe,
                                               alpha=p.baseline_alpha, running=float(p.critic == "running")))
        critic.Rbar = 1.0 / C
        critic.run_regularly("rpe = decided*(R - running*Rbar - (1 - running)*share)\n"
                             "d += gain*(rpe*int(rpe > 0) + neg*rpe*int(rpe < 0))\n"
                             "Rbar += alpha*decided*(R - Rbar)\nR = 0\ndecided = 0\nshare = 0", when="after_synapses", order=1,
                             name="rstdp_critic_release")
        if p.confidence_temperature > 0:  # softmax of the counts (exponent clipped: no overflow)
            ns["conf_temp"] = p.confidence_temperature
            boltz, share = "exp(clip(count_pre/conf_temp, 0, 600))", "exp(clip(count_pre/conf_temp, 0, 600))/total_post"
        else:
            boltz, share = "count_pre", "(count_pre + 1.0/n_classes)/(total_post + 1)"
        reward = b2.Synapses(decision, critic, f"total_post = {boltz} : 1 (summed)", clock=clock, name="rstdp_reward",
                             on_pre="decided_post += 1\nR_post += 1.0*int(i == y_table(t - t_block))\n"
                                    f"share_post += {share}",
                             namespace=ns)  # the shared dict: t_block is rewritten per block
        reward.connect()
        syn.da = b2.linked_var(critic, "d")
        objects += [decision, tally, compare, critic, reward]
        if p.credit == "winner":
            out.run_regularly(f"chosen = chosen*int({phase} != 0)", when="start", name="rstdp_chosen_reset")
            gate = b2.Synapses(decision, out, on_pre="chosen_post = 1", clock=clock, namespace={}, name="rstdp_gate")
            gate.connect("cls_post == i")
            out.chosen = 0.0
            objects.append(gate)
        if homeo:  # the winner's threshold rises, all decay back to -50 mV: every population gets to win
            theta = b2.Synapses(decision, out, on_pre="v_th_post += theta_plus*mV", clock=clock,
                                namespace=dict(theta_plus=p.theta_plus_mv), name="rstdp_theta")
            theta.connect("cls_post == i")
            out.run_regularly("v_th = -50*mV + (v_th + 50*mV)*theta_decay", when="end", name="rstdp_theta_decay")
            objects.append(theta)
        # count each population's training decisions; metaplasticity: each win lowers its eta
        meta = "\nplasticity_post = 1/(1 + wins_post/n0)" if p.consolidation_wins > 0 else ""
        consolidate = b2.Synapses(decision, out, on_pre="wins_post += 1" + meta, clock=clock,
                                  namespace=dict(n0=p.consolidation_wins), name="rstdp_wins")
        consolidate.connect("cls_post == i")
        objects.append(consolidate)
        self._mons = {"decisions": b2.SpikeMonitor(decision, name="rstdp_decisions"),
                      "spikes": b2.SpikeMonitor(out, name="rstdp_spikes")}
        if self.trace_dopamine:
            self._mons["critic"] = b2.StateMonitor(critic, ["d", "Rbar"], record=[0], clock=clock, when="end",
                                                   name="rstdp_critic_trace")
        self._groups = dict(inp=inp, out=out, syn=syn, static=static, decision=decision, critic=critic)
        self._plastic = [syn, decision, tally, compare, critic, reward] + ([gate] if p.credit == "winner" else []) \
            + ([theta] if homeo else []) + [consolidate]
        self._net = b2.Network(*objects, *self._mons.values(), name="rstdp_network")
        self.timing["build_wall_s"] += time.perf_counter() - t_build

    def _set_mode(self, train: bool):
        for obj in self._plastic:
            obj.active = train
        for op in self._groups["out"].contained_objects:
            if op.name in ("rstdp_chosen_reset", "rstdp_theta_decay"):
                op.active = train
        self._groups["static"].active = not train
        self._mons["decisions"].active = train
        if not train:
            self._groups["static"].w = self._groups["syn"].w[:]

    def _load_block(self, x: np.ndarray, y) -> float:
        """Write a block's rates (row k = example k) and labels (row k+1 = label of example k)."""
        b2 = self._b2
        self._rates.values[:] = 0.0
        self._rates.values[: len(x)] = x
        self._labels.values[:] = -1.0
        if y is not None:
            self._labels.values[1 : len(y) + 1] = y
        t_block = float(self._net.t / b2.second)
        self._ns["t_block"] = self._net.t
        self._clear_spikes()
        return t_block

    def _clear_spikes(self):
        self._mons["spikes"].resize(0)

    def _counts(self, t_block: float, n: int) -> np.ndarray:
        mon = self._mons["spikes"]
        t = np.asarray(mon.t[:] / self._b2.second) - t_block
        i = np.asarray(mon.i[:], np.int64)
        steps = np.rint(t / (self.params.dt_ms * 1e-3)).astype(np.int64)
        slot_steps, rest_steps = self._ns["slot_steps"], self._ns["rest_steps"]
        k, phase = steps // slot_steps, steps % slot_steps
        ok = (phase >= rest_steps) & (k < n)
        counts = np.zeros((n, self.n_classes), np.float32)
        np.add.at(counts, (k[ok], i[ok] // self.params.n_per_class), 1.0)
        self._clear_spikes()
        return counts
