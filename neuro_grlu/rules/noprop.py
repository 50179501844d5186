"""NoProp, discrete time (Li, Teh & Pascanu 2025): blocks that each learn to denoise the label.

Q. Li, Y. W. Teh, R. Pascanu, "NoProp: Training Neural Networks without Back-propagation or
Forward-propagation", arXiv:2503.24322 (2025), section 2 (NoProp-DT, eqs. 3–8, Algorithm 1).

Which gradients are local — read this first
-------------------------------------------
Every block ``t = 1..T`` is a small complete network from (image, noisy label) to a label
prediction, trained by **ordinary backpropagation inside the block** on its own denoising loss.
No gradient and no activation passes *between* blocks during training: block ``t`` sees the
image and a noisy label vector drawn from a fixed noise process, never another block's output,
and its loss reaches only its own weights. The linear classifier on ``z_T`` is trained the
same way, on its own loss, and its gradient does not enter any block. So NoProp is
"backprop-free" *across* blocks, not inside them; the rule's ``uses`` lists
``weight_transport`` for that reason (exact transposed weights within each block).

Noise process (``K`` classes, label embedding ``u_y`` = one-hot, dimension ``d = K``)
-------------------------------------------------------------------------------------
A schedule ``ᾱ_0 < ᾱ_1 < … < ᾱ_T`` in [0, 1) (``ᾱ_0 = 0``: ``z_0`` is pure noise; ``ᾱ_T`` close
to 1: ``z_T`` is almost the clean label) defines the marginals::

    q(z_t | y) = N(√ᾱ_t u_y, (1 − ᾱ_t) I),   SNR(t) = ᾱ_t / (1 − ᾱ_t)

``cosine``: ``ᾱ_t = min(ᾱ_max, f(t)/f(T))``, ``f(t) = cos²(π/2 · (1 − t/T + s)/(1 + s))``,
``s = 0.008`` (the cosine schedule of Nichol & Dhariwal 2021, run from noise to label);
``linear``: ``ᾱ_t = ᾱ_max · t/T``. With ``α_t = ᾱ_{t−1}/ᾱ_t`` the Gaussian posterior
``q(z_t | z_{t−1}, y) = N(a_t u_y + b_t z_{t−1}, c_t I)`` has::

    a_t = √ᾱ_t (1 − α_t) / (1 − ᾱ_{t−1})
    b_t = √α_t (1 − ᾱ_t) / (1 − ᾱ_{t−1})
    c_t = (1 − ᾱ_t)(1 − α_t) / (1 − ᾱ_{t−1})

(section 2.2; ``t = 1`` gives ``a_1 = √ᾱ_1``, ``b_1 = 0``, ``c_1 = 1 − ᾱ_1``.)

Block ``t`` (widths ``network.hidden = (H_1, H_2, …)``, ``z_width`` = ``H_z``)
-------------------------------------------------------------------------------
``hx = relu(W_x·LN(x) + b_x)`` ``(H_1)``, ``hz = relu(W_z·z + b_z)`` ``(H_z)``, then
``c = [hx, hz]`` through ``relu`` layers of widths ``H_2, …``, logits ``W_o·c + b_o`` ``(K)``,
and ``û_t(z, x) = softmax(logits) · E`` — a convex combination of the class embeddings ``E``
(the paper's parameterisation; with one-hot ``E = I``, ``û`` is the class-probability vector).
Every block has its own weights and its own Adam(W) optimiser.

Training (Algorithm 1, every block on every batch)
--------------------------------------------------
For each batch and each block ``t`` independently: draw ``z_{t−1} ~ q(z_{t−1} | y)`` and take
a step on ``L_t = (T/2) · η · (SNR(t) − SNR(t−1)) · mean_batch ‖û_t(z_{t−1}, x) − u_y‖²``
(the DT term of eq. 8); and a step of the classifier on ``−log softmax(W_c z_T + b_c)[y]``,
``z_T ~ q(z_T | y)``. The KL term of eq. 8 is constant (fixed embeddings, ``ᾱ_0 = 0``: it is
0). The blocks are stored stacked (leading axis ``T``) so that their image layers run as one
matrix product; the arithmetic of each block involves only its own slice. (Each block has its
own Adam state, and Adam is element-wise, so the per-block weight ``(SNR(t) − SNR(t−1))`` only
sets each block's gradient scale.)

Inference (eq. 3)
-----------------
``z_0 = 0`` (the mean of ``p(z_0) = N(0, I)``), then ``z_t = a_t û_t(z_{t−1}, x) + b_t z_{t−1}``
for ``t = 1..T`` (``inference = "mean"``; ``"sample"`` adds ``√c_t ε`` with a fixed seed), and
the prediction is ``argmax softmax(W_c z_T + b_c)``: ``T`` block passes, one after another.

Optional augmentation (``shift_pixels`` > 0, off by default): every training image is shifted
by a random offset of up to that many pixels (:mod:`._augment`), standing in for the
translation invariance of the paper's convolutional blocks.

Reward reported by ``step``: the mean over blocks of ``log p_t(y)`` (nat), each block's
class probability of the true label given its noisy input, before the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..network import Architecture, layer_norm
from ..params import ParamSet, param
from ..schedules import SCHEDULES
from ._augment import image_side, random_shift
from .base import Rule, register
from .optim import AdamState, adam_descent
from .state import LearnerState

NOISE_SCHEDULES = ("cosine", "linear")
INFERENCE = ("mean", "sample")
COSINE_S = 0.008


def alpha_bar_schedule(kind: str, blocks: int, alpha_bar_max: float) -> np.ndarray:
    """``ᾱ_0..ᾱ_T`` float64 ``(T+1,)``: 0 at ``t = 0``, increasing, at most ``alpha_bar_max``."""
    t = np.arange(blocks + 1, dtype=np.float64) / blocks
    if kind == "cosine":
        f = np.cos(0.5 * np.pi * (1.0 - t + COSINE_S) / (1.0 + COSINE_S)) ** 2
        abar = np.minimum(f / f[-1], alpha_bar_max)
    elif kind == "linear":
        abar = alpha_bar_max * t
    else:
        raise ConfigError(f"noise_schedule must be one of {', '.join(NOISE_SCHEDULES)} (got {kind!r})")
    abar[0] = 0.0
    return abar


def snr(abar: np.ndarray) -> np.ndarray:
    """Signal-to-noise ratio ``ᾱ/(1 − ᾱ)`` of every step."""
    return abar / (1.0 - abar)


def posterior_coefficients(abar: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, c)``, each ``(T,)`` for ``t = 1..T``: ``q(z_t | z_{t−1}, y) = N(a u + b z, c I)``."""
    prev, cur = abar[:-1], abar[1:]
    alpha = prev / cur
    a = np.sqrt(cur) * (1.0 - alpha) / (1.0 - prev)
    b = np.sqrt(alpha) * (1.0 - cur) / (1.0 - prev)
    c = (1.0 - cur) * (1.0 - alpha) / (1.0 - prev)
    return a, b, c


