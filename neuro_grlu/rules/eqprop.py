"""Equilibrium propagation (``eqprop``): a free and a nudged relaxation, compared at each synapse.

Scellier & Bengio (2017); symmetric nudging from Laborieux et al. (2021), whose softmax
readout (cross-entropy cost outside the energy) is used here.

The model is a layered Hopfield-like network with symmetric weights (its own model, not the
shared MLP: no layer norm, since the dynamics must descend an energy). Hidden states
``s_l ∈ [0, 1]`` ``(B, width_l)``, ``l = 0 .. L-1``; the image ``x ∈ [0, 1]`` ``(B, 784)`` is
clamped as ``s_{-1}``. With the hard-sigmoid ``ρ(s) = clip(s, 0, 1)`` (the identity inside
the box), the energy and the readout are::

    E(s) = Σ_l ½‖s_l‖² − Σ_l s_l · (W_l s_{l-1} + b_l)          (weight layers 0 .. L-1)
    logits = W_L s_{L-1} + b_L,   C(s) = CE(logits, y)              (weight layer L)
    F(s; β) = E(s) + β C(s)

so ``W_l`` couples layers ``l-1`` and ``l`` in both directions (the feedback uses ``W_lᵀ``:
symmetric weights). **Relaxation**: starting from one feed-forward sweep
``s_l = ρ(W_l s_{l-1} + b_l)``, projected gradient steps ``s ← clip(s − ε ∂F/∂s, 0, 1)``,
all layers at once and vectorised over the batch (``ε = inference_rate``)::

    ∂F/∂s_l = s_l − W_l s_{l-1} − b_l − W_{l+1}ᵀ s_{l+1}          (l < L-1)
    ∂F/∂s_{L-1} = s_{L-1} − W_{L-1} s_{L-2} − b_{L-1} + β W_Lᵀ (softmax(logits) − onehot(y))

For ``ε ≤ 1/λ_max(∂²E/∂s²)`` the energy decreases monotonically (descent lemma; tested).

**Learning**: the free phase (β = 0, ``free_steps``) gives the prediction; the nudged phase
(``nudged_steps``, started from the free equilibrium) uses ``+β`` (``nudging = "positive"``,
one-sided) or ``+β`` and ``−β`` (``"symmetric"``). With ``∂F/∂W_l = −s_l ⊗ s_{l-1}`` (the
local co-activity) the gradient estimate of the equilibrium loss ``C(s*(θ))`` is::

    one-sided:  ĝ = (∂F/∂θ(s^β) − ∂F/∂θ(s^0)) / β
    symmetric:  ĝ = (∂F/∂θ(s^β) − ∂F/∂θ(s^−β)) / (2β)

i.e. ``ΔW_l ∝ (s_l^β ⊗ s_{l-1}^β − s_l^0 ⊗ s_{l-1}^0) / β`` (two phases, local). The readout
``W_L`` gets the cross-entropy gradient at the nudged state(s) (output error ⊗ presynaptic
activity). As β → 0 the estimate tends to the true gradient of the equilibrium loss,
with an O(β) bias for one-sided and O(β²) for symmetric nudging (tested against finite
differences). :func:`equilibrium_gradient` computes that true gradient by implicit
differentiation at the free equilibrium; the training loop's gradient alignment compares
with it (``EqProp.true_gradient``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..network import Architecture, Network
from ..params import param
from ._energy_optim import EnergyOptimParams, EnergyRuleState, descend, init_state
from .backprop import output_error
from .base import Rule, register

NUDGING = ("symmetric", "positive")


class HopfieldNetwork(Network):
    """The weights of :mod:`eqprop`'s energy model (same shapes as the shared MLP's).

    ``W[l]`` ``(width_l, width_{l-1})`` for the symmetric couplings (``l < L``) and the
    readout ``W[L]`` ``(n_out, width_{L-1})``. Prediction: argmax of the readout at the free
    equilibrium reached with the given ``steps`` and ``rate``.
    """

    free_steps: int = 20
    rate: float = 0.5

    @classmethod
    def init(cls, arch: Architecture, rng: np.random.Generator, free_steps: int = 20, rate: float = 0.5):
        net = Network.init(arch, rng)
        out = cls(arch, net.W, net.b)
        out.free_steps, out.rate = free_steps, rate
        return out

    def copy(self) -> "HopfieldNetwork":
        out = HopfieldNetwork(self.arch, [w.copy() for w in self.W], [v.copy() for v in self.b])
        out.free_steps, out.rate = self.free_steps, self.rate
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Readout logits ``(B, n_out)`` at the free equilibrium of ``x`` ``(B, n_in)``."""
        s = relax(self, np.asarray(x, np.float32), None, 0.0, self.free_steps, self.rate)
        return readout(self, s)


