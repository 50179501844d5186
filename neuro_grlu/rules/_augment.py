"""Random translation of square images, an opt-in augmentation of the locally trained rules.

``random_shift(x, rng, k)``: every row of ``x`` ``(B, side²)`` is a ``side × side`` image;
each is moved by its own integer offset ``(dy, dx)`` drawn uniformly from ``[−k, k]²`` with
zero fill (pixels moved out of the frame are lost). Used by ``ff`` and ``noprop`` when their
``shift_pixels`` > 0: multilayer perceptrons have no built-in translation invariance, and the
published NoProp results use convolutional blocks. Off (0) by default; runs that use it say so
in their model description.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError


def image_side(n_in: int, what: str) -> int:
    """Side of a square image with ``n_in`` pixels; a ConfigError otherwise."""
    side = math.isqrt(n_in)
    if side * side != n_in:
        raise ConfigError(f"{what}: shift_pixels needs square images, but inputs have {n_in} features")
    return side


def random_shift(x: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """A copy of ``x`` ``(B, side²)`` with every image shifted by its own offset in ``[−k, k]²``.

    ``max_shift <= 0`` returns an unshifted copy (never `x` itself) and draws nothing from `rng`.
    """
    if max_shift <= 0:
        return np.array(x, copy=True)
    n, side, k = len(x), math.isqrt(x.shape[1]), int(max_shift)
    padded = np.pad(x.reshape(n, side, side), ((0, 0), (k, k), (k, k)))
    dy, dx = rng.integers(0, 2 * k + 1, n), rng.integers(0, 2 * k + 1, n)
    rows = (dy[:, None] + np.arange(side))[:, :, None]
    cols = (dx[:, None] + np.arange(side))[:, None, :]
    return padded[np.arange(n)[:, None, None], rows, cols].reshape(n, side * side)
