"""A localized cortex: V1-like local receptive fields, expansion and k-winners-take-all, frozen.

``units`` feature units; unit ``u`` sees one ``field × field`` patch of the 28 × 28 image at a
random position (the centre drawn uniformly over the positions where the patch fits) with
fixed random weights ``N(0, 1)`` (mean removed per unit: an edge/contrast detector, as in
Illing, Gerstner & Brea 2019). Its response is ``gain · (w_u · patch(x)) / ‖w_u‖`` on the
image scaled to [0, 1]; the code keeps the ``round(k · units)`` largest responses (k-WTA
through inhibition), rectified: ``h = relu(r) · [r among the top k]``. Nothing learns after
the slow phase: the code is fixed by ``(units, field, k, seed)``.

The slow learner (:func:`shape_localized`) shapes the *genome* ``(field, k)`` — the
receptive-field size and the sparsity — by a (1 + λ) evolution strategy on the images of the
cortex's own classes only: the fitness of a genome is the one-pass accuracy of a nearest-
prototype probe (:class:`~neuro_grlu.cls.hippocampus.PrototypeHebbian`) trained on the first
part of those images and scored on the rest. :func:`shape_localized` is given only the
images of ``classes`` (the caller's :func:`~neuro_grlu.cls.tasks.subset`); the test suite
checks it never receives another class.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ConfigError
from ..network import topk_count
from ..params import ParamSet, param

SIDE = 28


@dataclass(frozen=True)
class LocalizedParams(ParamSet):
    units: int = param(2000, low=1, doc="feature units (expansion: 784 pixels -> units)")
    field: int = param(9, low=2, high=SIDE, doc="receptive-field side (pixels)")
    k: float = param(0.1, low=0.0, low_open=True, high=1.0, doc="fraction of units kept by k-WTA")
    seed: int = param(0, low=0, doc="seed of the receptive-field positions and weights")
    shape: str = param("none", choices=("none", "es"), doc="'es': the slow learner shapes field and k on the cortex's classes; 'none': untrained")
    generations: int = param(6, low=1, doc="ES generations")
    offspring: int = param(4, low=1, doc="ES offspring per generation (lambda)")
    fitness_images: int = param(6000, low=100, doc="images of the cortex's classes used for the fitness (first 2/3 train the probe, the rest score it)")


@dataclass
class LocalizedCortex:
    """A frozen localized cortex; ``features(x)`` ``(B, units)`` float32; ``history`` = the ES
    record (one dict per generation: best genome and fitness), ``classes`` = what shaped it."""

    params: LocalizedParams
    classes: list = field(default_factory=list)
    history: list = field(default_factory=list)
    wall_time_s: float = 0.0
    rule: str = "localized"

    def __post_init__(self):
        p = self.params
        if p.field > SIDE:
            raise ConfigError(f"cortex.localized.field = {p.field} is larger than the image ({SIDE})")
        rng = np.random.default_rng(p.seed)
        span = SIDE - p.field + 1
        rows, cols = rng.integers(0, span, p.units), rng.integers(0, span, p.units)
        w = rng.standard_normal((p.units, p.field, p.field)).astype(np.float32)
        w -= w.mean(axis=(1, 2), keepdims=True)
        w /= np.linalg.norm(w.reshape(p.units, -1), axis=1)[:, None, None] + 1e-12
        W = np.zeros((p.units, SIDE, SIDE), np.float32)
        for u in range(p.units):
            W[u, rows[u] : rows[u] + p.field, cols[u] : cols[u] + p.field] = w[u]
        self.W = W.reshape(p.units, SIDE * SIDE)
        self.W.flags.writeable = False
        self.count = topk_count(p.k, p.units)

    @property
    def n_features(self) -> int:
        return self.params.units

    @property
    def net(self):  # the run file stores cortex weights through .net.state_dict()
        return self

    def state_dict(self) -> dict:
        return {"W0": self.W}

    def features(self, x: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(x), 2000):
            xb = np.asarray(x[i : i + 2000])
            xb = xb.astype(np.float32) / 255.0 if xb.dtype == np.uint8 else xb.astype(np.float32)
            r = xb @ self.W.T
            thr = np.partition(r, r.shape[1] - self.count, axis=1)[:, r.shape[1] - self.count][:, None]
            out.append(np.where(r >= thr, np.maximum(r, 0.0), 0.0).astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, self.params.units), np.float32)


def probe_fitness(cortex: LocalizedCortex, x: np.ndarray, y: np.ndarray) -> float:
    """One-pass nearest-prototype accuracy: train on the first 2/3 of ``x``, score the rest."""
    from .hippocampus import PrototypeHebbian, PrototypeHebbianParams

    n = 2 * len(x) // 3
    f = cortex.features(x)
    probe = PrototypeHebbian(PrototypeHebbianParams(prototypes_per_class=20), f.shape[1], int(y.max()) + 1)
    probe.fit_online(f[:n], y[:n])
    return float(np.mean(probe.predict(f[n:]) == y[n:]))


def shape_localized(params: LocalizedParams, x: np.ndarray, y: np.ndarray, classes, *, seed: int = 0,
                    log=None) -> LocalizedCortex:
    """The slow phase: a (1 + λ) ES over the genome ``(field, k)`` on ``x, y`` — which must hold
    only images of ``classes`` (checked) — then the frozen cortex of the best genome.

    Mutation: ``field ± 1-2`` pixels (clipped to 3..20), ``k ·= exp(0.3 ξ)`` (clipped to
    0.01..0.5); the parent is replaced only by a strictly fitter child.
    """
    classes = sorted(int(c) for c in classes)
    y = np.asarray(y)
    if len(y) and not np.isin(y, classes).all():
        raise ConfigError(f"the cortex's slow learner was given classes {sorted(set(y.tolist()) - set(classes))} "
                          f"outside its classes {classes}")
    t0 = time.perf_counter()
    if params.shape == "none":
        return LocalizedCortex(params, classes, [], 0.0)
    rng = np.random.default_rng([seed, 3])
    order = rng.permutation(len(y))[: params.fitness_images]
    xf, yf = x[order], y[order]
    parent = params
    best = probe_fitness(LocalizedCortex(parent), xf, yf)
    history = [{"generation": 0, "field": parent.field, "k": parent.k, "fitness": best}]
    for g in range(1, params.generations + 1):
        for _ in range(params.offspring):
            child = replace(parent, field=int(np.clip(parent.field + rng.choice([-2, -1, 1, 2]), 3, 20)),
                            k=float(np.clip(parent.k * np.exp(0.3 * rng.standard_normal()), 0.01, 0.5)))
            fit = probe_fitness(LocalizedCortex(child), xf, yf)
            if fit > best:
                parent, best = child, fit
        history.append({"generation": g, "field": parent.field, "k": parent.k, "fitness": best})
        if log:
            log(f"localized cortex ES generation {g}/{params.generations} on classes {classes}: "
                f"field {parent.field}, k {parent.k:.3f}, probe accuracy {best:.4f}")
    return LocalizedCortex(parent, classes, history, time.perf_counter() - t0)
