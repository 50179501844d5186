"""GRLU — Global Reward, Local Updates: node perturbation with antithetic noise pairs.

For one example and one noise pair ``p`` every weight layer ``l`` draws output noise
``ε_l ~ N(0, σ²)`` (hidden layers: added after the activation; output layer: added to the
logits). The network runs once with ``+ε`` and once with ``−ε``; the global reward is
``r± = log softmax(logits±)[true class]`` and ``Δr = (r₊ − r₋)/2``. Each layer then updates
from what it has locally — its own noise, its own input, and the broadcast scalar ``Δr``::

    W_l += lr · mean_p( (ε_l,p · Δr_p) ⊗ x̄_l,p )        b_l += lr · mean_p( ε_l,p · Δr_p )

where ``x̄_l,p`` is the layer's layer-normalised input averaged over the + and − runs. For a
batch of ``B`` examples the updates of its examples are summed (as in the published code).
With ``normalize = "sigma2"`` the update is divided by ``σ²``, so that σ sets only the probe
size and ``lr`` alone sets the step. For small σ, ``E[ε·Δr]/σ²`` is then the gradient of the
reward with respect to whatever the noise is added to. That makes the **output layer's** update
an unbiased gradient estimate, but not the hidden layers' in the published form:

* ``noise_at = "output"`` (default, published): hidden noise is added *after* the activation,
  so a hidden layer estimates ``∂r/∂h ⊗ x̄`` instead of ``∂r/∂z ⊗ x̄`` — it lacks the activation's
  derivative, and switched-off ReLU units (or losing top-k units) still learn. This bias does
  not shrink with more pairs (tests/test_grlu.py measures it per layer).
* ``noise_at = "input"``: hidden noise is added to the pre-activation, ``h = act(z + ε)``
  (classical node perturbation); every layer's expected update tends to its true gradient as
  σ → 0. The update equations above are unchanged.

Three implementations compute the same update from the same noise (tested to float tolerance):

* :func:`grlu_update_tiled` — the published algorithm: the input tiled over pairs and the whole
  network run per (pair, example) row. The reference for the others.
* :func:`grlu_update_shared` — noise enters after the first layer's activation, so the first
  layer's pre-activation is computed once per example and shared by all pairs; only the later
  layers run per pair (all pairs and both signs in one matrix product), and the first layer's
  update collapses to one outer product ``(Σ_p ε_p Δr_p) ⊗ x_norm``.
* :mod:`neuro_grlu.rules._grlu_numba` — the shared algorithm for one hidden layer as a compiled
  per-example loop over a chunk of examples (no per-call overhead at batch size 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..network import Architecture, Network, layer_norm, log_softmax_at, topk_mask
from ..params import ParamSet, param
from ..schedules import SCHEDULES
from .base import Rule, register
from . import decorrelation
from .decorrelation import DECORRELATE
from .state import LearnerState, runtime

BACKENDS = ("auto", "numba", "numpy", "tiled")
NOISE_AT = ("output", "input")
RNGS = ("numpy", "philox")


@dataclass(frozen=True)
class PerturbationNoise:
    """Noise for ``n`` examples and ``P`` pairs.

    Attributes
    ----------
    eps : list of float32 arrays ``(n, P, fan_out(l))``
        Output noise of every weight layer (hidden layers, then logits), already scaled by σ.
    gumbel : list of float32 arrays ``(n, P, width_l)`` or None
        Standard Gumbel noise of every hidden layer for probabilistic top-k (shared by the
        + and − run of a pair, as in the published code); None for ReLU networks.
    """

    eps: list[np.ndarray]
    gumbel: list[np.ndarray] | None

    def scaled(self, sigma: float) -> "PerturbationNoise":
        """A copy with every ``eps`` multiplied by ``sigma`` (Gumbel noise unchanged)."""
        return PerturbationNoise([e * np.float32(sigma) for e in self.eps], self.gumbel)

    def take(self, start: int, stop: int) -> "PerturbationNoise":
        """The noise of examples ``start:stop``."""
        return PerturbationNoise(
            [e[start:stop] for e in self.eps],
            None if self.gumbel is None else [g[start:stop] for g in self.gumbel],
        )


def sample_noise(
    arch: Architecture, n: int, pairs: int, sigma: float, rng: np.random.Generator, out: PerturbationNoise | None = None
) -> PerturbationNoise:
    """Draw :class:`PerturbationNoise` for ``n`` examples and ``pairs`` pairs (float32).

    With ``out`` (from :func:`allocate_noise` for at least ``n`` examples) the noise is written
    into its buffers and views of the first ``n`` examples are returned: refilling the same,
    cache-sized buffers avoids the page faults of fresh large arrays. The draws are the same
    either way.
    """
    if out is None:
        out = allocate_noise(arch, n, pairs)
    eps = []
    for buf in out.eps:
        e = buf[:n]
        rng.standard_normal(out=e, dtype=np.float32)
        e *= np.float32(sigma)
        eps.append(e)
    gumbel = None
    if out.gumbel is not None:
        gumbel = []
        for buf in out.gumbel:
            g = buf[:n]
            rng.standard_exponential(out=g, dtype=np.float32)
            np.maximum(g, np.finfo(np.float32).tiny, out=g)  # an exact 0 would give an infinite score
            np.log(g, out=g)
            np.negative(g, out=g)  # -log(Exp(1)) ~ Gumbel(0, 1)
            gumbel.append(g)
    return PerturbationNoise(eps, gumbel)


def allocate_noise(arch: Architecture, n: int, pairs: int) -> PerturbationNoise:
    """Uninitialised float32 noise buffers for ``n`` examples and ``pairs`` pairs."""
    eps = [np.empty((n, pairs, arch.fan_out(layer)), np.float32) for layer in range(arch.n_layers)]
    gumbel = [np.empty((n, pairs, w), np.float32) for w in arch.hidden] if arch.activation == "topk" else None
    return PerturbationNoise(eps, gumbel)


class NoiseStream:
    """Unit-scale GRLU noise in fixed blocks of ``block`` examples, optionally drawn ahead.

    Every :meth:`next` call consumes exactly one block from ``rng`` whatever part of it the
    caller uses, so the noise an example sees depends only on the seed and the chunking —
    never on the backend or on prefetching. With ``prefetch=True`` the next block is drawn on
    a background thread while the caller computes (NumPy's generators release the GIL while
    filling arrays), using the second core for the random numbers.
    """

    def __init__(self, arch: Architecture, pairs: int, block: int, rng: np.random.Generator, prefetch: bool = False):
        self.arch, self.pairs, self.block, self.rng = arch, pairs, block, rng
        self._buffers = [allocate_noise(arch, block, pairs) for _ in range(2 if prefetch else 1)]
        self._turn = 0
        self._executor = None
        self._pending = None
        #: ``rng.bit_generator.state`` where the first block not yet returned by :meth:`next`
        #: starts (a prefetched block counts as not returned): resuming from it redraws that block.
        self.position = rng.bit_generator.state
        if prefetch:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grlu-noise")
            self._pending = self._executor.submit(self._draw, self._buffers[0])

    def _draw(self, buf: PerturbationNoise) -> PerturbationNoise:
        return sample_noise(self.arch, self.block, self.pairs, 1.0, self.rng, out=buf)

    def next(self) -> PerturbationNoise:
        """The next block of unit noise; its buffers are reused, so it is valid until the next call."""
        if self._executor is None:
            noise = self._draw(self._buffers[0])
            self.position = self.rng.bit_generator.state
            return noise
        noise = self._pending.result()
        self.position = self.rng.bit_generator.state  # the generator is idle here
        self._turn ^= 1
        self._pending = self._executor.submit(self._draw, self._buffers[self._turn])
        return noise

    def settle(self) -> None:
        """Wait for the block being drawn ahead (if any): the generator is then idle."""
        if self._pending is not None:
            self._pending.result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


@dataclass
class GRLUUpdate:
    """Per-batch GRLU result before the learning rate is applied.

    ``dW[l]`` float32 like ``W[l]``, ``db[l]`` like ``b[l]``; ``reward_plus``/``reward_minus``:
    ``(B, P)`` log-probabilities of the true class under +noise and −noise.
    """

    dW: list[np.ndarray]
    db: list[np.ndarray]
    reward_plus: np.ndarray
    reward_minus: np.ndarray


def _hidden_out(arch: Architecture, layer: int, z: np.ndarray, gumbel: np.ndarray | None) -> np.ndarray:
    """Noise-free training activation: ReLU, or ``z`` masked by top-k of ``z + gumbel`` (this layer's noise)."""
    if arch.activation == "relu":
        return np.maximum(z, 0.0)
    return z * topk_mask(z + gumbel, arch.topk_count(layer))


def _noisy_hidden(arch: Architecture, layer: int, z, e, gumbel, noise_at: str):
    """A hidden layer's perturbed output: ``act(z) + e`` (``"output"``) or ``act(z + e)`` (``"input"``).

    ``e`` is the signed noise ``±ε``; for top-k the Gumbel noise selects among the (perturbed)
    pre-activations and is shared by the + and − run.
    """
    if noise_at == "input":
        return _hidden_out(arch, layer, z + e, gumbel)
    return _hidden_out(arch, layer, z, gumbel) + e


def _updates_from(eps, inputs_plus, inputs_minus, dr, pairs) -> tuple[list, list]:
    """``dW_l = Σ_rows (ε_l Δr) ⊗ x̄_l / P`` for rows flattened to 2-D."""
    dW, db = [], []
    for e, a_p, a_m in zip(eps, inputs_plus, inputs_minus):
        g = e * dr[:, None]
        dW.append((g.T @ ((a_p + a_m) * 0.5)) / pairs)
        db.append(g.sum(axis=0) / pairs)
    return dW, db


def grlu_update_tiled(
    net: Network, x: np.ndarray, y: np.ndarray, noise: PerturbationNoise, noise_at: str = "output"
) -> GRLUUpdate:
    """The published algorithm: the whole network once per (pair, example) row and sign.

    ``x`` float32 ``(B, n_in)``, ``y`` int ``(B,)``; rows are ordered pair-major like the
    published ``tile(X, (P, 1))``. ``noise_at``: where the hidden noise enters (see
    :class:`GRLUParams`); the logits' noise is the same either way.
    """
    arch = net.arch
    B, P = len(x), noise.eps[0].shape[1]

    def rows(a):  # (B, P, n) -> (P·B, n), pair-major
        return a.transpose(1, 0, 2).reshape(P * B, -1)

    X, Y = np.tile(x, (P, 1)), np.tile(y, P)
    eps = [rows(e) for e in noise.eps]
    gumbel = None if noise.gumbel is None else [rows(g) for g in noise.gumbel]

    def run(sign):
        inputs, hidden, h = [], [], X
        for layer in range(len(arch.hidden)):
            a = layer_norm(h)
            inputs.append(a)
            g = None if gumbel is None else gumbel[layer]
            h = _noisy_hidden(arch, layer, a @ net.W[layer].T + net.b[layer], sign * eps[layer], g, noise_at)
            hidden.append(h)
        a = layer_norm(np.concatenate(hidden, axis=1) if arch.skip == "readout" else h)
        inputs.append(a)
        logits = a @ net.W[-1].T + net.b[-1] + sign * eps[-1]
        return inputs, log_softmax_at(logits, Y)

    in_plus, r_plus = run(1.0)
    in_minus, r_minus = run(-1.0)
    dr = (r_plus - r_minus) * 0.5
    dW, db = _updates_from(eps, in_plus, in_minus, dr, P)

    def back(r):  # (P·B,) -> (B, P)
        return r.reshape(P, B).T

    return GRLUUpdate(dW, db, back(r_plus), back(r_minus))


def grlu_update_shared(
    net: Network, x: np.ndarray, y: np.ndarray, noise: PerturbationNoise, noise_at: str = "output"
) -> GRLUUpdate:
    """Same update as :func:`grlu_update_tiled`, sharing the first layer across pairs.

    Later layers run on a ``(2, B, P, width)`` stack (sign, example, pair) in one matrix
    product per layer; the first layer's update is one outer product per example.
    """
    arch = net.arch
    B, P = len(x), noise.eps[0].shape[1]
    sign = np.array([1.0, -1.0], np.float32)[:, None, None, None]
    a0 = layer_norm(x)  # (B, n_in), identical for every pair and sign
    z0 = a0 @ net.W[0].T + net.b[0]
    if noise_at == "input":
        g0 = None if noise.gumbel is None else noise.gumbel[0][None]
        h = _hidden_out(arch, 0, z0[None, :, None, :] + sign * noise.eps[0][None], g0)  # (2, B, P, n0)
    else:
        if arch.activation == "relu":
            h0 = np.maximum(z0, 0.0)[:, None, :]
        else:
            h0 = z0[:, None, :] * topk_mask(z0[:, None, :] + noise.gumbel[0], arch.topk_count(0))
        h = h0[None] + sign * noise.eps[0][None]  # (2, B, P, n0)
    hidden, inputs = [h], []
    for layer in range(1, len(arch.hidden)):
        a = layer_norm(h)
        inputs.append(a)
        z = a @ net.W[layer].T + net.b[layer]
        g = None if noise.gumbel is None else noise.gumbel[layer][None]  # shared by both signs
        h = _noisy_hidden(arch, layer, z, sign * noise.eps[layer][None], g, noise_at)
        hidden.append(h)
    a = layer_norm(np.concatenate(hidden, axis=-1) if arch.skip == "readout" else h)
    inputs.append(a)
    logits = a @ net.W[-1].T + net.b[-1] + sign * noise.eps[-1][None]
    r = log_softmax_at(logits, y[None, :, None])  # (2, B, P)
    dr = (r[0] - r[1]) * 0.5  # (B, P)

    u0 = np.einsum("bpo,bp->bo", noise.eps[0], dr)  # Σ_p ε_p Δr_p per example
    dW = [(u0.T @ a0) / P]
    db = [u0.sum(axis=0) / P]
    flat = B * P
    more_W, more_b = _updates_from(
        [e.reshape(flat, -1) for e in noise.eps[1:]],
        [a[0].reshape(flat, -1) for a in inputs],
        [a[1].reshape(flat, -1) for a in inputs],
        dr.reshape(flat),
        P,
    )
    return GRLUUpdate(dW + more_W, db + more_b, r[0], r[1])


def apply_update(net: Network, update: GRLUUpdate, step: float) -> None:
    """``W += step · dW`` and ``b += step · db`` in place (float32)."""
    s = np.float32(step)
    for w, dw, v, dv in zip(net.W, update.dW, net.b, update.db):
        w += s * dw.astype(np.float32, copy=False)
        v += s * dv.astype(np.float32, copy=False)


@dataclass
class GRLUState(LearnerState):
    """GRLU's state: only its noise stream. ``stream`` (runtime) draws unit noise from ``rng``
    in blocks of ``chunk_size`` examples, possibly one block ahead on a second thread; the
    saved position is that of the first block not yet used (:meth:`rng_state`)."""

    stream: NoiseStream | None = runtime()

    def rng_state(self) -> dict:
        return self.rng.bit_generator.state if self.stream is None else self.stream.position

    def set_rng_state(self, value: dict) -> None:
        self.close()
        self.rng.bit_generator.state = value

    def settle(self) -> None:
        if self.stream is not None:
            self.stream.settle()

    def close(self) -> None:
        """Stop the background noise thread, if any. A block drawn ahead is discarded: a new
        stream continues after it (as before this interface), so :meth:`rng_state` is then
        the generator's own position."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None


@dataclass
class GRLUPhiloxState(GRLUState):
    """GRLU's state with ``rng = "philox"``: the Philox key ``(key0, key1)`` (drawn once from
    ``rng`` at init) and ``counter``, the number of training examples whose noise was used
    (the next example's noise is addressed by it; see :mod:`neuro_grlu.rules._philox`)."""

    key0: int = 0
    key1: int = 0
    counter: int = 0


@dataclass(frozen=True)
class GRLUParams(ParamSet):
    """Hyperparameters of :class:`GRLU` (see the module docstring for the update)."""

    pairs: int = param(1, low=1, doc="antithetic noise pairs per example (N)")
    lr_max: float = param(0.1, low=0.0, low_open=True, doc="learning rate in the first epoch")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="learning rate the schedule decays towards")
    sigma_max: float = param(0.1, low=0.0, low_open=True, doc="noise standard deviation in the first epoch")
    sigma_min: float = param(0.0, low=0.0, at_most="sigma_max", doc="noise standard deviation the schedule decays towards")
    schedule: str = param("cosine", choices=SCHEDULES, doc="per-epoch schedule of lr and sigma")
    normalize: str = param("none", choices=("none", "sigma2"), doc="'sigma2': divide the update by sigma^2")
    backend: str = param("auto", choices=BACKENDS, doc="auto (numba for one hidden layer, else numpy), numba, numpy, tiled")
    noise_at: str = param(
        "output", choices=NOISE_AT,
        doc="where hidden noise enters: 'output' (after the activation, published; hidden update biased) "
        "or 'input' (before it: classical node perturbation, unbiased as sigma -> 0)",
    )
    rng: str = param("numpy", choices=RNGS,
                     doc="noise generator: 'numpy' (NumPy's, drawn in blocks; reproduces stored runs) or "
                     "'philox' (Philox4x32-10 drawn inside the numba kernel; numba backend only)")
    decorrelate: str = param("none", choices=DECORRELATE,
                             doc="'antihebbian': decorrelate the first layer's inputs by a local anti-Hebbian rule (Dalm et al. 2023)")
    decorrelate_lr: float = param(1e-6, low=0.0, low_open=True, doc="learning rate of the decorrelation matrix, per example")
    decorrelate_block: int = param(8, low=1,
                                   doc="examples per step of the decorrelation matrix (read through a fixed R, then one summed step); "
                                   "runs stored before this key stepped once per compute chunk: 985 (GRLU, 1 pair), 61 (16 pairs), 7 (128 pairs)")
    threads: int = param(1, low=1,
                         doc="numba threads of the compiled kernel (numba backend; a value above NUMBA_NUM_THREADS uses them all): "
                         "pair blocks and weight rows shared; the numbers do not depend on it. Keep 1 on a busy machine")