def readout(net: Network, s: list) -> np.ndarray:
    """Logits ``W_L s_{L-1} + b_L`` ``(B, n_out)``."""
    return s[-1] @ net.W[-1].T + net.b[-1]


def feedforward_states(net: Network, x: np.ndarray) -> list:
    """One bottom-up sweep ``s_l = clip(W_l s_{l-1} + b_l, 0, 1)`` (the relaxation's start)."""
    s, h = [], x
    for layer in range(len(net.arch.hidden)):
        h = np.clip(h @ net.W[layer].T + net.b[layer], 0.0, 1.0)
        s.append(h)
    return s


def energy(net: Network, x: np.ndarray, s: list, y=None, beta: float = 0.0) -> np.ndarray:
    """``F(s; β)`` per example ``(B,)`` (float64): ``E(s) + β·CE`` (``E`` alone without ``y``)."""
    below = [x] + s[:-1]
    e = np.zeros(len(x))
    for layer, (sl, sb) in enumerate(zip(s, below)):
        e += 0.5 * (sl * sl).sum(axis=1) - (sl * (sb @ net.W[layer].T + net.b[layer])).sum(axis=1)
    if y is not None and beta:
        e += beta * -output_error(readout(net, s), y)[1]
    return e


def relax(net: Network, x: np.ndarray, y, beta: float, steps: int, rate: float, start: list | None = None,
          trace: list | None = None) -> list:
    """Relax ``F(·; β)`` from ``start`` (default: the feed-forward sweep) for ``steps`` steps.

    Returns the hidden states (list of ``(B, width_l)``). ``trace``, if a list, receives the
    per-example energy ``F`` before the first step and after every step.
    """
    L = len(net.arch.hidden)
    s = [v.copy() for v in (start if start is not None else feedforward_states(net, x))]
    drive0 = x @ net.W[0].T + net.b[0]  # the clamped input's drive never changes
    rate = np.asarray(rate, s[0].dtype)
    if trace is not None:
        trace.append(energy(net, x, s, y, beta))
    for _ in range(steps):
        grads = []
        for layer in range(L):
            g = s[layer] - (drive0 if layer == 0 else s[layer - 1] @ net.W[layer].T + net.b[layer])
            if layer + 1 < L:
                g -= s[layer + 1] @ net.W[layer + 1]
            elif beta:
                e_out, _ = output_error(readout(net, s), y)  # (softmax − onehot)/B
                g += (np.asarray(beta * len(x), g.dtype) * e_out) @ net.W[L]
            grads.append(g)
        s = [np.clip(sl - rate * g, 0.0, 1.0) for sl, g in zip(s, grads)]
        if trace is not None:
            trace.append(energy(net, x, s, y, beta))
    return s


def energy_weight_gradient(net: Network, x: np.ndarray, s: list) -> list:
    """``∂E/∂(W_l, b_l)`` summed over the batch, for the coupling layers ``l < L``: ``−s_lᵀ s_{l-1}``."""
    below = [x] + s[:-1]
    return [(-(sl.T @ sb), -sl.sum(axis=0)) for sl, sb in zip(s, below)]


def readout_gradient(net: Network, s: list, y: np.ndarray) -> tuple:
    """``∂C/∂(W_L, b_L)`` of the batch-mean cross-entropy at states ``s``, and ``log p(y)``."""
    e_out, reward = output_error(readout(net, s), y)
    return (e_out.T @ s[-1], e_out.sum(axis=0)), reward


