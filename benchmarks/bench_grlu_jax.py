"""GRLU's published algorithm jit-compiled with JAX: a benchmark-only extra (issue 17, item 5).

JAX is not a dependency of the package. Install it in a separate environment that sees the
project's packages, so the main environment is untouched:

    python -m venv --system-site-packages /work/venv-jax
    /work/venv-jax/bin/pip install jax -c <(echo "numpy<2.4")

Run (from the repository root, on a quiet machine; JAX on one XLA thread):

    PYTHONPATH=$PWD /work/venv-jax/bin/python benchmarks/bench_grlu_jax.py --check
    NUMBA_NUM_THREADS=2 PYTHONPATH=$PWD /work/venv-jax/bin/python benchmarks/bench_grlu_jax.py --seconds 3 \\
        --out benchmarks/results/grlu-beyond/jax

In the same run, cell after cell, it times the package's own rows with ``bench_grlu_speed.measure``:
``tiled`` (the published algorithm in NumPy) and the numba kernel with Philox noise on one and on
two threads, so every ratio is a ratio within one run.

What is timed: the published algorithm (784-256-10, batch 1, ``rule.backend = "tiled"``: the input
tiled over the pairs, the whole network run per pair and sign, the update summed over the pairs)
as one jit-compiled function that trains on a chunk of examples one after the other
(``lax.scan``), the noise drawn inside it by JAX's generator (threefry), published output noise,
ReLU and top-k (k = 0.5, Gumbel noise selects the winners). ``--check`` compares one JAX step with
``grlu_update_tiled`` of the package on the same noise (weights after the step, float32).
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_platform_name", "cpu")

D, H, C, K = 784, 256, 10, 0.5
PACKAGE = ("tiled", "philox", "philox2")  # bench_grlu_speed.measure backends timed in the same run
LN_EPS = 1e-8


def layer_norm(x):
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / (x.std(axis=-1, keepdims=True) + LN_EPS)


def hidden_act(z, gumbel, activation):
    if activation == "relu":
        return jnp.maximum(z, 0.0)
    count = max(1, int(np.floor(K * z.shape[-1])))
    score = z + gumbel
    kth = jax.lax.top_k(score, count)[0][..., -1:]
    return jnp.where(score >= kth, z, 0.0)


def tiled_update(params, x, y, e0, e1, g0, activation):
    """The published algorithm for one example: ``x`` (784,), ``e0`` (P, H), ``e1`` (P, C),
    ``g0`` (P, H) Gumbel noise (top-k) or zeros. Returns ``(dW0, db0, dW1, db1)``."""
    W0, b0, W1, b1 = params
    P = e0.shape[0]
    X = jnp.broadcast_to(x, (P, x.shape[0]))
    a0 = layer_norm(X)  # the same for both signs
    z0 = a0 @ W0.T + b0

    def run(sign):
        h = hidden_act(z0, g0, activation) + sign * e0
        a1 = layer_norm(h)
        logits = a1 @ W1.T + b1 + sign * e1
        r = jax.nn.log_softmax(logits)[:, y]
        return a1, r

    a1p, rp = run(1.0)
    a1m, rm = run(-1.0)
    dr = (rp - rm) * 0.5
    g0w, g1w = e0 * dr[:, None], e1 * dr[:, None]
    return (g0w.T @ a0 / P, g0w.sum(0) / P, g1w.T @ ((a1p + a1m) * 0.5) / P, g1w.sum(0) / P)


@partial(jax.jit, static_argnames=("pairs", "activation"), donate_argnums=(0,))
def train_chunk(params, xs, ys, key, lr, sigma, pairs, activation):
    """Train on ``xs`` one example at a time (batch 1), noise drawn inside from ``key``."""

    def body(carry, xy):
        params, key = carry
        x, y = xy
        key, k0, k1, k2 = jax.random.split(key, 4)
        e0 = sigma * jax.random.normal(k0, (pairs, H), jnp.float32)
        e1 = sigma * jax.random.normal(k1, (pairs, C), jnp.float32)
        g0 = jax.random.gumbel(k2, (pairs, H), jnp.float32) if activation == "topk" else jnp.zeros((pairs, H), jnp.float32)
        upd = tiled_update(params, x, y, e0, e1, g0, activation)
        return (tuple(p + lr * u for p, u in zip(params, upd)), key), None

    (params, key), _ = jax.lax.scan(body, (params, key), (xs, ys))
    return params, key


def check() -> int:
    """One step of JAX against the package's ``grlu_update_tiled`` on the same noise."""
    from neuro_grlu.network import Architecture, Network
    from neuro_grlu.rules.grlu import apply_update, grlu_update_tiled, sample_noise

    worst = 0.0
    for activation in ("relu", "topk"):
        for pairs in (1, 16, 128):
            arch = Architecture(activation=activation, k=K)
            rng = np.random.default_rng(pairs)
            net = Network.init(arch, rng)
            x = rng.random((1, D)).astype(np.float32)
            y = np.array([3])
            noise = sample_noise(arch, 1, pairs, 0.1, rng)
            g0 = noise.gumbel[0][0] if noise.gumbel is not None else np.zeros((pairs, H), np.float32)
            params = tuple(jnp.asarray(a) for a in (net.W[0], net.b[0], net.W[1], net.b[1]))
            upd = jax.jit(tiled_update, static_argnames="activation")(
                params, jnp.asarray(x[0]), int(y[0]), jnp.asarray(noise.eps[0][0]), jnp.asarray(noise.eps[1][0]),
                jnp.asarray(g0), activation=activation)
            ref = grlu_update_tiled(net, x, y, noise)
            ref_net = net.copy()
            apply_update(ref_net, ref, 0.1)
            got = [np.asarray(p + 0.1 * u) for p, u in zip(params, upd)]
            want = [ref_net.W[0], ref_net.b[0], ref_net.W[1], ref_net.b[1]]
            dev = max(float(np.abs(g - w).max() / (np.abs(w).max() + 1e-30)) for g, w in zip(got, want))
            upd_dev = max(float(np.abs(np.asarray(u) - r).max() / (np.abs(r).max() + 1e-30))
                          for u, r in zip(upd, [ref.dW[0], ref.db[0], ref.dW[1], ref.db[1]]))
            print(f"{activation:4s} {pairs:3d} pairs: weights after one step, max rel. difference {dev:.1e}; "
                  f"update {upd_dev:.1e}")
            worst = max(worst, upd_dev)
    ok = worst < 1e-3
    print("check " + ("passed" if ok else "FAILED") + f" (largest relative difference of an update {worst:.1e})")
    return 0 if ok else 1


