"""Rate emulation (numpy) of the spiking prototype hippocampus' training rule, to find what costs
the points against the rate counterpart (issue 15, session 8; validation-search.md).

Per training image: the race is emulated from the cosines (committed units) and the candidates'
novelty drive (recruit + jitter U(0, 1)), quantized to the threshold steps (theta_high ->
theta_low over `steps`; "exact": no quantization), units that fire in the same step all decide;
a rewarded spike moves its unit by (1 - E_j)/(wins_j + 1) (x - w) ("no_d": by 1/(wins_j + 1));
a wrong spike silences its class and, label teacher, every class but the right one.
"rate_recruit": the rate counterpart's recruitment (the first M images of a class each take a
unit). Run: PYTHONPATH=. python race-emulation.py '{"no_d": true}' '{"per_task": 20000}'
(variant flags, then keyword arguments of run()); one JSON line per run in race-emulation.jsonl.

Trains on the first 50,000 training images (split-MNIST order: tasks 0/1 .. 8/9, shuffled inside
a task; per_task caps each task), scores class-IL on the 10,000 validation images (the last
10,000 training images). Test images are never read."""
import sys, time, numpy as np
from neuro_grlu.data import load_mnist
from neuro_grlu.cls.spiking_prototype import dentate_code

def run(variant, per_task=2000, M=100, expand=4000, seed=1, hi=0.9, lo=0.2, steps=70, rho=0.5, jit=0.05, alpha=0.05, nval=10000):
    d = load_mnist(); x = d.x_train[:-10000]; y = np.asarray(d.y_train[:-10000])
    xv = d.x_train[-10000:][:nval]; yv = np.asarray(d.y_train[-10000:])[:nval]
    P = (np.random.default_rng(0).standard_normal((expand, 784)) / np.sqrt(784)).astype(np.float32)
    K = int(np.floor(0.05 * expand))
    rng = np.random.default_rng(seed)
    order = []
    for t in range(5):
        idx = np.flatnonzero((y == 2 * t) | (y == 2 * t + 1)); rng.shuffle(idx); order.append(idx[:per_task])
    order = np.concatenate(order)
    codes = dentate_code(x[order], P, 0.05).astype(bool); ys = y[order]
    C = 10; W = np.zeros((C * M, expand), np.float64); wins = np.zeros(C * M); E = np.full(C * M, 0.1)
    nrm2 = np.zeros(C * M); cls = np.repeat(np.arange(C), M)
    xs = 1 / np.sqrt(K)
    def q(v):  # step at which drive v fires (quantized race), float for exact
        if variant.get("exact"):
            return -v
        ph = np.ceil((hi - v) / (hi - lo) * steps - 1e-9) + 1
        return np.where(v >= lo - 1e-12, np.maximum(ph, 1), 1e9)
    for n, (c, yy) in enumerate(zip(codes, ys.astype(np.int64))):
        a = np.flatnonzero(c)
        I = W[:, a].sum(1) * xs
        cosv = I / np.sqrt(nrm2 + 1e-12)
        used = wins > 0.5
        cand = np.zeros(C * M, bool)
        for k in range(C):
            u = np.flatnonzero(~used[k * M:(k + 1) * M])
            if len(u): cand[k * M + u[0]] = True
        if variant.get("rate_recruit"):  # the rate counterpart: the first M images of a class recruit
            k0 = yy * M; fu = np.flatnonzero(~used[k0:k0 + M])
            if len(fu):
                j = k0 + fu[0]; W[j] = c * xs; nrm2[j] = (W[j] ** 2).sum(); wins[j] = 1; E[j] += alpha * (1 - E[j]); continue
            cand[:] = False
        drive = np.where(used, cosv, np.where(cand, rho + jit * rng.random(C * M), -1.0))
        t = q(drive) + (0 if variant.get("exact") else 0)
        blocked = ~(used | cand) | (drive < lo)
        while True:
            tt = np.where(blocked, np.inf, t)
            m = tt.min()
            if not np.isfinite(m) or m >= 1e9: break
            fire = np.flatnonzero(tt == m)
            if variant.get("exact") or variant.get("one_per_step"):
                fire = fire[[rng.integers(len(fire))]]
            right = fire[cls[fire] == yy]; wrong = fire[cls[fire] != yy]
            for j in fire:
                tgt = float(cls[j] == yy)
                if tgt:
                    dop = 1.0 if variant.get("no_d") else 1 - E[j]
                    eta = 1 / (wins[j] + 1)
                    W[j] = np.clip(W[j] + eta * dop * (c * xs - W[j]), 0, 1); nrm2[j] = (W[j] ** 2).sum()
                    wins[j] += 1
                E[j] += alpha * (tgt - E[j])
            if len(right):
                break
            blocked[fire] = True
            for j in wrong:
                blocked |= cls == cls[j]
            blocked |= cls != yy  # label teacher
    # evaluation
    cv = dentate_code(xv, P, 0.05); cv /= np.sqrt(cv.sum(1, keepdims=True))
    nr = np.sqrt(nrm2); cosv = (cv @ W.T) / np.maximum(nr, 1e-12); cosv[:, wins < 0.5] = -1
    cc = cosv.reshape(len(cv), C, M).max(2)
    acc_exact = (cc.argmax(1) == yv).mean()
    ph = np.ceil((hi - cc) / (hi - lo) * steps - 1e-9) + 1; ph = np.where(cc >= lo, np.maximum(ph, 1), 1e9)
    acc_q = ((-ph + 0.5 * rng.random(ph.shape)).argmax(1) == yv).mean()
    return acc_exact, acc_q, int((wins > 0).sum())

if __name__ == "__main__":
    import json
    variant = json.loads(sys.argv[1]); kw = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    t0 = time.time(); r = run(variant, **kw)
    print(json.dumps({"variant": variant, "kw": kw, "class_il_exact_eval": r[0], "class_il_race_eval": r[1], "units_used": r[2], "s": round(time.time() - t0)}), flush=True)
