"""Score the test set once for the issue-17 variant chosen on validation (one pair count per call).

    python benchmarks/score_grlu_beyond_test.py --pairs N [--epochs 10] [--runs /work/runs/grlu/beyond]

The choice uses validation accuracy only: among the full-schedule runs with ``N`` pairs
(``--epochs`` epochs, 50,000 training images, every variant; run files, and the records in
``runs.json`` of runs whose files are gone), the variant with the highest
mean final validation accuracy over its seeds is chosen. Only then are the 10,000 test images
read, and the final weights of each of the chosen variant's runs are scored on them (the
network as trained on 50,000 images; nothing is retrained). The result is added to
``benchmarks/results/grlu-beyond/test.json``; a pair count already there is not scored
again (the test set is scored once per choice).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "grlu-beyond" / "test.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--runs", default="/work/runs/grlu/beyond", help="directory of the run files")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from summarize_grlu_beyond import read  # noqa: E402

    stored = json.loads(OUT.read_text()) if OUT.exists() else {}
    if str(args.pairs) in stored:
        print(f"{args.pairs} pairs: the test set was already scored ({OUT}); not scoring it again")
        return 1
    # Validation accuracies: the run files here, and the stored records (runs.json) of runs whose
    # files are gone; the weights come from the chosen variant's run files.
    runs = [r for p in sorted(Path(args.runs).glob("*.h5")) if (r := read(p)) is not None]
    have = {r["file"] for r in runs}
    stored_runs = OUT.parent / "runs.json"
    if stored_runs.exists():
        runs += [r for r in json.loads(stored_runs.read_text())
                 if Path(r["dir"]).name == Path(args.runs).name and r["file"] not in have]
    runs = [r for r in runs if r["pairs"] == args.pairs and r["epochs"] == args.epochs
            and r["train_images"] == 50000 and not r["test_scored"]]
    by_variant: dict[str, list] = {}
    for r in runs:
        by_variant.setdefault(r["variant"], []).append(r)
    if not by_variant:
        print(f"no complete {args.epochs}-epoch runs with {args.pairs} pairs in {args.runs}")
        return 2
    validation = {v: {"mean": float(np.mean([r["validation_accuracy"][-1] for r in rs])),
                      "seeds": sorted(r["seed"] for r in rs)} for v, rs in by_variant.items()}
    chosen = max(validation, key=lambda v: validation[v]["mean"])
    print(f"{args.pairs} pairs, final validation accuracy (mean over seeds):")
    for v, s in sorted(validation.items(), key=lambda kv: -kv[1]["mean"]):
        print(f"  {100 * s['mean']:.2f}  {v}  seeds {s['seeds']}")
    print(f"chosen on validation: {chosen}; now reading the test set")

    from neuro_grlu.config import parse_config
    from neuro_grlu.data import load_mnist
    from neuro_grlu.io import read_run
    from neuro_grlu.network import Network
    from neuro_grlu.train import prepare_inputs

    data = load_mnist()
    x_test, y_test = prepare_inputs(data.x_test), np.asarray(data.y_test)
    scored = []
    for r in sorted(by_variant[chosen], key=lambda r: r["seed"]):
        run = read_run(Path(args.runs) / r["file"])
        arch = parse_config(run.config, run.model).architecture()
        net = Network.from_state_dict(arch, run.weights)
        acc = net.accuracy(x_test, y_test)
        scored.append({"seed": r["seed"], "file": r["file"], "git_commit": r["git_commit"],
                       "final_validation_accuracy": r["validation_accuracy"][-1], "test_accuracy": acc})
        print(f"  seed {r['seed']}: test {100 * acc:.2f} %  ({r['file']})")
    accs = [s["test_accuracy"] for s in scored]
    stored[str(args.pairs)] = {
        "pairs": args.pairs, "epochs": args.epochs, "train_images": 50000, "test_images": int(len(y_test)),
        "chosen_variant": chosen,
        "chosen_by": "highest mean final validation accuracy over seeds (last 10,000 training images)",
        "validation_mean_by_variant": validation,
        "runs": scored,
        "test_accuracy_mean": float(np.mean(accs)),
        "test_accuracy_sd": float(np.std(accs, ddof=1)) if len(accs) > 1 else None,
        "command": "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "scored_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(stored, indent=1) + "\n")
    sd = stored[str(args.pairs)]["test_accuracy_sd"]
    print(f"test accuracy {100 * np.mean(accs):.2f}" + (f" ± {100 * sd:.2f}" if sd is not None else "")
          + f" % over {len(accs)} seed(s) -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
