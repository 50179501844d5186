"""A convolutional patch cortex whose filters a slow, unsupervised WTA Hebbian learner shapes, then frozen.

**Code** (the frozen cortex, :class:`PatchCortex`). ``K = centres`` unit-length, zero-mean
filters ``c_k`` of ``P × P`` pixels (``P = patch``) are applied at every position of the 28 × 28
image (scaled to [0, 1]), a ``G × G`` map with ``G = 28 − P + 1``. At a position with patch
``p`` (``P²`` pixels), ``p̃ = p − mean(p)``:

* response ``r_k = c_k · p̃ / (‖p̃‖ + ε)`` — a cosine whose ``ε = contrast_floor`` keeps faint
  (near-blank) patches near zero;
* "triangle" code (Coates & Ng 2011): ``t_k = max(0, r_k − mean_j r_j)`` — a centre answers only
  where it matches better than the average centre (lateral inhibition, sparse);
* max-pooling over a ``pool × pool`` grid of regions of the ``G × G`` map (region borders at
  ``round(i G / pool)``): ``features[(a, b, k)] = max over region (a, b) of t_k``, ordered
  ``(region row, region column, centre)``; ``pool² · K`` features (``B, pool·pool·centres``) float32.

Nothing learns after the slow phase: the code is fixed by the centres (``state_dict()``:
``{"centres": (K, P²)}``, with ``offset`` and ``gain`` ``(pool² K,)`` under intrinsic plasticity)
and ``contrast_floor``; the arrays are read-only.

**Slow learner** (:func:`shape_patch`, ``shape = "wta-hebbian"``): winner-take-all Hebbian
learning on patches of the cortex's own classes' images, without labels (spherical k-means).
``patch_images`` images are drawn, ``patches_per_image`` random positions each; patches with
total ink ``Σp ≤`` :data:`MIN_INK` (blank background) are dropped, the rest centred and
normalised, ``x_n = p̃_n / (‖p̃_n‖ + 10⁻⁶)``. The centres start at ``K`` distinct random patches;
each of ``iterations`` passes:

* winner (lateral inhibition: one unit active per patch) ``w(n) = argmax_k c_k · x_n``;
* Hebbian growth of the winner's synapses over the pass, ``s_k = Σ_{n: w(n)=k} x_n``
  (``Δc_k = y_k x`` with ``y_k = [k = w(n)]``, winners fixed at the pass's start);
* synaptic scaling at the end of the pass: ``c_k ← s_k / (‖s_k‖ + 10⁻⁶)``; a centre that won
  nothing keeps its weights.

Each pass does not lower the mean winning cosine (the k-means objective on the sphere), recorded
per pass in ``history``. Two untrained controls: ``shape = "none"`` keeps the ``K`` random
patches as centres (the same draw, no learning; the centres are still copied from the classes'
images), ``shape = "random"`` draws ``K`` Gaussian centres, zero-mean and unit length, from
``default_rng([seed, 6, params.seed])`` without reading any image (no data at all).

**Intrinsic plasticity** (``intrinsic = true``, after the filters are fixed): each feature's
excitability adapts to the cortex's own classes — an offset ``μ_f`` and a gain ``g_f`` with
``features ← (features − μ_f) g_f``, ``μ_f`` = the feature's mean over the slow phase's images,
``g_f = 1 / max(σ_f, 0.1 · median σ)`` (``σ_f`` its standard deviation; the bound keeps a feature
silent on those images from blowing up on new ones). This is the fixed point of homeostatic
intrinsic plasticity that holds each unit's mean and variance at a target (Triesch 2005; Desai et
al. 1999), computed exactly over all the images given (no labels). It reads images even with
``shape = "random"``; offset and gain are frozen with the centres and stored beside them.

:func:`shape_patch` is given only the images of ``classes`` (the caller's
:func:`~neuro_grlu.cls.tasks.subset`); it refuses any other class, and the test suite records
what it receives in a protocol run. It never sees a label beyond that check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ConfigError
from ..params import ParamSet, param

SIDE = 28
#: Patches whose pixel sum (intensities in [0, 1]) is at most this are background and not learnt from.
MIN_INK = 2.0
#: Intrinsic plasticity: a feature's gain is at most 1 / (this x the median feature sd), so a
#: feature (nearly) silent on the cortex's classes cannot blow up on new ones.
MIN_SD_FRACTION = 0.1
BLOCK = 500  # images per block of the vectorised feature computation (~75 MB at 64 centres)


@dataclass(frozen=True)
class PatchParams(ParamSet):
    centres: int = param(64, low=1, high=4096, doc="filters (centres) K; the cortex gives pool*pool*K features")
    patch: int = param(5, low=2, high=SIDE, doc="filter side P (pixels); the response map is (28 - P + 1) squared")
    pool: int = param(2, low=1, high=SIDE, doc="max-pooling grid: pool x pool regions of the response map")
    shape: str = param("wta-hebbian", choices=("wta-hebbian", "none", "random"), doc="'wta-hebbian': the slow learner shapes the centres on the cortex's classes' patches (no labels); 'none': random patches as centres (untrained control); 'random': Gaussian random centres, no data (untrained control)")
    patch_images: int = param(5000, low=1, doc="images of the cortex's classes the patches are drawn from (all if fewer)")
    patches_per_image: int = param(10, low=1, doc="random patch positions per image (blank ones dropped)")
    iterations: int = param(20, low=1, doc="passes of the WTA Hebbian rule over the patches")
    contrast_floor: float = param(0.3, low=0.0, doc="epsilon in r = c . p~ / (|p~| + epsilon): faint patches respond weakly")
    seed: int = param(0, low=0, doc="seed of the patch draw and the initial centres (mixed with the protocol seed)")
    intrinsic: bool = param(False, doc="intrinsic plasticity in the slow phase: each feature's offset and gain are set from its mean and standard deviation over the cortex's classes' images (no labels), then frozen")


def check_patch_params(p: PatchParams, what: str = "cortex.patch") -> None:
    """One-line errors for settings that cannot work, before any data are read."""
    grid = SIDE - p.patch + 1
    if p.pool > grid:
        raise ConfigError(f"{what}.pool = {p.pool} is larger than the response map ({grid} x {grid} for patch = {p.patch})")
    if p.shape != "random" and p.centres > p.patch_images * p.patches_per_image:
        raise ConfigError(f"{what}.centres = {p.centres} is more than the patches drawn "
                          f"(patch_images x patches_per_image = {p.patch_images * p.patches_per_image})")


def as_images(x: np.ndarray) -> np.ndarray:
    """uint8 ``(B, 784)`` / ``(B, 28, 28)`` or float in [0, 1] → float32 ``(B, 28, 28)`` in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] != SIDE * SIDE or x.ndim == 3 and x.shape[1:] != (SIDE, SIDE) or x.ndim not in (2, 3):
        raise ConfigError(f"the patch cortex reads 28 x 28 images (784 pixels); got an array of shape {x.shape}")
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32, copy=False)
    return x.reshape(len(x), SIDE, SIDE)


