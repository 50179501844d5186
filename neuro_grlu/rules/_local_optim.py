"""In-place optimisers for the locally trained families (Forward-Forward layers, NoProp blocks).

Adam (Kingma & Ba 2015) with bias correction and optional decoupled weight decay
(AdamW, Loshchilov & Hutter 2019). For a parameter tensor θ with gradient ``g`` of the loss
(descent), at step ``t`` (1-based)::

    m ← β₁ m + (1 − β₁) g            v ← β₂ v + (1 − β₂) g²
    θ ← θ − lr · (m̂ / (√v̂ + ε) + λ θ),   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)

The update is computed in place in float32 by one fused (numba) pass per tensor, in the
equivalent form ``θ −= lr_t · m / (√v + ε_t)`` with ``lr_t = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)`` and
``ε_t = ε·√(1−β₂ᵗ)``. Weight decay applies only to the
tensors flagged ``decay=True`` (weights, not biases).

Every :class:`Adam` owns the state of the tensors it was given and nothing else, so a
layer's (or block's) optimiser can only ever change that layer's (block's) parameters.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_FAST = {"reassoc", "contract", "nsz", "arcp"}


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


class Adam:
    """Adam over a fixed list of float32 tensors, updated in place.

    Parameters
    ----------
    params : list of np.ndarray
        The tensors (float32, any shape); kept by reference and modified by :meth:`step`.
    decay : list of bool, optional
        Which tensors get decoupled weight decay (default: all with ``ndim >= 2``).
    """

    def __init__(self, params: list[np.ndarray], decay: list[bool] | None = None,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.params = params
        self.decay = [p.ndim >= 2 for p in params] if decay is None else list(decay)
        for p in params:
            if p.dtype != np.float32 or not p.flags.c_contiguous:
                raise TypeError("Adam needs C-contiguous float32 parameter tensors (views of slices are fine)")
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0

    def step(self, grads: list[np.ndarray], lr: float, weight_decay: float = 0.0) -> None:
        """One descent step with gradients ``grads`` (same shapes as the parameters)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        c2 = math.sqrt(1.0 - b2**self.t)
        lr_t = np.float32(lr * c2 / (1.0 - b1**self.t))
        eps_t = np.float32(self.eps * c2)
        for p, g, m, v, dec in zip(self.params, grads, self.m, self.v, self.decay):
            keep = np.float32(1.0 - lr * weight_decay) if dec and weight_decay else np.float32(1.0)
            g = np.ascontiguousarray(g, dtype=np.float32)
            _adam_kernel(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), lr_t, eps_t,
                         np.float32(b1), np.float32(b2), keep)


class SmoothedSGD:
    """SGD on an exponentially smoothed gradient (Hinton's FF code, ``delay`` = β), in place.

    ``s ← β s + (1 − β) g``;  ``θ ← θ·(1 − lr·λ) − lr · s`` (decay only on ``decay`` tensors).
    Same interface as :class:`Adam`.
    """

    def __init__(self, params: list[np.ndarray], decay: list[bool] | None = None, momentum: float = 0.9):
        self.params = params
        self.decay = [p.ndim >= 2 for p in params] if decay is None else list(decay)
        self.s = [np.zeros_like(p) for p in params]
        self.momentum = momentum
        self.t = 0

    def step(self, grads: list[np.ndarray], lr: float, weight_decay: float = 0.0) -> None:
        self.t += 1
        mu = np.float32(self.momentum)
        for p, g, s, dec in zip(self.params, grads, self.s, self.decay):
            s *= mu
            s += (np.float32(1.0) - mu) * g
            if dec and weight_decay:
                p *= np.float32(1.0 - lr * weight_decay)
            p -= np.float32(lr) * s
