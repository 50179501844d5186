"""Score stored run files' hippocampus weights on the 10,000 validation images (the last 10,000
training images; no run trained on them): class-IL after the last task, exact argmax of the
cosine and the first-spike race emulated (0.9 -> 0.2 over 70 steps, ties at random)."""
import sys, json, h5py, numpy as np
from neuro_grlu.data import load_mnist
from neuro_grlu.cls.spiking_prototype import dentate_code
d = load_mnist(); xv = d.x_train[-10000:]; yv = np.asarray(d.y_train[-10000:]).astype(np.int64)
codes = {}
for path in sys.argv[1:]:
    f = h5py.File(path, 'r')
    W = f['weights/hippocampus_W'][:]; W = W.reshape(-1, W.shape[-1])
    P = f['weights/hippocampus_projection'][:]; wins = f['weights/hippocampus_wins'][:].reshape(-1)
    key = P.shape
    if key not in codes:
        X = dentate_code(xv, P, 0.05); codes[key] = X / np.sqrt(X.sum(1, keepdims=True))
    X = codes[key]
    M = W.shape[0] // 10
    cos = (X @ W.T) / np.maximum(np.linalg.norm(W, axis=1), 1e-12); cos[:, wins == 0] = -1
    cc = cos.reshape(len(X), 10, M).max(2)
    ph = np.ceil((0.9 - cc) / 0.7 * 70 - 1e-9) + 1; ph = np.where(cc >= 0.2, np.maximum(ph, 1), 1e9)
    race = np.mean([((-ph + 0.5 * np.random.default_rng(r).random(ph.shape)).argmax(1) == yv).mean() for r in range(5)])
    print(json.dumps({"run": path.split('/')[-1], "validation_class_il_exact": round(100 * (cc.argmax(1) == yv).mean(), 2), "validation_class_il_race": round(100 * race, 2)}), flush=True)