def loss_weights(abar: np.ndarray, eta: float) -> np.ndarray:
    """Per-block weight ``(T/2) η (SNR(t) − SNR(t−1))``, ``(T,)``."""
    s = snr(abar)
    return 0.5 * (len(abar) - 1) * eta * (s[1:] - s[:-1])


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class NoPropNet:
    """``T`` denoising blocks (parameters stacked on axis 0) and the classifier on ``z_T``.

    ``params`` maps names to float32 arrays with leading axis ``T``: ``Wx (T, H1, n_in)``,
    ``bx``, ``Wz (T, Hz, d)``, ``bz``, ``W1..`` / ``b1..`` (joint layers), ``Wo (T, K, H_last)``,
    ``bo``. ``E (K, d)`` the fixed class embeddings; ``Wc (K, d)``, ``bc (K,)`` the classifier.
    """

    abar: np.ndarray
    n_joint: int
    inference: str
    params: dict[str, np.ndarray] = field(default_factory=dict)
    E: np.ndarray | None = None
    Wc: np.ndarray | None = None
    bc: np.ndarray | None = None

    @classmethod
    def init(cls, arch: Architecture, blocks: int, z_width: int, abar: np.ndarray, inference: str,
             rng: np.random.Generator) -> "NoPropNet":
        """He-normal weights ``N(0, 2/fan_in)``, zero biases; ``E = I``; zero classifier."""
        K = d = arch.n_out

        def he(shape):
            return (rng.standard_normal(shape) * np.sqrt(2.0 / shape[-1])).astype(np.float32)

        H = arch.hidden
        p = {"Wx": he((blocks, H[0], arch.n_in)), "bx": np.zeros((blocks, H[0]), np.float32),
             "Wz": he((blocks, z_width, d)), "bz": np.zeros((blocks, z_width), np.float32)}
        fan_in = H[0] + z_width
        for k, width in enumerate(H[1:], start=1):
            p[f"W{k}"], p[f"b{k}"] = he((blocks, width, fan_in)), np.zeros((blocks, width), np.float32)
            fan_in = width
        p["Wo"] = (rng.standard_normal((blocks, K, fan_in)) * np.sqrt(1.0 / fan_in)).astype(np.float32)
        p["bo"] = np.zeros((blocks, K), np.float32)
        return cls(abar, len(H) - 1, inference, p, np.eye(K, d, dtype=np.float32),
                   np.zeros((K, d), np.float32), np.zeros(K, np.float32))

    @property
    def blocks(self) -> int:
        return self.params["Wx"].shape[0]

    def names(self) -> list[str]:
        """Parameter names of one block, in forward order."""
        return ["Wx", "bx", "Wz", "bz"] + [f"{w}{k}" for k in range(1, self.n_joint + 1) for w in "Wb"] + ["Wo", "bo"]

    def block_params(self, t: int | slice) -> dict[str, np.ndarray]:
        """Views of the parameters of block(s) ``t`` (0-based index or slice; leading axis kept)."""
        s = slice(t, t + 1) if isinstance(t, (int, np.integer)) else t
        return {k: v[s] for k, v in self.params.items()}

    # ------------------------------------------------------------------ block computation
    @staticmethod
    def image_features(p: dict[str, np.ndarray], a: np.ndarray) -> np.ndarray:
        """``relu(W_x a + b_x)`` for every block in ``p``: ``(n_blocks, B, H1)`` from ``a = LN(x)``.
        One matrix product for all blocks (they share the input, not weights)."""
        nb, h1, n_in = p["Wx"].shape
        pre = (a @ p["Wx"].reshape(nb * h1, n_in).T).reshape(len(a), nb, h1).transpose(1, 0, 2)
        return np.maximum(pre + p["bx"][:, None, :], 0.0)

    def block_forward(self, p: dict[str, np.ndarray], hx: np.ndarray, z: np.ndarray):
        """Forward of blocks ``p`` given their image features ``hx`` ``(nb, B, H1)`` and noisy
        labels ``z`` ``(nb, B, d)``: returns ``(probs (nb, B, K), cache)``."""
        hz = np.maximum(np.matmul(z, p["Wz"].transpose(0, 2, 1)) + p["bz"][:, None, :], 0.0)
        acts = [np.concatenate([hx, hz], axis=2)]
        for k in range(1, self.n_joint + 1):
            acts.append(np.maximum(np.matmul(acts[-1], p[f"W{k}"].transpose(0, 2, 1)) + p[f"b{k}"][:, None, :], 0.0))
        logits = np.matmul(acts[-1], p["Wo"].transpose(0, 2, 1)) + p["bo"][:, None, :]
        return _softmax(logits), (hz, acts)

    def block_backward(self, p, a, hx, z, probs, cache, g_u) -> dict[str, np.ndarray]:
        """Backprop *inside* blocks ``p``: gradients of ``Σ_b g_u·û`` w.r.t. their parameters.

        ``g_u`` ``(nb, B, d)`` is ∂loss/∂û. Nothing outside the blocks is touched or read
        except their inputs ``a = LN(x)`` and ``z``.
        """
        hz, acts = cache
        g_p = np.matmul(g_u, self.E.T)  # û = p·E
        g_logit = probs * (g_p - (g_p * probs).sum(axis=2, keepdims=True))
        grads = {"Wo": np.matmul(g_logit.transpose(0, 2, 1), acts[-1]), "bo": g_logit.sum(axis=1)}
        g = np.matmul(g_logit, p["Wo"])
        for k in range(self.n_joint, 0, -1):
            g = g * (acts[k] > 0)
            grads[f"W{k}"] = np.matmul(g.transpose(0, 2, 1), acts[k - 1])
            grads[f"b{k}"] = g.sum(axis=1)
            g = np.matmul(g, p[f"W{k}"])
        h1 = hx.shape[2]
        g_hx = g[:, :, :h1] * (hx > 0)
        g_hz = g[:, :, h1:] * (hz > 0)
        nb, B = g_hx.shape[:2]
        grads["Wx"] = (g_hx.transpose(0, 2, 1).reshape(nb * h1, B) @ a).reshape(nb, h1, -1)
        grads["bx"] = g_hx.sum(axis=1)
        grads["Wz"] = np.matmul(g_hz.transpose(0, 2, 1), z)
        grads["bz"] = g_hz.sum(axis=1)
        return grads

    # ------------------------------------------------------------------ inference
    def classifier_logits(self, z: np.ndarray) -> np.ndarray:
        return z @ self.Wc.T + self.bc

    def denoise_chain(self, x: np.ndarray) -> np.ndarray:
        """``z_T`` ``(B, d)`` after running the blocks as a denoising chain from ``z_0 = 0``."""
        a_coef, b_coef, c_coef = posterior_coefficients(self.abar)
        a = layer_norm(np.asarray(x, np.float32))
        hx_all = self.image_features(self.params, a)
        rng = np.random.default_rng(0) if self.inference == "sample" else None
        z = np.zeros((len(x), self.E.shape[1]), np.float32)
        for t in range(self.blocks):
            probs, _ = self.block_forward(self.block_params(t), hx_all[t : t + 1], z[None])
            u_hat = probs[0] @ self.E
            z = (np.float32(a_coef[t]) * u_hat + np.float32(b_coef[t]) * z).astype(np.float32)
            if rng is not None:
                z += np.float32(np.sqrt(c_coef[t])) * rng.standard_normal(z.shape, dtype=np.float32)
        return z

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class per row of ``x`` (int64 ``(B,)``): classifier on ``z_T`` of the denoising chain."""
        return np.concatenate([self.classifier_logits(self.denoise_chain(x[i : i + batch_size])).argmax(axis=1)
                               for i in range(0, len(x), batch_size)]).astype(np.int64)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Stacked block parameters (leading axis = block), ``E``, ``Wc``, ``bc``, ``alpha_bar``."""
        out = dict(self.params)
        out.update(E=self.E, Wc=self.Wc, bc=self.bc, alpha_bar=self.abar.astype(np.float32))
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy saved parameters, ``E`` and the classifier (from :meth:`state_dict`) in place."""
        mine = {**self.params, "E": self.E, "Wc": self.Wc, "bc": self.bc}
        for name, a in mine.items():
            saved = np.asarray(state[name])
            if saved.shape != a.shape:
                raise ValueError(f"saved {name} has shape {saved.shape}, the network needs {a.shape}")
            np.copyto(a, saved)


@dataclass
class NoPropState(LearnerState):
    """NoProp state: one Adam state per block (over that block's tensors in
    :meth:`NoPropNet.names` order) and the classifier's Adam state (over ``[Wc, bc]``)."""

    blocks: list[AdamState] = field(default_factory=list)
    classifier: AdamState | None = None


