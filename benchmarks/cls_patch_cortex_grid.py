"""Validation grid (issue 15, section 1): which patch cortex settings make digits 5-9 easiest for a
prototype memory, and where does shaping on 0-4 beat its own untrained architecture?

Uses the package's cortex (:mod:`neuro_grlu.cls.patch`: :func:`shape_patch`, :class:`PatchCortex`).
Validation protocol only: the first 50,000 training images are the training part, the last
10,000 the evaluation set; the test images are never read. The cortex's slow learner receives the
training-part images of digits 0-4 only. Per seed and setting (``patch``, ``pool``, ``centres``),
three cortices with the same architecture:

* ``wta-hebbian``: shaped on 0-4 (spherical k-means on their patches, the package default);
* ``none``: random patches of 0-4 as centres (no learning, but the centres are copied from data);
* ``random``: Gaussian random centres, zero-mean and unit length: no data at all.

Rows go to ``OUT/grid.jsonl`` as they are measured (a stopped run continues where it stopped);
``grid.md`` is written at the end from every row in the file.

Scores (cosine nearest class mean: the rate prototype memory with one prototype per class):
5-way few-shot on 5-9 with 1 and 5 training-part examples per class (the same ``--draws`` draws for
every cortex of a seed), scored on all validation images of 5-9; NCM over all ten classes from
20,000 training-part images.

    python benchmarks/cls_patch_cortex_grid.py --seeds 1 --out benchmarks/results/cls/two-systems/patch-grid

``--fewshot-classes`` and ``--ncm-classes`` score other classes. With both set to 0-4 the grid is a
selection that never reads an image of 5-9 (training part or validation): the slow, evolution-like
choice of an architecture on the cortex's own classes (``patch-grid-04``):

    python benchmarks/cls_patch_cortex_grid.py --seeds 1 --fewshot-classes 0 1 2 3 4 --ncm-classes 0 1 2 3 4 \
        --out benchmarks/results/cls/two-systems/patch-grid-04
"""
from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from neuro_grlu.cls.patch import PatchParams, shape_patch
from neuro_grlu.data import load_mnist
from neuro_grlu.io import write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cls_patch_cortex_probe import ncm_accuracy  # noqa: E402  (the probe's cosine nearest class mean)

NEW = (5, 6, 7, 8, 9)
ALL = tuple(range(10))