def eqprop_gradients(net: Network, x: np.ndarray, y: np.ndarray, *, beta: float, nudging: str, free_steps: int,
                     nudged_steps: int, rate: float):
    """EqProp's estimate of ``dC/d(W_l, b_l)`` for the batch-mean cost, per weight layer.

    Returns ``(grads, reward, free_states)``; ``reward`` is ``log p(y)`` at the free equilibrium.
    """
    B = len(x)
    free = relax(net, x, y, 0.0, free_steps, rate)
    _, reward = output_error(readout(net, free), y)
    plus = relax(net, x, y, beta, nudged_steps, rate, start=free)
    g_plus = energy_weight_gradient(net, x, plus)
    r_plus, _ = readout_gradient(net, plus, y)
    if nudging == "symmetric":
        minus = relax(net, x, y, -beta, nudged_steps, rate, start=free)
        g_ref = energy_weight_gradient(net, x, minus)
        r_minus, _ = readout_gradient(net, minus, y)
        denom = 2.0 * beta
        out_grad = ((r_plus[0] + r_minus[0]) / 2, (r_plus[1] + r_minus[1]) / 2)
    else:
        g_ref = energy_weight_gradient(net, x, free)
        denom = beta
        out_grad = r_plus
    scale = np.asarray(1.0 / (denom * B), x.dtype)
    grads = [((gp[0] - gr[0]) * scale, (gp[1] - gr[1]) * scale) for gp, gr in zip(g_plus, g_ref)]
    grads.append(out_grad)
    return grads, reward, free


def equilibrium_gradient(net: Network, x: np.ndarray, y: np.ndarray, free: list, *, iterations: int = 500,
                         tol: float = 1e-6) -> list:
    """True gradient of the batch-mean equilibrium cost ``C(s*(θ))`` at the free equilibrium ``free``.

    Implicit differentiation: units pinned at 0 or 1 do not move; for the free units
    ``∂E/∂s = 0``, so ``ds*/dθ = −H⁻¹ ∂²E/∂s∂θ`` with ``H = ∂²E/∂s²`` on the free units.
    ``λ = H⁻¹ ∂C/∂s`` is solved by conjugate gradients (batched, ``iterations`` at most, until
    the relative residual is below ``tol``), then ``dC/dW_l = ∂C/∂W_l + λ_l ⊗ s_{l-1} + s_l ⊗ λ_{l-1}``.
    """
    L = len(net.arch.hidden)
    B = len(x)
    s = [np.asarray(v, np.float64) for v in free]
    W = [np.asarray(w, np.float64) for w in net.W]
    drive0 = x @ W[0].T + net.b[0]
    # Active (free) units: strictly inside (0, 1), or on a bound with zero outward force.
    mask = []
    for layer in range(L):
        field = (drive0 if layer == 0 else s[layer - 1] @ W[layer].T + net.b[layer])
        if layer + 1 < L:
            field = field + s[layer + 1] @ W[layer + 1]
        inside = (field > 0.0) & (field < 1.0)
        mask.append(inside.astype(np.float64))
    logits = s[-1] @ W[L].T + net.b[L]
    e_out, _ = output_error(logits.astype(np.float64), y)  # batch mean: (softmax − onehot)/B
    c = [np.zeros_like(v) for v in s]
    c[-1] = e_out @ W[L]

    def hess(v):
        out = []
        for layer in range(L):
            h = v[layer].copy()
            if layer > 0:
                h -= v[layer - 1] @ W[layer].T
            if layer + 1 < L:
                h -= v[layer + 1] @ W[layer + 1]
            out.append(h * mask[layer])
        return out

    def dot(a, b):
        return sum((u * v).sum(axis=1) for u, v in zip(a, b))

    lam = [np.zeros_like(v) for v in s]
    r = [ci * m for ci, m in zip(c, mask)]
    p = [v.copy() for v in r]
    rr = dot(r, r)
    norm0 = np.sqrt(rr.sum()) + 1e-300
    for _ in range(iterations):
        if np.sqrt(rr.sum()) <= tol * norm0:
            break
        hp = hess(p)
        php = dot(p, hp)
        alpha = np.where(php > 0, rr / np.where(php > 0, php, 1.0), 0.0)[:, None]
        lam = [lv + alpha * pv for lv, pv in zip(lam, p)]
        r = [rv - alpha * hv for rv, hv in zip(r, hp)]
        rr_new = dot(r, r)
        beta_cg = np.where(rr > 0, rr_new / np.where(rr > 0, rr, 1.0), 0.0)[:, None]
        p = [rv + beta_cg * pv for rv, pv in zip(r, p)]
        rr = rr_new
    below = [np.asarray(x, np.float64)] + s[:-1]
    grads = []
    for layer in range(L):
        gw = lam[layer].T @ below[layer]
        if layer > 0:
            gw += s[layer].T @ lam[layer - 1]
        grads.append((gw, lam[layer].sum(axis=0)))
    grads.append((e_out.T @ s[-1], e_out.sum(axis=0)))
    return grads


