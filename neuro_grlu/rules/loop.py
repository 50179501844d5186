"""The one batch loop of every rate-based rule: a chunk of examples through ``rule.step``.

:func:`train_chunk` is what the training loops (:mod:`neuro_grlu.train`, the continual
experiments) call for every chunk of ``rule.chunk_size`` examples of their shuffled data:
it applies the rule's per-chunk input preparation, then either the rule's fused chunk loop
(GRLU) or one :meth:`~neuro_grlu.rules.base.Rule.step` per batch of ``rule.batch_size``.
"""

from __future__ import annotations

import numpy as np

from . import decorrelation
from .base import Rule
from .state import LearnerState


def init_learner(rule: Rule, init_rng: np.random.Generator, noise_rng: np.random.Generator):
    """``(model, state)`` of a fresh run: the model from ``init_rng``, then the learner state
    (which may continue ``init_rng``, e.g. FA feedback matrices) holding ``noise_rng``."""
    model = rule.init_model(init_rng)
    if decorrelation.enabled(rule.params):
        decorrelation.init(model)
    return model, rule.init(model, init_rng=init_rng, noise_rng=noise_rng)


def train_chunk(rule: Rule, model, state: LearnerState, x: np.ndarray, y: np.ndarray,
                hyper: dict[str, float]) -> tuple[LearnerState, np.ndarray]:
    """Train ``model`` on ``x`` float32 ``(n, n_in)``, ``y`` int ``(n,)`` in order.

    Returns the new state and the reward of every example ``(n,)`` float64 (before the
    update of its batch). ``n`` must not exceed ``rule.chunk_size``.
    """
    if len(x) > rule.chunk_size:
        raise ValueError(f"train_chunk got {len(x)} examples, more than chunk_size={rule.chunk_size}")
    x = rule.prepare_chunk(state, x)
    if decorrelation.enabled(rule.params):  # the rule trains on the decorrelated input, R learns per block
        x = decorrelation.transform_and_learn(model, x, rule.params.decorrelate_lr, rule.params.decorrelate_block)
    state, metrics = rule.step_chunk(model, state, x, y, hyper)
    return state, metrics["reward"]


def close(rule: Rule, state: LearnerState | None) -> None:
    """Release runtime resources of ``state`` (threads); ``rule`` holds none."""
    if state is not None:
        state.close()
