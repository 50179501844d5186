"""Compiled GRLU step for networks with one hidden layer (``n_in → H → C``).

The same algorithm as :func:`neuro_grlu.rules.grlu.grlu_update_shared`, applied to a chunk of
examples in one call, so that batch size 1 pays no per-example Python or NumPy call
overhead. For each example the first layer's pre-activation ``z = W0·LN(x) + b0`` is computed
once; per pair only the ``H``-wide hidden vector, its two layer norms and two ``C × H``
matrix-vector products are evaluated, and the first layer's update is one outer product
``(Σ_p ε_p Δr_p) ⊗ LN(x)`` per example. Tested against the NumPy reference on the same noise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..network import LN_EPS
from ._philox import GUMBEL_BLOCK, OUTPUT_BLOCK, fill_gumbel, fill_normal

# Let LLVM reassociate and contract floating-point sums (SIMD dot products) but keep IEEE
# semantics for inf/NaN, which the log-softmax and the top-k selection rely on.
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, fastmath=_FAST)
def _kth_largest(values, scratch, count):
    """The ``count``-th largest entry of ``values`` (1-D), by quickselect on ``scratch``."""
    n = values.shape[0]
    for i in range(n):
        scratch[i] = values[i]
    target = n - count  # index in ascending order
    lo, hi = 0, n - 1
    while lo < hi:
        pivot = scratch[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while scratch[i] < pivot:
                i += 1
            while scratch[j] > pivot:
                j -= 1
            if i <= j:
                tmp = scratch[i]
                scratch[i] = scratch[j]
                scratch[j] = tmp
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:
            break
    return scratch[target]


@njit(cache=True, nogil=True, fastmath=_FAST)
def _layer_norm_into(src, dst):
    """``dst = (src - mean) / (std + 1e-8)``; float32 1-D; mean/std accumulated in float64."""
    n = src.shape[0]
    s = 0.0
    for i in range(n):
        s += src[i]
    mean = s / n
    v = 0.0
    for i in range(n):
        d = src[i] - mean
        v += d * d
    inv = 1.0 / (np.sqrt(v / n) + LN_EPS)
    for i in range(n):
        dst[i] = (src[i] - mean) * inv


@njit(cache=True, nogil=True, fastmath=_FAST)
def _grlu_chunk(W0, b0, W1, b1, x, y, eps0, eps1, gumbel, use_topk, count, input_noise, sigma, step, batch, rewards,
                use_philox, k0, k1, first_example):
    """Train on ``x`` ``(n, D)`` in batches; updates W0 ``(H, D)``, b0, W1 ``(C, H)``, b1 in place.

    eps0 ``(n, P, H)``, eps1 ``(n, P, C)``: unit-variance noise, scaled here by ``sigma``;
    gumbel ``(n, P, H)`` (ignored unless use_topk); ``input_noise``: the hidden noise enters
    before the activation (``noise_at = "input"``) instead of after it;
    ``rewards`` ``(n,)`` receives the mean of r₊ and r₋ over pairs for each example.
    ``use_philox``: ignore eps0/eps1/gumbel and draw the noise of example ``i`` and pair ``p``
    in place from Philox4x32 with key ``(k0, k1)`` and counter ``(first_example + i, p, block)``
    (:mod:`neuro_grlu.rules._philox`); ``P`` is then ``eps0.shape[1]`` all the same.
    """
    n, D = x.shape
    H, C, P = W0.shape[0], W1.shape[0], eps0.shape[1]
    lanes = (max(H, C) + 3) // 4
    work = (np.empty((4, lanes), np.uint32), np.empty(lanes, np.float32), np.empty(lanes, np.float32),
            np.empty(lanes, np.float32), np.empty(lanes, np.int32))
    n0 = np.empty(H, np.float32)
    n1 = np.empty(C, np.float32)
    gp = np.empty(H, np.float32)
    scale = np.float32(step / P)
    sig = np.float32(sigma)
    e0 = np.empty(H, np.float32)
    e1 = np.empty(C, np.float32)
    a0 = np.empty((batch, D), np.float32)
    u0 = np.empty((batch, H), np.float32)
    acc_W1 = np.zeros((C, H), np.float32)
    acc_b1 = np.zeros(C, np.float32)
    z0 = np.empty(H, np.float32)
    h = np.empty(H, np.float32)
    hp = np.empty(H, np.float32)
    hm = np.empty(H, np.float32)
    ap = np.empty(H, np.float32)
    am = np.empty(H, np.float32)
    scores = np.empty(H, np.float32)
    scratch = np.empty(H, np.float32)
    lp = np.empty(C, np.float64)
    lm = np.empty(C, np.float64)
    for start in range(0, n, batch):
        nb = min(batch, n - start)
        acc_W1[:, :] = 0.0
        acc_b1[:] = 0.0
        for j in range(nb):
            i = start + j
            _layer_norm_into(x[i], a0[j])
            for r in range(H):
                s = np.float32(0.0)
                for c in range(D):
                    s += W0[r, c] * a0[j, c]
                z0[r] = s + b0[r]
                h[r] = z0[r] if z0[r] > 0.0 else np.float32(0.0)
            u0[j, :] = 0.0
            total = 0.0
            label = y[i]
            for p in range(P):
                if use_philox:
                    e = first_example + i
                    lo, hi = np.uint32(e & 0xFFFFFFFF), np.uint32(e >> 32)
                    fill_normal(n0, lo, hi, p, 0, k0, k1, work)
                    fill_normal(n1, lo, hi, p, OUTPUT_BLOCK, k0, k1, work)
                    if use_topk:
                        fill_gumbel(gp, lo, hi, p, GUMBEL_BLOCK, k0, k1, work)
                else:
                    for r in range(H):
                        n0[r] = eps0[i, p, r]
                    for c in range(C):
                        n1[c] = eps1[i, p, c]
                    if use_topk:
                        for r in range(H):
                            gp[r] = gumbel[i, p, r]
                if input_noise:
                    for r in range(H):
                        e0[r] = sig * n0[r]
                        hp[r] = z0[r] + e0[r]
                        hm[r] = z0[r] - e0[r]
                    if use_topk:
                        for r in range(H):
                            scores[r] = hp[r] + gp[r]
                        thr = _kth_largest(scores, scratch, count)
                        for r in range(H):
                            if scores[r] < thr:
                                hp[r] = np.float32(0.0)
                        for r in range(H):
                            scores[r] = hm[r] + gp[r]
                        thr = _kth_largest(scores, scratch, count)
                        for r in range(H):
                            if scores[r] < thr:
                                hm[r] = np.float32(0.0)
                    else:
                        for r in range(H):
                            if hp[r] < 0.0:
                                hp[r] = np.float32(0.0)
                            if hm[r] < 0.0:
                                hm[r] = np.float32(0.0)
                else:
                    if use_topk:
                        for r in range(H):
                            scores[r] = z0[r] + gp[r]
                        thr = _kth_largest(scores, scratch, count)
                        for r in range(H):
                            h[r] = z0[r] if scores[r] >= thr else np.float32(0.0)
                    for r in range(H):
                        e0[r] = sig * n0[r]
                        hp[r] = h[r] + e0[r]
                        hm[r] = h[r] - e0[r]
                for c in range(C):
                    e1[c] = sig * n1[c]
                _layer_norm_into(hp, ap)
                _layer_norm_into(hm, am)
                mp = -np.inf
                mm = -np.inf
                for c in range(C):
                    sp = np.float32(0.0)
                    sm = np.float32(0.0)
                    for r in range(H):
                        sp += W1[c, r] * ap[r]
                        sm += W1[c, r] * am[r]
                    lp[c] = sp + b1[c] + e1[c]
                    lm[c] = sm + b1[c] - e1[c]
                    mp = max(mp, lp[c])
                    mm = max(mm, lm[c])
                sum_p = 0.0
                sum_m = 0.0
                for c in range(C):
                    sum_p += np.exp(lp[c] - mp)
                    sum_m += np.exp(lm[c] - mm)
                r_plus = lp[label] - mp - np.log(sum_p)
                r_minus = lm[label] - mm - np.log(sum_m)
                total += r_plus + r_minus
                dr = np.float32(0.5 * (r_plus - r_minus))
                for r in range(H):
                    u0[j, r] += e0[r] * dr
                for c in range(C):
                    g = e1[c] * dr
                    acc_b1[c] += g
                    half_g = np.float32(0.5) * g
                    for r in range(H):
                        acc_W1[c, r] += half_g * (ap[r] + am[r])
            rewards[i] = total / (2 * P)
        for j in range(nb):
            for r in range(H):
                g = scale * u0[j, r]
                b0[r] += g
                for c in range(D):
                    W0[r, c] += g * a0[j, c]
        for c in range(C):
            b1[c] += scale * acc_b1[c]
            for r in range(H):
                W1[c, r] += scale * acc_W1[c, r]


def train_chunk_1hidden(
    net, x, y, noise, sigma: float, step: float, batch_size: int, noise_at: str = "output", philox=None
) -> np.ndarray:
    """Run :func:`_grlu_chunk` on a :class:`~neuro_grlu.network.Network` in place.

    ``x`` float32 ``(n, n_in)``, ``y`` int ``(n,)``; ``noise`` unit-scale
    :class:`~neuro_grlu.rules.grlu.PerturbationNoise` for the ``n`` examples, multiplied by
    ``sigma`` on use; ``noise_at`` as in :class:`~neuro_grlu.rules.grlu.GRLUParams`.
    ``philox = (pairs, k0, k1, first_example)``: draw the noise in the kernel instead
    (``noise`` is then ignored and may be None). Returns the reward per example ``(n,)``.
    """
    arch = net.arch
    n = len(x)
    rewards = np.empty(n, np.float64)
    use_topk = arch.activation == "topk"
    if philox is None:
        eps0, eps1 = noise.eps
        gumbel = noise.gumbel[0] if use_topk else np.empty((1, 1, 1), np.float32)
        key = (0, 0, 0)
    else:
        pairs, k0, k1, first = philox
        eps0 = eps1 = gumbel = np.empty((1, pairs, 1), np.float32)  # only the pair count is read
        key = (k0, k1, first)
    _grlu_chunk(
        net.W[0], net.b[0], net.W[1], net.b[1],
        np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.int64),
        eps0, eps1, gumbel,
        use_topk, arch.topk_count(0), noise_at == "input", float(sigma), float(step), int(batch_size), rewards,
        philox is not None, np.uint32(key[0]), np.uint32(key[1]), np.int64(key[2]),
    )
    return rewards