@dataclass(frozen=True)
class NoPropParams(ParamSet):
    """Hyperparameters of NoProp-DT (AdamW per block, as in the paper)."""

    blocks: int = param(10, low=1, doc="T: number of denoising blocks (the paper: 10)")
    noise_schedule: str = param("cosine", choices=NOISE_SCHEDULES, doc="schedule of alpha_bar_t, t = 0 (noise) .. T (label)")
    alpha_bar_max: float = param(0.999, low=0.0, low_open=True, high=1.0, high_open=True,
                                 doc="cap on alpha_bar_T (alpha_bar_T = 1 would give the last block an infinite weight)")
    eta: float = param(0.1, low=0.0, low_open=True, doc="η: weight of the denoising terms (the paper: 0.1)")
    z_width: int = param(64, low=1, doc="units of each block's layer that reads the noisy label z")
    lr_max: float = param(0.001, low=0.0, low_open=True, doc="Adam learning rate at the start of the schedule")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="learning rate the schedule decays towards")
    schedule: str = param("cosine", choices=SCHEDULES, doc="per-epoch learning-rate schedule")
    weight_decay: float = param(0.001, low=0.0, doc="decoupled (AdamW) weight decay (the paper: 1e-3)")
    inference: str = param("mean", choices=INFERENCE, doc="mean: deterministic chain from z_0 = 0; sample: add sqrt(c_t)*noise (fixed seed)")
    shift_pixels: int = param(0, low=0, high=4, doc="augmentation: shift each training image by up to this many pixels (0 = off)")


