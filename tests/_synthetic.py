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


def learner(rule, init_seed=0, noise_rng=None):
    """``(model, state)`` of ``rule``: the model from ``default_rng(init_seed)``, the learner state
    with noise stream ``noise_rng`` (default ``default_rng(init_seed + 1)``)."""
    from neuro_grlu.rules import init_learner

    noise_rng = np.random.default_rng(init_seed + 1) if noise_rng is None else noise_rng
    return init_learner(rule, np.random.default_rng(init_seed), noise_rng)


def train_epochs(rule, net, state, x, y, epochs, n_train=N_TRAIN):
    """Train ``net`` (learner ``state``) on ``x[:n_train]`` for ``epochs`` epochs, chunk by chunk
    through the shared loop (the last chunk stops at ``n_train``, so no test example is trained
    on); returns each chunk's rewards."""
    from neuro_grlu.rules import train_chunk

    rewards = []
    for epoch in range(epochs):
        for start in range(0, n_train, rule.chunk_size):
            stop = min(start + rule.chunk_size, n_train)
            state, r = train_chunk(rule, net, state, x[start:stop], y[start:stop], rule.hyper(epoch, epochs))
            rewards.append(r)
    return rewards
