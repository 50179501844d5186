"""The rate-based network shared by every numpy learning rule.

An MLP whose every layer first layer-normalises its input (no learned gain), then applies
``z = W · x_norm + b``. Hidden layers use ReLU or top-k winner-take-all; the output layer is
linear (logits). With ``skip="readout"`` the output layer reads the concatenation of *all*
hidden layers' outputs, so every hidden layer is one synapse away from the readout (a short
credit-assignment path for deep networks).

Shapes (``B`` examples, ``n_l`` units in layer ``l``):

* ``W[l]`` : float32 ``(n_out, n_in)``; ``b[l]`` : float32 ``(n_out,)``
* inputs ``x`` : float32 ``(B, n_in)``; logits : float32 ``(B, n_classes)``
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError

LN_EPS = 1e-8  # added to the standard deviation in layer norm, as in the published code
ACTIVATIONS = ("relu", "topk")
SKIPS = ("none", "readout")


def layer_norm(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / (std + 1e-8)`` over the last axis (features); any leading shape."""
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return (x - mean) / (std + LN_EPS)


def topk_count(k: float, width: int) -> int:
    """Number of winners kept by top-k WTA: ``max(1, floor(k · width))``."""
    return max(1, int(np.floor(k * width)))


def topk_mask(scores: np.ndarray, count: int) -> np.ndarray:
    """Mask (same shape, dtype of ``scores``) of entries ≥ the ``count``-th largest per row.

    Ties at the threshold are all kept, as in the published implementation.
    """
    width = scores.shape[-1]
    threshold = np.partition(scores, width - count, axis=-1)[..., width - count : width - count + 1]
    return (scores >= threshold).astype(scores.dtype)


@dataclass(frozen=True)
class Architecture:
    """What the network looks like (no weights).

    Parameters
    ----------
    n_in : int
        Input features (784 for MNIST).
    hidden : tuple of int
        Widths of the hidden layers, e.g. ``(256,)``; at least one.
    n_out : int
        Output classes.
    activation : {"relu", "topk"}
        Hidden nonlinearity. ``"topk"``: during training keep the ``k·width`` largest of
        ``z + Gumbel noise`` (probabilistic WTA); at evaluation the hard top-k of ``z``.
    k : float
        Fraction of winners for ``"topk"``, in (0, 1].
    skip : {"none", "readout"}
        ``"readout"``: the output layer reads the concatenation of all hidden outputs.
    """

    n_in: int = 784
    hidden: tuple[int, ...] = (256,)
    n_out: int = 10
    activation: str = "relu"
    k: float = 0.5
    skip: str = "none"

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"network.activation must be one of {', '.join(ACTIVATIONS)} (got {self.activation!r})"
            )
        if self.skip not in SKIPS:
            raise ConfigError(f"network.skip must be one of {', '.join(SKIPS)} (got {self.skip!r})")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"network.hidden must list at least one positive width (got {list(self.hidden)})")
        if not 0.0 < self.k <= 1.0:
            raise ConfigError(f"network.k must be in (0, 1] (got {self.k})")
        if self.n_in < 1 or self.n_out < 2:
            raise ConfigError(f"network needs n_in >= 1 and n_out >= 2 (got {self.n_in}, {self.n_out})")

    @property
    def n_layers(self) -> int:
        """Number of weight layers (hidden layers + output layer)."""
        return len(self.hidden) + 1

    def fan_in(self, layer: int) -> int:
        """Input width of weight layer ``layer``."""
        if layer == 0:
            return self.n_in
        if layer == len(self.hidden) and self.skip == "readout":
            return sum(self.hidden)
        return self.hidden[layer - 1]

    def fan_out(self, layer: int) -> int:
        """Output width of weight layer ``layer``."""
        return self.hidden[layer] if layer < len(self.hidden) else self.n_out

    def topk_count(self, layer: int) -> int:
        return topk_count(self.k, self.hidden[layer])


