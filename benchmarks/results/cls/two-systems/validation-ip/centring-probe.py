"""Offline: does centring the cortex's features by their mean on digits 0-4 help few-shot on 5-9?
Validation split only (train part = first 50,000, validation = last 10,000)."""
import sys, json
import numpy as np
from neuro_grlu.data import load_mnist
from neuro_grlu.cls.patch import PatchParams, shape_patch
from neuro_grlu.network import layer_norm, topk_count, topk_mask

patch, pool, centres, shape = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ds = load_mnist()
x, y = ds.x_train.astype(np.float32), ds.y_train
if x.max() > 1.5: x = x / 255.0
xt, yt, xv, yv = x[:50000], y[:50000], x[50000:], y[50000:]
m04 = yt < 5
cx = shape_patch(PatchParams(centres=centres, patch=patch, pool=pool, shape=shape), xt[m04], yt[m04], [0, 1, 2, 3, 4], seed=1)
Ft = cx.features(xt); Fv = cx.features(xv)
mu = Ft[m04].mean(0); sd = Ft[m04].std(0) + 1e-6
def codes(F, how):
    if how == "ln": return layer_norm(F)
    if how == "centre": return layer_norm(F - mu)
    if how == "standard": return layer_norm((F - mu) / sd)
    if how == "centre-l2": G = F - mu; return G / np.linalg.norm(G, axis=1, keepdims=True)
rng = np.random.default_rng(0)
new = [5, 6, 7, 8, 9]
qmask = np.isin(yv, new)
res = {}
for how in ("ln", "centre", "standard", "centre-l2"):
    Ct, Cv = codes(Ft, how), codes(Fv, how)
    Cv = Cv / np.linalg.norm(Cv, axis=1, keepdims=True)
    r = {}
    for shots in (1, 5):
        accs = []
        g = np.random.default_rng(1)
        for d in range(200):
            P = []
            for c in new:
                idx = g.choice(np.flatnonzero(yt == c), shots, replace=False)
                p = Ct[idx].mean(0); P.append(p / np.linalg.norm(p))
            P = np.array(P)
            pred = np.array(new)[(Cv[qmask] @ P.T).argmax(1)]
            accs.append((pred == yv[qmask]).mean())
        r[f"{shots}-shot"] = (100 * np.mean(accs), 100 * np.std(accs) / np.sqrt(len(accs)))
    # nearest class mean over 10 classes (all training images)
    M = np.array([Ct[yt == c].mean(0) for c in range(10)]); M /= np.linalg.norm(M, axis=1, keepdims=True)
    r["ncm10"] = 100 * ((Cv @ M.T).argmax(1) == yv).mean()
    res[how] = r
    print(patch, pool, centres, shape, how, {k: (round(v[0], 2), round(v[1], 2)) if isinstance(v, tuple) else round(v, 2) for k, v in r.items()}, flush=True)
