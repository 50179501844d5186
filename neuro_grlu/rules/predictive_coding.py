"""Predictive coding (``pc``): inference before plasticity, on the shared MLP.

Whittington & Bogacz (2017); Millidge, Tschantz & Buckley (2022); Song et al. (2024).
Every hidden layer ``l`` holds a value node ``z_l`` (its pre-activation, ``(B, width_l)``)
and predicts the next layer from it through the network's own forward map::

    μ_0 = W_0 · LN(x) + b_0                      (the input x is clamped)
    μ_l = W_l · LN(relu(z_{l-1})) + b_l          (l = 1 .. L-1 hidden, L = output layer)
    ε_l = z_l − μ_l                              (prediction error held in layer l)

The energy of one example is the summed squared prediction error plus the output loss,
weighted by ``output_weight`` ``w``::

    E(z) = Σ_{l<L} ½ ‖ε_l‖² + w · CE(μ_L, y)

**Inference** (vectorised over the batch and done for all layers at once): from the
feed-forward pass (all ``ε_l = 0``), ``inference_steps`` gradient steps
``z_l ← z_l − γ ∂E/∂z_l`` with ``γ = inference_rate``, with backtracking: a step that raises
an example's energy is undone and that example's ``γ`` halved (layer norm makes the energy
steep where few units are active; without it inference diverged on some MNIST batches
after ~20,000 training examples), where

    ∂E/∂z_l = ε_l + J_lᵀ u_{l+1},    u_{l+1} = ∂E/∂μ_{l+1} = −ε_{l+1} (hidden) or w·(softmax − onehot) (output)

and ``J_lᵀ u = relu'(z_l) ⊙ LN-backward(u · W_{l+1})`` carries the error one layer down
through the transposed forward weights (weight symmetry) and layer l's own normalisation.

**Plasticity** (local: the error below the synapse times the activity above it), after
inference, scaled by ``1/w`` and averaged over the batch (the loss is a batch mean, as for
backprop)::

    ΔW_l = −lr · u_lᵀ · LN(relu(z_{l-1})) / (w B),   Δb_l = −lr · Σ_b u_l / (w B)

At the equilibrium ``ε_l = −J_lᵀ u_{l+1}``: the prediction errors are the backpropagated
errors evaluated at the relaxed states. As ``w → 0`` the relaxed states tend to the
feed-forward ones and the update tends to backprop's, exactly (the test checks it per layer).
With ``w = 1`` the update is PC's own (close to, not equal to, the gradient).

Inference cost: each step recomputes the predictions of layers 1..L and one transposed
product per hidden layer; the input layer's prediction is computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import LN_EPS, Architecture, Network
from ..params import param
from ._energy_optim import EnergyOptimParams, EnergyRuleState, descend, init_state
from .backprop import layer_norm_backward, output_error
from .base import Rule, register


def _normalise(h: np.ndarray):
    """Layer norm of ``h`` ``(B, n)``: ``(normed, centered, std)``, as in :mod:`.backprop`."""
    centered = h - h.mean(axis=-1, keepdims=True)
    std = np.sqrt((centered * centered).mean(axis=-1, keepdims=True))
    return centered / (std + LN_EPS), centered, std


@dataclass
class Relaxed:
    """The state of one batch after inference (``B`` examples, ``L`` hidden layers).

    ``z[l]`` value nodes ``(B, width_l)``; ``eps[l]`` prediction errors ``z_l − μ_l``;
    ``normed[l]`` the layer-normalised input of weight layer ``l`` (``l = 0`` is the image);
    ``u[l]`` ``∂E/∂μ_l`` per weight layer (``u[L]`` the weighted output error);
    ``energy`` ``(steps + 1,)`` the batch-summed energy before each step and after the last;
    ``reward`` ``log p(y)`` of the feed-forward prediction ``(B,)``; ``rejected`` the number of
    (example, step) pairs whose step was undone by backtracking.
    """

    z: list
    eps: list
    normed: list
    u: list
    energy: np.ndarray
    reward: np.ndarray
    rejected: int = 0


def relax(net: Network, x: np.ndarray, y: np.ndarray, steps: int, rate: float, output_weight: float,
          backtrack: bool = True) -> Relaxed:
    """Run predictive-coding inference on one batch ``x`` float32 ``(B, n_in)``, labels ``(B,)``.

    Starts from the feed-forward pass and takes ``steps`` gradient steps of size ``rate`` on
    the energy (see the module docstring). ``net`` is not changed.

    ``backtrack``: a step that raises an example's energy is undone and that example's step
    size halved (one step is spent), so inference never diverges when layer norm makes the
    energy locally steep. ``Relaxed.rejected`` counts the undone steps (0 when every step
    size is small enough, as the descent lemma promises for ``rate < 1/λ_max``).
    """
    W, b = net.W, net.b
    L = len(net.arch.hidden)
    B = len(x)
    w = np.float32(output_weight)
    a0, _, _ = _normalise(x)
    mu0 = a0 @ W[0].T + b[0]  # the input is clamped: layer 0's prediction never changes
    # Feed-forward initialisation: z_l = μ_l, every ε_l = 0.
    z = [mu0]
    for layer in range(1, L):
        z.append(_normalise(np.maximum(z[-1], 0.0))[0] @ W[layer].T + b[layer])
    rates = np.full((B, 1), rate, dtype=mu0.dtype)
    slack = 8 * np.finfo(mu0.dtype).eps
    accepted = None  # per example: the last accepted state (z, eps, normed, u, grad, energy)
    energies, reward, rejected = [], None, 0

    for step in range(steps + 1):
        normed, cents, stds, mus = [a0], [], [], [mu0]
        for layer in range(L):
            a, c, sd = _normalise(np.maximum(z[layer], 0.0))
            normed.append(a), cents.append(c), stds.append(sd)
            mus.append(a @ W[layer + 1].T + b[layer + 1])
        eps = [z[l] - mus[l] for l in range(L)]
        e_out, r = output_error(mus[L], y)  # (softmax − onehot)/B, log p(y)
        if reward is None:
            reward = r
        u = [-e for e in eps] + [e_out * np.float32(B) * w]
        energy = 0.5 * sum((e.astype(np.float64) ** 2).sum(axis=1) for e in eps) - float(w) * r
        grad = [eps[l] + (z[l] > 0) * layer_norm_backward(u[l + 1] @ W[l + 1], cents[l], stds[l]) for l in range(L)]
        state = [z, eps, normed, u, grad]
        if accepted is None:
            accepted = state + [energy]
        else:
            # an increase beyond rounding (8 ulp of the state's dtype) is a step too large
            worse = (energy > accepted[5] + slack * np.abs(accepted[5])) if backtrack else np.zeros(B, bool)
            if worse.any():
                rejected += int(worse.sum())
                rates[worse] *= 0.5
                keep = ~worse[:, None]
                state = [[np.where(keep, new, old) for new, old in zip(ns, os)] for ns, os in zip(state, accepted[:5])]
                energy = np.where(worse, accepted[5], energy)
            accepted = state + [energy]
        energies.append(float(accepted[5].sum()))
        if step == steps:
            break
        z = [zl - rates * g for zl, g in zip(accepted[0], accepted[4])]
    _, eps, normed, u, _, _ = accepted
    return Relaxed(accepted[0], eps, normed, u, np.array(energies), reward, rejected)


def pc_gradients(net: Network, relaxed: Relaxed, output_weight: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(dE/dW_l, dE/db_l) / (w B)`` per weight layer from a relaxed batch (descent direction)."""
    scale = np.float32(1.0 / (output_weight * len(relaxed.normed[0])))
    return [((u.T @ a) * scale, u.sum(axis=0) * scale) for u, a in zip(relaxed.u, relaxed.normed)]


