"""The learning-rule interface every rate-based learner implements, and the rule registry.

A rule is frozen parameters plus explicit state (docs/rule-interface.md):

* ``name`` — the registry key used in ``[rule] name = ...`` of a model definition;
* ``Params`` — a frozen :class:`~neuro_grlu.params.ParamSet` of its hyperparameters
  (validated on construction, stored verbatim in every run file). The rule object holds
  only these, the architecture and the batch size: nothing changes on it during training;
* ``uses`` — the information the rule needs, from :data:`INFORMATION`;
* ``init_model(rng) → model`` — a freshly initialised model (the shared MLP by default;
  rules with their own model return an object with ``predict``, ``accuracy``,
  ``state_dict`` and ``load_state_dict``);
* ``init(model, *, init_rng, noise_rng) → state`` — the learner state
  (:class:`~neuro_grlu.rules.state.LearnerState` subclass): optimiser moments, FA/DFA
  feedback matrices (drawn from ``init_rng``, which continues the stream that drew the
  model), and ``noise_rng``, the rule's own random stream, kept in the state;
* ``step(model, state, x, y, hyper) → (state, metrics)`` — one batch ``x`` float32
  ``(B, n_in)``, ``y`` int ``(B,)``: updates ``model`` (and the state's arrays) in place and
  returns the state and ``{"reward": (B,) float64}``, the reward of each example before the
  update;
* optionally ``step_chunk(model, state, x, y, hyper) → (state, metrics)`` — a fused loop over
  a whole chunk of batches (GRLU: noise drawn per chunk, a compiled kernel). The training
  loop (:func:`neuro_grlu.rules.loop.train_chunk`) calls it instead of batching itself;
* optionally ``prepare_chunk(state, x) → x`` — per-chunk input augmentation drawn from the
  state's stream (FF, NoProp ``shift_pixels``);
* optionally ``delta(model, state, x, y, hyper, rng)`` — the update one batch *would* cause,
  per weight layer ``(dW, db)`` towards higher reward, changing neither ``model`` nor
  ``state`` (gradient alignment draws from the probe stream ``rng``);
* ``hyper(epoch, epochs)`` — the per-epoch values of its scheduled hyperparameters;
* ``forward_passes_per_example`` / ``backward_passes_per_example`` — cost per example.

Adding a rule = one module that defines such a class decorated with :func:`register`, one
test file, and one import line in ``neuro_grlu/rules/__init__.py``; the conformance test
(``tests/test_rule_conformance.py``) then checks it like every other rule.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import ConfigError
from ..network import Architecture, Network
from ..params import ParamSet
from ..schedules import scheduled
from . import decorrelation
from .state import LearnerState

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
    "prediction_error": "a prediction error held in every layer, relaxed by inference before plasticity",
    "symmetric_weights": "the forward weights used again (transposed) in the feedback direction",
    "two_phases": "two relaxation phases (free and nudged towards the label) compared at each synapse",
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

    def init(self, model, *, init_rng: np.random.Generator, noise_rng: np.random.Generator) -> LearnerState:
        """The learner state before training (the base: only the random stream ``noise_rng``)."""
        return LearnerState(noise_rng)

    def step(self, model, state: LearnerState, x: np.ndarray, y: np.ndarray,
             hyper: dict[str, float]) -> tuple[LearnerState, dict[str, np.ndarray]]:
        """Train on one batch in place; ``(state, {"reward": (B,) float64})``."""
        raise NotImplementedError(f"rule {self.name} defines no step()")

    def step_chunk(self, model, state: LearnerState, x: np.ndarray, y: np.ndarray,
                   hyper: dict[str, float]) -> tuple[LearnerState, dict[str, np.ndarray]]:
        """Train on a chunk (several batches) in place. The default batches and calls :meth:`step`."""
        n = len(x)
        rewards = np.empty(n, np.float64)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            state, metrics = self.step(model, state, x[start:stop], y[start:stop], hyper)
            rewards[start:stop] = metrics["reward"]
        return state, {"reward": rewards}

    def prepare_chunk(self, state: LearnerState, x: np.ndarray) -> np.ndarray:
        """Inputs of one chunk as the rule trains on them (augmentation); ``x`` itself by default."""
        return x

    def delta(
        self, net, state: LearnerState, x: np.ndarray, y: np.ndarray, hyper: dict[str, float],
        rng: np.random.Generator,
    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """The update ``[(dW_l, db_l), ...]`` one batch ``(x, y)`` would cause, not applied.

        Shapes match ``net.W[l]`` and ``net.b[l]``; the sign is that of the step the rule takes
        (towards higher reward). ``None`` (the default) means the rule does not define one, and
        no gradient alignment is recorded for it. May draw from ``rng`` but must change neither
        ``net`` nor ``state``.
        """
        return None

    def model_arrays(self, model) -> dict[str, np.ndarray]:
        """Arrays needed to rebuild ``model`` exactly that its ``state_dict`` does not hold
        (saved with the learner state for resuming); none by default."""
        return {}

    def load_model(self, model, weights: dict[str, np.ndarray], extra: dict[str, np.ndarray]) -> None:
        """Overwrite ``model`` in place with saved ``weights`` (its ``state_dict``) and ``extra``
        (from :meth:`model_arrays`)."""
        model.load_state_dict(weights)

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

    @property
    def chunk_size(self) -> int:
        """Examples per :func:`~neuro_grlu.rules.loop.train_chunk` call; a multiple of the batch size."""
        return decorrelation.chunk_size(self.params, max(self.batch_size, 256 - 256 % self.batch_size), self.batch_size)
