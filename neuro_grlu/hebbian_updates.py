"""Hebbian plasticity rules as pure functions (rates, NumPy, float32 in → float32 out).

Every ``*_update`` function returns the *increment* (add it to the weights yourself, e.g.
``W += sanger_update(W, x, lr)``) and leaves its arguments unchanged. Batched forms average
the per-example increments over the batch (so ``lr`` is a per-example rate whatever the
batch size).

* :func:`oja_update` — Oja (1982), "A simplified neuron model as a principal component
  analyzer": ``Δw = η y (x − y w)``, ``y = w·x``. A single linear unit's weight vector
  converges to the unit-norm principal eigenvector of ``E[x xᵀ]`` (the second-moment matrix:
  the inputs are not centred here; centre them first for PCA of the covariance).
* :func:`sanger_update` — Sanger (1989), the generalised Hebbian algorithm:
  ``ΔW = η (y xᵀ − LT(y yᵀ) W)``, ``y = W x``, ``LT`` the lower triangle incl. the diagonal.
  Row ``i`` converges to the ``i``-th eigenvector of ``E[x xᵀ]``, in order, with unit norm.
* :func:`reward_modulated_hebbian_update` — the three-factor rule
  ``ΔW = η (R − R̄) post ⊗ pre``: a Hebbian coincidence gated by the reward prediction error.
* :class:`RewardBaseline` — the running mean reward ``R̄`` (exponential moving average).
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError


def _as_batch(x: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        return x[None, :], True
    if x.ndim != 2:
        raise ValueError(f"inputs must be (n,) or (B, n), got shape {x.shape}")
    return x, False


def oja_update(w: np.ndarray, x: np.ndarray, lr: float) -> np.ndarray:
    """Oja's rule increment ``Δw = η · mean_b y_b (x_b − y_b w)`` with ``y_b = w·x_b``.

    Parameters
    ----------
    w : float array ``(n,)`` — one unit's weights; or ``(k, n)`` — ``k`` independent units
        (each its own Oja neuron, no competition: all converge to the same component).
    x : float array ``(n,)`` — one example; or ``(B, n)`` — a batch (increments averaged).
    lr : float
        Learning rate η. Stable for ``η λ_max ≲ 1`` (λ_max the top eigenvalue of ``E[x xᵀ]``).

    Returns
    -------
    float32 array shaped like ``w``.
    """
    W = np.asarray(w, np.float32)
    single_unit = W.ndim == 1
    W2 = W[None, :] if single_unit else W
    X, _ = _as_batch(x)
    B = X.shape[0]
    Y = X @ W2.T  # (B, k)
    dW = (Y.T @ X - (Y * Y).sum(axis=0)[:, None] * W2) * np.float32(lr / B)
    return dW[0] if single_unit else dW


def sanger_update(W: np.ndarray, x: np.ndarray, lr: float) -> np.ndarray:
    """Sanger's generalised Hebbian algorithm: ``ΔW = η · mean_b (y_b x_bᵀ − LT(y_b y_bᵀ) W)``.

    Parameters
    ----------
    W : float array ``(k, n)`` — ``k`` linear units (components), ``y = W x``.
    x : float array ``(n,)`` or ``(B, n)``.
    lr : float
        Learning rate η (stable for ``η λ_max ≲ 1``).

    Returns
    -------
    float32 array ``(k, n)``. Row ``i`` sees the input with the projections on rows ``0..i−1``
    removed (deflation), so the rows converge to the top-``k`` eigenvectors of ``E[x xᵀ]`` in
    order of decreasing eigenvalue, orthonormal.

    Notes
    -----
    ``Σ_b LT(y_b y_bᵀ) W`` is computed as ``LT(Yᵀ Y) W`` (cost ``k² n``) for large batches and as
    ``Σ_b y_b ⊙ cumsum(y_b ⊙ W)`` (cost ``B k n``) for small ones; both are exact.
    """
    W = np.asarray(W, np.float32)
    if W.ndim != 2:
        raise ValueError(f"W must be (k, n), got shape {W.shape}")
    X, _ = _as_batch(x)
    B = X.shape[0]
    k, n = W.shape
    Y = X @ W.T  # (B, k)
    if 4 * B < k and B * k * n <= (1 << 22):
        # Σ_{j≤i} y_i y_j w_j = y_i · (cumulative sum over rows of y_j w_j)
        deflate = np.einsum("bk,bkn->kn", Y, np.cumsum(Y[:, :, None] * W[None], axis=1))
    else:
        deflate = np.tril(Y.T @ Y) @ W
    return ((Y.T @ X - deflate) * np.float32(lr / B)).astype(np.float32, copy=False)


def reward_modulated_hebbian_update(
    W: np.ndarray, pre: np.ndarray, post: np.ndarray, reward, baseline, lr: float
) -> np.ndarray:
    """Three-factor increment ``ΔW = η · mean_b (R_b − R̄) post_b ⊗ pre_b``.

    Parameters
    ----------
    W : array ``(n_post, n_pre)`` — the weights (only their shape is used; the rule does not
        depend on the current weights).
    pre : array ``(n_pre,)`` or ``(B, n_pre)`` — presynaptic rates.
    post : array ``(n_post,)`` or ``(B, n_post)`` — postsynaptic rates (e.g. a one-hot action).
    reward : float or array ``(B,)`` — the global reward of each example.
    baseline : float or array ``(B,)`` — the expected reward ``R̄`` (e.g. :class:`RewardBaseline`).
    lr : float — learning rate η.

    Returns
    -------
    float32 array ``(n_post, n_pre)``; exactly zero when ``reward == baseline``.
    """
    shape = np.shape(W)
    pre_b, _ = _as_batch(pre)
    post_b, _ = _as_batch(post)
    B = pre_b.shape[0]
    if post_b.shape[0] != B or (post_b.shape[1], pre_b.shape[1]) != shape:
        raise ValueError(f"pre {pre_b.shape} / post {post_b.shape} do not match W {shape}")
    rpe = (np.broadcast_to(np.asarray(reward, np.float32), (B,)) - np.asarray(baseline, np.float32)).astype(np.float32)
    return ((post_b * rpe[:, None]).T @ pre_b * np.float32(lr / B)).astype(np.float32, copy=False)


class RewardBaseline:
    """Running mean reward ``R̄`` for the reward prediction error ``R − R̄``.

    An exponential moving average updated once per example, in order:
    ``R̄ ← R̄ + α (R − R̄)`` (time constant ``τ = 1/α`` examples). :meth:`update` with a batch
    gives exactly the same value as that many single-example updates.

    Attributes
    ----------
    value : float — the current ``R̄`` (inspect or set freely).
    alpha : float — the rate α in (0, 1].
    count : int — rewards seen so far.
    """

    def __init__(self, alpha: float = 0.01, value: float = 0.0):
        if not (isinstance(alpha, (int, float)) and 0.0 < alpha <= 1.0):
            raise ConfigError(f"RewardBaseline.alpha must be in (0, 1] (got {alpha!r})")
        self.alpha = float(alpha)
        self.value = float(value)
        self.count = 0

    @classmethod
    def from_tau(cls, tau: float, value: float = 0.0) -> "RewardBaseline":
        """A baseline with time constant ``tau`` ≥ 1 examples (``alpha = 1/tau``)."""
        if not tau >= 1.0:
            raise ConfigError(f"RewardBaseline tau must be >= 1 (got {tau!r})")
        return cls(1.0 / tau, value)

    @property
    def tau(self) -> float:
        return 1.0 / self.alpha

    def update(self, reward) -> float:
        """Fold in one reward or an ordered array of rewards; returns the new ``value``.

        For rewards ``R_1..R_B``: ``R̄_B = (1−α)^B R̄_0 + Σ_b α (1−α)^{B−b} R_b``.
        """
        r = np.atleast_1d(np.asarray(reward, np.float64)).ravel()
        if r.size == 0:
            return self.value
        keep = 1.0 - self.alpha
        weights = self.alpha * keep ** np.arange(r.size - 1, -1, -1, dtype=np.float64)
        self.value = float(keep**r.size * self.value + weights @ r)
        self.count += int(r.size)
        return self.value

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value, "alpha": self.alpha, "count": self.count}

    def __repr__(self) -> str:
        return f"RewardBaseline(value={self.value:.4g}, alpha={self.alpha:g}, count={self.count})"
