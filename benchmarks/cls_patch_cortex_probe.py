"""Probe (issue 15, section 1): would a patch cortex shaped by competitive (winner-take-all)
Hebbian learning on digits 0-4 make digits 5-9 easier for a prototype memory?

Not a package feature: a quick measurement to decide whether to build one. Validation protocol
only: the last 10,000 training images are the evaluation set, the first 50,000 the training part;
the test images are never read. Per seed:

* cortex shaped on 0-4: 5x5 patches of 5,000 training-part images of digits 0-4 (contrast-
  normalised), spherical k-means with K centres (the WTA Hebbian rule: the winning centre moves
  to the mean of the patches it wins, then is renormalised), 20 iterations;
* untrained control: K random patches of the same images as centres;
* features of an image: every 5x5 patch's normalised response to each centre, minus the mean
  response over centres, rectified (Coates & Ng's "triangle" code), max-pooled over a 2x2 grid
  of the 24x24 map (4K features); pixels: the 784 raw intensities.

Scores (nearest class mean, cosine; the rate prototype memory with one prototype per class):
5-way few-shot on 5-9 with 1 and 5 training-part examples per class (the same DRAWS draws for
every representation), scored on all validation images of 5-9; NCM over all ten classes from
20,000 training-part images.

    python benchmarks/cls_patch_cortex_probe.py --seeds 1 2 3 --out benchmarks/results/cls/two-systems/patch-probe
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from neuro_grlu.data import load_mnist

PATCH, POOL, DRAWS, NEW = 5, 2, 20, (5, 6, 7, 8, 9)


def patches_of(images, rng, n_images=5000, per_image=10):
    idx = rng.choice(len(images), n_images, replace=False)
    out = []
    for i in idx:
        for _ in range(per_image):
            r, c = rng.integers(0, 28 - PATCH + 1, 2)
            p = images[i, r : r + PATCH, c : c + PATCH].ravel()
            if p.sum() > 2:  # skip blank background patches
                out.append(p)
    p = np.asarray(out, np.float32)
    p -= p.mean(1, keepdims=True)
    return p / (np.linalg.norm(p, axis=1, keepdims=True) + 1e-6)


def wta_hebbian(p, k, rng, iterations=20):
    """Spherical k-means: each centre moves to the (renormalised) mean of the patches it wins."""
    centres = p[rng.choice(len(p), k, replace=False)].copy()
    for _ in range(iterations):
        winner = (p @ centres.T).argmax(1)
        for j in range(k):
            won = p[winner == j]
            if len(won):
                centres[j] = won.sum(0)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True) + 1e-6
    return centres


def features(images, centres):
    out = []
    for s in range(0, len(images), 2000):
        w = sliding_window_view(images[s : s + 2000], (PATCH, PATCH), axis=(1, 2))
        w = w.reshape(w.shape[0], 28 - PATCH + 1, 28 - PATCH + 1, PATCH * PATCH)
        w = w - w.mean(-1, keepdims=True)
        z = (w @ centres.T) / (np.linalg.norm(w, axis=-1, keepdims=True) + 0.3)
        z = np.maximum(z - z.mean(-1, keepdims=True), 0.0)
        n, g = z.shape[0], (28 - PATCH + 1) // POOL
        out.append(z.reshape(n, POOL, g, POOL, g, -1).max(axis=(2, 4)).reshape(n, -1).astype(np.float32))
    return np.concatenate(out)


def ncm_accuracy(f, y, f_eval, y_eval, classes):
    mu = np.stack([f[y == c].mean(0) for c in classes])
    mu /= np.linalg.norm(mu, axis=1, keepdims=True) + 1e-9
    pred = np.asarray(classes)[(f_eval @ mu.T).argmax(1)]
    return float(np.mean(pred == y_eval))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--centres", type=int, default=64)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    t0 = time.time()
    d = load_mnist()
    x = d.x_train.reshape(-1, 28, 28).astype(np.float32) / 255.0
    y = np.asarray(d.y_train, np.int64)
    x_fit, y_fit, x_val, y_val = x[:50000], y[:50000], x[50000:], y[50000:]
    rows = []
    for seed in a.seeds:
        rng = np.random.default_rng(seed)
        p = patches_of(x_fit[y_fit < 5], rng)  # the cortex sees digits 0-4 only
        reps = {"pixels": lambda im: im.reshape(len(im), -1),
                "patch cortex, shaped on 0-4 (WTA Hebbian)": (lambda c: lambda im: features(im, c))(wta_hebbian(p, a.centres, rng)),
                "patch cortex, untrained (random patches)": (lambda c: lambda im: features(im, c))(p[rng.choice(len(p), a.centres, replace=False)])}
        sub = rng.choice(len(y_fit), 20000, replace=False)
        draws = {s: [np.concatenate([rng.choice(np.flatnonzero(y_fit == c), s, replace=False) for c in NEW])
                     for _ in range(DRAWS)] for s in (1, 5)}
        m = np.isin(y_val, NEW)
        for name, rep in reps.items():
            f_val = rep(x_val)
            f_val /= np.linalg.norm(f_val, axis=1, keepdims=True) + 1e-9
            row = {"seed": seed, "representation": name, "dim": int(f_val.shape[1])}
            for s, sel in draws.items():
                acc = [ncm_accuracy(rep(x_fit[i]), y_fit[i], f_val[m], y_val[m], list(NEW)) for i in sel]
                row[f"{s}-shot"] = 100 * float(np.mean(acc))
            f_sub = rep(x_fit[sub])
            row["ncm-10"] = 100 * ncm_accuracy(f_sub, y_fit[sub], f_val, y_val, list(range(10)))
            rows.append(row)
            print(json.dumps(row), f"({time.time() - t0:.0f} s)", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    meta = {"command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), "centres": a.centres,
            "draws_per_seed": DRAWS, "evaluated_on": "validation (last 10,000 training images)",
            "numpy": np.__version__, "python": platform.python_version(), "wall_s": round(time.time() - t0, 1)}
    (a.out / "probe.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    names = list(dict.fromkeys(r["representation"] for r in rows))
    lines = ["| representation | features | 1-shot % | 5-shot % | NCM, 10 classes % |", "|---|---|---|---|---|"]
    for n in names:
        rs = [r for r in rows if r["representation"] == n]
        cell = lambda k: f"{np.mean([r[k] for r in rs]):.1f} ± {np.std([r[k] for r in rs], ddof=1):.1f}" if len(rs) > 1 else f"{rs[0][k]:.1f}"
        lines.append(f"| {n} | {rs[0]['dim']} | {cell('1-shot')} | {cell('5-shot')} | {cell('ncm-10')} |")
    (a.out / "probe.md").write_text(f"Command: `{meta['command']}`; mean ± sd over seeds {a.seeds} "
                                    f"({DRAWS} paired draws per seed), validation split.\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
