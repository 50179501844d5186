"""Philox4x32-10 counter-based random numbers (Salmon et al. 2011, Random123) for compiled kernels.

``philox4x32(c0, c1, c2, c3, k0, k1)`` maps a 128-bit counter and a 64-bit key to four
independent-looking 32-bit words; any draw is addressed directly by its counter, so a kernel
can make its noise where it uses it (no buffers, no sequential generator state) and a run is
reproducible and resumable from (key, counter) alone. Checked against the Random123 known
answers (tests/test_philox.py).

Noise layout used by GRLU (``rule.rng = "philox"``): key = two words from the run's noise
seed; counter = (example index low word, high word, pair, block) where ``block`` numbers the
groups of four values of one pair: hidden noise from block 0, output noise from ``1 << 30``,
Gumbel noise from ``2 << 30``. Normals come from Box–Muller on pairs of words, Gumbel variates
from ``−log(−log u)``; logarithm, sine and cosine are float32 polynomials so that the loops
vectorise (no vector math library is available to numba here).
"""

from __future__ import annotations

import numpy as np
from numba import njit

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
OUTPUT_BLOCK = 1 << 30
GUMBEL_BLOCK = 2 << 30


@njit(cache=True, nogil=True, inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds: four uint32 words for counter ``(c0..c3)`` and key ``(k0, k1)``."""
    c0, c1, c2, c3 = np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3)
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        p0 = M0 * c0
        p1 = M1 * c2
        n0 = (p1 >> _SHIFT) ^ c1 ^ k0
        n2 = (p0 >> _SHIFT) ^ c3 ^ k1
        c0, c1, c2, c3 = n0, p1 & _MASK, n2, p0 & _MASK
        k0 = (k0 + np.uint64(W0)) & _MASK
        k1 = (k1 + np.uint64(W1)) & _MASK
    return np.uint32(c0), np.uint32(c1), np.uint32(c2), np.uint32(c3)


_FAST = {"reassoc", "contract", "nsz", "arcp"}
# error_model="numpy": no Python ZeroDivisionError checks, so LLVM can vectorise the loops
# (AVX2: 8 lanes of Philox rounds, and of the polynomial log / sin / cos below).
_VEC = dict(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
_LN2 = np.float32(np.log(2.0))
_SQRT2 = np.float32(np.sqrt(2.0))
_HALF_PI = np.float32(np.pi / 2)


def scratch(n_max: int):
    """``(words (4, m) uint32, u (m,) float32, v (m,) float32, e (m,) float32, mant (m,) int32)``
    for draws of up to ``n_max`` values, ``m = ceil(n_max / 4)``."""
    m = (n_max + 3) // 4
    return (np.empty((4, m), np.uint32), np.empty(m, np.float32), np.empty(m, np.float32),
            np.empty(m, np.float32), np.empty(m, np.int32))


@njit(**_VEC)
def _words(c0, c1, c2, block0, k0, k1, m, words):
    """``words[:, j]`` = Philox4x32-10 of counter ``(c0, c1, c2, block0 + j)``, ``j < m``."""
    for j in range(m):
        w0, w1, w2, w3 = philox4x32(c0, c1, c2, block0 + j, k0, k1)
        words[0, j] = w0
        words[1, j] = w1
        words[2, j] = w2
        words[3, j] = w3


@njit(**_VEC)
def _log_inplace(u, e, mant, m):
    """``u[:m] ← log(u[:m])`` for positive normal float32 (exponent and mantissa from the bits;
    ``log`` of the mantissa in [√½, √2) by the atanh series to t⁹: relative error < 1e-9)."""
    bits = u.view(np.int32)
    for j in range(m):
        e[j] = np.float32((bits[j] >> 23) - 127)
        mant[j] = (bits[j] & 0x7FFFFF) | 0x3F800000
    x_all = mant.view(np.float32)
    for j in range(m):
        x = x_all[j]
        big = x > _SQRT2
        x = x * np.float32(0.5) if big else x
        k = e[j] + (np.float32(1.0) if big else np.float32(0.0))
        t = (x - np.float32(1.0)) / (x + np.float32(1.0))
        t2 = t * t
        poly = np.float32(1.0) + t2 * (np.float32(1 / 3) + t2 * (np.float32(0.2) + t2 * (np.float32(1 / 7) + t2 * np.float32(1 / 9))))
        u[j] = k * _LN2 + np.float32(2.0) * t * poly


@njit(**_VEC)
def _box_muller(words, a, b, u, v, e, mant, m, out, offset):
    """Normals from word rows ``a`` (radius) and ``b`` (angle) into ``out[offset:offset+m]``
    (cosine) and ``out[offset+m:offset+2m]`` (sine), as far as ``out`` reaches."""
    for j in range(m):
        u[j] = (np.float32(words[a, j]) + np.float32(1.0)) * np.float32(2.0**-32)  # (0, 1]
    _log_inplace(u, e, mant, m)
    n = out.shape[0]
    for j in range(m):
        r = np.sqrt(np.float32(-2.0) * u[j])
        quarter = np.float32(words[b, j] >> np.uint32(8)) * np.float32(2.0**-22)  # 4·angle/2π in [0, 4)
        q = np.int32(quarter)
        f = (quarter - np.float32(q)) * _HALF_PI
        f2 = f * f
        sn = f * (np.float32(1.0) - f2 * (np.float32(1 / 6) - f2 * (np.float32(1 / 120) - f2 * (
            np.float32(1 / 5040) - f2 * (np.float32(1 / 362880) - f2 * np.float32(1 / 39916800))))))
        cs = np.float32(1.0) - f2 * (np.float32(0.5) - f2 * (np.float32(1 / 24) - f2 * (np.float32(1 / 720) - f2 * (
            np.float32(1 / 40320) - f2 * np.float32(1 / 3628800)))))
        odd = np.float32(q & 1)
        even = np.float32(1.0) - odd
        cos_abs = even * cs + odd * sn  # rotate by q quarter turns
        sin_abs = even * sn + odd * cs
        sign_c = np.float32(1.0) - np.float32(2.0) * np.float32(((q + 1) >> 1) & 1)
        sign_s = np.float32(1.0) - np.float32(2.0) * np.float32(q >> 1)
        v[j] = r * sign_s * sin_abs
        u[j] = r * sign_c * cos_abs
    for j in range(min(m, max(0, n - offset))):
        out[offset + j] = u[j]
    for j in range(min(m, max(0, n - offset - m))):
        out[offset + m + j] = v[j]


@njit(cache=True, nogil=True)
def fill_normal(out, c0, c1, c2, block0, k0, k1, work):
    """``out`` (1-D float32, ``len(out) <= 4·m`` of ``work``) ← standard normals of the counters
    ``(c0, c1, c2, block0 + j)``, ``j < m = ceil(len/4)``: value ``i`` comes from lane ``i mod m``,
    Box–Muller on its words (0, 1) for ``i < 2m`` and (2, 3) after (cos first, then sin).
    Uniforms have 32 bits (radius) and 24 bits (angle), so ``|z| <= 6.7``."""
    words, u, v, e, mant = work
    m = (out.shape[0] + 3) // 4
    _words(c0, c1, c2, block0, k0, k1, m, words)
    _box_muller(words, 0, 1, u, v, e, mant, m, out, 0)
    _box_muller(words, 2, 3, u, v, e, mant, m, out, 2 * m)


@njit(**_VEC)
def fill_gumbel(out, c0, c1, c2, block0, k0, k1, work):
    """``out`` (1-D float32) ← standard Gumbel ``−log(−log u)`` of the counters
    ``(c0, c1, c2, block0 + j)``: value ``i`` from word ``i // m`` of lane ``i mod m``; ``u`` has 24 bits."""
    words, u, v, e, mant = work
    n = out.shape[0]
    m = (n + 3) // 4
    _words(c0, c1, c2, block0, k0, k1, m, words)
    for row in range(4):
        for j in range(m):
            u[j] = (np.float32(words[row, j] >> np.uint32(8)) + np.float32(0.5)) * np.float32(2.0**-24)  # (0, 1)
        _log_inplace(u, e, mant, m)
        for j in range(m):
            u[j] = -u[j]
        _log_inplace(u, e, mant, m)
        for j in range(min(m, max(0, n - row * m))):
            out[row * m + j] = -u[j]


def normal_block(n_examples, pairs, width, block0, first_example, k0, k1):
    """Normals ``(n_examples, pairs, width)`` float32 exactly as the GRLU kernel draws them (tests)."""
    out = np.empty((n_examples, pairs, width), np.float32)
    work = scratch(width)
    for i in range(n_examples):
        e = first_example + i
        for p in range(pairs):
            fill_normal(out[i, p], np.uint32(e & 0xFFFFFFFF), np.uint32(e >> 32), p, block0, k0, k1, work)
    return out


def gumbel_block(n_examples, pairs, width, block0, first_example, k0, k1):
    """Gumbel variates ``(n_examples, pairs, width)`` float32 as the GRLU kernel draws them (tests)."""
    out = np.empty((n_examples, pairs, width), np.float32)
    work = scratch(width)
    for i in range(n_examples):
        e = first_example + i
        for p in range(pairs):
            fill_gumbel(out[i, p], np.uint32(e & 0xFFFFFFFF), np.uint32(e >> 32), p, block0, k0, k1, work)
    return out


def key_from(rng: np.random.Generator) -> tuple[int, int]:
    """A Philox key (two uint32 words) drawn from ``rng``."""
    k = rng.integers(0, 2**32, size=2, dtype=np.uint64)
    return int(k[0]), int(k[1])
