"""Where the time of the compiled GRLU step goes (784-256-10, batch 1), per component.

Times, in microseconds per training example, the parts of :func:`neuro_grlu.rules._grlu_numba._grlu_chunk`
called on their own in compiled loops (one thread), and the whole kernel with 1 and 2 numba threads:

* ``first layer`` — layer norm of the input, the W0 update of the previous example and the
  pre-activation of the next one (one pass over W0; ``_rows_update_forward``), plus W1's update;
* ``noise`` — the Philox normals (hidden + output) and, for top-k, the Gumbel variates of every pair;
* ``pairs`` — both noisy readout runs of every pair from noise arrays (hidden noise, activation,
  two layer norms, two ``C × H`` products, log-softmax) and the pair's terms of the update sums
  (``_pair_block``), noise not included;
* ``kernel`` — the whole kernel on the same examples (NumPy noise arrays given, or Philox drawn
  inside), with ``threads`` = 1 and 2 (``rule.threads``).

Run:  python benchmarks/profile_grlu_kernel.py [--pairs 1 16 128] [--examples 400] [--out PREFIX]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from neuro_grlu.data import load_mnist  # noqa: E402
from neuro_grlu.io import write_record  # noqa: E402
from neuro_grlu.network import Architecture, Network  # noqa: E402
from neuro_grlu.rules._grlu_numba import (  # noqa: E402
    _layer_norm_into, _pair_block, _rows_update_forward, train_chunk_1hidden)
from neuro_grlu.rules._philox import GUMBEL_BLOCK, OUTPUT_BLOCK, fill_gumbel, fill_normal, scratch  # noqa: E402
from neuro_grlu.rules.grlu import sample_noise  # noqa: E402
from neuro_grlu.train import prepare_inputs  # noqa: E402


@njit
def _first_layer(W0, b0, W1, x, u0, a0, a1, acc_W1, z0):
    H = W0.shape[0]
    for i in range(x.shape[0]):
        _layer_norm_into(x[i], a1[0])
        _rows_update_forward(0, H, W0, b0, W1, np.float32(1e-6), u0, a0, 1, acc_W1, a1, 1, z0)
        a0, a1 = a1, a0


@njit
def _noise(n, P, H, C, use_topk, n0, n1, gp, work):
    for i in range(n):
        lo, hi = np.uint32(i), np.uint32(0)
        for p in range(P):
            fill_normal(n0, lo, hi, p, 0, 5, 6, work)
            fill_normal(n1, lo, hi, p, OUTPUT_BLOCK, 5, 6, work)
            if use_topk:
                fill_gumbel(gp, lo, hi, p, GUMBEL_BLOCK, 5, 6, work)


@njit
def _pairs(z0, h, W1, b1, y, eps0, eps1, gumbel, use_topk, count, input_noise, u0, acc_W1, acc_b1):
    n, P, H = eps0.shape
    for i in range(n):
        _pair_block(0, P, 0, z0[i], h[i], W1, b1, y[i], eps0, eps1, gumbel, i, use_topk, count, input_noise,
                    np.float32(0.1), False, np.uint32(0), np.uint32(0), 0, u0, acc_W1, acc_b1)


def timed(fn, *args, repeat=3):
    fn(*args)  # compile / warm up
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def profile(activation: str, pairs: int, x, y, n: int, noise_at: str = "input", threads_list=(1, 2)) -> dict:
    arch = Architecture(activation=activation, k=0.5, hidden=(256,))
    H, C, D = 256, 10, 784
    net = Network.init(arch, np.random.default_rng(0))
    W0, b0, W1, b1 = (a.copy() for a in (net.W[0], net.b[0], net.W[1], net.b[1]))
    xs, ys = np.ascontiguousarray(x[:n]), np.ascontiguousarray(y[:n], np.int64)
    use_topk = activation == "topk"
    count = arch.topk_count(0)
    unit = sample_noise(arch, n, pairs, 1.0, np.random.default_rng(1))
    gumbel = unit.gumbel[0] if use_topk else np.empty((1, 1, 1), np.float32)
    work = scratch(H)
    us = {}
    numba.set_num_threads(1)
    a0 = np.empty((1, D), np.float32)
    _layer_norm_into(xs[0], a0[0])
    us["first layer"] = timed(_first_layer, W0, b0, W1, xs, np.zeros((1, 1, H), np.float32), a0,
                              np.empty((1, D), np.float32), np.zeros((1, C, H), np.float32), np.empty((1, H), np.float32)) / n
    us["noise"] = timed(_noise, n, pairs, H, C, use_topk, np.empty(H, np.float32), np.empty(C, np.float32),
                        np.empty(H, np.float32), work) / n
    z0 = (np.stack([net.W[0] @ ((v - v.mean()) / (v.std() + 1e-8)) for v in xs]) + net.b[0]).astype(np.float32)
    h = np.maximum(z0, 0)
    us["pairs"] = timed(_pairs, z0, h, W1, b1, ys, unit.eps[0], unit.eps[1], gumbel, use_topk, count,
                        noise_at == "input", np.zeros((1, H), np.float32), np.zeros((C, H), np.float32),
                        np.zeros(C, np.float32)) / n
    for threads in threads_list:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        for rng in ("numpy", "philox"):
            philox = (pairs, 5, 6, 0) if rng == "philox" else None

            def whole():
                n2 = net.copy()
                train_chunk_1hidden(n2, xs, ys, None if philox else unit, 0.1, 0.1, 1, noise_at, philox=philox,
                                    threads=threads)

            us[f"kernel {rng}, {threads} thread{'s' if threads > 1 else ''}"] = timed(whole) / n
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return {"activation": activation, "pairs": pairs, "noise_at": noise_at,
            "us_per_example": {k: v * 1e6 for k, v in us.items()}, "load_1min": os.getloadavg()[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, nargs="+", default=[1, 16, 128])
    ap.add_argument("--examples", type=int, default=400, help="examples per timing (best of 3)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="numba thread counts for the whole kernel")
    ap.add_argument("--out", default=None, help="output path prefix (.md, .json); default: print only")
    args = ap.parse_args()
    data = load_mnist()
    x, y = prepare_inputs(data.x_train[:2000]), data.y_train[:2000].astype(np.int64)
    load_start = os.getloadavg()
    rows = []
    for activation in ("relu", "topk"):
        for pairs in args.pairs:
            row = profile(activation, pairs, x, y, args.examples, threads_list=args.threads)
            rows.append(row)
            print(json.dumps(row), flush=True)
    meta = {"command": "python " + " ".join([sys.argv[0]] + sys.argv[1:]), "cores": os.cpu_count(),
            "threading_layer": numba.threading_layer(), "numba": numba.__version__,
            "load_average_start": load_start, "load_average_end": os.getloadavg(), "rows": rows}
    keys = list(rows[0]["us_per_example"])
    lines = [
        "# Compiled GRLU step: microseconds per training example, per component (784-256-10, batch 1, input noise)",
        "",
        f"Command: `{meta['command']}`; numba {numba.__version__}, threading layer {meta['threading_layer']}, "
        f"{os.cpu_count()} cores.  ",
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in load_start)}; at the end: "
        f"{', '.join(f'{v:.1f}' for v in meta['load_average_end'])} (best of 3 timings each; on a loaded machine "
        "compare within a row).",
        "",
        "| activation | pairs | " + " | ".join(keys) + " | samples/s (best kernel) | load |",
        "|---|---|" + "---|" * len(keys) + "---|---|",
    ]
    for r in rows:
        u = r["us_per_example"]
        best = min(v for k, v in u.items() if k.startswith("kernel"))
        lines.append(f"| {r['activation']} | {r['pairs']} | " + " | ".join(f"{u[k]:,.1f}" for k in keys)
                     + f" | {1e6 / best:,.0f} | {r['load_1min']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_record(args.out, meta, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
