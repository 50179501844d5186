"""Forward-Forward (Hinton 2022): every layer trained by its own goodness objective.

G. Hinton, "The Forward-Forward Algorithm: Some Preliminary Investigations",
arXiv:2212.13345 (2022), sections 3.3 (supervised MNIST) and 3.1 (layer normalisation).

Model (``B`` examples, ``K`` classes, hidden widths ``N_1..N_L`` = ``network.hidden``)
-----------------------------------------------------------------------------------
The input of the first layer is the image with its label appended, ``[x, e]`` ``(B, n_in+K)``:
``e = s·onehot(c)`` for label ``c`` (``s`` = ``label_scale``), or the *neutral* label
``e = (s/K)·1``. Every layer ``l`` first length-normalises its input (root mean square 1)::

    norm(h) = h / (sqrt(mean_j h_j²) + 1e-8)
    h_l = relu(norm(h_{l-1}) · W_lᵀ + b_l)          W_l (N_l, fan_in), b_l (N_l,)

so the length of ``h_{l-1}`` — the goodness of layer ``l-1`` — cannot be read by layer ``l``,
only the direction of its activity vector (section 3.1).

Objective of layer ``l`` (local: its gradient reaches only ``W_l, b_l``)
------------------------------------------------------------------------
goodness ``G_l = Σ_j h_{l,j}²`` (sum of squared activities); the probability that the input
is positive (image with its true label) is ``p = σ((G_l/N_l − θ)/τ)`` with threshold ``θ`` and
temperature ``τ`` both per unit, so that they mean the same at any width (Hinton's code:
``σ(G_l − N_l)``, i.e. θ = 1 and τ = 1/N_l). Per example pair (positive, negative)::

    loss_l = softplus(−(G_l⁺/N_l − θ)/τ) + softplus((G_l⁻/N_l − θ)/τ)

averaged over the batch. Its gradient at the pre-activation is
``∂loss/∂z = 2 h · ∂loss/∂G`` (``h = 0`` where the ReLU is off), so
``ΔW_l ∝ −Σ_rows (∂loss/∂z)ᵀ norm(h_{l-1})``: an outer product of the layer's own output and
its own (normalised) input, weighted by how far its goodness is from the threshold. No error
travels between layers; the inputs of layer ``l`` are computed with the current lower layers
and treated as data. Each layer has its own optimiser state (:mod:`.optim`): Hinton's
smoothed-gradient SGD (``optimizer = "sgd"``, ``momentum`` = his ``delay``) or Adam.

Peer normalisation (Hinton's code, ``peer_weight`` = his ``lambdamean``): a running mean
``m_j ← 0.9 m_j + 0.1 mean_batch(h⁺_j)`` of every unit's positive-pass activity; the term
``peer_weight · 2(m_j − mean_k m_k)/(τ N_l B)`` is added to ``∂loss/∂z_j`` of every positive row,
ungated by the ReLU, pulling each unit's mean activity towards its layer's average (no dead
or hyperactive units). It uses only the layer's own activities.

Negative data (section 3.3)
---------------------------
The image with a wrong label: with ``negatives = "predicted"`` (Hinton's "hard" negatives)
the wrong label is sampled from the network's own prediction over the wrong labels, made by
a linear softmax *readout* on the normalised activities of layers ``goodness_from..L`` in a
pass with the neutral label; with ``"random"`` uniformly from the ``K − 1`` wrong labels.
The readout is trained alongside by its own cross-entropy (a delta rule on its input; its
gradient does not enter the FF layers). Hard negatives make the *choice of data* depend on
the whole network; the weight updates stay local. Its log-probability of the true label, from the
neutral pass before the update, is the reward ``step`` reports (nat).

Prediction
----------
``predict_with = "goodness"`` (the method of the paper): run the network once per label
``c`` and pick the label with the highest goodness accumulated over layers
``goodness_from..L`` (Hinton: all but the first hidden layer; a one-layer network uses its
only layer). ``"softmax"``: one neutral pass and the readout. With ``W_1 = [W_x | U]`` (image
and label columns) the first layer's image part is shared by all labels,
``z_1(c) = (x·W_xᵀ + s·U[:, c]) / r + b_1``, with the same ``r`` for every one-hot label.

Optional augmentation (``shift_pixels`` > 0, off by default): training images shifted by a
random offset of up to that many pixels (:mod:`._augment`).

Cost: 3 forward passes per training example (neutral, positive, negative) plus one local
weight-gradient product per layer and pass; no backward pass. ``K`` passes per prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..network import Architecture
from ..params import ParamSet, param
from ..schedules import SCHEDULES
from ._augment import image_side, random_shift
from .base import Rule, register
from .optim import AdamState, SmoothedState, adam_descent, smoothed_descent
from .state import LearnerState

NORM_EPS = 1e-8
NEGATIVES = ("predicted", "random")
PREDICT_WITH = ("goodness", "softmax")
OPTIMIZERS = ("sgd", "adam")


def rms_normalise(h: np.ndarray) -> np.ndarray:
    """``h / (sqrt(mean(h²)) + 1e-8)`` along the last axis: unit root-mean-square (length √n)."""
    rms = np.sqrt(np.mean(h * h, axis=-1, keepdims=True, dtype=np.float32))
    return h / (rms + np.float32(NORM_EPS))


def goodness(h: np.ndarray) -> np.ndarray:
    """Sum of squared activities over the last axis (the layer's goodness), float32."""
    return np.einsum("...j,...j->...", h, h)


def softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def ff_loss_and_grad(h: np.ndarray, positive: np.ndarray, threshold: float, temperature: float):
    """Per-row FF loss and ``∂(mean loss over pairs)/∂z`` at the pre-activation.

    ``h`` ``(R, N)`` ReLU outputs, ``positive`` bool ``(R,)``. Row loss
    ``softplus(∓(G/N − θ)/τ)`` (``−`` for positive rows). The mean is over pairs
    ``R/2`` (one positive and one negative row per example). Returns ``(loss (R,), dz (R, N))``.
    """
    n = h.shape[1]
    logit = (goodness(h) / np.float32(n) - np.float32(threshold)) / np.float32(temperature)
    sign = np.where(positive, np.float32(-1.0), np.float32(1.0))
    loss = softplus(sign * logit)
    dG = sign * sigmoid(sign * logit) / np.float32(temperature * n * (len(h) / 2))
    return loss, (np.float32(2.0) * dG[:, None]).astype(np.float32) * h


def label_matrix(labels: np.ndarray | None, n_rows: int, n_classes: int, scale: float) -> np.ndarray:
    """Label part of the first layer's input ``(n_rows, K)``: ``s·onehot`` or neutral ``(s/K)·1``."""
    if labels is None:
        return np.full((n_rows, n_classes), scale / n_classes, np.float32)
    e = np.zeros((n_rows, n_classes), np.float32)
    e[np.arange(n_rows), labels] = scale
    return e


@dataclass
class FFNet:
    """A Forward-Forward network: ``W[0]`` ``(N_1, n_in + K)`` reads ``[image, label]``,
    ``W[l]`` ``(N_{l+1}, N_l)``; ``Wr`` ``(K, Σ_{l≥from} N_l)`` is the softmax readout."""

    n_in: int
    n_classes: int
    label_scale: float
    goodness_from: int  # 0-based index of the first layer that counts
    predict_with: str
    W: list[np.ndarray] = field(default_factory=list)
    b: list[np.ndarray] = field(default_factory=list)
    Wr: np.ndarray | None = None
    br: np.ndarray | None = None

    @classmethod
    def init(cls, arch: Architecture, rng: np.random.Generator, label_scale: float, goodness_from: int,
             predict_with: str) -> "FFNet":
        """``N(0, 1/fan_in)`` weights (as Hinton's code), zero biases, zero readout; float32."""
        W, b = [], []
        fan_in = arch.n_in + arch.n_out
        for width in arch.hidden:
            W.append((rng.standard_normal((width, fan_in)) * np.sqrt(1.0 / fan_in)).astype(np.float32))
            b.append(np.zeros(width, np.float32))
            fan_in = width
        n_feat = sum(arch.hidden[goodness_from:])
        return cls(arch.n_in, arch.n_out, float(label_scale), goodness_from, predict_with, W, b,
                   np.zeros((arch.n_out, n_feat), np.float32), np.zeros(arch.n_out, np.float32))

    @property
    def n_layers(self) -> int:
        return len(self.W)

    # ------------------------------------------------------------------ forward pieces
    def first_layer_pre(self, xproj: np.ndarray, sqx: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pre-activation of layer 1 for images with label part ``e`` ``(R, K)``.

        ``xproj = x·W_xᵀ`` ``(R, N_1)`` and ``sqx = Σx²`` ``(R,)`` are the image parts (shared
        by every label); returns ``(z (R, N_1), r (R, 1))`` with ``r`` the input's rms (+eps):
        identical to ``norm([x, e])·W_0ᵀ + b_0``.
        """
        n = self.n_in + self.n_classes
        r = np.sqrt((sqx + np.einsum("ij,ij->i", e, e)) / np.float32(n))[:, None] + np.float32(NORM_EPS)
        z = (xproj + e @ self.W[0][:, self.n_in:].T) / r + self.b[0]
        return z.astype(np.float32, copy=False), r.astype(np.float32, copy=False)

    def layer_pre(self, layer: int, inp: np.ndarray) -> np.ndarray:
        """Pre-activation ``norm(inp)·W_lᵀ + b_l`` of layer ``layer`` for raw input rows ``inp``."""
        return rms_normalise(inp) @ self.W[layer].T + self.b[layer]

    def hidden_states(self, x: np.ndarray, labels: np.ndarray | None) -> list[np.ndarray]:
        """ReLU outputs of every layer ``[(B, N_l)]`` for images ``x`` with ``labels`` (None = neutral)."""
        e = label_matrix(labels, len(x), self.n_classes, self.label_scale)
        hs = [np.maximum(self.layer_pre(0, np.concatenate([x, e], axis=1)), 0.0)]
        for layer in range(1, self.n_layers):
            hs.append(np.maximum(self.layer_pre(layer, hs[-1]), 0.0))
        return hs

    def readout_features(self, hs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([rms_normalise(h) for h in hs[self.goodness_from:]], axis=1)

    def goodness_per_label(self, x: np.ndarray) -> np.ndarray:
        """Accumulated goodness ``(B, K)`` of layers ``goodness_from..L`` with each label embedded."""
        x = np.asarray(x, np.float32)
        B, K = len(x), self.n_classes
        xproj = x @ self.W[0][:, : self.n_in].T
        sqx = np.einsum("ij,ij->i", x, x)
        e = label_matrix(np.repeat(np.arange(K), B), K * B, K, self.label_scale)
        z, _ = self.first_layer_pre(np.tile(xproj, (K, 1)), np.tile(sqx, K), e)
        h = np.maximum(z, 0.0)
        total = goodness(h) if self.goodness_from == 0 else np.zeros(K * B, np.float32)
        for layer in range(1, self.n_layers):
            h = np.maximum(self.layer_pre(layer, h), 0.0)
            if layer >= self.goodness_from:
                total += goodness(h)
        return total.reshape(K, B).T

    def readout_logits(self, x: np.ndarray) -> np.ndarray:
        """Softmax-readout logits ``(B, K)`` from one pass with the neutral label."""
        hs = self.hidden_states(np.asarray(x, np.float32), None)
        return self.readout_features(hs) @ self.Wr.T + self.br

    def predict(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Predicted label per row of ``x`` (int64 ``(B,)``), by ``predict_with``."""
        score = self.goodness_per_label if self.predict_with == "goodness" else self.readout_logits
        return np.concatenate([score(x[i : i + batch_size]).argmax(axis=1)
                               for i in range(0, len(x), batch_size)]).astype(np.int64)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def state_dict(self) -> dict[str, np.ndarray]:
        """``W0`` (image and label columns), ``b0``, ..., and the readout ``Wr``, ``br``."""
        out = {}
        for i, (w, v) in enumerate(zip(self.W, self.b)):
            out[f"W{i}"], out[f"b{i}"] = w, v
        out["Wr"], out["br"] = self.Wr, self.br
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy saved arrays (from :meth:`state_dict`) into this network in place."""
        for name, mine in self.state_dict().items():
            saved = np.asarray(state[name])
            if saved.shape != mine.shape:
                raise ValueError(f"saved {name} has shape {saved.shape}, the network needs {mine.shape}")
            np.copyto(mine, saved)


@dataclass
class FFState(LearnerState):
    """Forward-Forward state: one optimiser state per layer (over ``[W_l, b_l]``: Adam or
    smoothed SGD), the readout's Adam state (over ``[Wr, br]``), and every layer's running
    mean positive activity ``peer_mean[l]`` ``(N_l,)`` for peer normalisation."""

    layers: list = field(default_factory=list)
    readout: AdamState | None = None
    peer_mean: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class FFParams(ParamSet):
    """Hyperparameters of Forward-Forward (Adam per layer)."""

    optimizer: str = param("adam", choices=OPTIMIZERS, doc="adam: Adam per layer; sgd: Hinton's smoothed-gradient SGD (his lr 0.01 = 0.005 here)")
    lr_max: float = param(0.003, low=0.0, low_open=True, doc="learning rate of the FF layers at the start of the schedule")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="learning rate the schedule decays towards")
    schedule: str = param("cosine", choices=SCHEDULES, doc="per-epoch learning-rate schedule")
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True, doc="sgd: gradient smoothing s = m*s + (1-m)*g")
    readout_lr: float = param(0.001, low=0.0, low_open=True, doc="Adam learning rate of the softmax readout (scaled by the schedule)")
    threshold: float = param(1.0, low=0.0, low_open=True, doc="θ: goodness threshold per unit, p(positive) = sigmoid((G/N - θ)/τ)")
    temperature: float = param(0.1, low=0.0, low_open=True, doc="τ: temperature per unit (Hinton's code: 1/N)")
    peer_weight: float = param(0.03, low=0.0, doc="peer normalisation strength (Hinton's lambdamean; 0 = off)")
    label_scale: float = param(3.0, low=0.0, low_open=True, doc="value of the true label's entry appended to the image (pixels in [0, 1]; Hinton: 1)")
    negatives: str = param("predicted", choices=NEGATIVES, doc="wrong label sampled from the readout's prediction, or uniformly")
    goodness_from: int = param(2, low=1, doc="first hidden layer (1-based) whose goodness is summed for prediction and read by the readout (clipped to the last layer)")
    predict_with: str = param("goodness", choices=PREDICT_WITH, doc="goodness: best label by accumulated goodness (K passes); softmax: the readout")
    weight_decay: float = param(0.001, low=0.0, doc="decoupled weight decay of the FF layers: W *= 1 - lr*weight_decay per step")
    shift_pixels: int = param(0, low=0, high=4, doc="augmentation: shift each training image by up to this many pixels (0 = off)")


@register
class ForwardForward(Rule):
    """Forward-Forward (Hinton 2022): layer-local goodness objectives, positive and negative data."""

    name = "ff"
    uses = ("label_embedding", "local_loss", "local_activity")
    Params = FFParams

    def __init__(self, params: FFParams, arch: Architecture, batch_size: int = 1):
        super().__init__(params, arch, batch_size)
        self.require_plain_relu()
        if params.shift_pixels:
            image_side(arch.n_in, "rule ff")

    def init_model(self, rng: np.random.Generator) -> FFNet:
        p = self.params
        return FFNet.init(self.arch, rng, p.label_scale, self.first_counted_layer, p.predict_with)

    def init(self, model: FFNet, *, init_rng, noise_rng) -> FFState:
        """Zero optimiser moments and peer means of 0.5 (as Hinton's code)."""
        if self.params.optimizer == "adam":
            layers = [AdamState.zeros([w, b]) for w, b in zip(model.W, model.b)]
        else:
            layers = [SmoothedState.zeros([w, b]) for w, b in zip(model.W, model.b)]
        return FFState(noise_rng, layers, AdamState.zeros([model.Wr, model.br]),
                       [np.full(len(b), 0.5, np.float32) for b in model.b])

    @property
    def first_counted_layer(self) -> int:
        """0-based index of the first layer whose goodness counts: ``goodness_from − 1``,
        clipped to the last hidden layer (so a one-layer network uses its only layer)."""
        return min(self.params.goodness_from, len(self.arch.hidden)) - 1

    @property
    def forward_passes_per_example(self) -> float:
        """Neutral (readout / negative label), positive and negative pass."""
        return 3.0

    @property
    def backward_passes_per_example(self) -> float:
        """None: every layer's gradient is its own outer product."""
        return 0.0

    # ------------------------------------------------------------------ local updates
    def _layer_step(self, net: FFNet, state: FFState, layer: int, grads: list[np.ndarray], lr: float) -> None:
        """Descent step of layer ``layer``'s ``[W, b]`` with its own optimiser state."""
        params, p = [net.W[layer], net.b[layer]], self.params
        if p.optimizer == "adam":
            adam_descent(params, grads, state.layers[layer], lr, p.weight_decay)
        else:
            smoothed_descent(params, grads, state.layers[layer], lr, p.weight_decay, momentum=p.momentum)

    def _peer_term(self, state: FFState, layer: int, h: np.ndarray, positive: np.ndarray, dz: np.ndarray) -> None:
        """Add peer normalisation to ``dz`` of the positive rows (in place), update the running means."""
        w = self.params.peer_weight
        if not w:
            return
        m = state.peer_mean[layer]
        m *= np.float32(0.9)
        m += np.float32(0.1) * h[positive].mean(axis=0)
        n_pairs = len(h) / 2
        dz[positive] += np.float32(2.0 * w / (self.params.temperature * h.shape[1] * n_pairs)) * (m - m.mean())

    def update_first_layer(self, net: FFNet, state: FFState, x: np.ndarray, xproj: np.ndarray, sqx: np.ndarray,
                           e: np.ndarray, positive: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        """FF step of layer 1 only. Rows: the images ``x`` ``(B, n_in)`` repeated ``R/B`` times,
        label parts ``e`` ``(R, K)``. Returns ``(h, loss)`` computed before the step."""
        B, reps = len(x), len(e) // len(x)
        z, r = net.first_layer_pre(np.tile(xproj, (reps, 1)), np.tile(sqx, reps), e)
        h = np.maximum(z, 0.0)
        loss, dz = ff_loss_and_grad(h, positive, self.params.threshold, self.params.temperature)
        self._peer_term(state, 0, h, positive, dz)
        dz_r = dz / r
        gW = np.empty_like(net.W[0])
        gW[:, : net.n_in] = dz_r.reshape(reps, B, -1).sum(axis=0).T @ x
        gW[:, net.n_in:] = dz_r.T @ e
        self._layer_step(net, state, 0, [gW, dz.sum(axis=0)], lr)
        return h, loss

    def update_layer(self, net: FFNet, state: FFState, layer: int, inp: np.ndarray, positive: np.ndarray,
                     lr: float) -> tuple[np.ndarray, np.ndarray]:
        """FF step of layer ``layer`` (≥ 1) only, for raw input rows ``inp`` ``(R, N_{l-1})``
        (its lower layers' outputs, treated as data). Returns ``(h, loss)`` before the step."""
        a = rms_normalise(inp)
        h = np.maximum(a @ net.W[layer].T + net.b[layer], 0.0)
        loss, dz = ff_loss_and_grad(h, positive, self.params.threshold, self.params.temperature)
        self._peer_term(state, layer, h, positive, dz)
        self._layer_step(net, state, layer, [dz.T @ a, dz.sum(axis=0)], lr)
        return h, loss

    def negative_labels(self, probs: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Wrong labels ``(B,)``: sampled ∝ ``probs`` over the wrong classes, or uniformly."""
        B, K = probs.shape
        if self.params.negatives == "random":
            return (y + rng.integers(1, K, B)) % K
        p = probs.astype(np.float64, copy=True)
        p[np.arange(B), y] = 0.0
        total = p.sum(axis=1, keepdims=True)
        p = np.where(total > 1e-12, p / np.maximum(total, 1e-300), 1.0 / (K - 1))
        p[np.arange(B), y] = 0.0
        neg = (np.cumsum(p, axis=1) < rng.random((B, 1))).sum(axis=1)
        neg = np.minimum(neg, K - 1)
        bad = neg == y
        neg[bad] = (y[bad] + rng.integers(1, K, int(bad.sum()))) % K
        return neg

    def train_batch(self, net: FFNet, state: FFState, x: np.ndarray, y: np.ndarray, lr: float) -> np.ndarray:
        """One FF step of every layer and of the readout on one batch; returns ``log p(y)`` ``(B,)``."""
        B, K, s = len(x), net.n_classes, net.label_scale
        xproj = x @ net.W[0][:, : net.n_in].T
        sqx = np.einsum("ij,ij->i", x, x)
        # neutral pass: readout prediction (reward, hard negatives) and its own delta-rule step
        z, _ = net.first_layer_pre(xproj, sqx, label_matrix(None, B, K, s))
        hs = [np.maximum(z, 0.0)]
        for layer in range(1, net.n_layers):
            hs.append(np.maximum(net.layer_pre(layer, hs[-1]), 0.0))
        feats = net.readout_features(hs)
        logits = feats @ net.Wr.T + net.br
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        reward = np.log(np.maximum(probs[np.arange(B), y], 1e-30)).astype(np.float64)
        neg = self.negative_labels(probs, y, state.rng)
        err = probs.copy()
        err[np.arange(B), y] -= 1.0
        err /= np.float32(B)
        adam_descent([net.Wr, net.br], [err.T @ feats, err.sum(axis=0)], state.readout,
                     self.params.readout_lr * lr / self.params.lr_max)
        # positive and negative passes, one local step per layer
        positive = np.concatenate([np.ones(B, bool), np.zeros(B, bool)])
        e = label_matrix(np.concatenate([y, neg]), 2 * B, K, s)
        h, _ = self.update_first_layer(net, state, x, xproj, sqx, e, positive, lr)
        for layer in range(1, net.n_layers):
            h, _ = self.update_layer(net, state, layer, h, positive, lr)
        return reward

    def prepare_chunk(self, state: FFState, x):
        """The chunk as float32, each image shifted by up to ``shift_pixels`` (if > 0)."""
        return random_shift(np.asarray(x, np.float32), state.rng, self.params.shift_pixels)

    def step(self, net: FFNet, state: FFState, x, y, hyper):
        """One FF step of every layer and the readout; reward = readout ``log p(y)`` (nat)."""
        x, y = np.asarray(x, np.float32), np.asarray(y, np.int64)
        return state, {"reward": self.train_batch(net, state, x, y, hyper["lr"])}
