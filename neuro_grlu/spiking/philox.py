"""Counter-based noise: Philox4x32-10 (Salmon et al. 2011, Random123) for every Brian2 target.

A counter-based generator turns ``(counter, key)`` into random bits with a fixed
bijection, so the value for neuron ``i`` at time step ``n`` is a pure function of
``(seed, stream, n, i)``: no generator state, the same number on every code-generation
target (runtime/Cython, NumPy, C++ standalone), in any evaluation order and with any
number of threads, and nothing seed-dependent in the generated code (the seed is a
variable, set in standalone mode through ``run_args``).

Layout (all words uint32): one Philox block serves four neurons::

    counter = (n mod 2**32, n div 2**32, i div 4, stream)    key = (seed mod 2**32, 0)
    x = philox4x32_10(counter, key)[i mod 4]
    u = x / 2**32                                          # uniform on [0, 1), 32 bits

The C++ implementation fills the blocks of 64 x 4 consecutive neurons at a time in a
loop the compiler vectorises (AVX2: 4 blocks per instruction) and answers the next
calls of the same step from that table (one per thread), so a value costs about as
much as one Mersenne-twister draw; the Cython and NumPy versions compute the block per
call. All give the same numbers.

Algorithm (Random123 ``philox.h``): ten rounds of
``(c0, c1, c2, c3) <- (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0))``
with ``M0 = 0xD2511F53``, ``M1 = 0xCD9E8D57``; the key is bumped by
``(0x9E3779B9, 0xBB67AE85)`` between rounds. Known answers: :data:`KNOWN_ANSWERS`
(Random123 ``tests/kat_vectors``).

Public
------
:func:`philox4x32_10`  reference block function (NumPy, vectorised)
:func:`uniform`        ``u(seed, stream, step, index)`` in NumPy
:func:`brian2_uniform` Brian2 ``Function`` ``philox_uniform(seed, stream, step, index)``
:func:`brian2_word`    Brian2 ``Function`` ``philox_word(c0, c1, c2, c3, k0, k1, w)`` (tests)
"""

from __future__ import annotations

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10
MASK32 = 0xFFFFFFFF

#: Random123 ``tests/kat_vectors``, the three ``philox4x32 10`` lines: counter, key, result.
KNOWN_ANSWERS = (
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
)


def philox4x32_10(counter, key):
    """Philox4x32-10 block function.

    Parameters
    ----------
    counter : sequence of 4 array-likes of integers (each broadcastable; values mod 2**32)
    key : sequence of 2 array-likes of integers

    Returns
    -------
    tuple of 4 ndarrays of dtype uint64 holding the uint32 output words.
    """
    c = [np.asarray(x, dtype=np.int64).astype(np.uint64) & np.uint64(MASK32) for x in counter]
    c = np.broadcast_arrays(*c)
    c0, c1, c2, c3 = (x.copy() for x in c)
    k0 = np.asarray(key[0], dtype=np.int64).astype(np.uint64) & np.uint64(MASK32)
    k1 = np.asarray(key[1], dtype=np.int64).astype(np.uint64) & np.uint64(MASK32)
    m0, m1, mask, s32 = np.uint64(M0), np.uint64(M1), np.uint64(MASK32), np.uint64(32)
    for r in range(ROUNDS):
        if r:
            k0 = (k0 + np.uint64(W0)) & mask
            k1 = (k1 + np.uint64(W1)) & mask
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = ((p1 >> s32) ^ c1 ^ k0, p1 & mask, (p0 >> s32) ^ c3 ^ k1, p0 & mask)
    return c0, c1, c2, c3


def uniform(seed, stream, step, index) -> np.ndarray:
    """Uniform values on [0, 1) for ``(seed, stream, step, index)`` (broadcast; float64)."""
    step = np.asarray(step, dtype=np.int64)
    index = np.asarray(index, dtype=np.int64)
    words = philox4x32_10((step & MASK32, step >> 32, index >> 2, stream), (seed, 0))
    word = np.broadcast_to(index & 3, words[0].shape)
    return np.choose(word, words).astype(np.float64) * (1.0 / 4294967296.0)


# -- C++ and Cython implementations (the same arithmetic) --------------------------------

_CPP_CORE = """
#ifndef NEURO_GRLU_PHILOX
#define NEURO_GRLU_PHILOX
#include <stdint.h>
static inline void _philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        const uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
        const uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = n0; c[1] = (uint32_t)p1; c[2] = n2; c[3] = (uint32_t)p0;
    }
}
#endif
"""

_CPP_UNIFORM = _CPP_CORE + """
#ifndef NEURO_GRLU_PHILOX_UNIFORM
#define NEURO_GRLU_PHILOX_UNIFORM
#define NEURO_GRLU_PHILOX_FILL 64
struct _PhiloxTable { int64_t seed, stream, step, first; uint32_t w[4][NEURO_GRLU_PHILOX_FILL]; };
// blocks first .. first + FILL - 1 of one step; a plain loop over independent blocks (vectorised)
static inline void _philox_fill(_PhiloxTable& f)
{
    const uint32_t s0 = (uint32_t)f.step, s1 = (uint32_t)((uint64_t)f.step >> 32), st = (uint32_t)f.stream;
    const uint32_t key0 = (uint32_t)f.seed, b0 = (uint32_t)f.first;
    for (int j = 0; j < NEURO_GRLU_PHILOX_FILL; j++) {
        uint32_t c0 = s0, c1 = s1, c2 = b0 + (uint32_t)j, c3 = st, k0 = key0, k1 = 0u;
        for (int r = 0; r < 10; r++) {
            const uint64_t p0 = (uint64_t)0xD2511F53u * c0;
            const uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
            const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c0 = n0; c1 = (uint32_t)p1; c2 = n2; c3 = (uint32_t)p0;
            k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
        }
        f.w[0][j] = c0; f.w[1][j] = c1; f.w[2][j] = c2; f.w[3][j] = c3;
    }
}
static inline double philox_uniform(const int64_t seed, const int64_t stream, const int64_t step, const int64_t index)
{
    static thread_local _PhiloxTable f = {-1, -1, -1, -1, {{0}}};
    const int64_t block = index >> 2;
    if (step != f.step || block < f.first || block >= f.first + NEURO_GRLU_PHILOX_FILL
            || seed != f.seed || stream != f.stream) {
        f.seed = seed; f.stream = stream; f.step = step;
        f.first = block & ~(int64_t)(NEURO_GRLU_PHILOX_FILL - 1);
        _philox_fill(f);
    }
    return (double)f.w[index & 3][block - f.first] * (1.0 / 4294967296.0);
}
#endif
"""

