"""The optimisers of every rate-based rule, with their state as explicit records.

Each optimiser is a state record plus functions of (parameters, gradients, state); none
keeps a reference to the parameters, so a rule's whole optimiser state is a value inside
its learner state (:mod:`neuro_grlu.rules.state`) and is saved in the run file. States are
mutable records whose arrays are updated in place (speed at batch size 1); each function
returns the state it updated.

* :class:`MomentumState` + :func:`momentum_descent` — heavy-ball SGD (backprop, FA, DFA):
  ``v ← μ v + g``;  ``θ ← θ − lr · v``.
* :class:`AdamState` + :func:`adam_descent` — Adam (Kingma & Ba 2015) with bias correction
  and decoupled weight decay (AdamW), one fused in-place pass per tensor (Forward-Forward
  layers, NoProp blocks)::

      m ← β₁ m + (1 − β₁) g            v ← β₂ v + (1 − β₂) g²
      θ ← θ·(1 − lr·λ) − lr_t · m / (√v + ε_t),   lr_t = lr·√(1−β₂ᵗ)/(1−β₁ᵗ),  ε_t = ε·√(1−β₂ᵗ)

* :func:`adam_ascent_steps` — the same Adam moments in the textbook form
  ``step = lr · m̂ / (√v̂ + ε)``, returned instead of applied (ES adds the steps; kept
  separate because its floating-point result differs from the fused form in the last bits).
* :class:`SmoothedState` + :func:`smoothed_descent` — SGD on an exponentially smoothed
  gradient (Hinton's FF code, ``delay`` = μ): ``s ← μ s + (1 − μ) g``;
  ``θ ← θ·(1 − lr·λ) − lr · s``.

Weight decay applies only to the tensors flagged in ``decay`` (weights, not biases).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

_FAST = {"reassoc", "contract", "nsz", "arcp"}


def default_decay(params: list[np.ndarray]) -> list[bool]:
    """Weight decay on tensors with ``ndim >= 2`` (weights), not on vectors (biases)."""
    return [p.ndim >= 2 for p in params]


# --------------------------------------------------------------------------- heavy-ball momentum


@dataclass
class MomentumState:
    """Velocity ``v[i]`` (float32, shaped like parameter ``i``)."""

    v: list[np.ndarray]

    @classmethod
    def zeros(cls, params: list[np.ndarray]) -> "MomentumState":
        return cls([np.zeros_like(p) for p in params])


def momentum_descent(params: list[np.ndarray], grads: list[np.ndarray], state: MomentumState, lr: float,
                     momentum: float) -> MomentumState:
    """``v ← μ v + g``; ``θ −= lr · v`` for every tensor, in place (float32)."""
    lr, mom = np.float32(lr), np.float32(momentum)
    for p, g, v in zip(params, grads, state.v):
        v *= mom
        v += g
        p -= lr * v
    return state


# --------------------------------------------------------------------------- Adam


@dataclass
class AdamState:
    """Adam moments of a list of tensors: ``m[i]``, ``v[i]`` float32 like tensor ``i``; ``t`` steps taken."""

    m: list[np.ndarray]
    v: list[np.ndarray]
    t: int = 0

    @classmethod
    def zeros(cls, shapes) -> "AdamState":
        """Zero moments for tensors of the given shapes (or the tensors themselves)."""
        shapes = [np.shape(s) if isinstance(s, np.ndarray) else tuple(s) for s in shapes]
        return cls([np.zeros(s, np.float32) for s in shapes], [np.zeros(s, np.float32) for s in shapes], 0)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _adam_kernel(p, g, m, v, lr_t, eps_t, b1, b2, keep):
    """Fused Adam step on flat float32 arrays (one pass over memory instead of ~10)."""
    f1 = np.float32(1.0) - b1
    f2 = np.float32(1.0) - b2
    for i in range(p.shape[0]):
        gi = g[i]
        mi = b1 * m[i] + f1 * gi
        vi = b2 * v[i] + f2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * keep - lr_t * mi / (np.sqrt(vi) + eps_t)


def adam_descent(params: list[np.ndarray], grads: list[np.ndarray], state: AdamState, lr: float,
                 weight_decay: float = 0.0, decay: list[bool] | None = None,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> AdamState:
    """One AdamW descent step on C-contiguous float32 ``params`` in place; returns ``state`` (updated).

    ``grads`` are gradients of the loss (shapes of ``params``); ``decay`` flags the tensors that
    get decoupled weight decay (default :func:`default_decay`).
    """
    decay = default_decay(params) if decay is None else decay
    state.t += 1
    t = state.t
    c2 = math.sqrt(1.0 - beta2**t)
    lr_t = np.float32(lr * c2 / (1.0 - beta1**t))
    eps_t = np.float32(eps * c2)
    for p, g, m, v, dec in zip(params, grads, state.m, state.v, decay):
        if p.dtype != np.float32 or not p.flags.c_contiguous:
            raise TypeError("adam_descent needs C-contiguous float32 parameter tensors (views of slices are fine)")
        keep = np.float32(1.0 - lr * weight_decay) if dec and weight_decay else np.float32(1.0)
        g = np.ascontiguousarray(g, dtype=np.float32)
        _adam_kernel(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), lr_t, eps_t,
                     np.float32(beta1), np.float32(beta2), keep)
    return state


def adam_ascent_steps(state: AdamState, grads: list[np.ndarray], lr: float, beta1: float = 0.9,
                      beta2: float = 0.999, eps: float = 1e-8) -> tuple[list[np.ndarray], AdamState]:
    """One Adam step for ascent direction ``grads``: returns ``(steps, new_state)``; ``state`` is unchanged.

    ``m ← β₁ m + (1−β₁) g``, ``v ← β₂ v + (1−β₂) g²``, ``step = lr · m̂ / (√v̂ + eps)`` with the
    bias corrections ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``. Add ``steps`` to the parameters.
    """
    t = state.t + 1
    c1 = 1.0 - beta1**t
    c2 = 1.0 - beta2**t
    b1, b2 = np.float32(beta1), np.float32(beta2)
    steps, ms, vs = [], [], []
    for m, v, g in zip(state.m, state.v, grads):
        m = b1 * m + (np.float32(1) - b1) * g
        v = b2 * v + (np.float32(1) - b2) * (g * g)
        steps.append((np.float32(lr / c1) * m / (np.sqrt(v / np.float32(c2)) + np.float32(eps))).astype(np.float32))
        ms.append(m)
        vs.append(v)
    return steps, AdamState(ms, vs, t)


# --------------------------------------------------------------------------- smoothed-gradient SGD


@dataclass
class SmoothedState:
    """Smoothed gradient ``s[i]`` (float32 like tensor ``i``) and steps taken ``t``."""

    s: list[np.ndarray]
    t: int = 0

    @classmethod
    def zeros(cls, params: list[np.ndarray]) -> "SmoothedState":
        return cls([np.zeros_like(p) for p in params], 0)


def smoothed_descent(params: list[np.ndarray], grads: list[np.ndarray], state: SmoothedState, lr: float,
                     weight_decay: float = 0.0, decay: list[bool] | None = None,
                     momentum: float = 0.9) -> SmoothedState:
    """``s ← μ s + (1 − μ) g``; ``θ ← θ·(1 − lr·λ) − lr · s`` in place; returns ``state``."""
    decay = default_decay(params) if decay is None else decay
    state.t += 1
    mu = np.float32(momentum)
    for p, g, s, dec in zip(params, grads, state.s, decay):
        s *= mu
        s += (np.float32(1.0) - mu) * g
        if dec and weight_decay:
            p *= np.float32(1.0 - lr * weight_decay)
        p -= np.float32(lr) * s
    return state
