"""Shared synthetic data and training loop for the rule tests (not a test module)."""

from __future__ import annotations

import numpy as np

N_TRAIN = 2500  #: the first N_TRAIN examples of :func:`blobs` train, the rest test


def blobs(seed=5, n=3000, d=40, k=10, spread=1.0, nonnegative=False):
    """``k`` Gaussian clusters in ``d`` dimensions: ``x (n, d)`` float32, labels ``(n,)``.
    ``nonnegative`` shifts ``x`` to start at 0 (like pixels)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)).astype(np.float32) * spread
    labels = rng.integers(0, k, n)
    x = (centers[labels] + rng.normal(size=(n, d))).astype(np.float32)
    return (x - x.min() if nonnegative else x), labels


def train_epochs(rule, net, x, y, epochs, rng, n_train=N_TRAIN):
    """Train ``net`` on ``x[:n_train]`` for ``epochs`` epochs, chunk by chunk (the last chunk
    stops at ``n_train``, so no test example is trained on); returns each chunk's rewards."""
    rewards = []
    for epoch in range(epochs):
        for start in range(0, n_train, rule.chunk_size):
            stop = min(start + rule.chunk_size, n_train)
            rewards.append(rule.train_chunk(net, x[start:stop], y[start:stop], rule.hyper(epoch, epochs), rng))
    return rewards