def _normalised(p: np.ndarray) -> np.ndarray:
    p = p - p.mean(axis=-1, keepdims=True)
    return (p / (np.linalg.norm(p, axis=-1, keepdims=True) + 1e-6)).astype(np.float32)


@dataclass
class PatchCortex:
    """A frozen patch cortex; ``features(x)`` ``(B, pool·pool·centres)`` float32 (module docstring).

    ``centres`` ``(K, P²)`` (read-only), ``classes`` = what shaped it, ``history`` = one dict per
    WTA Hebbian pass (``iteration``, ``objective`` = mean winning cosine, ``empty`` = centres
    that won nothing), ``rule = "patch"``.
    """

    params: PatchParams
    centres: np.ndarray
    classes: list = field(default_factory=list)
    history: list = field(default_factory=list)
    wall_time_s: float = 0.0
    patches: int = 0
    rule: str = "patch"
    offset: np.ndarray | None = None
    gain: np.ndarray | None = None

    def __post_init__(self):
        p = self.params
        c = np.array(self.centres, np.float32)
        if c.shape != (p.centres, p.patch * p.patch) or not np.isfinite(c).all():
            raise ConfigError(f"patch cortex centres must be finite, of shape ({p.centres}, {p.patch * p.patch}); "
                              f"got {c.shape}")
        c.flags.writeable = False
        self.centres = c
        if (self.offset is None) != (self.gain is None) or (self.offset is not None) != p.intrinsic:
            raise ConfigError(f"a patch cortex with intrinsic = {p.intrinsic} needs {'both' if p.intrinsic else 'neither'} "
                              "offset and gain")
        for name in ("offset", "gain"):
            v = getattr(self, name)
            if v is not None:
                v = np.array(v, np.float32)
                if v.shape != (self.n_features,) or not np.isfinite(v).all() or (name == "gain" and (v <= 0).any()):
                    raise ConfigError(f"patch cortex {name} must be finite{', > 0' if name == 'gain' else ''}, of shape "
                                      f"({self.n_features},); got shape {v.shape}")
                v.flags.writeable = False
                setattr(self, name, v)
        g = SIDE - p.patch + 1
        self._edges = np.rint(np.arange(p.pool + 1) * g / p.pool).astype(int)

    @property
    def n_features(self) -> int:
        return self.params.pool * self.params.pool * self.params.centres

    @property
    def net(self):  # the run file stores cortex weights through .net.state_dict()
        return self

    def state_dict(self) -> dict:
        out = {"centres": self.centres}
        if self.offset is not None:
            out.update(offset=self.offset, gain=self.gain)
        return out

    def responses(self, images: np.ndarray) -> np.ndarray:
        """Triangle code ``t`` ``(B, G, G, K)`` of float32 images ``(B, 28, 28)``."""
        P, eps = self.params.patch, self.params.contrast_floor
        w = sliding_window_view(images, (P, P), axis=(1, 2))
        w = w.reshape(*w.shape[:3], P * P)
        w = w - w.mean(axis=-1, keepdims=True)
        r = (w @ self.centres.T) / (np.linalg.norm(w, axis=-1, keepdims=True) + np.float32(eps))
        return np.maximum(r - r.mean(axis=-1, keepdims=True), 0.0)

    def features(self, x: np.ndarray) -> np.ndarray:
        f = self.raw_features(x)
        return f if self.offset is None else (f - self.offset) * self.gain

    def raw_features(self, x: np.ndarray) -> np.ndarray:
        """The max-pooled triangle code before the intrinsic offset and gain ``(B, n_features)``."""
        images = as_images(x)
        e, q = self._edges, self.params.pool
        out = np.zeros((len(images), q, q, self.params.centres), np.float32)
        for s in range(0, len(images), BLOCK):
            t = self.responses(images[s : s + BLOCK])
            for a in range(q):
                for b in range(q):
                    out[s : s + BLOCK, a, b] = t[:, e[a] : e[a + 1], e[b] : e[b + 1]].max(axis=(1, 2))
        return out.reshape(len(images), -1)


