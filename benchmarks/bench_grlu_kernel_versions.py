"""The compiled GRLU step of this checkout against the same kernel at an earlier commit, in one run.

Loads ``neuro_grlu/rules/_grlu_numba.py`` as it was at ``--base`` (``git show``) beside the
current one and times both on the same examples, alternating, best of ``--repeats``
(784-256-10, batch 1, input noise, one thread, MNIST images): noise given as arrays (the
``rng = "numpy"`` path, noise drawn beforehand and not timed) and Philox noise drawn inside.
It also checks that both give the same bits with noise arrays (the stored runs' path). On a
loaded machine only the ratio of the two columns means something.

Run:  python benchmarks/bench_grlu_kernel_versions.py [--base 69ad70d] [--out PREFIX]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuro_grlu.data import load_mnist  # noqa: E402
from neuro_grlu.io import write_record  # noqa: E402
from neuro_grlu.network import Architecture, Network  # noqa: E402
from neuro_grlu.rules import _grlu_numba as current  # noqa: E402
from neuro_grlu.rules.grlu import sample_noise  # noqa: E402
from neuro_grlu.train import prepare_inputs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def load_base(commit: str, workdir: Path):
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:neuro_grlu/rules/_grlu_numba.py"],
                         check=True, capture_output=True, text=True).stdout
    src = (src.replace("from ..network import", "from neuro_grlu.network import")
              .replace("from ._philox import", "from neuro_grlu.rules._philox import")
              .replace("cache=True", "cache=False"))
    path = workdir / "grlu_kernel_base.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("grlu_kernel_base", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="69ad70d", help="commit of the earlier kernel")
    ap.add_argument("--pairs", type=int, nargs="+", default=[1, 16, 128])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="output path prefix (.md, .json); default: print only")
    args = ap.parse_args()
    base_sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base],
                              check=True, capture_output=True, text=True).stdout.strip()
    head_sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              check=True, capture_output=True, text=True).stdout.strip()
    data = load_mnist()
    x, y = prepare_inputs(data.x_train[:2000]), data.y_train[:2000].astype(np.int64)
    load_start = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = load_base(args.base, Path(tmp))
        kernels = {"base": base, "current": current}
        for activation in ("relu", "topk"):
            arch = Architecture(activation=activation, k=0.5, hidden=(256,))
            net = Network.init(arch, np.random.default_rng(0))
            for pairs in args.pairs:
                n = min(2000, 200 + 12800 // pairs)
                unit = sample_noise(arch, n, pairs, 1.0, np.random.default_rng(1))
                for rng in ("numpy", "philox"):
                    philox = (pairs, 5, 6, 0) if rng == "philox" else None
                    noise = None if philox else unit
                    out = {}
                    for name, mod in kernels.items():  # compile and warm up
                        mod.train_chunk_1hidden(net.copy(), x[:4], y[:4], None if philox else unit.take(0, 4),
                                                0.1, 0.1, 1, "input", philox=philox)
                    best = {name: np.inf for name in kernels}
                    for _ in range(args.repeats):
                        for name, mod in kernels.items():
                            m = net.copy()
                            t = time.perf_counter()
                            r = mod.train_chunk_1hidden(m, x[:n], y[:n], noise, 0.1, 0.1, 1, "input", philox=philox)
                            best[name] = min(best[name], time.perf_counter() - t)
                            out[name] = (m, r)
                    same = all(np.array_equal(u, v) for u, v in zip(out["base"][0].W + out["base"][0].b,
                                                                     out["current"][0].W + out["current"][0].b))
                    same = same and np.array_equal(out["base"][1], out["current"][1])
                    row = {"activation": activation, "pairs": pairs, "rng": rng, "examples": n,
                           "base": n / best["base"], "current": n / best["current"], "same_bits": bool(same),
                           "load_1min": os.getloadavg()[0]}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    meta = {"command": "python " + " ".join([sys.argv[0]] + sys.argv[1:]), "base": base_sha, "current": head_sha,
            "cores": os.cpu_count(), "load_average_start": load_start, "load_average_end": os.getloadavg(), "rows": rows}
    lines = [
        f"# Compiled GRLU step: {head_sha} against {base_sha} (784-256-10, batch 1, input noise, one thread)",
        "",
        f"Command: `{meta['command']}`.  ",
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in load_start)}; at the end: "
        f"{', '.join(f'{v:.1f}' for v in meta['load_average_end'])} (2 cores; compare within a row).",
        "",
        "Samples/s, best of the repeats, the two kernels alternating. `numpy`: noise given as arrays "
        "(drawn beforehand, not timed); `philox`: drawn inside. Same bits: weights and rewards identical.",
        "",
        f"| activation | pairs | noise | {base_sha} | {head_sha} | ratio | same bits | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['activation']} | {r['pairs']} | {r['rng']} | {r['base']:,.0f} | {r['current']:,.0f} "
                     f"| {r['current'] / r['base']:.2f}× | {'yes' if r['same_bits'] else 'no'} | {r['load_1min']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_record(args.out, meta, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
