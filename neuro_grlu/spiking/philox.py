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

C++ (standalone): the blocks are computed eight at a time with AVX2 (each 32-bit word in
a 64-bit lane, so one ``vpmuludq`` makes four of the 32x32 -> 64-bit products; a scalar
loop without AVX2 gives the same numbers) and converted to doubles exactly. The neurons'
input noise uses the pair :func:`brian2_step_table`: ``philox_prepare`` has only scalar
arguments, so Brian2 calls it once before the loop over the neurons and it fills the
step's N values in one pass; ``philox_table`` is then a plain array read (no test, no
call in that loop). ``philox_uniform`` alone (any call pattern) keeps a per-thread table of the
256 blocks around the last index and refills it when the step or the range changes.
The Cython and NumPy versions compute the block per call. All give the same numbers.

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
:func:`brian2_step_table` Brian2 ``Function`` pair ``philox_prepare``/``philox_table`` (one value
                       per neuron and step, the same numbers as ``philox_uniform``)
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

_CPP_FILL = _CPP_CORE + """
#ifndef NEURO_GRLU_PHILOX_FILL_RANGE
#define NEURO_GRLU_PHILOX_FILL_RANGE
#if defined(__AVX2__)
#include <immintrin.h>
#endif
// The uniforms of blocks b0 .. b0 + nblocks - 1 of (step, stream, key) into out[4*(b - b0) + word].
// AVX2: 8 blocks per pass in two independent groups of 4; each 32-bit word sits in a 64-bit lane,
// so one vpmuludq makes four 32x32 -> 64-bit products and the rounds need no shuffles.
static inline void _philox_fill_range(const uint64_t step, const uint32_t stream, const uint32_t key,
                                      const uint32_t b0, const int64_t nblocks, double* __restrict out)
{
    const uint32_t s0 = (uint32_t)step, s1 = (uint32_t)(step >> 32);
    int64_t j = 0;
#if defined(__AVX2__)
    const __m256i m0 = _mm256_set1_epi64x(0xD2511F53u), m1 = _mm256_set1_epi64x(0xCD9E8D57u);
    const __m256i lo = _mm256_set1_epi64x(0xFFFFFFFFu), exp52 = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d two52 = _mm256_set1_pd(4503599627370496.0), scale = _mm256_set1_pd(1.0 / 4294967296.0);
    const __m256i c0i = _mm256_set1_epi64x(s0), c1i = _mm256_set1_epi64x(s1), c3i = _mm256_set1_epi64x(stream);
    for (; j + 8 <= nblocks; j += 8) {
        const uint32_t b = b0 + (uint32_t)j;
        __m256i a0 = c0i, a1 = c1i, a3 = c3i, e0 = c0i, e1 = c1i, e3 = c3i;
        __m256i a2 = _mm256_set_epi64x((uint32_t)(b + 3u), (uint32_t)(b + 2u), (uint32_t)(b + 1u), b);
        __m256i e2 = _mm256_set_epi64x((uint32_t)(b + 7u), (uint32_t)(b + 6u), (uint32_t)(b + 5u), (uint32_t)(b + 4u));
        uint32_t k0 = key, k1 = 0u;
        for (int r = 0; r < 10; r++) {
            const __m256i K0 = _mm256_set1_epi64x(k0), K1 = _mm256_set1_epi64x(k1);
            const __m256i p0 = _mm256_mul_epu32(a0, m0), p1 = _mm256_mul_epu32(a2, m1);
            const __m256i q0 = _mm256_mul_epu32(e0, m0), q1 = _mm256_mul_epu32(e2, m1);
            a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), a1), K0);
            a2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), a3), K1);
            a1 = _mm256_and_si256(p1, lo); a3 = _mm256_and_si256(p0, lo);
            e0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(q1, 32), e1), K0);
            e2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(q0, 32), e3), K1);
            e1 = _mm256_and_si256(q1, lo); e3 = _mm256_and_si256(q0, lo);
            k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
        }
        const __m256i words[8] = {a0, a1, a2, a3, e0, e1, e2, e3};
        for (int g = 0; g < 2; g++) {
            __m256d d[4];
            for (int w = 0; w < 4; w++)  // x < 2**32 exactly: (2**52 + x) - 2**52
                d[w] = _mm256_mul_pd(_mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(words[4 * g + w], exp52)),
                                                   two52), scale);
            const __m256d t0 = _mm256_unpacklo_pd(d[0], d[1]), t1 = _mm256_unpackhi_pd(d[0], d[1]);
            const __m256d t2 = _mm256_unpacklo_pd(d[2], d[3]), t3 = _mm256_unpackhi_pd(d[2], d[3]);
            double* o = out + 4 * (j + 4 * g);
            _mm256_storeu_pd(o, _mm256_permute2f128_pd(t0, t2, 0x20));
            _mm256_storeu_pd(o + 4, _mm256_permute2f128_pd(t1, t3, 0x20));
            _mm256_storeu_pd(o + 8, _mm256_permute2f128_pd(t0, t2, 0x31));
            _mm256_storeu_pd(o + 12, _mm256_permute2f128_pd(t1, t3, 0x31));
        }
    }
#endif
    for (; j < nblocks; j++) {
        uint32_t c[4] = {s0, s1, b0 + (uint32_t)j, stream};
        _philox4x32_10(c, key, 0u);
        for (int w = 0; w < 4; w++)
            out[4 * j + w] = (double)c[w] * (1.0 / 4294967296.0);
    }
}
#endif
"""