@dataclass(frozen=True)
class PCParams(EnergyOptimParams):
    """Hyperparameters of ``pc``."""

    inference_steps: int = param(10, low=1, doc="inference steps per batch before the weight update (> 0)")
    inference_rate: float = param(0.5, low=0.0, low_open=True, high=1.0,
                                  doc="step size γ of inference on the value nodes, in (0, 1]")
    output_weight: float = param(1.0, low=0.0, low_open=True, high=1.0,
                                 doc="weight w of the output loss in the energy, in (0, 1]; small w: closer to backprop")


@register
class PredictiveCoding(Rule):
    """Predictive coding: local prediction errors relaxed by inference, then Hebbian-like updates."""

    name = "pc"
    uses = ("label_error", "prediction_error", "symmetric_weights", "local_activity")
    Params = PCParams

    def __init__(self, params: PCParams, arch: Architecture, batch_size: int = 1):
        super().__init__(params, arch, batch_size)
        self.require_plain_relu()

    def init_model(self, rng: np.random.Generator) -> Network:
        return Network.init(self.arch, rng)

    @property
    def inference_iterations_per_example(self) -> float:
        """Inference steps each example goes through (cost table)."""
        return float(self.params.inference_steps)

    @property
    def forward_passes_per_example(self) -> float:
        # the feed-forward initialisation plus one prediction sweep per inference step
        return 1.0 + self.params.inference_steps

    @property
    def backward_passes_per_example(self) -> float:
        # one transposed sweep per inference step
        return float(self.params.inference_steps)

    def gradients(self, net: Network, x: np.ndarray, y: np.ndarray):
        """The PC estimate of ``dL/d(W, b)`` for one batch, and the per-example reward."""
        p = self.params
        relaxed = relax(net, x, y, p.inference_steps, p.inference_rate, p.output_weight)
        return pc_gradients(net, relaxed, p.output_weight), relaxed.reward

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
