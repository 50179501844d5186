"""Compiled GRLU step for networks with one hidden layer (``n_in → H → C``).

The same algorithm as :func:`neuro_grlu.rules.grlu.grlu_update_shared`, applied to a chunk of
examples in one call, so that batch size 1 pays no per-example Python or NumPy call
overhead. For each example the first layer's pre-activation ``z = W0·LN(x) + b0`` is computed
once; per pair only the ``H``-wide hidden vector, its two layer norms and two ``C × H``
matrix-vector products are evaluated, and the first layer's update is one outer product
``(Σ_p ε_p Δr_p) ⊗ LN(x)`` per example. Tested against the NumPy reference on the same noise.

With ``threads > 1`` the work runs on numba's thread pool: the pairs of an example in blocks
(each block sums its pairs in order; the block sums are added in block order) and the rows of
the update and of the next example's pre-activation (row-local, so any split gives the same
numbers). The result therefore depends on the pair block (:data:`PHILOX_PAIR_BLOCK` pairs with
Philox noise; all pairs in one block with NumPy noise, which reproduces the former
single-threaded kernel and the stored runs bit for bit) but not on the thread count.
"""

from __future__ import annotations

import types

import numba
import numpy as np
from numba import njit, prange

from ..network import LN_EPS
from ._philox import GUMBEL_BLOCK, OUTPUT_BLOCK, fill_gumbel, fill_normal

# Let LLVM reassociate and contract floating-point sums (SIMD dot products) but keep IEEE
# semantics for inf/NaN, which the log-softmax and the top-k selection rely on.
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, error_model="numpy")
def _kth_largest(values, scratch, count):
    """The ``count``-th largest entry of ``values`` (1-D float32), exactly, by radix selection:
    the floats become order-preserving uint32 keys in ``scratch`` (a float32 array as long as
    ``values``), and four passes of 256-bucket counts fix the key byte by byte. No data-dependent
    branches (a quickselect on random scores mispredicts most of its comparisons)."""
    n = values.shape[0]
    bits = values.view(np.uint32)
    keys = scratch.view(np.uint32)
    for i in range(n):
        b = bits[i]
        keys[i] = (b ^ np.uint32(0x80000000)) if (b >> np.uint32(31)) == 0 else ~b
    hist = np.empty(256, np.int64)
    rank = n - count  # index in ascending order
    prefix = np.uint32(0)
    mask = np.uint32(0)
    for shift in (24, 16, 8, 0):
        hist[:] = 0
        sh = np.uint32(shift)
        for i in range(n):
            k = keys[i]
            hist[(k >> sh) & np.uint32(255)] += np.int64((k & mask) == prefix)
        below = 0
        d = 0
        while below + hist[d] <= rank:
            below += hist[d]
            d += 1
        rank -= below
        prefix |= np.uint32(d) << sh
        mask |= np.uint32(255) << sh
    keys[0] = (prefix ^ np.uint32(0x80000000)) if (prefix >> np.uint32(31)) == 1 else ~prefix
    return scratch[0]


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


#: Pairs per block of the Philox path: the blocks of an example run in parallel and each sums
#: its own pairs in order; the block sums are added in block order, so results do not depend on
#: the number of threads. The NumPy-noise path keeps one block (the former kernel's sums, bit for bit).
PHILOX_PAIR_BLOCK = 16


@njit(cache=True, nogil=True, fastmath=_FAST)
def _pair_block(p_lo, p_hi, j, z0, h, W1, b1, label, eps0, eps1, gumbel, i, use_topk, count, input_noise, sig,
                use_philox, k0, k1, first_example, u0, acc_W1, acc_b1):
    """Pairs ``p_lo:p_hi`` of example ``i`` (row ``j`` of its batch), in order: both noisy runs of
    the readout from the shared pre-activation ``z0`` (``h`` = its ReLU). Sets ``u0[j]`` to
    ``Σ_p ε_p Δr_p`` and adds ``½ Σ_p G_p ⊗ (LN(h₊) + LN(h₋))`` to ``acc_W1`` and ``Σ_p G_p`` to
    ``acc_b1`` (``G_p = ε_out,p Δr_p``); returns ``Σ_p (r₊ + r₋)``. Its scratch arrays are its own,
    so blocks can run on different threads."""
    H, C = W1.shape[1], W1.shape[0]
    lanes = (max(H, C) + 3) // 4
    work = (np.empty((4, lanes), np.uint32), np.empty(lanes, np.float32), np.empty(lanes, np.float32),
            np.empty(lanes, np.float32), np.empty(lanes, np.int32))
    n0 = np.empty(H, np.float32)
    n1 = np.empty(C, np.float32)
    gp = np.empty(H, np.float32)
    e0 = np.empty(H, np.float32)
    e1 = np.empty(C, np.float32)
    hh = np.empty(H, np.float32)
    hp = np.empty(H, np.float32)
    hm = np.empty(H, np.float32)
    ap = np.empty(H, np.float32)
    am = np.empty(H, np.float32)
    scores = np.empty(H, np.float32)
    scratch = np.empty(H, np.float32)
    lp = np.empty(C, np.float64)
    lm = np.empty(C, np.float64)
    u0[j, :] = 0.0
    total = 0.0
    for p in range(p_lo, p_hi):
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
            hq = h
            if use_topk:
                for r in range(H):
                    scores[r] = z0[r] + gp[r]
                thr = _kth_largest(scores, scratch, count)
                for r in range(H):
                    hh[r] = z0[r] if scores[r] >= thr else np.float32(0.0)
                hq = hh
            for r in range(H):
                e0[r] = sig * n0[r]
                hp[r] = hq[r] + e0[r]
                hm[r] = hq[r] - e0[r]
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
    return total