_CPP_UNIFORM = _CPP_FILL + """
#ifndef NEURO_GRLU_PHILOX_UNIFORM
#define NEURO_GRLU_PHILOX_UNIFORM
#define NEURO_GRLU_PHILOX_BLOCKS 256
// the uniforms of blocks first .. first + BLOCKS - 1 of one step (one table per thread)
struct _PhiloxTable { int64_t seed, stream, step, first; double u[4 * NEURO_GRLU_PHILOX_BLOCKS]; };
static inline double philox_uniform(const int64_t seed, const int64_t stream, const int64_t step, const int64_t index)
{
    static thread_local _PhiloxTable f = {-1, -1, -1, 0, {0}};
    uint64_t v = (uint64_t)(index - 4 * f.first);
    if (__builtin_expect(step != f.step || v >= 4 * NEURO_GRLU_PHILOX_BLOCKS || seed != f.seed || stream != f.stream, 0)) {
        f.seed = seed; f.stream = stream; f.step = step;
        f.first = (index >> 2) & ~(int64_t)(NEURO_GRLU_PHILOX_BLOCKS - 1);
        _philox_fill_range((uint64_t)step, (uint32_t)stream, (uint32_t)seed, (uint32_t)f.first, NEURO_GRLU_PHILOX_BLOCKS, f.u);
        v = (uint64_t)(index - 4 * f.first);
    }
    return f.u[v];
}
#endif
"""

#: Number of step tables (:func:`brian2_step_table`): distinct (seed, stream, step, n) one code object may use.
STEP_SLOTS = 4

_CPP_STEP = _CPP_FILL + """
#ifndef NEURO_GRLU_PHILOX_STEP
#define NEURO_GRLU_PHILOX_STEP
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#define NEURO_GRLU_PHILOX_SLOTS %d
// the uniforms of indices 0 .. n - 1 of one (seed, stream, step), filled by philox_prepare
struct _PhiloxSlot { int64_t seed, stream, step, n; std::vector<double> u; };
static _PhiloxSlot _philox_slots[NEURO_GRLU_PHILOX_SLOTS] = {{-1, -1, -1, -1, {}}, {-1, -1, -1, -1, {}},
                                                             {-1, -1, -1, -1, {}}, {-1, -1, -1, -1, {}}};
static inline int32_t philox_prepare(const int64_t seed, const int64_t stream, const int64_t step, const int64_t n)
{
    int32_t found = -1;
#ifdef _OPENMP
    #pragma omp critical(neuro_grlu_philox)
#endif
    {
        int32_t stale = -1;
        for (int32_t k = 0; k < NEURO_GRLU_PHILOX_SLOTS && found < 0; k++) {
            const _PhiloxSlot& s = _philox_slots[k];
            if (s.seed == seed && s.stream == stream && s.step == step && s.n >= n)
                found = k;
            else if (stale < 0 && s.step != step)
                stale = k;
        }
        if (found < 0) {
            static int32_t next = 0;  // all slots hold this step: reuse them in turn
            found = stale >= 0 ? stale : (next++ %% NEURO_GRLU_PHILOX_SLOTS);
            _PhiloxSlot& s = _philox_slots[found];
            const int64_t blocks = (n + 3) >> 2;
            if ((int64_t)s.u.size() < 4 * blocks)
                s.u.resize(4 * blocks);
            _philox_fill_range((uint64_t)step, (uint32_t)stream, (uint32_t)seed, 0u, blocks, s.u.data());
            s.seed = seed; s.stream = stream; s.step = step; s.n = n;
        }
    }
    return found;
}
static inline double philox_table(const int32_t slot, const int64_t seed, const int64_t stream, const int64_t step,
                                  const int64_t index)
{
    return _philox_slots[slot].u[index];
}
#endif
""" % STEP_SLOTS

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

