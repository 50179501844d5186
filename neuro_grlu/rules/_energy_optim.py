"""Learner state and optimiser step shared by the energy-based rules (``pc``, ``eqprop``).

Both rules descend a loss gradient estimate ``[(dW_l, db_l), ...]`` with heavy-ball SGD or
Adam (from :mod:`neuro_grlu.rules.optim`), with optional L2 weight decay added to the weight
gradients (not biases). Their only state is the optimiser's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import ParamSet, param
from ..schedules import SCHEDULES
from .optim import AdamState, MomentumState, adam_descent, momentum_descent
from .state import LearnerState

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class EnergyOptimParams(ParamSet):
    """The learning-rate schedule and optimiser parameters both energy-based rules declare."""

    lr_max: float = param(0.05, low=0.0, low_open=True, doc="learning rate at the start of the schedule")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="learning rate the schedule decays towards")
    schedule: str = param("cosine", choices=SCHEDULES, doc="per-epoch learning-rate schedule")
    optimizer: str = param("sgd", choices=OPTIMIZERS, doc="sgd (heavy-ball momentum) or adam")
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True, doc="sgd: heavy-ball momentum")
    weight_decay: float = param(0.0, low=0.0, doc="L2 penalty on weights (not biases), per step")


@dataclass
class EnergyRuleState(LearnerState):
    """State of ``pc``/``eqprop``: ``velocity`` (SGD with momentum > 0: one
    ``MomentumState([vW, vb])`` per layer) or ``adam`` (one ``AdamState`` over
    ``[W_0, b_0, W_1, b_1, ...]``); both None for plain SGD."""

    velocity: list[MomentumState] | None = None
    adam: AdamState | None = None


def init_state(params, model, noise_rng: np.random.Generator) -> EnergyRuleState:
    """Zero optimiser moments for ``model`` (``params.optimizer``, ``params.momentum``)."""
    if params.optimizer == "adam":
        return EnergyRuleState(noise_rng, adam=AdamState.zeros([p for pair in zip(model.W, model.b) for p in pair]))
    if params.momentum > 0:
        return EnergyRuleState(noise_rng, velocity=[MomentumState.zeros([w, b]) for w, b in zip(model.W, model.b)])
    return EnergyRuleState(noise_rng)


def descend(params, model, state: EnergyRuleState, grads, lr: float) -> EnergyRuleState:
    """One step along ``−grads`` (loss gradients per layer) in place; returns ``state``."""
    lr32 = np.float32(lr)
    if params.weight_decay:
        wd = np.float32(params.weight_decay)
        grads = [(gw + wd * w, gb) for (gw, gb), w in zip(grads, model.W)]
    if state.adam is not None:
        tensors = [p for pair in zip(model.W, model.b) for p in pair]
        adam_descent(tensors, [g for pair in grads for g in pair], state.adam, float(lr32),
                     decay=[False] * len(tensors))
    elif state.velocity is not None:
        for layer, (gw, gb) in enumerate(grads):
            momentum_descent([model.W[layer], model.b[layer]], [gw, gb], state.velocity[layer], lr32,
                             params.momentum)
    else:
        for layer, (gw, gb) in enumerate(grads):
            model.W[layer] -= lr32 * gw
            model.b[layer] -= lr32 * gb
    return state