@register
class NoProp(Rule):
    """NoProp-DT (Li, Teh & Pascanu 2025): independent blocks denoise a noisy label embedding."""

    name = "noprop"
    uses = ("label_embedding", "local_loss", "weight_transport")
    Params = NoPropParams

    def __init__(self, params: NoPropParams, arch: Architecture, batch_size: int = 1):
        super().__init__(params, arch, batch_size)
        self.require_plain_relu()
        if params.shift_pixels:
            image_side(arch.n_in, "rule noprop")
        self.abar = alpha_bar_schedule(params.noise_schedule, params.blocks, params.alpha_bar_max)
        if not np.all(np.diff(self.abar) > 0):
            raise ConfigError(f"rule.alpha_bar_max ({params.alpha_bar_max}) is too small for {params.blocks} blocks "
                              "with the cosine schedule: alpha_bar must increase at every step")
        self.weights = loss_weights(self.abar, params.eta)

    def init_model(self, rng: np.random.Generator) -> NoPropNet:
        p = self.params
        return NoPropNet.init(self.arch, p.blocks, p.z_width, self.abar, p.inference, rng)

    def init(self, model: NoPropNet, *, init_rng, noise_rng) -> NoPropState:
        """Zero Adam moments for every block and for the classifier."""
        names = model.names()
        blocks = [AdamState.zeros([model.block_params(t)[k][0] for k in names]) for t in range(model.blocks)]
        return NoPropState(noise_rng, blocks, AdamState.zeros([model.Wc, model.bc]))

    @property
    def forward_passes_per_example(self) -> float:
        """``T`` block passes (each block is a whole network from image to label)."""
        return float(self.params.blocks)

    @property
    def backward_passes_per_example(self) -> float:
        """``T`` backward passes, each inside one block only."""
        return float(self.params.blocks)

    # ------------------------------------------------------------------ training
    def noisy_labels(self, net: NoPropNet, t: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``z_{t−1} ~ q(z_{t−1} | y)`` for the 0-based blocks ``t`` ``(nb,)``: ``(nb, B, d)``."""
        u = net.E[y]
        ab = self.abar[t]  # block t (0-based) reads z at step t, i.e. z_{(t+1)−1}
        eps = rng.standard_normal((len(t), len(y), u.shape[1]), dtype=np.float32)
        return (np.sqrt(ab)[:, None, None] * u[None] + np.sqrt(1.0 - ab)[:, None, None] * eps).astype(np.float32)

    def block_step(self, net: NoPropNet, state: NoPropState, blocks: slice, a: np.ndarray, y: np.ndarray,
                   lr: float) -> np.ndarray:
        """One denoising step of the blocks in ``blocks`` (a slice), each on its own loss and
        with its own optimiser; returns ``log p_t(y)`` ``(nb, B)`` before the step."""
        p = net.block_params(blocks)
        t = np.arange(net.blocks)[blocks]
        z = self.noisy_labels(net, t, y, state.rng)
        hx = net.image_features(p, a)
        probs, cache = net.block_forward(p, hx, z)
        u = net.E[y]
        B = len(y)
        g_u = (probs @ net.E - u[None]) * (2.0 * self.weights[t] / B).astype(np.float32)[:, None, None]
        grads = net.block_backward(p, a, hx, z, probs, cache, g_u)
        names = net.names()
        decay = [k.startswith("W") for k in names]
        for i, tt in enumerate(t):
            block = net.block_params(int(tt))
            adam_descent([block[k][0] for k in names], [grads[k][i] for k in names], state.blocks[tt], lr,
                         self.params.weight_decay, decay)
        return np.log(np.maximum(probs[:, np.arange(B), y], 1e-30))

    def classifier_step(self, net: NoPropNet, state: NoPropState, y: np.ndarray, lr: float) -> None:
        """Cross-entropy step of the classifier on ``z_T ~ q(z_T | y)`` (its own loss only)."""
        ab = self.abar[-1]
        u = net.E[y]
        z = (np.sqrt(ab) * u + np.sqrt(1.0 - ab) * state.rng.standard_normal(u.shape, dtype=np.float32)).astype(np.float32)
        probs = _softmax(net.classifier_logits(z))
        probs[np.arange(len(y)), y] -= 1.0
        probs /= np.float32(len(y))
        adam_descent([net.Wc, net.bc], [probs.T @ z, probs.sum(axis=0)], state.classifier, lr)

    def prepare_chunk(self, state: NoPropState, x):
        """The chunk as float32, each image shifted by up to ``shift_pixels`` (if > 0)."""
        return random_shift(np.asarray(x, np.float32), state.rng, self.params.shift_pixels)

    def step(self, net: NoPropNet, state: NoPropState, x, y, hyper):
        """Train every block and the classifier on one batch; reward ``(B,)`` = mean over
        blocks of ``log p_t(y)`` (nat)."""
        x, y = np.asarray(x, np.float32), np.asarray(y, np.int64)
        lr = hyper["lr"]
        logp = self.block_step(net, state, slice(None), layer_norm(x), y, lr)
        self.classifier_step(net, state, y, lr)
        return state, {"reward": logp.mean(axis=0).astype(np.float64)}
