"""Ensemble Kalman inversion on MNIST: accuracy vs ensemble size and cost, and the largest
network that fits in memory (issue 8).

1. Accuracy vs ensemble size ``J``: the ``eki-mnist`` architecture (default 784-32-10) trained
   by EKI on the first ``--train`` MNIST images for ``--epochs`` epochs (batch 100), tested on
   the first ``--test`` test images, for every ``J`` in ``--sizes``, pure EKI and with the
   random walk (``param_noise``) of the ``eki-mnist`` model. Cost: forward passes (``J`` per
   example) and wall time. Backprop on the same network, data and epochs is the reference row.
2. Largest network: a member has ``P = 795·H + 10`` parameters for 784-H-10; one EKI step needs
   :func:`neuro_grlu.rules.eki.ensemble_bytes` (``≈ 4·J·P`` bytes for the float32 ensemble).
   Solved for the largest ``H`` that fits the machine's available memory (``MemAvailable``), and
   checked by allocating the ensemble for ``--check-fraction`` of that memory and running one
   EKI step on 10 images (peak resident memory reported).

Usage (a few minutes on one core):
    python benchmarks/eki_ensemble.py [--sizes 10 25 50 100 200 400] [--out benchmarks/results/eki]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuro_grlu.config import load_model  # noqa: E402
from neuro_grlu.data import load_mnist  # noqa: E402
from neuro_grlu.network import Architecture  # noqa: E402
from neuro_grlu.rules import get_rule  # noqa: E402
from neuro_grlu.rules.eki import EKIParams, Ensemble, EnsembleKalmanInversion, ensemble_bytes  # noqa: E402
from neuro_grlu.rules.loop import init_learner, train_chunk  # noqa: E402
from neuro_grlu.train import prepare_inputs  # noqa: E402


def train_eval(rule, x, y, xt, yt, epochs: int, seed: int = 0) -> tuple[float, float]:
    """Train ``rule`` from a fresh model; return ``(test accuracy, training seconds)``."""
    rng = np.random.default_rng(seed)
    model, state = init_learner(rule, rng, rng)  # one stream for init, order and noise, as before
    t0 = time.perf_counter()
    for epoch in range(epochs):
        hyper = rule.hyper(epoch, epochs)
        order = rng.permutation(len(x))
        for start in range(0, len(x), rule.chunk_size):
            idx = order[start : start + rule.chunk_size]
            state, _ = train_chunk(rule, model, state, x[idx], y[idx], hyper)
    seconds = time.perf_counter() - t0
    return model.accuracy(xt, yt), seconds


def mem_available() -> int:
    """Bytes the kernel reports as available for new allocations (``MemAvailable``)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def largest_hidden(budget: int, ensemble: int, batch: int, n_in: int = 784, n_out: int = 10) -> int:
    """Largest ``H`` of an ``n_in``-H-``n_out`` network whose EKI step fits ``budget`` bytes."""
    lo, hi = 1, 1 << 26
    while lo < hi:
        mid = (lo + hi + 1) // 2
        p = (n_in + 1) * mid + (mid + 1) * n_out
        if ensemble_bytes(p, ensemble, batch, mid, n_out) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def allocation_check(hidden: int, ensemble: int, x: np.ndarray, y: np.ndarray) -> dict:
    """Allocate a ``J``-member 784-``hidden``-10 ensemble and run one EKI step on ``x``."""
    arch = Architecture(n_in=784, hidden=(hidden,), n_out=10)
    rule = EnsembleKalmanInversion(EKIParams(ensemble=ensemble), arch, batch_size=len(x))
    t0 = time.perf_counter()
    ens = Ensemble.init(arch, ensemble, 0.5, np.random.default_rng(0))
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    rule.step(ens, x, y, 1.0, np.random.default_rng(1))
    t_step = time.perf_counter() - t0
    finite = all(np.isfinite(member).all() for t in ens.tensors() for member in t)  # member by member
    nbytes = sum(t.nbytes for t in ens.tensors())
    del ens
    return {"hidden": hidden, "ensemble": ensemble, "params_per_member": arch.fan_in(0) * hidden + hidden + 10 * hidden + 10,
            "ensemble_bytes": nbytes, "init_s": t_init, "step_s": t_step, "finite": finite,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="eki-mnist", help="model definition giving the network and EKI settings")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50, 100, 200, 400])
    ap.add_argument("--train", type=int, default=5000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--memory-ensembles", type=int, nargs="+", default=[100, 400])
    ap.add_argument("--check-fraction", type=float, default=0.4,
                    help="fraction of MemAvailable actually allocated in the allocation check (0 = skip)")
    ap.add_argument("--out", default="benchmarks/results/eki")
    args = ap.parse_args(argv)

    config = load_model(args.model)
    arch = config.architecture()
    base = config.rule
    ds = load_mnist()
    x, y = prepare_inputs(ds.x_train[: args.train]), ds.y_train[: args.train].astype(np.int64)
    xt, yt = prepare_inputs(ds.x_test[: args.test]), ds.y_test[: args.test].astype(np.int64)
    bs = config.training.batch_size
    n_params = sum(arch.fan_in(i) * arch.fan_out(i) + arch.fan_out(i) for i in range(arch.n_layers))

    rows = []
    bp = get_rule("backprop")(get_rule("backprop").Params(lr_max=0.005), arch, batch_size=1)
    acc, sec = train_eval(bp, x, y, xt, yt, args.epochs)
    rows.append({"method": "backprop (SGD, batch 1)", "ensemble": "-", "param_noise": "-", "test_accuracy": acc,
                 "forward_passes": args.epochs * len(x), "seconds": sec})
    print(f"backprop: {100 * acc:.2f}% in {sec:.1f} s", flush=True)
    for noise in sorted({0.0, base.param_noise}):
        for J in args.sizes:
            params = EKIParams(**{**base.to_dict(), "ensemble": J, "param_noise": noise})
            rule = EnsembleKalmanInversion(params, arch, batch_size=bs)
            acc, sec = train_eval(rule, x, y, xt, yt, args.epochs)
            rows.append({"method": "EKI" if noise == 0 else "EKI + random walk", "ensemble": J, "param_noise": noise,
                         "test_accuracy": acc, "forward_passes": J * args.epochs * len(x), "seconds": sec})
            print(f"EKI J={J:4d} param_noise={noise}: {100 * acc:.2f}% in {sec:.1f} s", flush=True)

    avail = mem_available()
    memory = []
    for J in args.memory_ensembles:
        h = largest_hidden(avail, J, bs)
        memory.append({"ensemble": J, "hidden": h, "params_per_member": 795 * h + 10,
                       "bytes": ensemble_bytes(795 * h + 10, J, bs, h, 10)})
    check = None
    if args.check_fraction > 0:
        J = args.memory_ensembles[0]
        h = largest_hidden(int(avail * args.check_fraction), J, 10)
        check = allocation_check(h, J, x[:10], y[:10])
        print(f"allocation check: J={J}, 784-{h}-10 ({check['ensemble_bytes'] / 2**30:.2f} GiB ensemble), "
              f"one step {check['step_s']:.1f} s, peak RSS {check['peak_rss_bytes'] / 2**30:.2f} GiB", flush=True)

    load = os.getloadavg()
    cmd = "python benchmarks/eki_ensemble.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = ["# Ensemble Kalman inversion: accuracy vs ensemble size, cost, memory", "",
             f"Command: `{cmd.strip()}`  ",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other jobs; "
             f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}), one BLAS thread, numpy {np.__version__}.", "",
             f"Network {arch.n_in}-{'-'.join(map(str, arch.hidden))}-{arch.n_out} ({n_params:,} parameters per member), "
             f"first {len(x):,} MNIST training images, {args.epochs} epochs, batch {bs}, first {len(xt):,} test images; "
             f"EKI settings of `{args.model}` (h = {base.lr_max}, γ = {base.noise_var}, spread {base.init_spread}). "
             "Forward passes: full passes of one network over one example (EKI: J per example; backprop also "
             "makes one backward pass per example). Seconds are training wall time on a shared machine.", "",
             "| method | J | param_noise | test % | forward passes | train s |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['ensemble']} | {r['param_noise']} | {100 * r['test_accuracy']:.2f} | "
                     f"{r['forward_passes']:,} | {r['seconds']:.1f} |")
    lines += ["", "Pure EKI keeps the ensemble in the affine span of its initial members (J − 1 directions of the "
              f"{n_params:,}-dimensional parameter space), so its accuracy is set by J; the random walk "
              "(`param_noise`, in units of the He standard deviation, added to every weight after every step) "
              "leaves that span.", "",
              "## Largest network in memory", "",
              f"MemAvailable on this machine: {avail / 2**30:.1f} GiB. One EKI step needs about "
              "4·J·P bytes for the float32 ensemble plus activations and J×J coefficient matrices "
              "(`neuro_grlu.rules.eki.ensemble_bytes`). Largest 784-H-10 network (batch "
              f"{bs}) whose step fits:", "",
              "| J | H | parameters per member | bytes |", "|---|---|---|---|"]
    for m in memory:
        lines.append(f"| {m['ensemble']} | {m['hidden']:,} | {m['params_per_member']:,} | {m['bytes'] / 2**30:.2f} GiB |")
    if check:
        lines += ["", f"Allocation check ({args.check_fraction:g} × MemAvailable, so as not to starve the other jobs on "
                  f"the machine): J = {check['ensemble']}, 784-{check['hidden']:,}-10 "
                  f"({check['params_per_member']:,} parameters per member), ensemble {check['ensemble_bytes'] / 2**30:.2f} GiB; "
                  f"initialisation {check['init_s']:.1f} s, one EKI step on 10 images {check['step_s']:.1f} s, "
                  f"weights finite: {check['finite']}, peak resident memory {check['peak_rss_bytes'] / 2**30:.2f} GiB."]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text("\n".join(lines) + "\n")
    (out / "eki_ensemble.json").write_text(json.dumps({"command": cmd, "rows": rows, "memory": memory, "check": check,
                                                       "mem_available": avail, "loadavg": load}, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
