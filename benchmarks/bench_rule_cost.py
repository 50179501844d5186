"""Cost of each rate rule per training example, all in one run (issue 5, item 4).

For every named model (default: the rule-comparison models) trains on the first MNIST
training images for about ``--seconds`` seconds of wall time, ``--repeats`` rounds over all models
(after one warm-up chunk, which
also triggers numba compilation), and reports

* wall time per training example (µs) and examples per second, one BLAS thread;
* full forward and backward passes through the network per training example, as each rule
  declares them (``Rule.forward_passes_per_example`` / ``backward_passes_per_example``);
* the ratio of each rule's time per example to backprop's (same run, same machine).

Run on a quiet machine (the figures are ratios within one run, but a busy second core still
skews them):  python benchmarks/bench_rule_cost.py [--seconds 10] [--out benchmarks/results/rule-cost]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neuro_grlu.rules.loop import init_learner, train_chunk  # noqa: E402
from neuro_grlu.config import load_model  # noqa: E402
from neuro_grlu.data import load_mnist  # noqa: E402
from neuro_grlu.io import write_record  # noqa: E402
from neuro_grlu.train import prepare_inputs  # noqa: E402

NOTE = ('Implementations differ: backprop/FA/DFA and rm-hebbian run per example in NumPy (about 30 small array operations per example, so Python overhead dominates at batch 1), while GRLU with one hidden layer runs as a compiled numba kernel. The time column therefore compares these implementations; the pass columns compare the algorithms. ES evaluates 2P = 64 perturbed networks per example (batch 100) and is limited by drawing 2 x 10^5 Gaussian numbers per pair and batch. '
        'The other families run their own published-style networks (column "network"), so their time per example is not '
        'comparable to the 784-256-10 rows: FF (3 x 1000, batch 100) runs a neutral, a positive and a negative pass and '
        'updates each layer from its own outer product; NoProp runs T = 10 independent blocks (784-256-256-10 each, plus '
        'a label branch) with a backward pass inside each block only; EKI runs one forward pass per ensemble member '
        '(100 members of 784-32-10) and no backward pass.')

MODELS = ["backprop-mnist", "fa-mnist", "dfa-mnist", "grlu-mnist-pairs1", "grlu-mnist-pairs16-relu",
          "grlu-mnist-pairs128", "es-mnist", "hebbian-mnist", "ff-mnist", "noprop-mnist", "eki-mnist",
          "backprop-mnist:training.batch_size=32,rule.lr_max=0.05,rule.momentum=0.9", "pc-mnist", "eqprop-mnist"]


def measure(model: str, x: np.ndarray, y: np.ndarray, seconds: float) -> dict:
    """Train ``model`` (a name, optionally ``NAME:key=value,key=value`` overrides) for ``seconds``."""
    name, _, overrides = model.partition(":")
    config = load_model(name, [o for o in overrides.split(",") if o])
    arch = config.architecture()
    rule = config.make_rule(arch)
    net, state = init_learner(rule, np.random.default_rng(0), np.random.default_rng(1))
    hyper = rule.hyper(0, config.training.epochs)
    chunk = rule.chunk_size
    state, _ = train_chunk(rule, net, state, x[:chunk], y[:chunk], hyper)  # warm-up (and JIT compilation)
    done, start, t0 = 0, chunk, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if start + chunk > len(x):
            start = 0
        state, _ = train_chunk(rule, net, state, x[start : start + chunk], y[start : start + chunk], hyper)
        done += chunk
        start += chunk
    elapsed = time.perf_counter() - t0
    state.close()
    network = "-".join(str(n) for n in (arch.n_in, *arch.hidden, arch.n_out))
    return {"model": model, "rule": config.rule_name, "network": network, "batch_size": config.training.batch_size,
            "examples": done, "seconds": elapsed, "us_per_example": 1e6 * elapsed / done,
            "examples_per_second": done / elapsed,
            "forward_passes_per_example": rule.forward_passes_per_example,
            "backward_passes_per_example": rule.backward_passes_per_example,
            "inference_iterations_per_example": float(getattr(rule, "inference_iterations_per_example", 0.0))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3,
                    help="rounds over all models; the table reports the median round (min-max beside it)")
    ap.add_argument("--out", default="benchmarks/results/rule-cost")
    ap.add_argument("models", nargs="*", default=MODELS)
    args = ap.parse_args(argv)
    ds = load_mnist()
    x, y = prepare_inputs(ds.x_train[:20000]), ds.y_train[:20000].astype(np.int64)
    # Rounds over all models (not repeats of one model in a row), so a burst of load on the
    # shared machine hits every rule alike; each row reports the median round.
    rounds: dict[str, list[dict]] = {m: [] for m in args.models}
    for k in range(args.repeats):
        for model in args.models:
            row = measure(model, x, y, args.seconds)
            rounds[model].append(row)
            print(f"round {k + 1}  {model:28s} {row['us_per_example']:10.1f} µs/example", flush=True)
    rows = []
    for model, runs in rounds.items():
        times = sorted(r["us_per_example"] for r in runs)
        row = dict(sorted(runs, key=lambda r: r["us_per_example"])[len(runs) // 2])
        row.update(us_per_example_min=times[0], us_per_example_max=times[-1], repeats=len(runs))
        rows.append(row)
    base = next((r["us_per_example"] for r in rows if r["rule"] == "backprop"), None)
    load = os.getloadavg()
    lines = ["# Cost per training example of each rate rule (one run)", "",
             f"Command: `python benchmarks/bench_rule_cost.py {' '.join(sys.argv[1:])}`  ",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, one BLAS thread; "
             f"load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; numpy {np.__version__}.", "",
             "| model | rule | network | batch | forward passes / example | backward passes / example | inference "
             "iterations / example | µs / example (median) | min-max | examples / s | time vs backprop |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['us_per_example'] / base:.1f}×" if base else "-"
        iters = f"{r['inference_iterations_per_example']:g}" if r.get("inference_iterations_per_example") else "-"
        lines.append(f"| {r['model']} | {r['rule']} | {r['network']} | {r['batch_size']} | {r['forward_passes_per_example']:g} | "
                     f"{r['backward_passes_per_example']:g} | {iters} | {r['us_per_example']:.1f} | {r['us_per_example_min']:.0f}-{r['us_per_example_max']:.0f} | {r['examples_per_second']:.0f} | {ratio} |")
    lines += ["", "Inference iterations (pc, eqprop): relaxation steps each training example goes through "
              "(PC: inference steps; EqProp: free steps + nudged steps per nudged phase, two phases when symmetric). "
              "Their pass columns count one sweep of predictions (PC) or of the symmetric couplings (EqProp) per "
              "iteration as a pass; with one hidden layer those sweeps skip the 784-wide input layer, whose drive is "
              "computed once per example.", "", "GRLU's passes count the + and − run of every pair as full passes; its implementation shares the "
              "first layer across pairs, so its time grows more slowly than its pass count. ES evaluates 2P "
              "perturbed copies of the whole network on every example of its batch.", "", NOTE]
    write_record(args.out, {"rows": rows, "loadavg": load}, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
