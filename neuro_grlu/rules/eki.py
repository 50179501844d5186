"""Ensemble Kalman inversion (EKI): derivative-free training of an ensemble of networks.

N. B. Kovachki and A. M. Stuart, "Ensemble Kalman inversion: a derivative-free technique for
machine learning tasks", Inverse Problems 35 (2019) 095005, arXiv:1808.03620; the method of
M. A. Iglesias, K. J. H. Law and A. M. Stuart, Inverse Problems 29 (2013) 045001.

Update (one minibatch; ``J`` members, parameters ``θ_j ∈ R^P``)
--------------------------------------------------------------
The forward map of member ``j`` is its predicted class probabilities on the batch,
``G_j = vec(softmax(f(x; θ_j)))`` ``∈ R^m`` (``m = B·K``), the data ``y = vec(onehot(labels))``
and the observation noise ``Γ = γ I`` (``noise_var``). With ensemble means ``θ̄``, ``Ḡ`` and the
ensemble (cross-)covariances ``C^{θG} = (1/J) Σ_k (θ_k − θ̄)(G_k − Ḡ)ᵀ`` and
``C^{GG} = (1/J) Σ_k (G_k − Ḡ)(G_k − Ḡ)ᵀ``, every member moves by the Kalman update with step
``h`` (the scheduled ``lr``)::

    θ_j ← θ_j + C^{θG} (C^{GG} + Γ/h)⁻¹ (y − G_j)                       (Kovachki & Stuart eq. 9)

No gradient is used: only forward passes of the ``J`` members and the covariances between
their parameters and their predictions. Computed in ensemble space (push-through identity),
with ``G̃`` the centred predictions ``(J, m)``, ``R = y − G`` ``(J, m)`` and ``λ = γ/h``::

    D = (G̃ G̃ᵀ + λ J I_J)⁻¹ G̃ Rᵀ          (J × J, float64)
    θ_j ← θ_j + Σ_k D_kj (θ_k − θ̄)

so a step costs ``O(J² m + J³ + J² P)`` and never forms a ``P × m`` or ``m × m`` matrix.
The update is a combination of the centred members, so the ensemble stays in the affine span
of its initial members (Kovachki & Stuart's subspace property): ``J`` bounds the number of
directions it can search. ``param_noise`` > 0 adds ``N(0, (param_noise·σ_He)²)`` to every
weight of every member after each step (a random walk that leaves that subspace; 0 = off).

Ensemble and prediction
-----------------------
Members ``θ_j = θ_0 + init_spread · ξ_j`` with ``θ_0`` and ``ξ_j`` He-normal draws (biases 0),
on the shared MLP architecture (layer norm, ReLU / top-k, optional readout skip). Predictions
use the network with the ensemble-mean parameters ``θ̄`` (as Kovachki & Stuart). The reward of
``step`` is the ensemble-average ``log p_j(y)`` (nat) before the step.

Memory: the ensemble holds ``4·J·P`` bytes (float32); a step adds about
``4·J·B·(ΣH + K)·3 + 24·J·B·K`` bytes of activations and predictions and a ``J × 65536``
scratch block (:func:`ensemble_bytes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..network import Architecture, Network, layer_norm, topk_mask
from ..params import ParamSet, param
from ..schedules import SCHEDULES
from .base import Rule, register

UPDATE_COLUMNS = 65536  # columns of the parameter matrix updated per block (bounds scratch memory)


def eki_coefficients(G: np.ndarray, y: np.ndarray, noise_var: float, step: float) -> np.ndarray:
    """Ensemble-space Kalman coefficients ``D`` ``(J, J)``, float64.

    ``G`` ``(J, m)`` the members' predictions, ``y`` ``(m,)`` the data, ``Γ = noise_var·I``,
    step ``h``. The update is ``θ_j += Σ_k D[k, j] (θ_k − θ̄)``, which equals
    ``C^{θG}(C^{GG} + Γ/h)⁻¹(y − G_j)``.
    """
    G = np.asarray(G, np.float64)
    J = len(G)
    Gc = G - G.mean(axis=0)
    R = np.asarray(y, np.float64)[None, :] - G
    A = Gc @ Gc.T
    A[np.diag_indices(J)] += noise_var / step * J
    return np.linalg.solve(A, Gc @ R.T)


def apply_ensemble_update(tensors: list[np.ndarray], D: np.ndarray, columns: int = UPDATE_COLUMNS) -> None:
    """``θ_j += Σ_k D[k, j] (θ_k − θ̄)`` for every tensor ``(J, ...)`` in place, in column blocks."""
    Dt = np.ascontiguousarray(D.T, dtype=np.float32)
    for t in tensors:
        flat = t.reshape(len(t), -1)
        for start in range(0, flat.shape[1], columns):
            block = flat[:, start : start + columns]
            block += Dt @ (block - block.mean(axis=0))


def ensemble_bytes(n_params: int, ensemble: int, batch_size: int, widths: int, n_out: int) -> int:
    """Bytes one EKI step needs: the float32 ensemble, activations (≈3 arrays per unit),
    float64 predictions/residuals/coefficients, and the scratch block of the update."""
    J = ensemble
    return int(4 * J * n_params + 12 * J * batch_size * (widths + n_out) + 24 * J * batch_size * n_out
               + 8 * J * J * 3 + 8 * J * UPDATE_COLUMNS)


@dataclass
class Ensemble:
    """``J`` networks of one :class:`Architecture`: ``W[l]`` ``(J, fan_out, fan_in)``, ``b[l]`` ``(J, fan_out)``."""

    arch: Architecture
    W: list[np.ndarray] = field(default_factory=list)
    b: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def init(cls, arch: Architecture, ensemble: int, spread: float, rng: np.random.Generator) -> "Ensemble":
        W, b = [], []
        for layer in range(arch.n_layers):
            shape = (arch.fan_out(layer), arch.fan_in(layer))
            std = np.float32(np.sqrt(2.0 / shape[1]))
            center = rng.standard_normal(shape, dtype=np.float32) * std
            w = rng.standard_normal((ensemble,) + shape, dtype=np.float32)
            w *= np.float32(spread) * std
            w += center
            W.append(w)
            b.append(np.zeros((ensemble, shape[0]), np.float32))
        return cls(arch, W, b)

    @property
    def size(self) -> int:
        return len(self.W[0])

    @property
    def n_params(self) -> int:
        """Parameters of one member."""
        return sum(w[0].size + v[0].size for w, v in zip(self.W, self.b))

    def tensors(self) -> list[np.ndarray]:
        return [t for pair in zip(self.W, self.b) for t in pair]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Every member's logits ``(J, B, n_out)`` for ``x`` ``(B, n_in)`` (one pass per member)."""
        arch, J = self.arch, self.size
        a = layer_norm(np.asarray(x, np.float32))
        hidden = []
        h = None
        for layer in range(len(arch.hidden)):
            w = self.W[layer]
            if layer == 0:  # shared input: one matrix product for all members
                z = (a @ w.reshape(J * w.shape[1], w.shape[2]).T).reshape(len(a), J, w.shape[1]).transpose(1, 0, 2)
            else:
                z = np.matmul(layer_norm(h), w.transpose(0, 2, 1))
            z = z + self.b[layer][:, None, :]
            h = np.maximum(z, 0.0) if arch.activation == "relu" else z * topk_mask(z, arch.topk_count(layer))
            hidden.append(h)
        r = np.concatenate(hidden, axis=-1) if arch.skip == "readout" else h
        return np.matmul(layer_norm(r), self.W[-1].transpose(0, 2, 1)) + self.b[-1][:, None, :]

    def mean_network(self) -> Network:
        return Network(self.arch, [w.mean(axis=0) for w in self.W], [v.mean(axis=0) for v in self.b])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class per row by the ensemble-mean network, int64 ``(B,)``."""
        return self.mean_network().predict(np.asarray(x, np.float32)).astype(np.int64)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Mean parameters ``W0, b0, ...`` (a :class:`Network`) and the per-weight ensemble
        standard deviation ``W0_std, b0_std, ...`` (accumulated member by member, float64, so
        no temporary of the ensemble's size is made)."""
        out = {}
        for i, (w, v) in enumerate(zip(self.W, self.b)):
            for name, t in ((f"W{i}", w), (f"b{i}", v)):
                mean = t.mean(axis=0, dtype=np.float64)
                sq = np.zeros_like(mean)
                for member in t:
                    d = member - mean
                    sq += d * d
                out[name] = mean.astype(np.float32)
                out[f"{name}_std"] = np.sqrt(sq / len(t)).astype(np.float32)
        return out