_CYTHON_PREPARE = """
cdef inline int philox_prepare(long long seed, long long stream, long long step, long long n) noexcept nogil:
    return 0
"""

# philox_uniform comes in as a dependency (its support code is added once per code object)
_CYTHON_TABLE = """
cdef inline double philox_table(int slot, long long seed, long long stream, long long step, long long index) noexcept nogil:
    return philox_uniform(seed, stream, step, index)
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


def brian2_step_table():
    """Brian2 ``Function`` pair ``(philox_prepare, philox_table)`` for one value per neuron per step.

    ``philox_table(philox_prepare(seed, stream, step, N), seed, stream, step, index)`` equals
    ``philox_uniform(seed, stream, step, index)`` on every target. In C++ the inner call has
    only scalar arguments, so Brian2 evaluates it once per code object run, before the loop
    over the neurons (loop-invariant code): it fills a table of the ``N`` values of the step
    with the vectorised Philox loop and returns its slot; ``philox_table`` is then a plain
    array read in the loop over the neurons. (Called per neuron instead, e.g.
    with ``codegen.loop_invariant_optimisations`` off, it finds its slot already filled;
    with OpenMP the fill is a critical section.) One code object may use up to
    :data:`STEP_SLOTS` distinct ``(seed, stream, step, N)``. On the Cython and NumPy targets
    ``philox_prepare`` returns 0 and ``philox_table`` is ``philox_uniform``.
    """
    from brian2 import Function

    prepare = Function(lambda seed, stream, step, n: 0, arg_units=[1] * 4, return_unit=1,
                       arg_types=["integer"] * 4, return_type="integer", stateless=True)
    prepare.implementations.add_implementation("cpp", code=_CPP_STEP, name="philox_prepare")
    prepare.implementations.add_implementation("cython", code=_CYTHON_PREPARE, name="philox_prepare")
    table = Function(lambda slot, seed, stream, step, index: uniform(seed, stream, step, index),
                     arg_units=[1] * 5, return_unit=1, arg_types=["integer"] * 5, return_type="float",
                     stateless=True)
    table.implementations.add_implementation("cpp", code=_CPP_STEP, name="philox_table")
    table.implementations.add_implementation("cython", code=_CYTHON_TABLE, name="philox_table",
                                             dependencies={"philox_uniform": brian2_uniform()})
    return prepare, table


def brian2_word():
    """Brian2 ``Function`` ``philox_word(c0, c1, c2, c3, k0, k1, w)``: output word ``w`` (0-3) of
    Philox4x32-10 as a float (exact, < 2**32); arguments are integers taken mod 2**32."""
    from brian2 import Function

    f = Function(_numpy_word, arg_units=[1] * 7, return_unit=1, arg_types=["integer"] * 7,
                 return_type="float", stateless=True)
    f.implementations.add_implementation("cpp", code=_CPP_WORD, name="philox_word")
    f.implementations.add_implementation("cython", code=_CYTHON_WORD, name="philox_word")
    return f
