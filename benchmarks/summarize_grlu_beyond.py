"""Summarise the issue-17 GRLU runs (benchmarks/grlu_beyond.sh) into benchmarks/results/grlu-beyond/.

    python benchmarks/summarize_grlu_beyond.py [RUN_DIR ...]
        (default /work/runs/grlu/beyond /work/runs/grlu/tune /work/runs/grlu/philox /work/runs/grlu/deep)

Reads every run file (``*.h5``) in the directories (a run stopped early is listed with its
finished epochs, marked, and left out of the means), and writes ``runs.json`` (configuration,
validation accuracy per epoch, per-layer alignment per epoch, speed) and ``table.md``. Only
validation accuracy is reported: the runs never read the test images (``data.score_test = false``).
The directory's name is the run's set (``beyond``, ``tune``, ``philox``, ``deep``); the test scores
of ``test.json`` (``score_grlu_beyond_test.py``) are listed per set and pair count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np

from neuro_grlu.io import write_text_atomic

OUT = Path(__file__).resolve().parent / "results" / "grlu-beyond"


DIRS = ["/work/runs/grlu/beyond", "/work/runs/grlu/tune", "/work/runs/grlu/philox", "/work/runs/grlu/deep"]


def variant(rule: dict, network: dict | None = None) -> str:
    name = "input noise" if rule.get("noise_at") == "input" else "published (output noise)"
    if rule.get("decorrelate", "none") != "none":
        name += f" + decorrelation (lr {rule['decorrelate_lr']:g}, block {decorrelate_block(rule, network)})"
    if rule.get("rng", "numpy") != "numpy":
        name += f", {rule['rng']} noise"
    if network is not None and len(network.get("hidden", [256])) > 1:
        name += ", readout skip" if network.get("skip") == "readout" else ", no skip"
    return name


def decorrelate_block(rule: dict, network: dict | None) -> int:
    """Examples per step of the decorrelation matrix: ``rule.decorrelate_block``, or, for runs made
    before that key (2ec4f11), the GRLU compute chunk in which R stepped once (985 / 61 / 7
    examples at 1 / 16 / 128 pairs on 784-256-10 ReLU)."""
    if "decorrelate_block" in rule:
        return int(rule["decorrelate_block"])
    network = network or {}
    hidden = network.get("hidden", [256])
    per_example = rule["pairs"] * (sum(hidden) * (2 if network.get("activation", "relu") == "topk" else 1) + 10)
    return min(max(1, (1 << 18) // per_example), 1024)


def network_name(r: dict) -> str:
    """``784-256-10`` (the stored records from before this field have one hidden layer of 256)."""
    return "-".join(str(n) for n in [784, *r.get("hidden", [256]), 10])


def read(path: Path, incomplete: bool = False) -> dict | None:
    """The run's record; ``None`` for a run not complete, unless ``incomplete`` (a run stopped
    early: its record has ``"complete": False`` and only its finished epochs)."""
    with h5py.File(path, "r") as f:
        complete = f.attrs.get("status") == "complete"
        if not complete and not (incomplete and int(f.attrs.get("epochs_completed", 0)) > 0):
            return None
        cfg = json.loads(f.attrs["config_json"])
        m = f["metrics"]
        layers = sorted(k for k in m if k.startswith("alignment_deg_L"))
        return {
            "file": path.name,
            "dir": str(path.parent),
            "pairs": cfg["rule"]["pairs"],
            "variant": variant(cfg["rule"], cfg["network"]),
            "rule": cfg["rule"],
            "hidden": list(cfg["network"]["hidden"]),
            "skip": cfg["network"].get("skip", "none"),
            "activation": cfg["network"].get("activation", "relu"),
            "epochs": int(f.attrs["epochs_completed"]),
            "train_images": int(cfg["data"].get("train_limit") or 60000) - int(cfg["data"]["validation"]),
            "validation_images": int(cfg["data"]["validation"]),
            "seed": int(f.attrs["seed"]),
            "git_commit": f.attrs.get("git_commit", ""),
            "validation_accuracy": [float(v) for v in m["validation_accuracy"][()]],
            "alignment_deg": {k[len("alignment_deg_"):]: [float(v) for v in m[k][()]] for k in layers},
            "samples_per_second": [float(v) for v in m["samples_per_second"][()]],
            "test_scored": bool(np.isfinite(m["test_accuracy"][()]).any()),
            "complete": complete,
            "epochs_planned": int(f.attrs.get("epochs_planned", f.attrs["epochs_completed"])),
        }


def main(argv: list[str]) -> int:
    dirs = [Path(d) for d in (argv or DIRS) if Path(d).is_dir()]
    runs = []
    for d in dirs:
        for p in sorted(d.glob("*.h5")):
            try:
                r = read(p, incomplete=True)
            except OSError as exc:  # a run still being written (HDF5 file lock)
                print(f"skipped {p}: {exc}", file=sys.stderr)
                continue
            if r is not None:
                runs.append(r)
    # Keep the stored records of runs whose files are not here (run files live outside git and
    # may be gone); a file read again replaces its record.
    have = {(Path(r["dir"]).name, r["file"]) for r in runs}
    if (OUT / "runs.json").exists():
        for r in json.loads((OUT / "runs.json").read_text()):
            if (Path(r["dir"]).name, r["file"]) not in have:
                runs.append(r)
    for r in runs:  # names made again from the stored settings (stored records carry an older name)
        r["variant"] = variant(r["rule"], {"hidden": r.get("hidden", [256]), "skip": r.get("skip", "none"),
                                           "activation": r.get("activation", "relu")})
    write_text_atomic(OUT / "runs.json", json.dumps(runs, indent=1))
    lines = [
        "| set | network | pairs | variant | seed | train images × epochs | validation accuracy per epoch (%) | "
        "alignment per step, first → last epoch (hidden layers…, output) | samples/s (loaded) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = {Path(d).name: i for i, d in enumerate(DIRS)}

    def set_key(name):
        return order.get(name, len(order)), name

    for r in sorted(runs, key=lambda r: (set_key(Path(r["dir"]).name), network_name(r), r["pairs"], r["variant"], r["seed"])):
        acc = " → ".join(f"{100 * v:.2f}" for v in r["validation_accuracy"])
        al = ", ".join(f"{v[0]:.0f}° → {v[-1]:.0f}°" for v in r["alignment_deg"].values())
        stopped = "" if r.get("complete", True) else f" (stopped: {r['epochs']} of {r['epochs_planned']} epochs)"
        lines.append(f"| {Path(r['dir']).name} | {network_name(r)} | {r['pairs']} | {r['variant']} | {r['seed']} "
                     f"| {r['train_images']:,} × {r['epochs']}{stopped} | {acc} | {al} | {np.median(r['samples_per_second']):,.0f} |")
    groups: dict = {}
    for r in runs:
        if not r.get("complete", True):
            continue  # a run stopped early is listed above, not averaged
        groups.setdefault((set_key(Path(r["dir"]).name), network_name(r), r["pairs"], r["variant"], r["train_images"],
                           r["epochs"]), []).append(r)
    lines += ["", "Final validation accuracy over seeds (mean ± standard deviation, n seeds):", "",
              "| set | network | pairs | variant | train images × epochs | final validation % | n | seeds |",
              "|---|---|---|---|---|---|---|---|"]
    for ((_, d), net, pairs, var, n_img, ep), rs in sorted(groups.items()):
        v = np.array([100 * r["validation_accuracy"][-1] for r in rs])
        spread = f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else ""
        seeds = ", ".join(str(s) for s in sorted(r["seed"] for r in rs))
        lines.append(f"| {d} | {net} | {pairs} | {var} | {n_img:,} × {ep} | {v.mean():.2f}{spread} | {len(v)} | {seeds} |")
    if (OUT / "test.json").exists():
        lines += ["", "Test accuracy of the variant chosen on validation, scored once per (variant, seed) "
                  "(`benchmarks/score_grlu_beyond_test.py`; final weights, trained on 50,000 images); a choice "
                  "superseded after more runs stays listed, struck through:", "",
                  "| set | network | pairs | epochs | chosen variant (mean final validation %, seeds) | test % (mean ± sd) "
                  "| test % per seed | scored (UTC) |",
                  "|---|---|---|---|---|---|---|---|"]

        def row(t, old=False):
            sd = f" ± {100 * t['test_accuracy_sd']:.2f}" if t["test_accuracy_sd"] is not None else ""
            val = t["validation_mean_by_variant"][t["chosen_variant"]]
            seeds = ", ".join(str(s) for s in val.get("seeds", []))
            per_seed = ", ".join(f"{100 * r['test_accuracy']:.2f} ({r['seed']})" for r in t["runs"])
            when = ", ".join([t["scored_utc"][11:]] + [a["scored_utc"][11:] + (" +" + ",".join(map(str, a["seeds"])) if a["seeds"]
                                                                             else " choice re-checked")
                                                       for a in t.get("additions", [])])
            cells = [t.get("set", "beyond"), t.get("network", "784-256-10"), str(t["pairs"]), str(t["epochs"]),
                     f"{t['chosen_variant']} ({100 * val['mean']:.2f}; {seeds})", f"{100 * t['test_accuracy_mean']:.2f}{sd}",
                     per_seed, when]
            if old:
                cells = [f"~~{c}~~" for c in cells[:6]] + cells[6:7] + [f"superseded {t['superseded_utc'][11:]}"]
            return "| " + " | ".join(cells) + " |"

        tests = json.loads((OUT / "test.json").read_text()).values()
        for t in sorted(tests, key=lambda t: (set_key(t.get("set", "beyond")), t["pairs"])):
            lines += [row(old, True) for old in t.get("superseded", [])] + [row(t)]
    write_text_atomic(OUT / "table.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