@dataclass
class Network:
    """Weights of an :class:`Architecture`: lists ``W`` and ``b``, one entry per weight layer."""

    arch: Architecture
    W: list[np.ndarray] = field(default_factory=list)
    b: list[np.ndarray] = field(default_factory=list)
    #: Optional decorrelation of the first layer's input, float32 ``(n_in, n_in)``: the network
    #: then reads ``R·LN(x)`` instead of ``x`` (see :mod:`neuro_grlu.rules.decorrelation`).
    R: np.ndarray | None = None

    @classmethod
    def init(cls, arch: Architecture, rng: np.random.Generator) -> "Network":
        """He-normal weights ``N(0, 2/fan_in)`` and zero biases, float32."""
        W, b = [], []
        for layer in range(arch.n_layers):
            fan_in, fan_out = arch.fan_in(layer), arch.fan_out(layer)
            std = np.sqrt(2.0 / fan_in)
            W.append((rng.standard_normal((fan_out, fan_in)) * std).astype(np.float32))
            b.append(np.zeros(fan_out, np.float32))
        return cls(arch, W, b)

    def copy(self) -> "Network":
        return Network(self.arch, [w.copy() for w in self.W], [v.copy() for v in self.b],
                       None if self.R is None else self.R.copy())

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"W0": ..., "b0": ..., ...}`` for run files."""
        out = {}
        for i, (w, v) in enumerate(zip(self.W, self.b)):
            out[f"W{i}"], out[f"b{i}"] = w, v
        if self.R is not None:
            out["R0"] = self.R
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy saved weights (from :meth:`state_dict`) into this network in place (shapes checked).

        A saved decorrelation matrix ``R0`` replaces :attr:`R`; a state without one (weights saved
        before decorrelation was switched on, or from another rule) leaves this network's
        :attr:`R` as it is, so loading weights never switches decorrelation off.
        """
        new = Network.from_state_dict(self.arch, state)
        for mine, saved in zip(self.W + self.b, new.W + new.b):
            np.copyto(mine, saved)
        if new.R is not None:
            self.R = new.R.copy()

    @classmethod
    def from_state_dict(cls, arch: Architecture, state: dict[str, np.ndarray]) -> "Network":
        W = [np.asarray(state[f"W{i}"], np.float32) for i in range(arch.n_layers)]
        b = [np.asarray(state[f"b{i}"], np.float32) for i in range(arch.n_layers)]
        for i, w in enumerate(W):
            if w.shape != (arch.fan_out(i), arch.fan_in(i)):
                raise ConfigError(
                    f"weights W{i} have shape {w.shape}, the architecture needs {(arch.fan_out(i), arch.fan_in(i))}"
                )
        R = None
        if "R0" in state:
            R = np.asarray(state["R0"], np.float32)
            if R.shape != (arch.n_in, arch.n_in):
                raise ConfigError(f"decorrelation R0 has shape {R.shape}, the architecture needs {(arch.n_in, arch.n_in)}")
        return cls(arch, W, b, R)

    def decorrelated(self, x: np.ndarray) -> np.ndarray:
        """What the first layer reads: ``x`` itself, or ``LN(x)·Rᵀ`` float32 when :attr:`R` is set."""
        x = np.asarray(x, np.float32)
        return x if self.R is None else layer_norm(x) @ self.R.T

    def hidden_activation(self, layer: int, z: np.ndarray) -> np.ndarray:
        """Deterministic (evaluation) activation of hidden layer ``layer``: ReLU or hard top-k."""
        if self.arch.activation == "relu":
            return np.maximum(z, 0.0)
        return z * topk_mask(z, self.arch.topk_count(layer))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Noise-free logits, float32 ``(B, n_out)``, for inputs ``(B, n_in)``."""
        x = self.decorrelated(x)
        hidden_outputs = []
        h = x
        for layer in range(len(self.arch.hidden)):
            h = self.hidden_activation(layer, layer_norm(h) @ self.W[layer].T + self.b[layer])
            hidden_outputs.append(h)
        readout_in = np.concatenate(hidden_outputs, axis=-1) if self.arch.skip == "readout" else h
        return layer_norm(readout_in) @ self.W[-1].T + self.b[-1]

    def predict(self, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """Predicted class per row of ``x``, int64 ``(B,)``; evaluated in batches."""
        return np.concatenate(
            [self.forward(x[i : i + batch_size]).argmax(axis=1) for i in range(0, len(x), batch_size)]
        )

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Fraction of rows of ``x`` (float32 ``(B, n_in)``) classified as ``y`` (``(B,)``)."""
        return float(np.mean(self.predict(x) == y))


def log_softmax_at(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``log softmax(logits)[label]`` along the last axis; ``labels`` broadcasts to ``logits.shape[:-1]``."""
    m = logits.max(axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(logits - m).sum(axis=-1))
    picked = np.take_along_axis(logits, np.broadcast_to(labels, logits.shape[:-1])[..., None], axis=-1)[..., 0]
    return picked - lse
