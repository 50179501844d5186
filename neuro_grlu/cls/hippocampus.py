"""The fast system: one-pass learners on top of a given feature code.

Every learner has the same small interface:

* ``fit_online(features, labels, rng)`` — one pass over the examples, in order, one example
  at a time (``batch_size`` examples share a weight state when > 1);
* ``logits(features)`` — a score per class ``(B, n_classes)``;
* ``predict(features, allowed=None)`` — argmax, optionally over ``allowed`` classes only;
* ``uses`` — what information the learner needs (wording of :data:`USES`).

Rate learner :class:`RateHebbian`:

1. *Code.* The features are layer-normalised; optionally (``expand > 0``) a fixed random
   projection to ``expand`` units followed by k-winners-take-all gives a sparse binary code
   with ``round(k · expand)`` active units (the dentate-gyrus pattern-separation idea).
   The projection is drawn once from ``code_seed`` and never learns.
2. *Readout.* ``n_classes`` output units, weights ``W`` (no bias), start at zero.
   Score of class ``c``: ``W_c · pre / ‖W_c‖`` (cosine-like; ``row_norm = true``) or ``W_c · pre``.
3. *Teacher.*

   * ``teacher = "reward"`` — the three-factor rule: sample an action
     ``a ~ softmax(score / temperature)``, receive the global reward ``R = [a == y]`` and
     update ``ΔW = lr (R − R̄) onehot(a) ⊗ pre`` (:func:`neuro_grlu.hebbian.reward_modulated_hebbian_update`,
     ``R̄`` a running mean, :class:`~neuro_grlu.hebbian.RewardBaseline`). The output units
     see only their own activity and one scalar reward; the label never reaches them.
   * ``teacher = "label"`` — supervised Hebbian: the label clamps the output
     (``post = onehot(y)``), ``ΔW = lr · onehot(y) ⊗ pre``. With ``row_norm`` this is a
     nearest-class-mean (prototype) classifier on the code: **label-supervised at the output**.

   ``row_norm`` (synaptic scaling) divides each output unit's weights by their norm when
   scoring, so a class learnt later does not win by having larger weights.

:class:`PrototypeHebbian` — label-gated competitive Hebbian units (several per class), see its
docstring. :class:`~neuro_grlu.cls.spiking_hippocampus.SpikingRSTDP` (``"spiking-rstdp"``) is the
Brian2 spiking network with reward-modulated STDP and a dopamine reward-prediction error behind
the same interface (its module imports Brian2 only when a network is built).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..hebbian_updates import RewardBaseline, reward_modulated_hebbian_update
from ..network import layer_norm, topk_count, topk_mask
from ..params import ParamSet, from_dict, param
from ..rules.hebbian import one_hot, policy_probs, sample_actions
from .spiking_hippocampus import SpikingRSTDP, SpikingRSTDPParams
from .spiking_prototype import SpikingPrototype, SpikingPrototypeParams
from .tasks import masked_predict

USES = {
    "global_reward": "one global scalar reward per example",
    "local_activity": "pre- and postsynaptic activity at the synapse",
    "label_at_output": "the label clamps the output units (supervised Hebbian / prototype)",
    "own_decision": "the network's own decision (which population won) gates which synapses consolidate",
    "label_gates_population": "after an error the label (an unconditioned stimulus) gates which population may fire",
}


@dataclass(frozen=True)
class RateHebbianParams(ParamSet):
    teacher: str = param("reward", choices=("reward", "label"), doc="'reward': three-factor rule with a sampled action and a scalar reward; 'label': the label clamps the output (supervised Hebbian)")
    lr: float = param(0.05, low=0.0, low_open=True, doc="learning rate per example")
    temperature: float = param(0.05, low=0.0, low_open=True, doc="policy temperature (teacher = 'reward')")
    baseline_alpha: float = param(0.01, low=0.0, low_open=True, high=1.0, doc="rate of the running mean reward R-bar")
    baseline: str = param("running", choices=("running", "policy"), doc="expected reward R-bar: 'running' mean of past rewards, or 'policy' = the probability the policy gave the chosen action (a self-confidence critic)")
    row_norm: bool = param(True, doc="score with each output unit's weights divided by their norm (synaptic scaling)")
    expand: int = param(0, low=0, doc="random expansion width before k-WTA (0 = use the features directly)")
    k: float = param(0.05, low=0.0, low_open=True, high=1.0, doc="fraction of active units of the k-WTA code (expand > 0)")
    code_seed: int = param(0, low=0, doc="seed of the fixed random expansion")
    batch_size: int = param(1, low=1, doc="examples sharing one weight state (1 = strictly online)")


class RateHebbian:
    """Rate three-factor (or label-taught) Hebbian readout; see the module docstring."""

    name = "rate-hebbian"

    def __init__(self, params: RateHebbianParams, n_features: int, n_classes: int = 10):
        self.params = params
        self.n_classes = int(n_classes)
        p = params
        self.P = None
        if p.expand:
            rng = np.random.default_rng(p.code_seed)
            self.P = (rng.standard_normal((p.expand, n_features)) / np.sqrt(n_features)).astype(np.float32)
        width = p.expand or n_features
        self.W = np.zeros((self.n_classes, width), np.float32)
        self.baseline = RewardBaseline(p.baseline_alpha, 1.0 / self.n_classes)
        self.examples_seen = 0

    @property
    def uses(self) -> tuple[str, ...]:
        return ("global_reward", "local_activity") if self.params.teacher == "reward" else ("label_at_output", "local_activity")

    def code(self, features: np.ndarray) -> np.ndarray:
        """The presynaptic code: layer-normalised features, or the sparse binary k-WTA code."""
        f = layer_norm(np.asarray(features, np.float32))
        if self.P is None:
            return f
        z = f @ self.P.T
        return topk_mask(z, topk_count(self.params.k, z.shape[1]))

    def _scores(self, pre: np.ndarray) -> np.ndarray:
        s = pre @ self.W.T
        if self.params.row_norm:
            s = s / (np.linalg.norm(self.W, axis=1) + 1e-12)
        return s

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.concatenate([self._scores(self.code(features[i : i + 2000])) for i in range(0, len(features), 2000)]) \
            if len(features) else np.zeros((0, self.n_classes), np.float32)

    def predict(self, features: np.ndarray, allowed=None) -> np.ndarray:
        s = self.logits(features)
        return s.argmax(axis=1) if allowed is None else masked_predict(s, allowed)

    def fit_online(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One pass in order; returns the reward (1 if the sampled/predicted class was right) per example."""
        p = self.params
        y_all = np.asarray(labels, np.int64)
        if len(y_all) and (y_all.min() < 0 or y_all.max() >= self.n_classes):
            raise ConfigError(f"labels must be in 0..{self.n_classes - 1}")
        rewards = np.empty(len(y_all), np.float32)
        for start in range(0, len(y_all), 2048):  # code in blocks, learn example by example
            pre_block = self.code(features[start : start + 2048])
            for i in range(0, len(pre_block), p.batch_size):
                pre = pre_block[i : i + p.batch_size]
                y = y_all[start + i : start + i + len(pre)]
                if p.teacher == "label":
                    rewards[start + i : start + i + len(pre)] = self._scores(pre).argmax(axis=1) == y
                    self.W += one_hot(y, self.n_classes).T @ pre * np.float32(p.lr / len(pre))
                else:
                    probs = policy_probs(self._scores(pre), p.temperature)
                    a = sample_actions(probs, rng)
                    r = (a == y).astype(np.float32)
                    expected = self.baseline.value if p.baseline == "running" else probs[np.arange(len(a)), a]
                    self.W += reward_modulated_hebbian_update(self.W, pre, one_hot(a, self.n_classes), r,
                                                              expected, p.lr)
                    self.baseline.update(r)
                    rewards[start + i : start + i + len(pre)] = r
        self.examples_seen += len(y_all)
        return rewards

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {"hippocampus_W": self.W}
        if self.P is not None:
            out["hippocampus_projection"] = self.P
        return out


