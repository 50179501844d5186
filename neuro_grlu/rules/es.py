"""ES — an evolution strategy with antithetic Gaussian perturbations of all weights.

Salimans et al. (2017), "Evolution Strategies as a Scalable Alternative to Reinforcement
Learning", applied to the shared MLP. For one minibatch ``(x, y)`` of ``B`` examples and
``P`` antithetic pairs, every parameter tensor θ (each ``W_l`` and ``b_l``) draws
``ε_p ~ N(0, I)`` (float32, from the rule's ``rng``), and the fitness of a perturbed network
is its mean reward on the batch::

    f±_p = mean_b log softmax(logits(x_b; θ ± σ ε_p))[y_b]

The fitnesses are shaped (``shaping = "centered_rank"``: the ranks of all ``2P`` values,
mapped linearly to [−0.5, 0.5] as in Salimans et al.; ``"none"``: the raw fitness), giving
``s±_p``, and the gradient estimate is (exact normalisation used here)::

    g = 1 / (P · σ) · Σ_p  (s+_p − s−_p) / 2 · ε_p                       (es_gradient)

With ``shaping = "none"`` this is an unbiased estimate of ∇_θ E_ε[f(θ + σε)], which equals
∇f(θ) to first order in σ (exactly, for a quadratic f), so ``lr`` alone sets the step and σ
only the probe size. With centred ranks ``g`` is a rank-based ascent direction whose scale no
longer depends on the reward's units. (Salimans et al. divide by ``2P`` instead of ``P·σ``
and leave the scale to Adam; with ``optimizer = "adam"`` the constant factor is irrelevant.)

The step, towards higher reward, with ``weight_decay`` λ::

    sgd:   θ += lr · (g − λ θ)
    adam:  θ += lr · m̂ / (√v̂ + eps),   m, v the Adam moments of (g − λ θ)

Adam (Kingma & Ba 2015, with bias correction) is :func:`~neuro_grlu.rules.optim.adam_ascent_steps`;
its moments live in the learner state (:class:`ESState` ``adam``), one pair per parameter tensor.

All ``2P`` perturbed networks run on the batch at once: the first layer's input is shared, so
its pre-activation is ``x̄ W₀ᵀ + b₀ ± σ (x̄ E₀,pᵀ + e₀,p)`` with the noise term one matrix
product ``(P·n₁, n_in) × (n_in, B)`` for all pairs (the ± members share it); later layers run
on a ``(2, P, B, n)`` stack (sign, pair, example) with batched matrix products. Hidden layers
use the deterministic activation of :meth:`Network.hidden_activation` (ReLU, or hard top-k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..network import Architecture, Network, layer_norm, log_softmax_at
from ..params import ParamSet, param
from ..schedules import SCHEDULES
from .base import Rule, register
from .optim import AdamState, adam_ascent_steps
from .state import LearnerState, runtime

SHAPINGS = ("centered_rank", "none")
OPTIMIZERS = ("sgd", "adam")


# --------------------------------------------------------------------------- pure estimator


def centered_ranks(fitness: np.ndarray) -> np.ndarray:
    """Centred ranks of all entries of ``fitness`` (any shape), float32, same shape.

    The smallest value maps to −0.5, the largest to +0.5, equally spaced in between
    (``rank / (n − 1) − 0.5``, Salimans et al. 2017). Ties are broken by position (stable
    sort), so the result is deterministic. A single value maps to 0.
    """
    f = np.asarray(fitness)
    n = f.size
    if n == 1:
        return np.zeros(f.shape, np.float32)
    ranks = np.empty(n, np.float32)
    ranks[np.argsort(f.ravel(), kind="stable")] = np.arange(n, dtype=np.float32)
    return (ranks / np.float32(n - 1) - np.float32(0.5)).reshape(f.shape)


def shape_fitness(f_plus: np.ndarray, f_minus: np.ndarray, shaping: str) -> tuple[np.ndarray, np.ndarray]:
    """Shaped fitness ``(s+, s−)``, each float32 ``(P,)``, from raw ``f_plus``, ``f_minus`` ``(P,)``.

    ``"centered_rank"`` ranks all ``2P`` values together; ``"none"`` returns them unchanged.
    """
    f_plus, f_minus = np.asarray(f_plus), np.asarray(f_minus)
    if shaping == "none":
        return f_plus.astype(np.float32), f_minus.astype(np.float32)
    if shaping == "centered_rank":
        s = centered_ranks(np.stack([f_plus, f_minus]))
        return s[0], s[1]
    raise ConfigError(f"shaping must be one of {', '.join(SHAPINGS)} (got {shaping!r})")


def es_gradient(noise, f_plus: np.ndarray, f_minus: np.ndarray, sigma: float, shaping: str = "none"):
    """The antithetic ES gradient estimate ``1/(P σ) Σ_p (s+_p − s−_p)/2 · ε_p``.

    Parameters
    ----------
    noise : array ``(P, ...)`` or list of such arrays
        Unit-variance perturbations ``ε_p`` (one leading row per pair) of one parameter
        tensor, or of several (then a list of estimates is returned, one per tensor).
    f_plus, f_minus : arrays ``(P,)``
        Fitness of ``θ + σ ε_p`` and ``θ − σ ε_p``.
    sigma : float
        Perturbation scale σ > 0.
    shaping : {"none", "centered_rank"}
        Fitness shaping (see :func:`shape_fitness`).

    Returns
    -------
    The estimate, shaped like ``noise[0]`` (float32), or a list of them.
    """
    s_plus, s_minus = shape_fitness(f_plus, f_minus, shaping)
    P = len(s_plus)
    coef = ((s_plus - s_minus) * np.float32(0.5 / (P * sigma))).astype(np.float32)
    if isinstance(noise, np.ndarray):
        return np.tensordot(coef, noise, axes=1).astype(np.float32, copy=False)
    return [np.tensordot(coef, e, axes=1).astype(np.float32, copy=False) for e in noise]


def adam_step(state: AdamState, grads: list[np.ndarray], lr: float, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-8) -> tuple[list[np.ndarray], AdamState]:
    """:func:`neuro_grlu.rules.optim.adam_ascent_steps` (kept under its old name)."""
    return adam_ascent_steps(state, grads, lr, beta1, beta2, eps)


# --------------------------------------------------------------------------- population on a network


@dataclass
class WeightNoise:
    """Unit Gaussian weight perturbations of ``P`` pairs: ``W[l]`` float32 ``(P, fan_out, fan_in)``, ``b[l]`` ``(P, fan_out)``."""

    W: list[np.ndarray]
    b: list[np.ndarray]

    @classmethod
    def allocate(cls, arch: Architecture, pairs: int) -> "WeightNoise":
        return cls(
            [np.empty((pairs, arch.fan_out(l), arch.fan_in(l)), np.float32) for l in range(arch.n_layers)],
            [np.empty((pairs, arch.fan_out(l)), np.float32) for l in range(arch.n_layers)],
        )

    def fill(self, rng: np.random.Generator) -> "WeightNoise":
        """Redraw every entry from ``rng`` (order: W₀, b₀, W₁, b₁, ...); returns self."""
        for w, v in zip(self.W, self.b):
            rng.standard_normal(out=w, dtype=np.float32)
            rng.standard_normal(out=v, dtype=np.float32)
        return self

    def tensors(self) -> list[np.ndarray]:
        """``[W₀, b₀, W₁, b₁, ...]`` (the order of :func:`net_tensors`)."""
        return [a for pair in zip(self.W, self.b) for a in pair]


def sample_weight_noise(arch: Architecture, pairs: int, rng: np.random.Generator) -> WeightNoise:
    """Fresh :class:`WeightNoise` for ``pairs`` pairs drawn from ``rng``."""
    return WeightNoise.allocate(arch, pairs).fill(rng)


def net_tensors(net: Network) -> list[np.ndarray]:
    """``[W₀, b₀, W₁, b₁, ...]`` of ``net`` (the arrays themselves, not copies)."""
    return [a for pair in zip(net.W, net.b) for a in pair]


def population_log_probs(net: Network, x: np.ndarray, y: np.ndarray, noise: WeightNoise, sigma: float) -> np.ndarray:
    """``log softmax(logits)[y]`` of every perturbed network on every example.

    ``x`` float32 ``(B, n_in)``, ``y`` int ``(B,)``. Returns float32 ``(2, P, B)``: index 0 is the
    network ``θ + σ ε_p``, index 1 is ``θ − σ ε_p``.
    """
    arch = net.arch
    P = noise.W[0].shape[0]
    B = len(x)
    s = np.float32(sigma)
    sign = np.array([1.0, -1.0], np.float32)[:, None, None, None]

    # First layer: shared input, noise term for all pairs in one matrix product.
    a0 = layer_norm(np.asarray(x, np.float32))  # (B, n_in)
    base = a0 @ net.W[0].T + net.b[0]  # (B, n1)
    n1 = arch.fan_out(0)
    noisy = (noise.W[0].reshape(P * n1, -1) @ a0.T).reshape(P, n1, B).transpose(0, 2, 1)  # (P, B, n1)
    noisy = noisy + noise.b[0][:, None, :]
    z = base[None, None] + sign * (s * noisy)[None]  # (2, P, B, n1)
    h = net.hidden_activation(0, z)
    hidden = [h]
    for layer in range(1, len(arch.hidden)):
        h = net.hidden_activation(layer, _perturbed_linear(net, layer, layer_norm(h), noise, s, sign))
        hidden.append(h)
    readout_in = np.concatenate(hidden, axis=-1) if arch.skip == "readout" else h
    logits = _perturbed_linear(net, arch.n_layers - 1, layer_norm(readout_in), noise, s, sign)  # (2, P, B, C)
    return log_softmax_at(logits, np.asarray(y)).astype(np.float32, copy=False)


def _perturbed_linear(net: Network, layer: int, a: np.ndarray, noise: WeightNoise, s, sign) -> np.ndarray:
    """``a (W ± σE_p)ᵀ + (b ± σ e_p)`` for ``a`` ``(2, P, B, n)`` (batched over sign and pair)."""
    E = noise.W[layer]  # (P, out, in)
    z = a @ net.W[layer].T + net.b[layer]
    z += sign * (s * (np.matmul(a, E.transpose(0, 2, 1)[None]) + noise.b[layer][None, :, None, :]))
    return z


@dataclass
class ESBatch:
    """Result of :func:`es_estimate` for one batch.

    ``grads`` — the estimate ``g`` per tensor ``[W₀, b₀, W₁, b₁, ...]`` (float32);
    ``log_probs`` — float32 ``(2, P, B)`` log-probabilities of the true class;
    ``f_plus``, ``f_minus`` — fitness ``(P,)`` (mean over the batch).
    """

    grads: list[np.ndarray]
    log_probs: np.ndarray
    f_plus: np.ndarray
    f_minus: np.ndarray


def es_estimate(net: Network, x: np.ndarray, y: np.ndarray, noise: WeightNoise, sigma: float, shaping: str) -> ESBatch:
    """Fitness of all ``2P`` perturbed networks on the batch and the gradient estimate :func:`es_gradient`."""
    lp = population_log_probs(net, x, y, noise, sigma)
    fitness = lp.astype(np.float64).mean(axis=-1)  # (2, P)
    grads = es_gradient(noise.tensors(), fitness[0], fitness[1], sigma, shaping)
    return ESBatch(grads, lp, fitness[0], fitness[1])


# --------------------------------------------------------------------------- the rule


@dataclass
class ESState(LearnerState):
    """ES state: Adam moments per tensor ``[W₀, b₀, W₁, ...]`` (None for SGD) and the
    reusable noise buffer (runtime)."""

    adam: AdamState | None = None
    noise: WeightNoise | None = runtime()


@dataclass(frozen=True)
class ESParams(ParamSet):
    """Hyperparameters of :class:`ES` (see the module docstring for the update)."""

    pairs: int = param(16, low=1, doc="antithetic weight-perturbation pairs per batch (P); 2P networks evaluated")
    lr_max: float = param(0.003, low=0.0, low_open=True, doc="learning rate in the first epoch (Adam: the per-step change of each weight)")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="learning rate the schedule decays towards")
    sigma_max: float = param(0.02, low=0.0, low_open=True, doc="weight perturbation standard deviation in the first epoch")
    sigma_min: float = param(0.0, low=0.0, at_most="sigma_max", doc="perturbation standard deviation the schedule decays towards")
    schedule: str = param("cosine", choices=SCHEDULES, doc="per-epoch schedule of lr and sigma")
    shaping: str = param("centered_rank", choices=SHAPINGS, doc="fitness shaping: centred ranks over all 2P, or raw fitness")
    optimizer: str = param("adam", choices=OPTIMIZERS, doc="sgd: theta += lr*g; adam: Adam on g (Salimans et al.)")
    weight_decay: float = param(0.0, low=0.0, doc="L2 coefficient: the ascent direction is g - weight_decay*theta")
    beta1: float = param(0.9, low=0.0, high=1.0, high_open=True, doc="Adam first-moment decay")
    beta2: float = param(0.999, low=0.0, high=1.0, high_open=True, doc="Adam second-moment decay")
    adam_eps: float = param(1e-8, low=0.0, low_open=True, doc="Adam denominator epsilon")


@register
class ES(Rule):
    """Weight-perturbation evolution strategy (antithetic, centred ranks, SGD or Adam)."""

    name = "es"
    uses = ("global_reward", "noise")
    Params = ESParams

    def init(self, model, *, init_rng, noise_rng) -> ESState:
        adam = AdamState.zeros(net_tensors(model)) if self.params.optimizer == "adam" else None
        return ESState(noise_rng, adam)

    @property
    def forward_passes_per_example(self) -> float:
        # Every example runs through all 2P perturbed networks (the first layer's base term is
        # shared by the pairs, but counted as full passes).
        return 2.0 * self.params.pairs

    def ascent_direction(self, net: Network, grads: list[np.ndarray]) -> list[np.ndarray]:
        """``g − weight_decay · θ`` per tensor."""
        wd = self.params.weight_decay
        if wd == 0.0:
            return grads
        return [g - np.float32(wd) * t for g, t in zip(grads, net_tensors(net))]

    def steps(self, net: Network, state: ESState, grads: list[np.ndarray],
              lr: float) -> tuple[list[np.ndarray], AdamState | None]:
        """The parameter increments for estimate ``grads`` and the optimizer moments after them
        (a new record; ``state`` is not changed)."""
        direction = self.ascent_direction(net, grads)
        if self.params.optimizer == "sgd":
            return [np.float32(lr) * d for d in direction], None
        p = self.params
        return adam_ascent_steps(state.adam, direction, lr, p.beta1, p.beta2, p.adam_eps)

    def delta(self, net, state, x, y, hyper, rng):
        """The step one batch would take, not applied, with fresh noise from ``rng``.

        For Adam this is the actual Adam step from the state's current moments (which are left
        unchanged), i.e. what :meth:`step` would add to the weights for this batch.
        """
        noise = sample_weight_noise(self.arch, self.params.pairs, rng)
        est = es_estimate(net, np.asarray(x, np.float32), np.asarray(y), noise, hyper["sigma"], self.params.shaping)
        steps, _ = self.steps(net, state, est.grads, hyper["lr"])
        return [(steps[2 * l], steps[2 * l + 1]) for l in range(self.arch.n_layers)]

    def step(self, net, state, x, y, hyper):
        """One ES update on batch ``(x, y)``, applied to ``net`` in place.

        The reward reported for an example is its log-probability of the true class averaged
        over the ``2P`` perturbed networks it was evaluated with (before the batch's update),
        as GRLU reports its reward under noise. ``metrics["estimate"]`` is the :class:`ESBatch`.
        """
        x, y = np.asarray(x, np.float32), np.asarray(y)
        if state.noise is None:
            state.noise = WeightNoise.allocate(net.arch, self.params.pairs)
        noise = state.noise.fill(state.rng)
        est = es_estimate(net, x, y, noise, hyper["sigma"], self.params.shaping)
        steps, adam = self.steps(net, state, est.grads, hyper["lr"])
        if adam is not None:
            state.adam = adam
        for t, d in zip(net_tensors(net), steps):
            t += d
        return state, {"reward": est.log_probs.mean(axis=(0, 1)).astype(np.float64), "estimate": est}
