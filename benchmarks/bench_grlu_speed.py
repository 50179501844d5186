"""GRLU training throughput: the published algorithm vs the shared-first-layer implementations.

Measures training samples per second (784-256-10, batch 1, MNIST images) for

* ``tiled``  — the published implementation's algorithm in NumPy: the input tiled over pairs,
  the whole network run per pair and sign (``backend = "tiled"``);
* ``numpy``  — the shared-first-layer algorithm in NumPy (``backend = "numpy"``);
* ``numba``  — the same as a compiled per-example kernel, noise drawn by NumPy on a second thread
  (``backend = "numba"``, the default for one hidden layer, ``rng = "numpy"``);
* ``philox`` — the same kernel drawing its noise itself from Philox4x32-10 (``rng = "philox"``;
  vectorised generator) on one numba thread, and ``philox2`` on two (pair blocks and weight rows
  shared by the threads; the same numbers as one thread);

for 1/16/128 pairs with ReLU and with top-k (k = 0.5), all in one process, one after the
other, with one BLAS thread. It also measures this machine's single-thread float32 matmul
rate (a 1024³ sgemm) and reports each variant's arithmetic rate against it, and it times
the random numbers alone (the noise every variant must draw).

Run:  python benchmarks/bench_grlu_speed.py [--seconds 4] [--pairs 1 16 128] [--out benchmarks/results/grlu-speed]

The jit-compiled JAX version of the published algorithm is a separate, benchmark-only script
(``benchmarks/bench_grlu_jax.py``; JAX in its own environment).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neuro_grlu.data import load_mnist  # noqa: E402
from neuro_grlu.io import write_record  # noqa: E402
from neuro_grlu.network import Architecture, Network  # noqa: E402
from neuro_grlu.rules.grlu import GRLU, GRLUParams, NoiseStream  # noqa: E402
from neuro_grlu.rules.loop import train_chunk  # noqa: E402
from neuro_grlu.train import prepare_inputs  # noqa: E402

D, H, C = 784, 256, 10
BACKENDS = ("tiled", "numpy", "numba", "philox", "philox2")


def flops_per_sample(backend: str, pairs: int) -> float:
    """Floating-point operations per training example (multiply-add = 2)."""
    if backend == "tiled":  # every pair and sign runs both layers; updates per pair
        return pairs * (2 * 2 * (D * H + H * C) + 2 * (D * H + H * C))
    # shared: first layer once (forward + one outer-product update); readout per pair and sign
    return 2 * 2 * D * H + pairs * (2 * 2 * H * C + 2 * H * C)


def sgemm_rate(n: int = 1024, repeats: int = 5) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.copy()
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t)


def measure(backend: str, activation: str, pairs: int, x, y, seconds: float, hidden=(256,), skip="none") -> float:
    """Samples/s of ``backend`` (``tiled``, ``numpy``, ``numba``, or ``philox``/``philox2`` = numba
    with rng philox on 1/2 numba threads)."""
    arch = Architecture(activation=activation, k=0.5, hidden=hidden, skip=skip)
    philox = backend.startswith("philox")
    numba.set_num_threads(min(2 if backend == "philox2" else 1, numba.config.NUMBA_NUM_THREADS))
    rule = GRLU(GRLUParams(pairs=pairs, backend="numba" if philox else backend, rng="philox" if philox else "numpy",
                           threads=2 if backend == "philox2" else 1), arch)
    net = Network.init(arch, np.random.default_rng(0))
    state = rule.init(net, init_rng=np.random.default_rng(0), noise_rng=np.random.default_rng(1))
    hyper = {"lr": 0.1, "sigma": 0.1}
    chunk = rule.chunk_size
    state, _ = train_chunk(rule, net, state, x[:chunk], y[:chunk], hyper)  # warm-up (compile, allocate)
    done, start, t0 = 0, chunk, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = start % (len(x) - chunk)
        state, _ = train_chunk(rule, net, state, x[s : s + chunk], y[s : s + chunk], hyper)
        done += chunk
        start += chunk
    rate = done / (time.perf_counter() - t0)
    state.close()
    return rate


def noise_rate(activation: str, pairs: int, seconds: float) -> float:
    arch = Architecture(activation=activation, k=0.5)
    block = GRLU(GRLUParams(pairs=pairs), arch).chunk_size
    stream = NoiseStream(arch, pairs, block, np.random.default_rng(0))
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        stream.next()
        done += block
    return done / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="measuring time per cell")
    ap.add_argument("--pairs", type=int, nargs="+", default=[1, 16, 128], help="pair counts to measure")
    ap.add_argument("--no-deep", action="store_true", help="skip the deep-network rows")
    ap.add_argument("--out", default="benchmarks/results/grlu-speed", help="output path prefix (.md, .json)")
    args = ap.parse_args()

    data = load_mnist()
    x, y = prepare_inputs(data.x_train[:20000]), data.y_train[:20000].astype(np.int64)
    peak = sgemm_rate()
    load_start = os.getloadavg()
    rows = []
    for activation in ("relu", "topk"):
        for pairs in args.pairs:
            row = {"activation": activation, "pairs": pairs, "noise_only": noise_rate(activation, pairs, args.seconds)}
            for backend in BACKENDS:
                row[backend] = measure(backend, activation, pairs, x, y, args.seconds)
                row[f"{backend}_gflops"] = row[backend] * flops_per_sample(backend, pairs) / 1e9
            row["load_1min"] = os.getloadavg()[0]
            rows.append(row)
            print(json.dumps(row), flush=True)

    # The deep definition (784-256-128-10, readout skip): NumPy paths only (no compiled kernel).
    deep = []
    for pairs in () if args.no_deep else (16, 128):
        row = {"pairs": pairs}
        for backend in ("tiled", "numpy"):
            row[backend] = measure(backend, "relu", pairs, x, y, args.seconds, hidden=(256, 128), skip="readout")
        deep.append(row)
        print(json.dumps(row), flush=True)

    meta = {
        "command": "python " + " ".join([sys.argv[0]] + sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "numpy": np.__version__,
        "sgemm_gflops_1thread": peak / 1e9,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "rows": rows,
        "deep_256_128_readout": deep,
    }
    lines = [
        "# GRLU training throughput (784-256-10, batch 1, MNIST)",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}; numpy {np.__version__}; one BLAS thread; "
        f"single-thread sgemm (1024³): **{peak / 1e9:.1f} GFLOP/s**.",
        "",
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in load_start)}; "
        f"at the end: {', '.join(f'{v:.1f}' for v in meta['load_average_end'])} (2 cores: absolute rates on a "
        "loaded machine are not the machine's; compare within a row).",
        "",
        "Samples/s (higher is better); in brackets the arithmetic rate in GFLOP/s and its share of the sgemm rate.",
        "`tiled` is the published algorithm in NumPy; `numba` draws NumPy noise on a second thread; "
        "`philox` draws Philox noise inside the kernel, on one numba thread or on two (`NUMBA_NUM_THREADS` "
        f"= {numba.config.NUMBA_NUM_THREADS}, threading layer {numba.threading_layer()}).",
        "",
        "| activation | pairs | tiled (published alg.) | numpy shared | numba, numpy rng | numba, philox | numba, philox, "
        "2 threads | philox / numpy rng | 2 threads / 1 | best / tiled | noise alone (numpy) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = []
        for b in BACKENDS:
            g = r[f"{b}_gflops"]
            cells.append(f"{r[b]:,.0f} ({g:.1f}, {100 * g / (peak / 1e9):.0f}%)")
        best = max(r["numba"], r["philox"], r["philox2"])
        lines.append(f"| {r['activation']} | {r['pairs']} | " + " | ".join(cells)
                     + f" | {r['philox'] / r['numba']:.2f}× | {r['philox2'] / r['philox']:.2f}× | {best / r['tiled']:.1f}× "
                     f"| {r['noise_only']:,.0f} | {r['load_1min']:.1f} |")
    lines += [
        "",
        "Deep definition `grlu-mnist-deep128` (784-256-128-10, readout skip, ReLU), NumPy paths:",
        "",
        "| pairs | tiled (published alg.) | numpy shared | 10-epoch run at numpy rate |",
        "|---|---|---|---|",
    ]
    for r in deep:
        lines.append(f"| {r['pairs']} | {r['tiled']:,.0f} | {r['numpy']:,.0f} | {600000 / r['numpy'] / 60:.0f} min |")
    write_record(args.out, meta, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
