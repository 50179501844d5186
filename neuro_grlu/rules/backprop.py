"""Backprop and its two random-feedback relatives, on the shared MLP.

All three compute the cross-entropy error at the output, ``e = softmax(logits) − onehot(y)``
(divided by the batch size: the loss is the batch mean), and update every layer with the
local outer product ``ΔW_l = −lr · δ_lᵀ · x_norm_l``, ``Δb_l = −lr · Σ δ_l``, where ``δ_l`` is
the error signal at the pre-activation of layer ``l``. They differ only in how ``δ_l``
reaches a hidden layer:

* ``backprop`` — exact gradient: ``δ`` goes back through ``W_{l+1}ᵀ``, each layer's
  layer norm and the activation derivative (weight transport).
* ``fa`` — feedback alignment (Lillicrap et al. 2016): the same path with a fixed random
  matrix ``B_{l+1}`` (shape of ``W_{l+1}``) in place of ``W_{l+1}``.
* ``dfa`` — direct feedback alignment (Nøkland 2016): the output error goes straight to
  every hidden layer's output through its own fixed random ``D_l`` ``(n_out, width_l)``:
  ``δ_l = (e · D_l) ⊙ f'(z_l)``.

The layer-norm backward pass (used by backprop and FA; a local computation at each layer)
for ``a = (x − μ)/(s)``, ``s = std(x) + 1e-8`` over ``n`` features, with ``x̂ = x − μ``::

    ∂L/∂x = (g − mean(g))/s − x̂ · Σ(g·x̂) / (n · std · s²)

Hidden activations: ReLU (derivative ``z > 0``) or hard top-k (the winners' mask, treated
as constant). With ``skip = "readout"`` the output layer reads the layer-normalised
concatenation of all hidden layers, and each hidden layer receives its slice of that
signal in addition to (for ``backprop``/``fa``) what comes from the layer above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import LN_EPS, Architecture, Network, topk_mask
from ..params import ParamSet, param
from ..schedules import SCHEDULES
from .base import Rule, register
from .decorrelation import DECORRELATE
from .optim import MomentumState, momentum_descent
from .state import LearnerState

FEEDBACK = ("transport", "random", "direct")


@dataclass
class ForwardCache:
    """What a forward pass leaves for the backward pass (``B`` examples).

    ``inputs[l]`` the un-normalised input of weight layer ``l`` ``(B, fan_in)``;
    ``normed[l]`` its layer norm; ``centered[l]`` ``x − mean``; ``std[l]`` ``(B, 1)``;
    ``slope[l]`` the derivative of hidden layer ``l``'s activation ``(B, width_l)``;
    ``logits`` ``(B, n_out)``.
    """

    inputs: list[np.ndarray]
    normed: list[np.ndarray]
    centered: list[np.ndarray]
    std: list[np.ndarray]
    slope: list[np.ndarray]
    logits: np.ndarray


def _normalise(x: np.ndarray):
    centered = x - x.mean(axis=-1, keepdims=True)
    std = np.sqrt((centered * centered).mean(axis=-1, keepdims=True))
    return centered / (std + LN_EPS), centered, std


def forward(net: Network, x: np.ndarray) -> ForwardCache:
    """Noise-free forward pass of ``x`` float32 ``(B, n_in)`` keeping what backward needs."""
    arch = net.arch
    inputs, normed, centered, stds, slopes, hidden = [], [], [], [], [], []
    h = x
    for layer in range(len(arch.hidden)):
        a, c, s = _normalise(h)
        inputs.append(h), normed.append(a), centered.append(c), stds.append(s)
        z = a @ net.W[layer].T + net.b[layer]
        if arch.activation == "relu":
            slope = (z > 0).astype(np.float32)
        else:
            slope = topk_mask(z, arch.topk_count(layer))
        h = z * slope
        slopes.append(slope)
        hidden.append(h)
    readout_in = np.concatenate(hidden, axis=-1) if arch.skip == "readout" else h
    a, c, s = _normalise(readout_in)
    inputs.append(readout_in), normed.append(a), centered.append(c), stds.append(s)
    logits = a @ net.W[-1].T + net.b[-1]
    return ForwardCache(inputs, normed, centered, stds, slopes, logits)


def layer_norm_backward(g: np.ndarray, centered: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. the input of layer norm, given ``g`` w.r.t. its output (same shape)."""
    n = centered.shape[-1]
    s = std + LN_EPS
    proj = (g * centered).sum(axis=-1, keepdims=True)
    return (g - g.mean(axis=-1, keepdims=True)) / s - centered * proj / (n * np.maximum(std, LN_EPS) * s * s)