_CPP_WORD = _CPP_CORE + """
static inline double philox_word(const int64_t c0, const int64_t c1, const int64_t c2, const int64_t c3,
                                 const int64_t k0, const int64_t k1, const int64_t w)
{
    uint32_t c[4] = {(uint32_t)c0, (uint32_t)c1, (uint32_t)c2, (uint32_t)c3};
    _philox4x32_10(c, (uint32_t)k0, (uint32_t)k1);
    return (double)c[w & 3];
}
"""

_CYTHON_CORE = """
cdef inline void _philox4x32_10(unsigned int* c, unsigned int k0, unsigned int k1) noexcept nogil:
    cdef int r
    cdef unsigned long long p0, p1
    cdef unsigned int n0, n2
    for r in range(10):
        if r:
            k0 = k0 + 0x9E3779B9u
            k1 = k1 + 0xBB67AE85u
        p0 = (<unsigned long long>0xD2511F53u) * c[0]
        p1 = (<unsigned long long>0xCD9E8D57u) * c[2]
        n0 = (<unsigned int>(p1 >> 32)) ^ c[1] ^ k0
        n2 = (<unsigned int>(p0 >> 32)) ^ c[3] ^ k1
        c[0] = n0
        c[1] = <unsigned int>p1
        c[2] = n2
        c[3] = <unsigned int>p0
"""

_CYTHON_UNIFORM = _CYTHON_CORE + """
cdef inline double philox_uniform(long long seed, long long stream, long long step, long long index) noexcept nogil:
    cdef unsigned int c[4]
    c[0] = <unsigned int>(<unsigned long long>step & 0xFFFFFFFFu)
    c[1] = <unsigned int>((<unsigned long long>step) >> 32)
    c[2] = <unsigned int>((<unsigned long long>index >> 2) & 0xFFFFFFFFu)
    c[3] = <unsigned int>(<unsigned long long>stream & 0xFFFFFFFFu)
    _philox4x32_10(c, <unsigned int>(<unsigned long long>seed & 0xFFFFFFFFu), 0u)
    return (<double>c[index & 3]) * (1.0 / 4294967296.0)
"""

_CYTHON_WORD = _CYTHON_CORE + """
cdef inline double philox_word(long long c0, long long c1, long long c2, long long c3,
                               long long k0, long long k1, long long w) noexcept nogil:
    cdef unsigned int c[4]
    c[0] = <unsigned int>(<unsigned long long>c0 & 0xFFFFFFFFu)
    c[1] = <unsigned int>(<unsigned long long>c1 & 0xFFFFFFFFu)
    c[2] = <unsigned int>(<unsigned long long>c2 & 0xFFFFFFFFu)
    c[3] = <unsigned int>(<unsigned long long>c3 & 0xFFFFFFFFu)
    _philox4x32_10(c, <unsigned int>(<unsigned long long>k0 & 0xFFFFFFFFu),
                   <unsigned int>(<unsigned long long>k1 & 0xFFFFFFFFu))
    return <double>c[w & 3]
"""


def _numpy_word(c0, c1, c2, c3, k0, k1, w):
    out = philox4x32_10((c0, c1, c2, c3), (k0, k1))
    w = np.broadcast_to(np.asarray(w) & 3, out[0].shape)
    return np.choose(w, out).astype(np.float64)


def brian2_uniform():
    """Brian2 ``Function`` ``philox_uniform(seed, stream, step, index)`` -> float in [0, 1).

    All four arguments are dimensionless integers; ``step`` is usually
    ``t_in_timesteps`` and ``index`` the neuron index ``i``. Implemented for the C++
    (standalone), Cython (runtime) and NumPy targets with identical results.
    """
    from brian2 import Function

    f = Function(lambda seed, stream, step, index: uniform(seed, stream, step, index),
                 arg_units=[1, 1, 1, 1], return_unit=1, arg_types=["integer"] * 4, return_type="float",
                 stateless=True)
    f.implementations.add_implementation("cpp", code=_CPP_UNIFORM, name="philox_uniform")
    f.implementations.add_implementation("cython", code=_CYTHON_UNIFORM, name="philox_uniform")
    return f


def brian2_word():
    """Brian2 ``Function`` ``philox_word(c0, c1, c2, c3, k0, k1, w)``: output word ``w`` (0-3) of
    Philox4x32-10 as a float (exact, < 2**32); arguments are integers taken mod 2**32."""
    from brian2 import Function

    f = Function(_numpy_word, arg_units=[1] * 7, return_unit=1, arg_types=["integer"] * 7,
                 return_type="float", stateless=True)
    f.implementations.add_implementation("cpp", code=_CPP_WORD, name="philox_word")
    f.implementations.add_implementation("cython", code=_CYTHON_WORD, name="philox_word")
    return f
