"""Offline: the spiking race's 1-shot / 5-shot (NCM of shot codes) outcome on validation 5-9, by thresholds."""
import numpy as np
from neuro_grlu.data import load_mnist
from neuro_grlu.cls.patch import PatchParams, shape_patch
from neuro_grlu.cls.spiking_prototype import dentate_code
from neuro_grlu.network import topk_count

ds = load_mnist(); x = ds.x_train; y = ds.y_train
xt, yt, xv, yv = x[:50000], y[:50000], x[50000:], y[50000:]
m04 = yt < 5
P = (np.random.default_rng(0).standard_normal((16000, 512)) / np.sqrt(512)).astype(np.float32)
K = topk_count(0.05, 16000)
new = np.array([5, 6, 7, 8, 9]); qm = np.isin(yv, new)
for ip in (False, True):
    cx = shape_patch(PatchParams(centres=128, patch=7, pool=2, shape="random", intrinsic=ip), xt[m04], yt[m04], [0,1,2,3,4], seed=1)
    Cv = dentate_code(cx.features(xv[qm]), P, 0.05); yq = yv[qm]
    g = np.random.default_rng(1)
    shots_idx = {c: np.flatnonzero(yt == c) for c in new}
    for shots in (1, 5):
        res = {}
        for d in range(20):
            W = []
            for c in new:
                idx = g.choice(shots_idx[c], shots, replace=False)
                W.append(dentate_code(cx.features(xt[idx]), P, 0.05).mean(0))
            W = np.array(W)
            cos = (Cv @ W.T) / (np.sqrt(K) * np.sqrt(K) * np.linalg.norm(W, axis=1) / np.sqrt(K))  # x·w / (sqrt(K) |w|)
            argmax = new[cos.argmax(1)]
            res.setdefault("argmax", []).append((argmax == yq).mean())
            res.setdefault("best<0.2", []).append((cos.max(1) < 0.2).mean())
            for hi, lo, steps in ((0.9, 0.2, 35), (0.9, 0.2, 70), (0.9, 0.05, 35), (0.6, 0.05, 35), (0.9, 0.0, 70)):
                th = hi - (hi - lo) * np.clip(np.arange(steps) / steps, 0, 1)  # thresholds of race steps 1..steps
                # first step where cos >= th
                fire = cos[:, :, None] >= th[None, None, :]
                step = np.where(fire.any(2), fire.argmax(2), 10**6).astype(float)
                step += 0.5 * g.random(step.shape)  # ties broken at random
                pred = new[step.argmin(1)]
                res.setdefault(f"race {hi}-{lo}/{steps}", []).append((pred == yq).mean())
        print("IP" if ip else "no IP", f"{shots}-shot", {k: round(100 * np.mean(v), 1) for k, v in res.items()}, flush=True)
