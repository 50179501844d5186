"""Gradient alignment: the angle between a rule's update and the true gradient, per layer.

For every probe batch ``(x_j, y_j)`` the rule's update ``Δθ_l`` (from :meth:`Rule.delta`, not
applied) is compared with the steepest-ascent direction of the reward, ``−∇_θl L`` (exact
gradient of the batch's mean cross-entropy, :func:`~neuro_grlu.rules.backprop.loss_gradient`),
where ``θ_l`` is layer ``l``'s weights and biases flattened together::

    cos_l,j = <Δθ_l, −∇L_l> / (|Δθ_l| · |∇L_l|)        angle_l,j = arccos(cos_l,j)

and the measurement is the mean over probe batches. 0° = the exact gradient direction,
90° = no better than a random direction. A batch on which a layer's update is exactly zero
(e.g. GRLU on an example already classified with p ≈ 1, where ``r₊ = r₋`` in float32) has
no direction and is left out of the mean; NaN if every batch is.

Rules with their own energy model (``eqprop``) define ``true_gradient(net, x, y)``: the exact
gradient of *their* loss, which then replaces the shared MLP's gradient here.
"""

from __future__ import annotations

import warnings

import numpy as np

from .network import Network
from .rules.backprop import loss_gradient


def has_delta(rule) -> bool:
    """Whether ``rule`` defines :meth:`~neuro_grlu.rules.base.Rule.delta`."""
    from .rules.base import Rule

    return type(rule).delta is not Rule.delta


def true_gradient(rule, net: Network, x: np.ndarray, y: np.ndarray) -> list:
    """The gradient a rule's update is compared with: ``rule.true_gradient(net, x, y)`` for rules
    whose model is not the shared MLP (EqProp: the gradient of its equilibrium cost), else the
    exact gradient of the shared MLP's batch-mean cross-entropy."""
    own = getattr(rule, "true_gradient", None)
    if own is not None:
        return own(net, x, y)
    return loss_gradient(net, _rule_input(net, x), y)  # w.r.t. W, b at fixed decorrelation R


def _rule_input(net, x: np.ndarray) -> np.ndarray:
    """What a rule trains on for raw input ``x``: ``x``, or ``R·LN(x)`` when the network
    decorrelates its input (:mod:`neuro_grlu.rules.decorrelation`)."""
    return x if getattr(net, "R", None) is None else net.decorrelated(x)


def layer_cosines(update, gradient) -> np.ndarray:
    """Cosine per layer between ``update`` and ``−gradient`` (lists of ``(dW, db)``)."""
    out = np.empty(len(gradient))
    for layer, ((uw, ub), (gw, gb)) in enumerate(zip(update, gradient)):
        u = np.concatenate([np.ravel(uw), np.ravel(ub)]).astype(np.float64)
        g = -np.concatenate([np.ravel(gw), np.ravel(gb)]).astype(np.float64)
        denom = np.linalg.norm(u) * np.linalg.norm(g)
        out[layer] = u @ g / denom if denom > 0 else np.nan
    return out


def measure_alignment(rule, net: Network, x: np.ndarray, y: np.ndarray, hyper: dict, rng: np.random.Generator,
                      batch_size: int, state=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean angle (degrees) and mean cosine per layer over the probe batches of ``(x, y)``.

    ``x`` float32 ``(n, n_in)`` is split into batches of ``batch_size`` (the rule's own);
    returns two float64 arrays ``(n_layers,)``. ``net`` and the learner ``state`` (from
    ``rule.init``; FA/DFA need its feedback matrices) are not changed.
    """
    cos = []
    for start in range(0, len(x) - batch_size + 1, batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        update = rule.delta(net, state, _rule_input(net, xb), yb, hyper, rng)
        cos.append(layer_cosines(update, true_gradient(rule, net, xb, yb)))
    cos = np.array(cos)
    angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return np.nanmean(angles, axis=0), np.nanmean(cos, axis=0)
