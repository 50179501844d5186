"""Decorrelation of a network's inputs by a local anti-Hebbian rule (Dalm, van Gerven & Ahmad 2023).

A decorrelating network feeds its first weight layer ``x̃ = R·LN(x)`` instead of ``LN(x)``
(``R`` float32 ``(n_in, n_in)``, the identity at the start; it is part of the model:
:attr:`~neuro_grlu.network.Network.R`, saved as ``R0`` in the run file, and applied by
:meth:`~neuro_grlu.network.Network.forward`). After every chunk of ``n`` examples the rule that
trains the weights has seen ``x̃``, and ``R`` learns from the same ``x̃`` by the anti-Hebbian rule

    R ← R − η_R · Σ_i offdiag(x̃_i x̃_iᵀ) · R

(``offdiag`` zeroes the diagonal; ``η_R`` = ``rule.decorrelate_lr`` per example), which drives
the off-diagonal covariance of ``x̃`` towards zero and leaves the variances alone. It uses only
what the input synapses see (their own inputs), no error or reward. Any rule of the shared MLP
(grlu, backprop, fa, dfa) trains on ``x̃`` unchanged: with ``decorrelate = "none"`` nothing here
runs and the rules' equations are untouched.

Scope: only the first layer's inputs (the pixels, where MNIST's correlations are) are
decorrelated; the hidden layers' inputs are not (yet).
"""

from __future__ import annotations

import numpy as np

from ..network import Network

DECORRELATE = ("none", "antihebbian")


def enabled(params) -> bool:
    """Whether a rule's parameters ask for decorrelation (rules without the key never do)."""
    return getattr(params, "decorrelate", "none") != "none"


def init(model: Network) -> None:
    """Give ``model`` the identity decorrelation matrix ``R`` ``(n_in, n_in)`` float32 (in place)."""
    model.R = np.eye(model.arch.n_in, dtype=np.float32)


def transform(model: Network, x: np.ndarray) -> np.ndarray:
    """The first layer's input ``x̃ = LN(x)·Rᵀ`` float32 ``(n, n_in)`` for raw ``x`` ``(n, n_in)``."""
    return model.decorrelated(x)


def update(model: Network, x_tilde: np.ndarray, lr: float) -> None:
    """``R −= lr · offdiag(Σ_i x̃_i x̃_iᵀ) · R`` in place (``x̃`` ``(n, n_in)``, from :func:`transform`)."""
    xt = np.asarray(x_tilde, np.float32)
    R = model.R
    # offdiag(X̃ᵀX̃)·R = X̃ᵀ(X̃R) − diag(Σ_i x̃_i²)·R: O(n·n_in²), not O(n_in³), for small chunks
    step = xt.T @ (xt @ R) - (xt * xt).sum(axis=0)[:, None] * R
    R -= np.float32(lr) * step


def off_diagonal_covariance(x_tilde: np.ndarray) -> float:
    """Mean squared off-diagonal entry of the covariance of the rows of ``x̃`` (a decorrelation score)."""
    xt = np.asarray(x_tilde, np.float64)
    xt = xt - xt.mean(axis=0)
    c = xt.T @ xt / len(xt)
    off = c[~np.eye(len(c), dtype=bool)]
    return float(np.mean(off**2))