def unit(f):
    return f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-9)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--patch", type=int, nargs="+", default=[5, 7])
    ap.add_argument("--pool", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--centres", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--shapes", nargs="+", default=["wta-hebbian", "none", "random"])
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--fewshot-classes", type=int, nargs="+", default=list(NEW),
                    help="the 5-way few-shot task's classes (default 5-9)")
    ap.add_argument("--ncm-classes", type=int, nargs="+", default=list(ALL),
                    help="classes of the nearest-class-mean score (default all ten)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    for name, cls in (("--fewshot-classes", a.fewshot_classes), ("--ncm-classes", a.ncm_classes)):
        if not set(cls) <= set(ALL) or len(set(cls)) < 2 or len(set(cls)) != len(cls):
            ap.error(f"{name} takes two or more distinct digits 0-9 (got {cls})")
    fewshot, ncm_classes = tuple(sorted(a.fewshot_classes)), tuple(sorted(a.ncm_classes))
    ncm_key = f"ncm-{len(ncm_classes)}"
    t0 = time.time()
    d = load_mnist()
    x, y = np.asarray(d.x_train), np.asarray(d.y_train, np.int64)
    x_fit, y_fit, x_val, y_val = x[:50000], y[:50000], x[50000:], y[50000:]
    old = y_fit < 5
    read = np.isin(y_val, fewshot + ncm_classes)  # validation images of other classes are never read
    x_val, y_val = x_val[read], y_val[read]
    m_new = np.isin(y_val, fewshot)
    m_ncm = np.isin(y_val, ncm_classes)
    a.out.mkdir(parents=True, exist_ok=True)
    rows_path = a.out / "grid.jsonl"
    done = set()
    if rows_path.exists():  # resume: settings already measured are skipped
        for line in rows_path.read_text().splitlines():
            r = json.loads(line)
            scored = (tuple(r.get("fewshot_classes", NEW)), tuple(r.get("ncm_classes", ALL)))
            if scored != (fewshot, ncm_classes):
                ap.error(f"{rows_path} holds rows scored on few-shot classes {list(scored[0])} and NCM classes "
                         f"{list(scored[1])}, not on {list(fewshot)} / {list(ncm_classes)}: use another --out")
            done.add((r["seed"], r["patch"], r["pool"], r["centres"], r["shape"]))
    for seed in a.seeds:
        rng = np.random.default_rng([seed, 99])
        sub = (rng.choice(len(y_fit), 20000, replace=False) if ncm_classes == ALL
               else rng.choice(np.flatnonzero(np.isin(y_fit, ncm_classes)), 20000, replace=False))
        draws = {s: [np.concatenate([rng.choice(np.flatnonzero(y_fit == c), s, replace=False) for c in fewshot])
                     for _ in range(a.draws)] for s in (1, 5)}
        for patch, pool, centres, shape in itertools.product(a.patch, a.pool, a.centres, a.shapes):
            if (seed, patch, pool, centres, shape) in done:
                continue
            params = PatchParams(centres=centres, patch=patch, pool=pool, shape=shape)
            t1 = time.time()
            cortex = shape_patch(params, x_fit[old], y_fit[old], list(range(5)), seed=seed)
            f_val = unit(cortex.features(x_val))
            row = {"seed": seed, "patch": patch, "pool": pool, "centres": centres, "shape": shape,
                   "features": int(f_val.shape[1])}
            if (fewshot, ncm_classes) != (NEW, ALL):  # rows of the default grid keep their earlier form
                row.update(fewshot_classes=list(fewshot), ncm_classes=list(ncm_classes))
            for s, sel in draws.items():
                acc = [ncm_accuracy(cortex.features(x_fit[i]), y_fit[i], f_val[m_new], y_val[m_new], list(fewshot))
                       for i in sel]
                row[f"{s}-shot"] = 100 * float(np.mean(acc))
            row[ncm_key] = 100 * ncm_accuracy(cortex.features(x_fit[sub]), y_fit[sub], f_val[m_ncm], y_val[m_ncm],
                                              list(ncm_classes))
            row["wall_s"] = round(time.time() - t1, 1)
            with rows_path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), f"({time.time() - t0:.0f} s)", flush=True)
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    meta = {"command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "draws_per_seed": a.draws, "evaluated_on": "validation (last 10,000 training images)",
            "fewshot_classes": list(fewshot), "ncm_classes": list(ncm_classes),
            "images_read": "training part: 0-4 (the cortex) and the scored classes; validation: the scored classes only",
            "numpy": np.__version__, "python": platform.python_version()}
    write_text_atomic(a.out / "grid.json", json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    keys = sorted({(r["patch"], r["pool"], r["centres"]) for r in rows})
    lines = [f"| patch | pool | centres | features | cortex | seeds | 1-shot % | 5-shot % | NCM, {len(ncm_classes)} classes % |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in keys:
        for shape in a.shapes:
            rs = [r for r in rows if (r["patch"], r["pool"], r["centres"]) == k and r["shape"] == shape]
            if not rs:
                continue
            cell = lambda q: (f"{np.mean([r[q] for r in rs]):.1f} ± {np.std([r[q] for r in rs], ddof=1):.1f}"
                              if len(rs) > 1 else f"{rs[0][q]:.1f}")
            lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {rs[0]['features']} | {shape} | {len(rs)} | "
                         f"{cell('1-shot')} | {cell('5-shot')} | {cell(ncm_key)} |")
    write_text_atomic(a.out / "grid.md", f"Command: `{meta['command']}`; {a.draws} paired draws per seed, "
                      f"few-shot on {list(fewshot)}, validation split (test images never read).\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
