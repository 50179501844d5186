"""The learning-rule interface every rate-based learner implements, and the rule registry.

A rule is a class with

* ``name`` — the registry key used in ``[rule] name = ...`` of a model definition;
* ``Params`` — a frozen :class:`~neuro_grlu.params.ParamSet` of its hyperparameters
  (validated on construction, stored verbatim in every run file);
* ``uses`` — the information the rule needs, from :data:`INFORMATION`, so a table can show
  the biological constraints next to the accuracy;
* ``hyper(epoch, epochs)`` — the per-epoch values of its scheduled hyperparameters;
* ``train_chunk(net, x, y, hyper, rng)`` — train on ``n`` examples in order (in batches of
  the rule's batch size), updating ``net`` in place; returns the reward of each example.

Adding a rule = one module that defines such a class decorated with :func:`register`, one
test file, and one import line in ``neuro_grlu/rules/__init__.py``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import ConfigError
from ..network import Architecture, Network
from ..params import ParamSet

#: What a rule may use, with the wording used in comparison tables.
INFORMATION = {
    "global_reward": "one global scalar reward per example",
    "local_activity": "pre- and postsynaptic activity at the synapse",
    "noise": "its own injected noise (perturbation)",
    "label_error": "the output error vector (needs the label at the output)",
    "random_feedback": "a fixed random feedback pathway",
    "weight_transport": "exact transposed forward weights (backprop)",
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

    def __init__(self, params: ParamSet, arch: Architecture):
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} needs {self.Params.__name__}, got {type(params).__name__}")
        self.params = params
        self.arch = arch

    def hyper(self, epoch: int, epochs: int) -> dict[str, float]:
        """Scheduled hyperparameters for 0-based ``epoch`` of ``epochs``."""
        raise NotImplementedError

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
        return 256