@dataclass(frozen=True)
class EqPropParams(EnergyOptimParams):
    """Hyperparameters of ``eqprop``."""

    beta: float = param(0.2, low=0.0, low_open=True, doc="nudging strength β (> 0)")
    nudging: str = param("symmetric", choices=NUDGING, doc="symmetric (+β and −β) or positive (one-sided +β)")
    free_steps: int = param(10, low=1, doc="relaxation steps of the free phase (> 0)")
    nudged_steps: int = param(8, low=1, doc="relaxation steps of each nudged phase (> 0)")
    inference_rate: float = param(0.5, low=0.0, low_open=True, high=1.0,
                                  doc="relaxation step size ε, in (0, 1]")


@register
class EqProp(Rule):
    """Equilibrium propagation: free and nudged relaxations of a symmetric energy network."""

    name = "eqprop"
    uses = ("label_error", "two_phases", "symmetric_weights", "local_activity")
    Params = EqPropParams

    def __init__(self, params: EqPropParams, arch: Architecture, batch_size: int = 1):
        super().__init__(params, arch, batch_size)
        if arch.activation != "relu" or arch.skip != "none":
            raise ConfigError(f"rule eqprop relaxes a layered energy network: it needs network.activation = \"relu\" "
                              f"(its hard-sigmoid units) and network.skip = \"none\" (got {arch.activation!r}, {arch.skip!r})")

    def init_model(self, rng: np.random.Generator) -> HopfieldNetwork:
        return HopfieldNetwork.init(self.arch, rng, self.params.free_steps, self.params.inference_rate)

    @property
    def inference_iterations_per_example(self) -> float:
        """Relaxation steps each training example goes through (cost table)."""
        p = self.params
        return float(p.free_steps + p.nudged_steps * (2 if p.nudging == "symmetric" else 1))

    @property
    def forward_passes_per_example(self) -> float:
        # the feed-forward start plus one sweep of the symmetric couplings per relaxation step
        return 1.0 + self.inference_iterations_per_example

    def gradients(self, net, x, y):
        p = self.params
        grads, reward, _ = eqprop_gradients(net, x, y, beta=p.beta, nudging=p.nudging, free_steps=p.free_steps,
                                            nudged_steps=p.nudged_steps, rate=p.inference_rate)
        return grads, reward

    def true_gradient(self, net, x, y) -> list:
        """Gradient of the equilibrium cost (for gradient alignment), see :func:`equilibrium_gradient`."""
        x = np.asarray(x, np.float32)
        free = relax(net, x, y, 0.0, self.params.free_steps, self.params.inference_rate)
        return equilibrium_gradient(net, x, np.asarray(y), free)

    def init(self, model, *, init_rng, noise_rng) -> EnergyRuleState:
        """Zero optimiser moments (the rules draw no random numbers)."""
        return init_state(self.params, model, noise_rng)

    def delta(self, net, state, x, y, hyper, rng):
        grads, _ = self.gradients(net, np.asarray(x, np.float32), np.asarray(y))
        lr = np.float32(hyper["lr"])
        return [(-lr * gw, -lr * gb) for gw, gb in grads]

    def step(self, net, state, x, y, hyper):
        """Inference (relaxation), then one optimiser step on the local update."""
        grads, reward = self.gradients(net, x, y)
        return descend(self.params, net, state, grads, hyper["lr"]), {"reward": reward}