def output_error(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softmax − onehot) / B`` ``(B, n_out)`` and the reward ``log p(y)`` ``(B,)``."""
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    total = e.sum(axis=1, keepdims=True)
    p = e / total
    rows = np.arange(len(y))
    reward = (logits[rows, y] - m[:, 0] - np.log(total[:, 0])).astype(np.float64)
    p[rows, y] -= 1.0
    return p / np.float32(len(y)), reward


def _outer_sum(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``Σ_b delta_b ⊗ a_b`` = ``deltaᵀ · a`` ``(n_out, n_in)``; ``np.outer`` for one example
    (BLAS sgemm with an inner dimension of 1 is several times slower)."""
    return np.outer(delta[0], a[0]) if len(delta) == 1 else delta.T @ a


def backward(
    net: Network, cache: ForwardCache, e_out: np.ndarray, feedback: str = "transport", matrices=None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-layer ``(dL/dW_l, dL/db_l)`` for output error ``e_out`` ``(B, n_out)``.

    ``feedback``: ``"transport"`` (exact gradient), ``"random"`` (FA; ``matrices[l]`` has the
    shape of ``W[l]``, entry 0 unused) or ``"direct"`` (DFA; ``matrices[l]`` is
    ``(n_out, width_l)`` for every hidden layer ``l``).
    """
    arch = net.arch
    L = len(arch.hidden)
    grads: list[tuple[np.ndarray, np.ndarray] | None] = [None] * (L + 1)
    grads[L] = (_outer_sum(e_out, cache.normed[L]), e_out.sum(axis=0))
    if feedback == "direct":
        for layer in range(L):
            delta = (e_out @ matrices[layer]) * cache.slope[layer]
            grads[layer] = (_outer_sum(delta, cache.normed[layer]), delta.sum(axis=0))
        return grads
    back = net.W if feedback == "transport" else matrices
    g_in = layer_norm_backward(e_out @ back[L], cache.centered[L], cache.std[L])  # w.r.t. the readout input
    if arch.skip == "readout":
        offsets = np.cumsum((0,) + arch.hidden)
        from_readout = [g_in[:, offsets[i] : offsets[i + 1]] for i in range(L)]
        g_h = from_readout[L - 1]
    else:
        from_readout, g_h = None, g_in
    for layer in range(L - 1, -1, -1):
        delta = g_h * cache.slope[layer]
        grads[layer] = (_outer_sum(delta, cache.normed[layer]), delta.sum(axis=0))
        if layer == 0:
            break
        g_h = layer_norm_backward(delta @ back[layer], cache.centered[layer], cache.std[layer])
        if from_readout is not None:
            g_h = g_h + from_readout[layer - 1]
    return grads


def loss_gradient(net: Network, x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Exact gradient of the mean cross-entropy of ``(x, y)`` w.r.t. every ``(W_l, b_l)``."""
    cache = forward(net, np.asarray(x, np.float32))
    e_out, _ = output_error(cache.logits, np.asarray(y))
    return backward(net, cache, e_out, "transport")


@dataclass(frozen=True)
class BackpropParams(ParamSet):
    """Hyperparameters shared by ``backprop``, ``fa`` and ``dfa`` (plain SGD with momentum)."""

    lr_max: float = param(0.005, low=0.0, low_open=True,
                          doc="learning rate at the start of the schedule (layer-normalised inputs have norm ~sqrt(width): keep it small)")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="learning rate the schedule decays towards")
    schedule: str = param("cosine", choices=SCHEDULES, doc="per-epoch learning-rate schedule")
    momentum: float = param(0.0, low=0.0, high=1.0, high_open=True, doc="heavy-ball momentum (0 = plain SGD)")
    weight_decay: float = param(0.0, low=0.0, doc="L2 penalty on weights (not biases), per step")
    feedback_scale: float = param(1.0, low=0.0, low_open=True,
                                  doc="FA/DFA: feedback matrices ~ N(0, scale^2/fan) (ignored by backprop)")
    decorrelate: str = param("none", choices=DECORRELATE,
                             doc="'antihebbian': decorrelate the first layer's inputs by a local anti-Hebbian rule (Dalm et al. 2023)")
    decorrelate_lr: float = param(1e-6, low=0.0, low_open=True, doc="learning rate of the decorrelation matrix, per example")
    decorrelate_block: int = param(8, low=1,
                                   doc="examples per step of the decorrelation matrix (read through a fixed R, then one summed step); "
                                   "runs stored before this key stepped once per compute chunk: 985 (GRLU, 1 pair), 61 (16 pairs), 7 (128 pairs)")