@njit(cache=True, nogil=True, fastmath=_FAST)
def _rows_update_forward(r_lo, r_hi, W0, b0, W1, scale, u0, a0, nb, acc_W1, a0_next, nb_next, z0):
    """Rows ``r_lo:r_hi``: apply the batch's updates (``nb`` examples, in order; the sums of the
    pair blocks ``u0[:, :nb]``, ``acc_W1``, added in block order) to W0, b0 and W1's columns,
    clear those sums, then the next batch's pre-activations ``z0[:nb_next]`` from the updated
    rows (one pass over each row of W0 for both)."""
    D, C, nblocks = W0.shape[1], W1.shape[0], u0.shape[0]
    for r in range(r_lo, r_hi):
        for j in range(nb):
            u = u0[0, j, r]
            for k in range(1, nblocks):
                u += u0[k, j, r]
            g = scale * u
            b0[r] += g
            for c in range(D):
                W0[r, c] += g * a0[j, c]
        for j in range(nb_next):
            s = np.float32(0.0)
            for c in range(D):
                s += W0[r, c] * a0_next[j, c]
            z0[j, r] = s + b0[r]
    if nb > 0:  # W1's columns r_lo:r_hi, along its rows (contiguous)
        for c in range(C):
            if nblocks > 1:
                for k in range(1, nblocks):
                    for r in range(r_lo, r_hi):
                        acc_W1[0, c, r] += acc_W1[k, c, r]
                        acc_W1[k, c, r] = np.float32(0.0)
            for r in range(r_lo, r_hi):
                W1[c, r] += scale * acc_W1[0, c, r]
                acc_W1[0, c, r] = np.float32(0.0)