@dataclass(frozen=True)
class EKIParams(ParamSet):
    """Hyperparameters of ensemble Kalman inversion."""

    ensemble: int = param(100, low=2, doc="J: ensemble members (forward passes per example)")
    lr_max: float = param(1.0, low=0.0, low_open=True, doc="h: EKI step at the start of the schedule (gain uses Γ/h)")
    lr_min: float = param(0.0, low=0.0, at_most="lr_max", doc="step the schedule decays towards")
    schedule: str = param("constant", choices=SCHEDULES, doc="per-epoch schedule of h")
    noise_var: float = param(0.1, low=0.0, low_open=True, doc="γ: observation noise variance, Γ = γ·I")
    init_spread: float = param(1.0, low=0.0, low_open=True, doc="members θ_0 + spread·ξ_j, ξ_j He-normal")
    param_noise: float = param(0.0, low=0.0, doc="random-walk noise per step, in units of the He std (0 = pure EKI)")


@register
class EnsembleKalmanInversion(Rule):
    """Ensemble Kalman inversion (Kovachki & Stuart 2019): derivative-free, ensemble covariances."""

    name = "eki"
    uses = ("ensemble_covariance", "label_error")
    Params = EKIParams

    def init_model(self, rng: np.random.Generator) -> Ensemble:
        return Ensemble.init(self.arch, self.params.ensemble, self.params.init_spread, rng)

    @property
    def forward_passes_per_example(self) -> float:
        """One pass per member."""
        return float(self.params.ensemble)

    @property
    def backward_passes_per_example(self) -> float:
        return 0.0

    def model_arrays(self, ens: Ensemble) -> dict[str, np.ndarray]:
        """The members ``W0``, ``b0``, ... ``(J, ...)`` (the run file's weights hold only their mean and spread)."""
        return {f"{name}{i}": t for i, pair in enumerate(zip(ens.W, ens.b)) for name, t in zip("Wb", pair)}

    def load_model(self, ens: Ensemble, weights, extra) -> None:
        for name, t in self.model_arrays(ens).items():
            saved = np.asarray(extra[name])
            if saved.shape != t.shape:
                raise ValueError(f"saved ensemble {name} has shape {saved.shape}, the rule needs {t.shape}")
            np.copyto(t, saved)

    def step(self, ens: Ensemble, state, x, y, hyper):
        """One EKI step on a batch; reward = the ensemble-mean ``log p_j(y)`` ``(B,)`` before it."""
        x, y = np.asarray(x, np.float32), np.asarray(y, np.int64)
        return state, {"reward": self.kalman_step(ens, x, y, hyper["lr"], state.rng)}

    def kalman_step(self, ens: Ensemble, x: np.ndarray, y: np.ndarray, h: float, rng: np.random.Generator) -> np.ndarray:
        """One EKI step with step size ``h`` on a batch; returns the ensemble-mean ``log p_j(y)`` ``(B,)`` before it."""
        logits = ens.logits(x)
        logits -= logits.max(axis=2, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
        probs = np.exp(logp)
        J, B, K = probs.shape
        target = np.zeros((B, K))
        target[np.arange(B), y] = 1.0
        D = eki_coefficients(probs.reshape(J, B * K), target.ravel(), self.params.noise_var, h)
        apply_ensemble_update(ens.tensors(), D)
        if self.params.param_noise:
            for w in ens.W:  # member by member: scratch of one member's layer, not the ensemble's
                std = np.float32(self.params.param_noise * np.sqrt(2.0 / w.shape[2]))
                for member in w:
                    member += std * rng.standard_normal(member.shape, dtype=np.float32)
        return logp[:, np.arange(B), y].mean(axis=0).astype(np.float64)
