"""Rate emulation (numpy) of the spiking prototype hippocampus, one pass over all ten digits on a
patch cortex (issue 15, session 9): how many units does the spiking learner recruit, and does a
stronger novelty drive (``recruit``) bring its one-pass accuracy to the rate counterpart's?

The training rule is the one of ``../validation-search/race-emulation.py`` (session 8; it matched
Brian2's read-out within 0.15 points there) with ``dopamine_gain = "gate"`` (a rewarded spike
moves its unit by ``1/(wins + 1) (x - w)``) and the label teacher, on the package's dentate code of
the cortex features (the same projection ``P`` as ``SpikingPrototype``, ``code_seed`` 0).
Validation protocol: the cortex is built as the definition builds it (its own classes' images of
the first 50,000 training images, or none for ``shape = "random"``); training = the first 50,000
training images in one random order; scored on the last 10,000 training images (exact argmax and
the quantized race read-out). The test images are never read.

    PYTHONPATH=. python benchmarks/results/cls/two-systems/validation-onepass/race-emulation-onepass.py \\
        cls-onepass-patch7-random-spiking-label-gate '{"recruit": 0.6}'
One JSON line per run is appended to ``race-emulation-onepass.jsonl`` beside this file.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from neuro_grlu.cls.config import load_continual
from neuro_grlu.cls.patch import shape_patch
from neuro_grlu.cls.spiking_prototype import dentate_code, topk_count
from neuro_grlu.data import load_mnist


def run(name, recruit=None, units=None, seed=1):
    cfg = load_continual(name, [])
    hp = cfg.hippocampus
    # the rule emulated below: anything else would be emulated wrongly
    assert (hp.dopamine_gain, hp.teacher, hp.dips, hp.retry) == ("gate", "label", "lockout", True), hp
    jit, alpha = hp.recruit_jitter, hp.alpha
    rho = hp.recruit if recruit is None else recruit
    M = hp.units_per_class if units is None else units
    hi, lo, steps, expand = hp.theta_high, hp.theta_low, hp.race_steps, hp.expand
    d = load_mnist()
    x, y = d.x_train[:50000], np.asarray(d.y_train[:50000])
    xv, yv = d.x_train[50000:], np.asarray(d.y_train[50000:])
    own = np.isin(y, cfg.cortex.classes)
    cortex = shape_patch(cfg.patch, x[own], y[own], cfg.cortex.classes, seed=seed)
    f, fv = cortex.features(x), cortex.features(xv)
    P = (np.random.default_rng(hp.code_seed).standard_normal((expand, f.shape[1])) / np.sqrt(f.shape[1])).astype(np.float32)
    K = topk_count(hp.k, expand)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    codes = dentate_code(f[order], P, hp.k).astype(bool)
    ys = y[order]
    C = 10
    W = np.zeros((C * M, expand), np.float64)
    wins = np.zeros(C * M)
    E = np.full(C * M, 0.1)
    nrm2 = np.zeros(C * M)
    cls = np.repeat(np.arange(C), M)
    xs = 1 / np.sqrt(K)

    def q(v):  # the threshold step at which drive v fires (the quantized race; as in the session-8
        # emulator a drive in [theta_low, theta_low + step) fires at step race_steps + 1, where
        # Brian2's last threshold is theta_low + step: negligible, those drives are rare)
        ph = np.ceil((hi - v) / (hi - lo) * steps - 1e-9) + 1
        return np.where(v >= lo - 1e-12, np.maximum(ph, 1), 1e9)

    for c, yy in zip(codes, ys.astype(np.int64)):
        a = np.flatnonzero(c)
        cosv = W[:, a].sum(1) * xs / np.sqrt(nrm2 + 1e-12)
        used = wins > 0.5
        cand = np.zeros(C * M, bool)
        for k in range(C):
            u = np.flatnonzero(~used[k * M:(k + 1) * M])
            if len(u):
                cand[k * M + u[0]] = True
        drive = np.where(used, cosv, np.where(cand, rho + jit * rng.random(C * M), -1.0))
        t = q(drive)
        blocked = ~(used | cand) | (drive < lo)
        while True:
            tt = np.where(blocked, np.inf, t)
            m = tt.min()
            if not np.isfinite(m) or m >= 1e9:
                break
            fire = np.flatnonzero(tt == m)
            right = fire[cls[fire] == yy]
            for j in fire:
                tgt = float(cls[j] == yy)
                if tgt:  # dopamine_gain = "gate": a full running-mean step
                    W[j] = np.clip(W[j] + (c * xs - W[j]) / (wins[j] + 1), 0, 1)
                    nrm2[j] = (W[j] ** 2).sum()
                    wins[j] += 1
                E[j] += alpha * (tgt - E[j])
            if len(right):
                break
            blocked[fire] = True
            blocked |= cls != yy  # label teacher: after an error only the right class may fire
    cv = dentate_code(fv, P, hp.k)
    cv /= np.sqrt(cv.sum(1, keepdims=True))
    cosv = (cv @ W.T) / np.maximum(np.sqrt(nrm2), 1e-12)
    cosv[:, wins < 0.5] = -1
    cc = cosv.reshape(len(cv), C, M).max(2)
    acc_exact = float((cc.argmax(1) == yv).mean())
    ph = np.ceil((hi - cc) / (hi - lo) * steps - 1e-9) + 1
    ph = np.where(cc >= lo, np.maximum(ph, 1), 1e9)
    acc_race = float(((-ph + 0.5 * rng.random(ph.shape)).argmax(1) == yv).mean())
    return acc_exact, acc_race, int((wins > 0).sum()), rho, M


if __name__ == "__main__":
    name = sys.argv[1]
    kw = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    t0 = time.time()
    ex, race, used, rho, M = run(name, **kw)
    line = json.dumps({"definition": name, "kw": kw, "recruit": rho, "units_per_class": M,
                       "one_pass_validation_exact_eval": ex, "one_pass_validation_race_eval": race,
                       "units_used": used, "s": round(time.time() - t0)})
    print(line, flush=True)
    with (Path(__file__).with_suffix(".jsonl")).open("a") as fh:
        fh.write(line + "\n")