@dataclass
class ErrorFeedbackState(LearnerState):
    """State of ``backprop``/``fa``/``dfa``.

    ``feedback`` — FA: ``[None, B_1, ..., B_L]`` (``B_l`` shaped like ``W_l``); DFA:
    ``[D_0, ..., D_{L-1}]`` (``D_l`` ``(n_out, width_l)``); backprop: None. Fixed after init.
    ``velocity`` — heavy-ball momentum per layer ``[MomentumState([vW, vb]), ...]``, or None
    when ``momentum = 0`` (plain SGD has no state).
    """

    feedback: list | None = None
    velocity: list[MomentumState] | None = None


class _ErrorFeedbackRule(Rule):
    """Common update of the three error-feedback rules."""

    feedback: str = "transport"
    Params = BackpropParams

    def init(self, model: Network, *, init_rng, noise_rng) -> ErrorFeedbackState:
        """The fixed random feedback matrices (FA/DFA) from ``init_rng``, which continues the
        stream that drew the network; zero momentum if ``momentum > 0``."""
        velocity = None
        if self.params.momentum > 0:
            velocity = [MomentumState.zeros([w, b]) for w, b in zip(model.W, model.b)]
        return ErrorFeedbackState(noise_rng, self.make_feedback(init_rng), velocity)

    def make_feedback(self, rng: np.random.Generator):
        return None

    @property
    def backward_passes_per_example(self) -> float:
        return 1.0

    def gradients(self, net: Network, x: np.ndarray, y: np.ndarray, matrices=None):
        """This rule's estimate of ``dL/d(W, b)`` for one batch (with feedback ``matrices``), and the per-example reward."""
        cache = forward(net, x)
        e_out, reward = output_error(cache.logits, y)
        return backward(net, cache, e_out, self.feedback, matrices), reward

    def delta(self, net, state, x, y, hyper, rng):
        grads, _ = self.gradients(net, np.asarray(x, np.float32), np.asarray(y), state.feedback)
        lr = np.float32(hyper["lr"])
        return [(-lr * gw, -lr * gb) for gw, gb in grads]

    def step(self, net, state, x, y, hyper):
        """SGD (or heavy-ball momentum) on one batch, with optional L2 weight decay."""
        p = self.params
        lr = np.float32(hyper["lr"])
        wd = np.float32(p.weight_decay)
        grads, reward = self.gradients(net, x, y, state.feedback)
        for layer, (gw, gb) in enumerate(grads):
            if p.weight_decay:
                gw = gw + wd * net.W[layer]
            if state.velocity is None:
                gw *= -lr  # in place: gw is a fresh array
                net.W[layer] += gw
                net.b[layer] -= lr * gb
            else:
                momentum_descent([net.W[layer], net.b[layer]], [gw, gb], state.velocity[layer], lr, p.momentum)
        return state, {"reward": reward}


@register
class Backprop(_ErrorFeedbackRule):
    """Backpropagation of the cross-entropy error (the baseline; exact weight transport)."""

    name = "backprop"
    uses = ("label_error", "weight_transport", "local_activity")
    feedback = "transport"


@register
class FeedbackAlignment(_ErrorFeedbackRule):
    """Feedback alignment: backprop's path with fixed random ``B_l`` in place of ``W_l``."""

    name = "fa"
    uses = ("label_error", "random_feedback", "local_activity")
    feedback = "random"

    def make_feedback(self, rng):
        arch, scale = self.arch, self.params.feedback_scale
        mats = [None]
        for layer in range(1, arch.n_layers):
            shape = (arch.fan_out(layer), arch.fan_in(layer))
            mats.append((rng.standard_normal(shape) * (scale / np.sqrt(shape[1]))).astype(np.float32))
        return mats


@register
class DirectFeedbackAlignment(_ErrorFeedbackRule):
    """Direct feedback alignment: the output error reaches every hidden layer through ``D_l``."""

    name = "dfa"
    uses = ("label_error", "random_feedback", "local_activity")
    feedback = "direct"

    def make_feedback(self, rng):
        arch, scale = self.arch, self.params.feedback_scale
        return [(rng.standard_normal((arch.n_out, w)) * (scale / np.sqrt(arch.n_out))).astype(np.float32)
                for w in arch.hidden]
