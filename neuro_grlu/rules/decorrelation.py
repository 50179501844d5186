"""Decorrelation of a network's inputs by a local anti-Hebbian rule (Dalm, van Gerven & Ahmad 2023).

A decorrelating network feeds its first weight layer ``x̃ = R·LN(x)`` instead of ``LN(x)``
(``R`` float32 ``(n_in, n_in)``, the identity at the start; it is part of the model:
:attr:`~neuro_grlu.network.Network.R`, saved as ``R0`` in the run file, and applied by
:meth:`~neuro_grlu.network.Network.forward`; like every layer's input, ``x̃`` is then
layer-normalised again, so the first weights read ``LN(x̃)``). The training data are read in
blocks of ``B`` = ``rule.decorrelate_block`` consecutive examples: a block is read through the
current ``R``, then ``R`` learns from that block by the anti-Hebbian rule

    R ← R − η_R · Σ_{i in block} offdiag(x̃_i x̃_iᵀ) · R

(``offdiag`` zeroes the diagonal; ``η_R`` = ``rule.decorrelate_lr`` per example), which drives
the off-diagonal second moments of ``x̃`` towards zero (they are covariances for centred
inputs). The rule does not hold the variances fixed: they shrink as the correlations are
removed. ``R`` steps once per block whatever chunk size the training rule uses for speed (the
loop's chunk is rounded to whole blocks), so ``η_R`` and ``B`` alone set its dynamics; the
step is stable while ``η_R·λ_max`` of the block's summed second-moment matrix stays below 2
(``λ_max`` grows with ``B``). ``R`` only ever sees the inputs, never the weights, an error or a
reward, so precomputing a chunk's ``x̃`` block by block is the same as interleaving.

Any rule of the shared MLP (grlu, backprop, fa, dfa) trains on ``x̃`` unchanged: with
``decorrelate = "none"`` nothing here runs and the rules' equations are untouched.

Scope: only the first layer's inputs (the pixels, where MNIST's correlations are) are
decorrelated; the hidden layers' inputs are not (yet).
"""

from __future__ import annotations

import math

import numpy as np

from ..network import Network

DECORRELATE = ("none", "antihebbian")


def enabled(params) -> bool:
    """Whether a rule's parameters ask for decorrelation (rules without the key never do)."""
    return getattr(params, "decorrelate", "none") != "none"


def chunk_size(params, natural: int, batch_size: int) -> int:
    """The loop's chunk for a rule whose own choice is ``natural`` examples: unchanged without
    decorrelation; with it, a multiple of both ``params.decorrelate_block`` and ``batch_size``
    (rounded down, at least one block), so every full chunk holds whole blocks."""
    if not enabled(params):
        return natural
    whole = math.lcm(int(params.decorrelate_block), int(batch_size))
    return max(whole, natural - natural % whole)


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


def transform_and_learn(model: Network, x: np.ndarray, lr: float, block: int) -> np.ndarray:
    """``x̃`` float32 ``(n, n_in)`` of a chunk of raw inputs ``x`` ``(n, n_in)``, block by block:
    each block of ``block`` examples is read through the current ``R``, then ``R`` takes its
    :func:`update` on that block (a shorter last block when ``n`` is not a multiple)."""
    out = np.empty((len(x), model.arch.n_in), np.float32)
    for start in range(0, len(x), block):
        x_tilde = transform(model, x[start : start + block])
        update(model, x_tilde, lr)
        out[start : start + len(x_tilde)] = x_tilde
    return out


def off_diagonal_covariance(x_tilde: np.ndarray) -> float:
    """Mean squared off-diagonal entry of the covariance of the rows of ``x̃`` (a decorrelation score)."""
    xt = np.asarray(x_tilde, np.float64)
    xt = xt - xt.mean(axis=0)
    c = xt.T @ xt / len(xt)
    off = c[~np.eye(len(c), dtype=bool)]
    return float(np.mean(off**2))

