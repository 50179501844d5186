"""The race's thresholds on the one-pass rate counterpart with intrinsic plasticity (validation only).

Reads the rate run file of `onepass-rate-dentate-u400-ip` (made by cls_two_systems.py with --runs;
path as argument), rebuilds its cortex and dentate code, and emulates the spiking race on its
learnt prototypes over the 10,000 validation images: a class fires at the first step whose
threshold its best cosine reaches, ties broken at random; no spike scores at random.

    PYTHONPATH=. python race-emulation-onepass-ip.py RUN.h5
"""
import sys

import h5py
import numpy as np

from neuro_grlu.cls.patch import PatchCortex, PatchParams
from neuro_grlu.cls.spiking_prototype import dentate_code
from neuro_grlu.data import load_mnist
from neuro_grlu.network import topk_count

w = h5py.File(sys.argv[1], "r")["weights"]
cx = PatchCortex(PatchParams(centres=128, patch=7, pool=2, shape="random", intrinsic=True), w["cortex_centres"][()],
                 offset=w["cortex_offset"][()], gain=w["cortex_gain"][()])
W = w["hippocampus_W"][()].reshape(4000, 4000); wins = w["hippocampus_wins"][()].reshape(-1); P = w["hippocampus_projection"][()]
ds = load_mnist(); xv, yv = ds.x_train[50000:], ds.y_train[50000:]
C = dentate_code(cx.features(xv), P, 0.05); K = topk_count(0.05, 4000)
used = wins > 0
cos = (C @ W[used].T) / (np.sqrt(K) * np.linalg.norm(W[used], axis=1) + 1e-12)
cls = np.repeat(np.arange(10), 400)[used]
best = cos.max(1)
print("units used", used.sum(), "argmax", (cls[cos.argmax(1)] == yv).mean(), "best < 0.2", (best < 0.2).mean())
cb = np.stack([cos[:, cls == c].max(1) for c in range(10)], 1)
for hi, lo, steps in ((0.9, 0.2, 70), (0.9, 0.05, 70), (0.6, 0.05, 35), (0.9, 0.2, 35)):
    th = hi - (hi - lo) * np.arange(steps) / steps
    fire = cb[:, :, None] >= th[None, None, :]
    step = np.where(fire.any(2), fire.argmax(2), 10**6) + 0.5 * np.random.default_rng(0).random(cb.shape)
    print(hi, lo, steps, (step.argmin(1) == yv).mean())
