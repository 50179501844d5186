"""Score the test set once for the issue-17 variant chosen on validation (one pair count per call).

    python benchmarks/score_grlu_beyond_test.py --pairs N [--epochs 10] [--runs /work/runs/grlu/beyond] [--update]

The choice uses validation accuracy only: among the full-schedule runs with ``N`` pairs
(``--epochs`` epochs, 50,000 training images, every variant of the run set, i.e. the run
directory ``--runs``; run files, and the records in ``runs.json`` of runs whose files are
gone), the variant with the highest mean final validation accuracy over its seeds is chosen.
Only then are the 10,000 test images read, and the final weights of each of the chosen
variant's runs are scored on them (the network as trained on 50,000 images; nothing is
retrained). The result is added to ``benchmarks/results/grlu-beyond/test.json`` under the key
``N`` (set ``beyond``, 784-256-10) or ``SET:N`` (another set, e.g. ``deep:128``).

A key already there is not scored again, unless ``--update`` is given after more runs were
added (more seeds, or more variants). Then the choice is made again on validation, over all
runs now there, and
- if the chosen variant is the one stored, only its seeds not yet scored are scored and added
  (``additions`` records which seeds were added when, with the validation means then; an
  addition without seeds records that the choice was checked again after runs of other variants);
- if the choice changed, the new choice is stored with its seeds' test scores and the earlier
  entry is kept, whole, under ``superseded`` (still shown in ``table.md``).
A (variant, seed) whose test score is stored (also in a superseded entry) is never scored again:
its stored score is reused. The test set is never used to choose.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "grlu-beyond" / "test.json"
CHOSEN_BY = "highest mean final validation accuracy over seeds (last 10,000 training images)"


def already_scored(entry: dict) -> dict:
    """``{(variant, seed): run record}`` of every test score in ``entry`` and its superseded entries."""
    done = {}
    for e in [entry, *entry.get("superseded", [])]:
        for r in e["runs"]:
            done[(e["chosen_variant"], r["seed"])] = r
    return done


def choose(by_variant: dict) -> tuple[str, dict]:
    """``(chosen variant, {variant: {"mean", "seeds"}})`` from ``{variant: [run records]}``: the
    highest mean final validation accuracy over seeds (validation only)."""
    validation = {v: {"mean": float(np.mean([r["validation_accuracy"][-1] for r in rs])),
                      "seeds": sorted(r["seed"] for r in rs)} for v, rs in by_variant.items()}
    return max(validation, key=lambda v: validation[v]["mean"]), validation


def to_score(previous: dict | None, chosen: str, runs: list) -> list:
    """The chosen variant's run records whose test score is not stored yet (in ``previous`` or
    any entry it superseded)."""
    done = already_scored(previous) if previous is not None else {}
    return [r for r in sorted(runs, key=lambda r: r["seed"]) if (chosen, r["seed"]) not in done]


def new_entry(previous: dict | None, meta: dict, chosen: str, validation: dict, runs: list, scored: dict,
              command: str, now: str) -> dict:
    """The ``test.json`` entry after scoring: ``scored`` ``{seed: record}`` holds the new test
    scores; the chosen variant's other seeds reuse their stored records. Same choice as
    ``previous``: its runs grow and ``additions`` says which seeds were added; a new choice
    keeps ``previous`` (whole) under ``superseded``."""
    done = already_scored(previous) if previous is not None else {}
    all_runs = [scored[r["seed"]] if r["seed"] in scored else done[(chosen, r["seed"])]
                for r in sorted(runs, key=lambda r: r["seed"])]
    accs = [s["test_accuracy"] for s in all_runs]
    summary = {"test_accuracy_mean": float(np.mean(accs)),
               "test_accuracy_sd": float(np.std(accs, ddof=1)) if len(accs) > 1 else None}
    if previous is not None and previous["chosen_variant"] == chosen:
        entry = {**previous, "validation_mean_by_variant": validation, "runs": all_runs, **summary}
        entry["additions"] = previous.get("additions", []) + [
            {"seeds": sorted(scored), "validation_mean_by_variant": validation, "command": command, "scored_utc": now}]
        return entry
    entry = {**meta, "chosen_variant": chosen, "chosen_by": CHOSEN_BY, "validation_mean_by_variant": validation,
             "runs": all_runs, **summary, "command": command, "scored_utc": now}
    if previous is not None:
        old = {k: v for k, v in previous.items() if k != "superseded"}
        old["superseded_utc"] = now
        old["superseded_because"] = f"the choice on validation over the runs now there is {chosen!r}"
        entry["superseded"] = previous.get("superseded", []) + [old]
    return entry


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--runs", default="/work/runs/grlu/beyond", help="directory of the run files (its name is the set)")
    ap.add_argument("--update", action="store_true",
                    help="the key is already scored: choose again on validation over the runs now there and score "
                         "only (variant, seed) pairs not scored before")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from summarize_grlu_beyond import network_name, read  # noqa: E402

    set_name = Path(args.runs).name
    key = str(args.pairs) if set_name == "beyond" else f"{set_name}:{args.pairs}"
    stored = json.loads(OUT.read_text()) if OUT.exists() else {}
    previous = stored.get(key)
    if previous is not None and not args.update:
        print(f"{key}: the test set was already scored ({OUT}); not scoring it again "
              "(--update adds seeds or a new choice made on validation)")
        return 1
    if previous is None and args.update:
        print(f"{key}: nothing stored to update; run without --update")
        return 2
    # Validation accuracies: the run files here, and the stored records (runs.json) of runs whose
    # files are gone; the weights come from the chosen variant's run files.
    runs = []
    for p in sorted(Path(args.runs).glob("*.h5")):
        try:
            r = read(p)
        except OSError as exc:  # a run still being written (HDF5 file lock)
            print(f"skipped {p.name}: {exc}")
            continue
        if r is not None:
            runs.append(r)
    have = {r["file"] for r in runs}
    stored_runs = OUT.parent / "runs.json"
    if stored_runs.exists():
        runs += [r for r in json.loads(stored_runs.read_text())
                 if Path(r["dir"]).name == set_name and r["file"] not in have]
    runs = [r for r in runs if r.get("complete", True) and r["pairs"] == args.pairs and r["epochs"] == args.epochs
            and r["train_images"] == 50000 and not r["test_scored"]]
    by_variant: dict[str, list] = {}
    for r in runs:
        by_variant.setdefault(r["variant"], []).append(r)
    if not by_variant:
        print(f"no complete {args.epochs}-epoch runs with {args.pairs} pairs in {args.runs}")
        return 2
    networks = sorted({network_name(r) for r in runs})
    chosen, validation = choose(by_variant)
    print(f"{key} ({', '.join(networks)}), final validation accuracy (mean over seeds):")
    for v, s in sorted(validation.items(), key=lambda kv: -kv[1]["mean"]):
        print(f"  {100 * s['mean']:.2f}  {v}  seeds {s['seeds']}")
    print(f"chosen on validation: {chosen}")

    todo = to_score(previous, chosen, by_variant[chosen])
    if previous is not None and previous["chosen_variant"] == chosen and not todo:
        # more runs of other variants: the choice is checked again and its validation means stored
        print("same choice as stored and no new seed of it: nothing to score; the validation means are updated")
    scored = {}
    if todo:
        print("now reading the test set for seeds " + ", ".join(str(r["seed"]) for r in todo))
        from neuro_grlu.config import parse_config
        from neuro_grlu.data import load_mnist
        from neuro_grlu.io import read_run
        from neuro_grlu.network import Network
        from neuro_grlu.train import prepare_inputs

        data = load_mnist()
        x_test, y_test = prepare_inputs(data.x_test), np.asarray(data.y_test)
        for r in todo:
            run = read_run(Path(args.runs) / r["file"])
            arch = parse_config(run.config, run.model).architecture()
            net = Network.from_state_dict(arch, run.weights)
            acc = net.accuracy(x_test, y_test)
            scored[r["seed"]] = {"seed": r["seed"], "file": r["file"], "git_commit": r["git_commit"],
                                 "final_validation_accuracy": r["validation_accuracy"][-1], "test_accuracy": acc}
            print(f"  seed {r['seed']}: test {100 * acc:.2f} %  ({r['file']})")
    command = "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:]))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    meta = {"set": set_name, "network": ", ".join(networks), "pairs": args.pairs, "epochs": args.epochs,
            "train_images": 50000, "test_images": 10000}
    entry = new_entry(previous, meta, chosen, validation, by_variant[chosen], scored, command, now)
    for r in entry["runs"]:
        if r["seed"] not in scored:
            print(f"  seed {r['seed']}: test {100 * r['test_accuracy']:.2f} % (stored, not scored again)")
    accs = [r["test_accuracy"] for r in entry["runs"]]
    stored[key] = entry
    from neuro_grlu.io import write_text_atomic  # a kill while writing keeps the earlier scores
    write_text_atomic(OUT, json.dumps(stored, indent=1) + "\n")
    sd = entry["test_accuracy_sd"]
    print(f"test accuracy {100 * entry['test_accuracy_mean']:.2f}" + (f" ± {100 * sd:.2f}" if sd is not None else "")
          + f" % over {len(accs)} seed(s) -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