def sample_patches(params: PatchParams, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Centred, unit-length patches ``(N, P²)`` float32 of ``x`` (module docstring): ``patch_images``
    random images (all if fewer), ``patches_per_image`` random positions each, blank ones dropped."""
    images = as_images(x)
    P, m = params.patch, params.patches_per_image
    idx = rng.choice(len(images), min(params.patch_images, len(images)), replace=False)
    img = np.repeat(idx, m)
    r0, c0 = rng.integers(0, SIDE - P + 1, (2, len(img)))
    ar = np.arange(P)
    p = images[img[:, None, None], (r0[:, None] + ar)[:, :, None], (c0[:, None] + ar)[:, None, :]].reshape(len(img), P * P)
    return _normalised(p[p.sum(axis=1) > MIN_INK])


def wta_hebbian_pass(centres: np.ndarray, patches: np.ndarray) -> tuple[np.ndarray, float, int]:
    """One pass of the WTA Hebbian rule: ``(new centres, mean winning cosine, centres that won nothing)``.

    ``w(n) = argmax_k c_k · x_n``; ``s_k = Σ_{w(n)=k} x_n``; ``c_k ← s_k / (‖s_k‖ + 10⁻⁶)`` for
    every centre that won at least one patch (the others are kept)."""
    sim = patches @ centres.T
    win = sim.argmax(axis=1)
    s = np.zeros_like(centres)
    np.add.at(s, win, patches)
    won = np.bincount(win, minlength=len(centres)) > 0
    new = centres.copy()
    new[won] = s[won] / (np.linalg.norm(s[won], axis=1, keepdims=True) + 1e-6)
    return new.astype(np.float32), float(sim[np.arange(len(win)), win].mean()), int((~won).sum())


def shape_patch(params: PatchParams, x: np.ndarray, y: np.ndarray, classes, *, seed: int = 0,
                log=None) -> PatchCortex:
    """The slow phase on ``x`` — which must hold only images of ``classes`` (checked against ``y``,
    which is used for nothing else) — then the frozen :class:`PatchCortex`.

    Random streams: ``default_rng([seed, 5, params.seed])`` draws the patches, then the initial
    centres (``shape = "none"``: these random patches are the centres); ``shape = "random"``:
    ``default_rng([seed, 6, params.seed])`` draws the Gaussian centres and no patch is drawn.
    """
    classes = sorted(int(c) for c in classes)
    y = np.asarray(y)
    if len(y) and not np.isin(y, classes).all():
        raise ConfigError(f"the cortex's slow learner was given classes {sorted(set(y.tolist()) - set(classes))} "
                          f"outside its classes {classes}")
    check_patch_params(params)
    t0 = time.perf_counter()
    if params.shape == "random":  # no data: zero-mean, unit-length Gaussian centres
        c = np.random.default_rng([seed, 6, params.seed]).standard_normal((params.centres, params.patch ** 2))
        c -= c.mean(axis=1, keepdims=True)
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        return _with_intrinsic(PatchCortex(replace(params, intrinsic=False), c.astype(np.float32), classes, [], 0.0, 0),
                               params, x, t0, log)
    rng = np.random.default_rng([seed, 5, params.seed])
    patches = sample_patches(params, x, rng) if len(y) else np.zeros((0, params.patch ** 2), np.float32)
    if len(patches) < params.centres:
        raise ConfigError(f"cortex.patch: only {len(patches)} non-blank patches in the {len(y)} images of classes "
                          f"{classes}, fewer than centres = {params.centres}")
    centres = patches[rng.choice(len(patches), params.centres, replace=False)].copy()
    history = []
    if params.shape == "wta-hebbian":
        for i in range(1, params.iterations + 1):
            centres, objective, empty = wta_hebbian_pass(centres, patches)
            history.append({"iteration": i, "objective": objective, "empty": empty})
            if log and (i == params.iterations or i % 5 == 0):
                log(f"patch cortex WTA Hebbian pass {i}/{params.iterations} on {len(patches)} patches of classes "
                    f"{classes}: mean winning cosine {objective:.4f}, {empty} centres won nothing")
    return _with_intrinsic(PatchCortex(replace(params, intrinsic=False), centres, classes, history, 0.0, len(patches)),
                           params, x, t0, log)


def intrinsic_statistics(cortex: PatchCortex, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation ``(n_features,)`` float64 of ``cortex.raw_features(x)``
    (sums accumulated block by block, float64)."""
    n, s1, s2 = 0, np.zeros(cortex.n_features), np.zeros(cortex.n_features)
    for start in range(0, len(x), BLOCK):
        f = cortex.raw_features(x[start : start + BLOCK]).astype(np.float64)
        n, s1, s2 = n + len(f), s1 + f.sum(axis=0), s2 + (f * f).sum(axis=0)
    mean = s1 / n
    return mean, np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))


def _with_intrinsic(cortex: PatchCortex, params: PatchParams, x: np.ndarray, t0: float, log) -> PatchCortex:
    """The cortex with ``params`` (and, if ``params.intrinsic``, offset and gain set on ``x``)."""
    offset = gain = None
    if params.intrinsic:
        if not len(x):
            raise ConfigError("cortex.patch.intrinsic = true needs images of the cortex's classes (none were given)")
        mean, sd = intrinsic_statistics(cortex, x)
        if not np.median(sd) > 0:
            raise ConfigError(f"cortex.patch.intrinsic: most features do not vary over the {len(x)} images of the "
                              "cortex's classes (blank images?); give it images with digits or set intrinsic = false")
        offset, gain = mean, 1.0 / np.maximum(sd, MIN_SD_FRACTION * np.median(sd))
        if log:
            log(f"patch cortex intrinsic plasticity on {len(x)} images: feature sd {np.median(sd):.4f} (median), "
                f"{int((sd < MIN_SD_FRACTION * np.median(sd)).sum())} features at the gain ceiling")
    return PatchCortex(params, cortex.centres, cortex.classes, cortex.history, time.perf_counter() - t0,
                       cortex.patches, offset=offset, gain=gain)