def measure(activation: str, pairs: int, x, y, seconds: float, chunk: int) -> tuple[float, float]:
    """(samples/s, compile seconds) of the jitted published algorithm."""
    from neuro_grlu.network import Architecture, Network

    net = Network.init(Architecture(activation=activation, k=K), np.random.default_rng(0))
    params = tuple(jnp.asarray(a) for a in (net.W[0], net.b[0], net.W[1], net.b[1]))
    key = jax.random.PRNGKey(1)
    xs, ys = jnp.asarray(x), jnp.asarray(y, jnp.int32)
    t = time.perf_counter()
    params, key = train_chunk(params, xs[:chunk], ys[:chunk], key, 0.1, 0.1, pairs=pairs, activation=activation)
    jax.block_until_ready(params)
    compile_s = time.perf_counter() - t
    done, start, t0 = 0, chunk, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = start % (len(x) - chunk)
        params, key = train_chunk(params, xs[s : s + chunk], ys[s : s + chunk], key, 0.1, 0.1,
                                  pairs=pairs, activation=activation)
        jax.block_until_ready(params)
        done += chunk
        start += chunk
    rate = done / (time.perf_counter() - t0)
    assert all(bool(jnp.isfinite(p).all()) for p in params)
    return rate, compile_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare one step with the package's tiled update")
    ap.add_argument("--seconds", type=float, default=3.0, help="measuring time per cell")
    ap.add_argument("--pairs", type=int, nargs="+", default=[1, 16, 128])
    ap.add_argument("--chunk", type=int, default=256, help="examples per jitted call (lax.scan)")
    ap.add_argument("--out", default="benchmarks/results/grlu-beyond/jax", help="output path prefix (.md, .json)")
    args = ap.parse_args()
    if args.check:
        return check()

    from neuro_grlu.data import load_mnist
    from neuro_grlu.io import write_record
    from neuro_grlu.train import prepare_inputs

    import numba

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_grlu_speed as speed  # noqa: E402

    data = load_mnist()
    x, y = prepare_inputs(data.x_train[:20000]), data.y_train[:20000].astype(np.int64)
    load_start = os.getloadavg()
    rows = []
    for activation in ("relu", "topk"):
        for pairs in args.pairs:
            rate, compile_s = measure(activation, pairs, x, y, args.seconds, args.chunk)
            row = {"activation": activation, "pairs": pairs, "jax_tiled": rate, "compile_s": compile_s}
            for backend in PACKAGE:
                row[backend] = speed.measure(backend, activation, pairs, x, y, args.seconds)
            row["load_1min"] = os.getloadavg()[0]
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
    meta = {
        "command": "python " + " ".join([sys.argv[0]] + sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "jax": jax.__version__, "jaxlib": getattr(jax.lib, "__version__", None) or jax.__version__,
        "numpy": np.__version__, "numba": numba.__version__, "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "xla_flags": os.environ.get("XLA_FLAGS", ""), "chunk": args.chunk,
        "load_average_start": load_start, "load_average_end": os.getloadavg(), "rows": rows,
    }
    lines = [
        "# GRLU's published algorithm, jit-compiled with JAX (784-256-10, batch 1, MNIST)",
        "",
        f"Command: `PYTHONPATH=$PWD /work/venv-jax/bin/python {meta['command'][len('python '):]}`  ",
        f"Machine: {meta['machine']}; JAX {jax.__version__} (CPU), numpy {np.__version__}; "
        f"XLA_FLAGS `{meta['xla_flags']}`; {args.chunk} examples per jitted call; numba {numba.__version__}, "
        f"NUMBA_NUM_THREADS = {numba.config.NUMBA_NUM_THREADS}.",
        "",
        "Samples/s, every cell of a row in the same process one after the other: the published algorithm jit-compiled "
        "with JAX (one XLA thread), the published algorithm in NumPy (`tiled`), and the package's numba kernel "
        "(shared first layer) with Philox noise on one and two threads.",
        "",
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in load_start)}; "
        f"at the end: {', '.join(f'{v:.1f}' for v in meta['load_average_end'])}.",
        "",
        "| activation | pairs | JAX, published alg. | NumPy, published alg. (tiled) | numba, Philox, 1 thread "
        "| numba, Philox, 2 threads | JAX / tiled | numba 1 thread / JAX | JAX first call incl. compile (s) | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['activation']} | {r['pairs']} | {r['jax_tiled']:,.0f} | {r['tiled']:,.0f} | {r['philox']:,.0f} "
                     f"| {r['philox2']:,.0f} | {r['jax_tiled'] / r['tiled']:.1f}× | {r['philox'] / r['jax_tiled']:.1f}× "
                     f"| {r['compile_s']:.1f} | {r['load_1min']:.1f} |")
    write_record(args.out, meta, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