@register
class GRLU(Rule):
    """Global Reward, Local Updates (node perturbation, antithetic pairs)."""

    name = "grlu"
    uses = ("global_reward", "local_activity", "noise")
    Params = GRLUParams

    def __init__(self, params: GRLUParams, arch: Architecture, batch_size: int = 1):
        super().__init__(params, arch, batch_size)
        backend = params.backend
        if backend == "auto":
            backend = "numba" if len(arch.hidden) == 1 else "numpy"
        if backend == "numba" and len(arch.hidden) != 1:
            raise ConfigError("GRLU backend 'numba' supports one hidden layer; use backend = 'numpy' or 'auto'")
        self.backend = backend
        if params.rng == "philox" and backend != "numba":
            raise ConfigError(f"GRLU rule.rng = 'philox' needs the numba backend (one hidden layer), not "
                              f"{backend!r} with {len(arch.hidden)} hidden layers; allowed there: rng = 'numpy'")
        if params.threads > 1 and backend != "numba":
            raise ConfigError(f"GRLU rule.threads = {params.threads} needs the numba backend (one hidden layer), not "
                              f"{backend!r} with {len(arch.hidden)} hidden layers; allowed there: threads = 1")
        #: Draw the next noise block on a second thread while this one is used (numba backend).
        self.prefetch = self.backend == "numba"

    def init(self, model, *, init_rng, noise_rng) -> GRLUState:
        if self.params.rng == "philox":
            from ._philox import key_from

            k0, k1 = key_from(noise_rng)
            return GRLUPhiloxState(noise_rng, key0=k0, key1=k1)
        return GRLUState(noise_rng)

    @property
    def chunk_size(self) -> int:
        # About 2**18 noise values per chunk (1 MiB): enough examples to amortise the call,
        # few enough that the noise stays in cache between being drawn and being used.
        per_example = self.params.pairs * (sum(self.arch.hidden) * (2 if self.arch.activation == "topk" else 1) + self.arch.n_out)
        n = min(max(1, (1 << 18) // per_example), 1024)
        return decorrelation.chunk_size(self.params, max(self.batch_size, n - n % self.batch_size), self.batch_size)

    @property
    def forward_passes_per_example(self) -> float:
        # 2 runs (+ε, −ε) per pair; the first layer is shared, but counted as full passes.
        return 2.0 * self.params.pairs

    def delta(self, net, state, x, y, hyper, rng):
        """The step one batch would take (shared algorithm, fresh noise from ``rng``)."""
        unit = sample_noise(self.arch, len(x), self.params.pairs, 1.0, rng)
        upd = grlu_update_shared(
            net, np.asarray(x, np.float32), np.asarray(y), unit.scaled(hyper["sigma"]), self.params.noise_at
        )
        step = self.step_size(hyper)
        return [(step * dw, step * db) for dw, db in zip(upd.dW, upd.db)]

    def step_size(self, hyper: dict[str, float]) -> float:
        """Multiplier of the raw update: ``lr`` or ``lr / σ²``."""
        if self.params.normalize == "sigma2":
            return hyper["lr"] / max(hyper["sigma"], 1e-12) ** 2
        return hyper["lr"]

    def step(self, net, state, x, y, hyper):
        """One batch (its own noise block): :meth:`step_chunk` on ``x``."""
        return self.step_chunk(net, state, x, y, hyper)

    def step_chunk(self, net, state, x, y, hyper):
        """Train on a chunk: one block of unit noise from the state's stream, then every batch
        in order (the numba kernel loops over the batches itself). With ``rng = "philox"`` the
        kernel draws the noise itself, addressed by the state's example counter."""
        n = len(x)
        if n > self.chunk_size:
            raise ValueError(f"step_chunk got {n} examples, more than chunk_size={self.chunk_size}")
        step = self.step_size(hyper)
        if self.params.rng == "philox":
            from ._grlu_numba import train_chunk_1hidden

            philox = (self.params.pairs, state.key0, state.key1, state.counter)
            rewards = train_chunk_1hidden(net, x, y, None, hyper["sigma"], step, self.batch_size,
                                          self.params.noise_at, philox=philox, threads=self.params.threads)
            state.counter += n
            return state, {"reward": rewards}
        if state.stream is None:
            state.stream = NoiseStream(self.arch, self.params.pairs, self.chunk_size, state.rng, prefetch=self.prefetch)
        unit = state.stream.next().take(0, n)
        if self.backend == "numba":
            from ._grlu_numba import train_chunk_1hidden

            rewards = train_chunk_1hidden(net, x, y, unit, hyper["sigma"], step, self.batch_size, self.params.noise_at,
                                          threads=self.params.threads)
            return state, {"reward": rewards}
        noise = unit.scaled(hyper["sigma"])
        update_fn = grlu_update_tiled if self.backend == "tiled" else grlu_update_shared
        rewards = np.empty(n, np.float64)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            upd = update_fn(net, x[start:stop], y[start:stop], noise.take(start, stop), self.params.noise_at)
            apply_update(net, upd, step)
            rewards[start:stop] = 0.5 * (upd.reward_plus.mean(axis=1) + upd.reward_minus.mean(axis=1))
        return state, {"reward": rewards}
