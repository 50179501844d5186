"""rm-hebbian — a reward-modulated (three-factor) Hebbian readout on fixed or Sanger features.

The fast, local learner of the comparison: no noise injected into the network and no error
signal, only a stochastic choice and a scalar reward.

* Hidden layers (the features) either stay at their random initialisation
  (``features = "fixed"``) or learn without supervision by Sanger's rule on each layer's
  layer-normalised input ``x̄_l`` (``features = "sanger"``, rate ``feature_lr``):
  ``ΔW_l = η_f (y x̄_lᵀ − LT(y yᵀ) W_l)``, ``y = W_l x̄_l`` (biases stay as they are). The
  forward pass is the shared MLP's (ReLU or hard top-k of ``W_l x̄_l + b_l``).
* The output layer is a stochastic policy: it samples an action
  ``a ~ softmax(logits / temperature)`` (from the ``rng`` passed in), receives
  ``R = 1 if a == y else 0``, and learns by the three-factor rule with ``post = onehot(a)``
  and ``pre = x̄_out`` (the readout's layer-normalised input)::

      ΔW_out = lr · mean_b (R_b − R̄) onehot(a_b) ⊗ x̄_out,b      Δb_out = lr · mean_b (R_b − R̄) onehot(a_b)

  ``R̄`` is a running average of the reward (:class:`~neuro_grlu.hebbian.RewardBaseline`,
  rate ``baseline_alpha``, starting at chance ``1 / n_out``); within a batch every example uses
  the ``R̄`` from before the batch, which is then advanced example by example. With
  ``weight_decay`` λ the readout first shrinks, ``W_out, b_out *= 1 − lr·λ``, per batch: pure
  Hebbian growth otherwise makes the logits, and so the policy, ever more deterministic, and
  the confidently wrong examples stop being explored (on MNIST, 20k examples × 3 epochs:
  72% without decay, 80% with λ = 0.01).

The readout update depends only on (features, labels): :func:`readout_step` can train a
readout on top of any frozen feature extractor (e.g. a cortex model feeding a hippocampal
readout) without this rule class.

Reported reward (the harness convention): the log-probability of the true class under the
current network's ``softmax(logits)`` (temperature 1, before the batch's update) — not the
0/1 reward the rule learns from, so the numbers compare with the other rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..hebbian_updates import RewardBaseline, reward_modulated_hebbian_update, sanger_update
from ..network import Architecture, Network, layer_norm, log_softmax_at
from ..params import ParamSet, param
from ..schedules import SCHEDULES, schedule_value, scheduled
from .base import Rule, register
from .state import LearnerState

FEATURES = ("fixed", "sanger")


# --------------------------------------------------------------------------- readout on given features


def policy_probs(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` over the last axis, float32 like ``logits``."""
    z = np.asarray(logits, np.float32) / np.float32(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sample_actions(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of ``probs`` ``(B, C)`` (inverse CDF, one uniform per row); int64 ``(B,)``."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=-1), probs.shape[-1] - 1).astype(np.int64)


def one_hot(a: np.ndarray, n: int) -> np.ndarray:
    """float32 ``(B, n)`` rows ``e_{a_b}``."""
    out = np.zeros((len(a), n), np.float32)
    out[np.arange(len(a)), a] = 1.0
    return out


@dataclass
class ReadoutStep:
    """What :func:`readout_step` returns for a batch of ``B`` examples and ``C`` classes.

    ``dW`` float32 ``(C, n_features)`` and ``db`` ``(C,)`` — the increments (not applied);
    ``actions`` int ``(B,)``; ``reward`` float32 ``(B,)``; ``logits`` float32 ``(B, C)``
    (temperature 1); ``pre`` float32 ``(B, n_features)`` — the presynaptic rates used.
    """

    dW: np.ndarray
    db: np.ndarray
    actions: np.ndarray
    reward: np.ndarray
    logits: np.ndarray
    pre: np.ndarray


def readout_step(
    W: np.ndarray,
    b: np.ndarray,
    features: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    temperature: float,
    baseline: float,
    rng: np.random.Generator,
    normalize: bool = True,
    reward_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> ReadoutStep:
    """One three-factor update of a linear softmax-policy readout on given features.

    Parameters
    ----------
    W, b : float32 ``(C, n_features)``, ``(C,)`` — the readout (unchanged; add ``dW``, ``db``).
    features : float ``(B, n_features)`` — the presynaptic activity (e.g. a frozen feature
        network's output).
    y : int ``(B,)`` — the correct actions (labels).
    lr, temperature : float — learning rate η and policy temperature (> 0).
    baseline : float — the expected reward ``R̄`` (before this batch).
    rng : the generator the actions are sampled from (one uniform per example).
    normalize : layer-normalise ``features`` first (as the shared MLP does); ``False`` uses
        them as given.
    reward_fn : ``(actions, y) -> reward (B,)``; default ``1.0 * (actions == y)``.

    Returns
    -------
    :class:`ReadoutStep`, with ``dW = η mean_b (R_b − R̄) onehot(a_b) ⊗ pre_b`` and
    ``db = η mean_b (R_b − R̄) onehot(a_b)``.
    """
    pre = layer_norm(np.asarray(features, np.float32)) if normalize else np.asarray(features, np.float32)
    logits = pre @ W.T + b
    actions = sample_actions(policy_probs(logits, temperature), rng)
    y = np.asarray(y)
    reward = (actions == y).astype(np.float32) if reward_fn is None else np.asarray(reward_fn(actions, y), np.float32)
    post = one_hot(actions, W.shape[0])
    dW = reward_modulated_hebbian_update(W, pre, post, reward, baseline, lr)
    db = ((reward - np.float32(baseline))[:, None] * post).mean(axis=0) * np.float32(lr)
    return ReadoutStep(dW, db.astype(np.float32), actions, reward, logits, pre)


def expected_readout_update(
    W: np.ndarray, b: np.ndarray, features: np.ndarray, y: np.ndarray, *, lr: float, temperature: float,
    baseline: float, normalize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The expectation of :func:`readout_step`'s ``(dW, db)`` over the sampled actions (R = 1 iff a == y).

    ``E_a[(R − R̄) onehot(a)] = p ⊙ (onehot(y) − R̄)`` with ``p = softmax(logits / T)``, so
    ``E[dW] = η mean_b (p_b ⊙ (onehot(y_b) − R̄)) ⊗ pre_b``. Deterministic (no sampling).
    """
    pre = layer_norm(np.asarray(features, np.float32)) if normalize else np.asarray(features, np.float32)
    p = policy_probs(pre @ W.T + b, temperature)
    g = p * (one_hot(np.asarray(y), W.shape[0]) - np.float32(baseline))  # (B, C)
    B = len(pre)
    return (g.T @ pre * np.float32(lr / B)).astype(np.float32), (g.mean(axis=0) * np.float32(lr)).astype(np.float32)


def feature_forward(net: Network, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The hidden layers' layer-normalised inputs ``[x̄_0, ..., x̄_{L−1}]`` and the raw readout input.

    Deterministic activations (ReLU or hard top-k); the readout input is the last hidden
    layer's output, or all of them concatenated with ``skip = "readout"``.
    """
    arch = net.arch
    h = np.asarray(x, np.float32)
    inputs, hidden = [], []
    for layer in range(len(arch.hidden)):
        a = layer_norm(h)
        inputs.append(a)
        h = net.hidden_activation(layer, a @ net.W[layer].T + net.b[layer])
        hidden.append(h)
    return inputs, (np.concatenate(hidden, axis=-1) if arch.skip == "readout" else h)


# --------------------------------------------------------------------------- the rule


@dataclass(frozen=True)
class RMHebbianParams(ParamSet):
    """Hyperparameters of :class:`RMHebbian` (see the module docstring)."""

    lr_max: float = param(0.01, low=0.0, low_open=True, doc="readout learning rate in the first epoch")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="readout learning rate the schedule decays towards")
    schedule: str = param("cosine", choices=SCHEDULES, doc="per-epoch schedule of lr (and of feature_lr, towards 0)")
    temperature: float = param(1.0, low=0.0, low_open=True, doc="policy temperature: a ~ softmax(logits / temperature)")
    baseline_alpha: float = param(0.01, low=0.0, low_open=True, high=1.0, doc="rate of the running mean reward R-bar (1/time constant in examples)")
    features: str = param("fixed", choices=FEATURES, doc="hidden layers: 'fixed' random, or 'sanger' (unsupervised GHA)")
    weight_decay: float = param(0.01, low=0.0, doc="readout decay: W_out, b_out -= lr * weight_decay * (W_out, b_out) per batch (bounds the logits, keeps exploring)")
    feature_lr: float = param(1e-4, low=0.0, doc="Sanger learning rate of the hidden layers in the first epoch (features = 'sanger')")


@dataclass
class RMHebbianState(LearnerState):
    """The running mean reward ``R̄`` (:class:`~neuro_grlu.hebbian.RewardBaseline`: value, alpha, count)."""

    baseline: RewardBaseline | None = None


@register
class RMHebbian(Rule):
    """Reward-modulated Hebbian readout (three-factor rule) on fixed or Sanger-learned features."""

    name = "rm-hebbian"
    uses = ("global_reward", "local_activity")
    Params = RMHebbianParams

    def init(self, model, *, init_rng, noise_rng) -> RMHebbianState:
        """The running mean reward R̄, starting at chance."""
        return RMHebbianState(noise_rng, RewardBaseline(self.params.baseline_alpha, 1.0 / self.arch.n_out))

    def hyper(self, epoch: int, epochs: int) -> dict[str, float]:
        p = self.params
        return {
            **scheduled(p, epoch, epochs, "lr"),
            "feature_lr": schedule_value(p.schedule, p.feature_lr, 0.0, epoch, epochs),
            "temperature": p.temperature,
        }

    def _feature_updates(self, net: Network, inputs: list[np.ndarray], feature_lr: float) -> list[np.ndarray] | None:
        """Sanger increments of the hidden layers' weights, or None when the features are fixed."""
        if self.params.features == "fixed" or feature_lr == 0.0:
            return None
        return [sanger_update(w, a, feature_lr) for w, a in zip(net.W[:-1], inputs)]

    def delta(self, net, state, x, y, hyper, rng):
        """The expected step for the batch (no sampling, ``rng`` unused), not applied.

        Readout: the expectation of the three-factor update over the policy's actions
        (:func:`expected_readout_update`, with the current ``R̄``), which points towards higher
        expected reward. Hidden layers: zero (``fixed``) or the Sanger step — unsupervised, so
        not a reward-ascent direction. Biases of hidden layers: zero.
        """
        inputs, feats = feature_forward(net, x)
        dW, db = expected_readout_update(net.W[-1], net.b[-1], feats, y, lr=hyper["lr"],
                                         temperature=hyper.get("temperature", self.params.temperature),
                                         baseline=state.baseline.value)
        hidden = self._feature_updates(net, inputs, hyper.get("feature_lr", 0.0))
        if hidden is None:
            hidden = [np.zeros_like(w) for w in net.W[:-1]]
        return [(h, np.zeros_like(v)) for h, v in zip(hidden, net.b[:-1])] + [(dW, db)]

    def step(self, net, state, x, y, hyper):
        """One batch: readout three-factor step, Sanger feature step, baseline update (in place).

        The reward is ``log softmax(logits)[y]`` of each example under the network before the
        update (see the module docstring); ``metrics["step"]`` is the :class:`ReadoutStep`.
        """
        x, y = np.asarray(x, np.float32), np.asarray(y)
        inputs, feats = feature_forward(net, x)
        step = readout_step(net.W[-1], net.b[-1], feats, y, lr=hyper["lr"],
                            temperature=hyper.get("temperature", self.params.temperature),
                            baseline=state.baseline.value, rng=state.rng)
        hidden = self._feature_updates(net, inputs, hyper.get("feature_lr", 0.0))
        for w, d in zip(net.W[:-1], hidden or ()):
            w += d
        wd = self.params.weight_decay
        if wd:
            keep = np.float32(1.0 - hyper["lr"] * wd)
            net.W[-1] *= keep
            net.b[-1] *= keep
        net.W[-1] += step.dW
        net.b[-1] += step.db
        state.baseline.update(step.reward)
        return state, {"reward": log_softmax_at(step.logits, y).astype(np.float64), "step": step}