@dataclass(frozen=True)
class PrototypeHebbianParams(ParamSet):
    prototypes_per_class: int = param(50, low=1, doc="output units recruited per class (M); 1 = nearest class mean")
    expand: int = param(0, low=0, doc="random expansion width before k-WTA (0 = use the features directly)")
    k: float = param(0.05, low=0.0, low_open=True, high=1.0, doc="fraction of active units of the k-WTA code (expand > 0)")
    code_seed: int = param(0, low=0, doc="seed of the fixed random expansion")


class PrototypeHebbian:
    """Label-gated competitive Hebbian units (an episodic/prototype memory); label-supervised.

    Each class owns up to ``M`` output units. An example of class ``y`` (the label gates
    which units may learn — supervised information at the output) either recruits a new
    unit of class ``y`` set to its code (one-shot storage) while the class has fewer than
    ``M``, or moves the best-matching unit of class ``y`` towards it by the competitive
    Hebbian rule ``Δw = (pre − w) / n_w`` (``n_w`` = examples the unit has won: a running
    mean, i.e. online k-means inside the class). Units of other classes are never touched,
    so learning a new class cannot overwrite an old one. Code: unit-length layer-normalised
    features (or the k-WTA code); score of a class = the best cosine of its units.
    """

    name = "prototype-hebbian"
    uses = ("label_at_output", "local_activity")

    def __init__(self, params: PrototypeHebbianParams, n_features: int, n_classes: int = 10):
        self.params = params
        self.n_classes = int(n_classes)
        self.P = None
        if params.expand:
            rng = np.random.default_rng(params.code_seed)
            self.P = (rng.standard_normal((params.expand, n_features)) / np.sqrt(n_features)).astype(np.float32)
        width = params.expand or n_features
        M = params.prototypes_per_class
        self.W = np.zeros((self.n_classes, M, width), np.float32)
        self.wins = np.zeros((self.n_classes, M), np.int64)
        self.examples_seen = 0

    def code(self, features: np.ndarray) -> np.ndarray:
        f = layer_norm(np.asarray(features, np.float32))
        if self.P is not None:
            z = f @ self.P.T
            f = topk_mask(z, topk_count(self.params.k, z.shape[1]))
        return f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-12)

    def _scores(self, pre: np.ndarray) -> np.ndarray:
        C, M, D = self.W.shape
        norms = np.linalg.norm(self.W, axis=2, keepdims=True)
        Wn = np.where(norms > 0, self.W / np.maximum(norms, 1e-12), 0.0).reshape(C * M, D)
        s = (pre @ Wn.T).reshape(len(pre), C, M)
        s = np.where((self.wins > 0)[None], s, -np.inf).max(axis=2)
        return np.where(np.isfinite(s), s, -2.0).astype(np.float32)  # a class without units scores below any cosine

    def logits(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros((0, self.n_classes), np.float32)
        return np.concatenate([self._scores(self.code(features[i : i + 1000])) for i in range(0, len(features), 1000)])

    def predict(self, features: np.ndarray, allowed=None) -> np.ndarray:
        s = self.logits(features)
        return s.argmax(axis=1) if allowed is None else masked_predict(s, allowed)

    def fit_online(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """One pass in order; returns 1 per example the memory classified right before learning its block of 256."""
        y_all = np.asarray(labels, np.int64)
        if len(y_all) and (y_all.min() < 0 or y_all.max() >= self.n_classes):
            raise ConfigError(f"labels must be in 0..{self.n_classes - 1}")
        correct = np.empty(len(y_all), np.float32)
        for start in range(0, len(y_all), 256):
            pre_block = self.code(features[start : start + 256])
            correct[start : start + len(pre_block)] = self._scores(pre_block).argmax(axis=1) == y_all[start : start + 256]
            for i, pre in enumerate(pre_block):
                c = y_all[start + i]
                W, wins = self.W[c], self.wins[c]
                used = int(np.count_nonzero(wins))
                if used < len(wins):
                    W[used], wins[used] = pre, 1
                    continue
                j = int(np.argmax(W @ pre / (np.linalg.norm(W, axis=1) + 1e-12)))
                wins[j] += 1
                W[j] += (pre - W[j]) / wins[j]
        self.examples_seen += len(y_all)
        return correct

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {"hippocampus_W": self.W, "hippocampus_wins": self.wins}
        if self.P is not None:
            out["hippocampus_projection"] = self.P
        return out


LEARNERS = {"rate-hebbian": (RateHebbian, RateHebbianParams),
            "prototype-hebbian": (PrototypeHebbian, PrototypeHebbianParams),
            "spiking-rstdp": (SpikingRSTDP, SpikingRSTDPParams),
            "spiking-prototype": (SpikingPrototype, SpikingPrototypeParams)}


def learner_params(raw: dict) -> tuple[str, ParamSet]:
    """``(learner name, validated params)`` from a ``[hippocampus]`` table."""
    raw = dict(raw or {})
    name = raw.pop("learner", "rate-hebbian")
    if name not in LEARNERS:
        raise ConfigError(f"unknown hippocampus learner {name!r}; known: {', '.join(LEARNERS)}")
    return name, from_dict(LEARNERS[name][1], raw, f"hippocampus ({name})")


def make_learner(name: str, params: ParamSet, n_features: int, n_classes: int = 10):
    return LEARNERS[name][0](params, n_features, n_classes)
