"""The slow system: a feature network trained by a named slow rule on declared classes, then frozen.

The cortex is the shared MLP (:class:`~neuro_grlu.network.Network`) trained with any
registered rate rule (``grlu``, ``es``, ``fa``, ``backprop`` as a labelled baseline, …) on the
training images of the classes its definition declares — and nothing else. After training
its weights are copied into read-only arrays: :meth:`Cortex.features` (the last hidden
layer's deterministic output, or all hidden layers with ``skip = "readout"``) is all the fast
system sees, and any attempt to write the weights raises.

``rule = "none"`` gives an untrained cortex (random He-initialised weights, a random-feature
control).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..network import Architecture, Network, layer_norm
from ..rules import get_rule
from ..rules.loop import close as close_learner
from ..rules.loop import init_learner, train_chunk
from ..train import prepare_inputs
from .tasks import subset


def as_inputs(x: np.ndarray) -> np.ndarray:
    """uint8 images → float32 in [0, 1]; float input is passed through as float32."""
    x = np.asarray(x)
    return prepare_inputs(x) if x.dtype == np.uint8 else x.astype(np.float32, copy=False)


def hidden_features(net: Network, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """Deterministic hidden output of ``net`` (last layer, or all with ``skip = "readout"``), float32.

    The same path as :meth:`Network.forward` up to the readout, including the first layer's
    decorrelated input when the cortex was trained with ``rule.decorrelate``.
    """
    out = []
    for i in range(0, len(x), batch_size):
        h = net.decorrelated(as_inputs(x[i : i + batch_size]))
        hidden = []
        for layer in range(len(net.arch.hidden)):
            h = net.hidden_activation(layer, layer_norm(h) @ net.W[layer].T + net.b[layer])
            hidden.append(h)
        out.append(np.concatenate(hidden, axis=-1) if net.arch.skip == "readout" else h)
    return np.concatenate(out) if out else np.zeros((0, net.arch.fan_in(net.arch.n_layers - 1)), np.float32)


@dataclass
class Cortex:
    """A frozen feature network.

    Attributes
    ----------
    net : Network — read-only weights.
    rule : str — the slow rule that trained it (``"none"`` = untrained).
    classes : list of int — the classes of its training data.
    history : list of dict — per-epoch ``train_accuracy`` (on its own classes) and ``epoch_time``.
    """

    net: Network
    rule: str
    classes: list[int]
    history: list[dict] = field(default_factory=list)
    wall_time_s: float = 0.0

    def __post_init__(self):
        self.net = self.net.copy()
        for a in (*self.net.W, *self.net.b, *(() if self.net.R is None else (self.net.R,))):
            a.flags.writeable = False

    @property
    def n_features(self) -> int:
        arch = self.net.arch
        return sum(arch.hidden) if arch.skip == "readout" else arch.hidden[-1]

    def features(self, x: np.ndarray) -> np.ndarray:
        """Feature code ``(B, n_features)`` float32 of images ``x`` (uint8 or float)."""
        return hidden_features(self.net, x)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The cortex's own trained readout (only meaningful for its training classes)."""
        return np.concatenate([self.net.forward(as_inputs(x[i : i + 2000])) for i in range(0, len(x), 2000)])

    def fingerprint(self) -> float:
        """Sum of all weights and the decorrelation matrix, if any (float64): changes if any of them changes."""
        R = () if self.net.R is None else (self.net.R,)
        return float(sum(np.sum(a, dtype=np.float64) for a in (*self.net.W, *self.net.b, *R)))


def train_cortex(
    rule_name: str,
    rule_params: dict,
    arch: Architecture,
    x: np.ndarray,
    y: np.ndarray,
    classes,
    *,
    epochs: int,
    batch_size: int = 1,
    seed: int = 0,
    train_limit: int = 0,
    log=None,
) -> Cortex:
    """Train the shared MLP with rule ``rule_name`` on the images of ``classes`` only, then freeze it.

    ``rule_params`` is the rule's own parameter table (validated by its ``Params``); the
    labels keep their digit identity (``arch.n_out`` outputs). ``rule_name = "none"``
    returns the untrained, randomly initialised network.
    """
    from ..params import from_dict

    classes = sorted(int(c) for c in classes)
    seeds = np.random.SeedSequence(seed).spawn(3)
    init_rng, order_rng, noise_rng = (np.random.default_rng(s) for s in seeds)
    t0 = time.perf_counter()
    if rule_name == "none":
        net = Network.init(arch, init_rng)
        return Cortex(net, "none", classes, [], 0.0)
    rule_cls = get_rule(rule_name)
    rule = rule_cls(from_dict(rule_cls.Params, rule_params, f"cortex.rule ({rule_name})"), arch, batch_size=batch_size)
    net, state = init_learner(rule, init_rng, noise_rng)
    xs, ys = subset(x, y, classes, train_limit)
    xs, ys = as_inputs(xs), np.asarray(ys, np.int64)
    history = []
    try:
        for epoch in range(epochs):
            hyper = rule.hyper(epoch, epochs)
            order = order_rng.permutation(len(xs))
            te = time.perf_counter()
            for start in range(0, len(xs), rule.chunk_size):
                idx = order[start : start + rule.chunk_size]
                state, _ = train_chunk(rule, net, state, xs[idx], ys[idx], hyper)
            row = {"epoch_time": time.perf_counter() - te, "train_accuracy": net.accuracy(xs[:5000], ys[:5000])}
            history.append(row)
            if log:
                log(f"cortex {rule_name} epoch {epoch + 1}/{epochs}: train accuracy on classes {classes} "
                    f"{row['train_accuracy']:.4f} ({row['epoch_time']:.1f} s)")
    finally:
        close_learner(rule, state)
    return Cortex(net, rule_name, classes, history, time.perf_counter() - t0)
