"""The learning-rule interface every rate-based learner implements, and the rule registry.

A rule is a class with

* ``name`` — the registry key used in ``[rule] name = ...`` of a model definition;
* ``Params`` — a frozen :class:`~neuro_grlu.params.ParamSet` of its hyperparameters
  (validated on construction, stored verbatim in every run file);
* ``uses`` — the information the rule needs, from :data:`INFORMATION`, so a table can show
  the biological constraints next to the accuracy;
* ``hyper(epoch, epochs)`` — the per-epoch values of its scheduled hyperparameters;
* ``train_chunk(net, x, y, hyper, rng)`` — train on ``n`` examples in order (in batches of
  the rule's batch size), updating ``net`` in place; returns the reward of each example;
* optionally ``delta(net, x, y, hyper, rng)`` — the update the rule *would* apply for one
  batch, without applying it (per weight layer ``(dW, db)``, in the direction of increasing
  reward). The training loop compares it with the true gradient (gradient alignment);
* optionally ``init_model(rng)`` — rules with their own model (not the shared MLP) return an
  object with ``predict(x)``, ``accuracy(x, y)`` and ``state_dict()``;
* ``forward_passes_per_example`` / ``backward_passes_per_example`` — the cost in full passes
  through the network per training example (for the cost table).

Adding a rule = one module that defines such a class decorated with :func:`register`, one
test file, and one import line in ``neuro_grlu/rules/__init__.py``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import ConfigError
from ..network import Architecture, Network
from ..params import ParamSet
from ..schedules import scheduled

#: What a rule may use, with the wording used in comparison tables.
INFORMATION = {
    "global_reward": "one global scalar reward per example",
    "local_activity": "pre- and postsynaptic activity at the synapse",
    "noise": "its own injected noise (perturbation)",
    "label_error": "the output error vector (needs the label at the output)",
    "random_feedback": "a fixed random feedback pathway",
    "weight_transport": "exact transposed forward weights (backprop)",
    "local_loss": "a loss computed inside each layer or block, with gradients that stay inside it",
    "label_embedding": "the label presented as an input (appended to the image, or a noisy label vector)",
    "ensemble_covariance": "covariances of parameters and predictions across an ensemble of networks",
}

RULES: dict[str, type["Rule"]] = {}


def register(cls: type["Rule"]) -> type["Rule"]:
    """Class decorator: add a rule to :data:`RULES` under ``cls.name``."""
    unknown = set(cls.uses) - set(INFORMATION)
    if unknown:
        raise TypeError(f"{cls.__name__}.uses names unknown information {sorted(unknown)}")
    RULES[cls.name] = cls
    return cls


def get_rule(name: str) -> type["Rule"]:
    """The rule class registered as ``name``; a ConfigError lists the known ones otherwise."""
    try:
        return RULES[name]
    except KeyError:
        raise ConfigError(f"unknown rule {name!r}; known rules: {', '.join(sorted(RULES))}") from None


class Rule:
    """Base class of rate-based learning rules (see the module docstring)."""

    name: ClassVar[str]
    uses: ClassVar[tuple[str, ...]]
    Params: ClassVar[type[ParamSet]]

    def __init__(self, params: ParamSet, arch: Architecture, batch_size: int = 1):
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} needs {self.Params.__name__}, got {type(params).__name__}")
        if int(batch_size) < 1:
            raise ConfigError(f"training.batch_size must be >= 1 (got {batch_size})")
        self.params = params
        self.arch = arch
        self.batch_size = int(batch_size)

    def require_plain_relu(self) -> None:
        """ConfigError unless the network is a plain ReLU chain (no top-k, no readout skip)."""
        if self.arch.activation != "relu" or self.arch.skip != "none":
            raise ConfigError(f"rule {self.name} needs network.activation = \"relu\" and network.skip = \"none\" "
                              f"(got {self.arch.activation!r}, {self.arch.skip!r})")

    def init_model(self, rng: np.random.Generator) -> Network:
        """A freshly initialised model (the shared MLP of :class:`Architecture` by default)."""
        return Network.init(self.arch, rng)

    def delta(
        self, net: Network, x: np.ndarray, y: np.ndarray, hyper: dict[str, float], rng: np.random.Generator
    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """The update ``[(dW_l, db_l), ...]`` one batch ``(x, y)`` would cause, not applied.

        Shapes match ``net.W[l]`` and ``net.b[l]``; the sign is that of the step the rule takes
        (towards higher reward). ``None`` (the default) means the rule does not define one, and
        no gradient alignment is recorded for it. May draw from ``rng`` but must not change ``net``.
        """
        return None

    @property
    def forward_passes_per_example(self) -> float:
        """Full forward passes through the network per training example (cost table)."""
        return 1.0

    @property
    def backward_passes_per_example(self) -> float:
        """Full backward passes (error propagated through all layers) per training example."""
        return 0.0

    def hyper(self, epoch: int, epochs: int) -> dict[str, float]:
        """Scheduled hyperparameters for 0-based ``epoch`` of ``epochs``.

        By default ``lr`` (and ``sigma`` when the parameters declare ``sigma_max``) from the
        ``*_max``/``*_min`` fields on ``params.schedule``; rules with more override this.
        """
        names = ("lr", "sigma") if hasattr(self.params, "sigma_max") else ("lr",)
        return scheduled(self.params, epoch, epochs, *names)

    def train_chunk(
        self, net: Network, x: np.ndarray, y: np.ndarray, hyper: dict[str, float], rng: np.random.Generator
    ) -> np.ndarray:
        """Train on ``x`` float32 ``(n, n_in)``, ``y`` int ``(n,)`` in order; return reward ``(n,)``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources held between chunks (threads, buffers); a no-op by default."""

    @property
    def chunk_size(self) -> int:
        """Examples per :meth:`train_chunk` call; a multiple of the batch size."""
        return max(self.batch_size, 256 - 256 % self.batch_size)
