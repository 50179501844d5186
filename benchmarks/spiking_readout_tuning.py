"""Tuning and diagnostics of the spiking hippocampus (learner ``spiking-rstdp``) on frozen cortex features.

Features come from the GRLU cortex stored in a continual run file (default: the 50 ms
experiment-3 run, cortex trained 3 epochs on digits 0-9, seed 1) and are cached once.

    python benchmarks/spiking_readout_tuning.py curve TAG N_TRAIN [key=value ...]
        Learning curve: the model file's spiking settings (models/cls-cortex-grlu-hippocampus-
        spiking.toml) with the overrides, one pass over N_TRAIN random training images
        (permutation seed 1); test accuracy on the first 2,000 test images after 1k, 2k, 5k,
        10k, ... images. Writes benchmarks/results/cls/spiking-tuning/curve-TAG.json.
    python benchmarks/spiking_readout_tuning.py ideal TAG [key=value ...]
        Readout noise: writes two fixed weight sets into the network (the nearest-class-mean
        prototypes of the input code of 20,000 training images, and a non-negative softmax
        readout trained on them, both scaled to the network's L2 weight norm) and compares
        the spike-count accuracy with the same weights' rate accuracy on the first 1,000 test
        images. Writes benchmarks/results/cls/spiking-tuning/ideal-TAG.json.

    python benchmarks/spiking_readout_tuning.py ceiling TAG
        Linear ceilings of the same features on the full test set: a least-squares readout of
        the layer-normalised features (all 60,000 training images, one-hot targets, bias), and
        the rate three-factor readout (models/cls-cortex-grlu-hippocampus-reward.toml's
        hippocampus) in one pass over the first 10,000 training images (dataset order).
        Writes benchmarks/results/cls/spiking-tuning/ceiling-TAG.json.

One process per run, one BLAS thread (OPENBLAS_NUM_THREADS=1); wall times depend on the load.

Protocol warning: ``curve`` and ``ideal`` score on the first test images. They are kept as the
record of how the older ``spiking-rstdp`` settings were made (chosen on those test images, see
benchmarks/results/cls/README.md); do not use them to choose settings. The validation protocol
(``protocol.evaluate = "validation"``, benchmarks/cls_two_systems.py) is the honest way.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks/results/cls/spiking-tuning"
RUN = ROOT / "benchmarks/results/cls/runs/readout--cortex-grlu09-hippocampus-spiking-present50ms.h5"
CACHE = Path.home() / ".cache/neuro_grlu/spiking-tuning-features.npz"


def features():
    """Cortex features (train 60,000 × 256, test 10,000 × 256) of the stored GRLU cortex, cached."""
    if CACHE.exists():
        d = np.load(CACHE)
        return d["xtr"], d["ytr"], d["xte"], d["yte"]
    from neuro_grlu.cls.config import parse_continual
    from neuro_grlu.cls.cortex import hidden_features
    from neuro_grlu.data import load_mnist
    from neuro_grlu.io import read_run
    from neuro_grlu.network import Architecture, Network

    ds, run = load_mnist(), read_run(RUN)
    c = parse_continual(run.config, RUN.stem).cortex
    arch = Architecture(n_in=ds.x_train.shape[1], hidden=c.hidden, n_out=10, activation=c.activation, k=c.k)
    cortex = Network.from_state_dict(arch, {k.removeprefix("cortex_"): v for k, v in run.weights.items()
                                            if k.startswith("cortex_")})
    out = dict(xtr=hidden_features(cortex, ds.x_train), ytr=ds.y_train,
               xte=hidden_features(cortex, ds.x_test), yte=ds.y_test)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, **out)
    return out["xtr"], out["ytr"], out["xte"], out["yte"]


def settings(overrides):
    """The spiking model file's hippocampus parameters with ``key=value`` overrides (TOML values,
    validated like ``--set hippocampus.key=value``: an unknown key or a bad value is a ConfigError)."""
    from neuro_grlu.cls.config import load_continual

    cfg = load_continual("cls-cortex-grlu-hippocampus-spiking", [f"hippocampus.{kv}" for kv in overrides])
    return cfg.hippocampus.to_dict()


def curve(tag, n, overrides):
    from neuro_grlu.cls.spiking_hippocampus import SpikingRSTDP, SpikingRSTDPParams

    xtr, ytr, xte, yte = features()
    perm = np.random.default_rng(1).permutation(len(ytr))[:n]
    xtr, ytr, xte, yte = xtr[perm], ytr[perm], xte[:2000], yte[:2000]
    params = settings(overrides)
    net = SpikingRSTDP(SpikingRSTDPParams(**params), xtr.shape[1], 10)
    rng, t0, done, points = np.random.default_rng(0), time.time(), 0, []
    for stop in [c for c in (1000, 2000, 5000, 10000, 20000, 40000, 60000) if c <= n]:
        r = net.fit_online(xtr[done:stop], ytr[done:stop], rng)
        acc = float(np.mean(net.predict(xte) == yte))
        points.append(dict(images=stop, reward=float(np.nanmean(r)), test_acc=acc, wall_s=time.time() - t0))
        print(tag, stop, f"reward {np.nanmean(r):.3f} acc {acc:.3f} t {time.time() - t0:.0f}s", flush=True)
        done = stop
    return dict(tag=tag, overrides=overrides, params=params, curve=points)


def ideal(tag, overrides):
    from neuro_grlu.cls.spiking_hippocampus import SpikingRSTDP, SpikingRSTDPParams, input_code

    xtr, ytr, xte, yte = features()
    xtr, ytr, xte, yte = xtr[:20000], ytr[:20000], xte[:1000], yte[:1000]
    params = settings(overrides)
    a, b = input_code(xtr), input_code(xte)
    prototypes = np.stack([a[ytr == c].mean(0) for c in range(10)])
    an, bn = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    W, Y = np.full((10, a.shape[1]), 0.05, np.float32), np.eye(10)[ytr]
    for _ in range(10):  # non-negative softmax readout of the cosine scores, projected gradient
        for i in range(0, len(an), 100):
            s = an[i : i + 100] @ W.T * 10
            p = np.exp(s - s.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            W = np.maximum(W - 0.5 * (p - Y[i : i + 100]).T @ an[i : i + 100] / 100, 0)
    net = SpikingRSTDP(SpikingRSTDPParams(**params), a.shape[1], 10)
    net._build()
    w_init, w_max = params["w_init"], params["w_max"]
    norm = w_init * np.sqrt((1 + params["w_spread"] ** 2 / 3) * a.shape[1])  # the network's L2 target
    out = dict(tag=tag, overrides=overrides, params=params)
    for name, P in (("nearest-class-mean", prototypes), ("softmax-nonneg", W)):
        P = np.clip(P / np.linalg.norm(P, axis=1, keepdims=True) * norm, 0, w_max)
        net._groups["syn"].w = np.repeat(P, params["n_per_class"], axis=0).T.ravel()
        net._version += 1
        counts = net.logits(xte)
        out[name] = dict(rate_acc=float(np.mean((bn @ P.T).argmax(1) == yte)),
                         spiking_acc=float(np.mean(counts.argmax(1) == yte)),
                         mean_spikes_per_population=float(counts.mean()), winner_spikes=float(counts.max(1).mean()))
        print(tag, name, out[name], flush=True)
    return out


def ceiling(tag):
    from neuro_grlu.cls.config import load_continual
    from neuro_grlu.cls.hippocampus import make_learner
    from neuro_grlu.network import layer_norm

    xtr, ytr, xte, yte = features()
    a = np.hstack([layer_norm(xtr), np.ones((len(xtr), 1), np.float32)]).astype(np.float64)
    b = np.hstack([layer_norm(xte), np.ones((len(xte), 1), np.float32)]).astype(np.float64)
    W = np.linalg.lstsq(a, np.eye(10)[ytr], rcond=None)[0]
    out = dict(tag=tag, least_squares_test_acc=float(np.mean((b @ W).argmax(1) == yte)))
    cfg = load_continual("cls-cortex-grlu-hippocampus-reward")
    learner = make_learner(cfg.hippocampus_learner, cfg.hippocampus, xtr.shape[1], 10)
    learner.fit_online(xtr[:10000], ytr[:10000], np.random.default_rng(0))
    out["rate_reward_one_pass_10k_test_acc"] = float(np.mean(learner.predict(xte) == yte))
    print(tag, out, flush=True)
    return out


def main(argv):
    from neuro_grlu.errors import ConfigError

    usage = "usage: spiking_readout_tuning.py curve TAG N_TRAIN [key=value ...] | ideal TAG [key=value ...] | ceiling TAG"
    if len(argv) < 2 or argv[0] not in ("curve", "ideal", "ceiling") or (argv[0] == "curve" and (len(argv) < 3 or not argv[2].isdigit())):
        print(usage, file=sys.stderr)
        return 2
    cmd, tag = argv[0], argv[1]
    try:
        result = (curve(tag, int(argv[2]), argv[3:]) if cmd == "curve" else ideal(tag, argv[2:]) if cmd == "ideal"
                  else ceiling(tag))
    except ConfigError as exc:
        print(f"spiking_readout_tuning.py: error: {exc}", file=sys.stderr)
        return 2
    result["command"] = "python benchmarks/spiking_readout_tuning.py " + " ".join(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{cmd}-{tag}.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