def _grlu_chunk_py(W0, b0, W1, b1, x, y, eps0, eps1, gumbel, use_topk, count, input_noise, sigma, step, batch, rewards,
                use_philox, k0, k1, first_example, pair_block, threads):
    """Train on ``x`` ``(n, D)`` in batches; updates W0 ``(H, D)``, b0, W1 ``(C, H)``, b1 in place.

    eps0 ``(n, P, H)``, eps1 ``(n, P, C)``: unit-variance noise, scaled here by ``sigma``;
    gumbel ``(n, P, H)`` (ignored unless use_topk); ``input_noise``: the hidden noise enters
    before the activation (``noise_at = "input"``) instead of after it;
    ``rewards`` ``(n,)`` receives the mean of r₊ and r₋ over pairs for each example.
    ``use_philox``: ignore eps0/eps1/gumbel and draw the noise of example ``i`` and pair ``p``
    in place from Philox4x32 with key ``(k0, k1)`` and counter ``(first_example + i, p, block)``
    (:mod:`neuro_grlu.rules._philox`); ``P`` is then ``eps0.shape[1]`` all the same.

    Numba threads (``threads`` of them) share the work: the pair blocks of an example
    (``pair_block`` pairs each, summed in pair order; the block sums added in block order) and
    the rows of the weight update and the next forward pass (row by row, so any split gives the
    same numbers). The result depends on ``pair_block`` but not on ``threads``; with
    ``pair_block >= P`` it is the former single-threaded kernel's, bit for bit.
    """
    n, D = x.shape
    H, C, P = W0.shape[0], W1.shape[0], eps0.shape[1]
    nblocks = (P + pair_block - 1) // pair_block
    nr = min(H, threads)  # row ranges
    u0 = np.empty((nblocks, batch, H), np.float32)
    acc_W1 = np.zeros((nblocks, C, H), np.float32)
    acc_b1 = np.zeros((nblocks, C), np.float32)
    totals = np.empty(nblocks, np.float64)
    scale = np.float32(step / P)
    sig = np.float32(sigma)
    a0 = np.empty((batch, D), np.float32)
    a0_next = np.empty((batch, D), np.float32)
    z0 = np.empty((batch, H), np.float32)
    h = np.empty(H, np.float32)
    nb = min(batch, n)
    for j in range(nb):  # the first batch's pre-activations
        _layer_norm_into(x[j], a0[j])
    for t in prange(nr):
        _rows_update_forward(t * H // nr, (t + 1) * H // nr, W0, b0, W1, scale, u0, a0, 0, acc_W1, a0, nb, z0)
    for start in range(0, n, batch):
        nb = min(batch, n - start)
        nb_next = min(batch, max(0, n - start - batch))
        for j in range(nb_next):
            _layer_norm_into(x[start + batch + j], a0_next[j])
        for j in range(nb):
            i = start + j
            for r in range(H):
                h[r] = z0[j, r] if z0[j, r] > 0.0 else np.float32(0.0)
            for k in prange(nblocks):
                totals[k] = _pair_block(k * pair_block, min(P, (k + 1) * pair_block), j, z0[j], h, W1, b1, y[i],
                                        eps0, eps1, gumbel, i, use_topk, count, input_noise, sig, use_philox,
                                        k0, k1, first_example, u0[k], acc_W1[k], acc_b1[k])
            total = totals[0]
            for k in range(1, nblocks):
                total += totals[k]
            rewards[i] = total / (2 * P)
        for t in prange(nr):  # the batch's updates, then the next batch's pre-activations
            _rows_update_forward(t * H // nr, (t + 1) * H // nr, W0, b0, W1, scale, u0, a0, nb, acc_W1,
                                 a0_next, nb_next, z0)
        for c in range(C):
            a = acc_b1[0, c]
            for k in range(1, nblocks):
                a += acc_b1[k, c]
            b1[c] += scale * a
            for k in range(nblocks):
                acc_b1[k, c] = np.float32(0.0)
        a0, a0_next = a0_next, a0


def _compiled(fn, name: str, **flags):
    """``fn`` compiled under its own name (own cache entry), e.g. once with ``parallel=True``."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = fn.__doc__
    return njit(cache=True, nogil=True, fastmath=_FAST, **flags)(copy)


#: The kernel on numba's threads, and on the calling thread only (``prange`` is then ``range``:
#: no thread-pool launches, which cost much on a loaded machine).
_grlu_chunk = _compiled(_grlu_chunk_py, "_grlu_chunk", parallel=True)
_grlu_chunk_serial = _compiled(_grlu_chunk_py, "_grlu_chunk_serial")


def train_chunk_1hidden(
    net, x, y, noise, sigma: float, step: float, batch_size: int, noise_at: str = "output", philox=None,
    pair_block: int | None = None, threads: int | None = None,
) -> np.ndarray:
    """Run :func:`_grlu_chunk` on a :class:`~neuro_grlu.network.Network` in place.

    ``x`` float32 ``(n, n_in)``, ``y`` int ``(n,)``; ``noise`` unit-scale
    :class:`~neuro_grlu.rules.grlu.PerturbationNoise` for the ``n`` examples, multiplied by
    ``sigma`` on use; ``noise_at`` as in :class:`~neuro_grlu.rules.grlu.GRLUParams`.
    ``philox = (pairs, k0, k1, first_example)``: draw the noise in the kernel instead
    (``noise`` is then ignored and may be None). ``pair_block``: pairs per parallel block
    (default: all pairs in one block with NumPy noise, which reproduces the stored runs bit for
    bit; :data:`PHILOX_PAIR_BLOCK` with Philox). ``threads`` (default 1): above 1 the kernel runs
    on ``threads`` threads of numba's pool (``NUMBA_NUM_THREADS`` if fewer; a launch per example
    and per batch, which costs much on a loaded machine); it does not change the result. Returns the reward per example ``(n,)``.
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
    pairs = eps0.shape[1]
    block = pair_block or (pairs if philox is None else PHILOX_PAIR_BLOCK)
    threads = 1 if threads is None else threads
    args = (
        net.W[0], net.b[0], net.W[1], net.b[1],
        np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.int64),
        eps0, eps1, gumbel,
        use_topk, arch.topk_count(0), noise_at == "input", float(sigma), float(step), int(batch_size), rewards,
        philox is not None, np.uint32(key[0]), np.uint32(key[1]), np.int64(key[2]), int(block), int(threads),
    )
    if threads <= 1:
        _grlu_chunk_serial(*args)
        return rewards
    # Every prange of the kernel runs on at most ``threads`` threads (the pair-block loop has more
    # iterations than that); numba's setting is per calling thread, restored afterwards.
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        _grlu_chunk(*args)
    finally:
        numba.set_num_threads(previous)
    return rewards
