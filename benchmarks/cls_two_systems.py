"""Issue 15 table: the spiking prototype hippocampus and the cortex comparison, one row per definition.

Every row is a ``models/`` definition run through :func:`neuro_grlu.cls.experiment.run_continual`
(what ``neuro-grlu continual NAME`` runs). A row's summary (class-/task-incremental accuracy,
accuracy matrix, forgetting, few-shot accuracy, speed, what the system uses, the split it was
scored on, the number of training images) goes to ``OUT/NAME-seedS.json``; the run file (with
weights) to ``--runs`` (outside git). ``table`` writes ``OUT/table.md`` from the JSON files.

    # settings are chosen here: the last 10,000 training images, test images never read
    python benchmarks/cls_two_systems.py run --split validation --out benchmarks/results/cls/two-systems/validation
    # final rows: all 50,000 remaining training images, the full test set, 3 seeds
    python benchmarks/cls_two_systems.py run --split test --seeds 1 2 3 --out benchmarks/results/cls/two-systems/test
    python benchmarks/cls_two_systems.py table --out benchmarks/results/cls/two-systems/test

``--set`` adds overrides to every row (e.g. ``protocol.train_limit_per_task=2000`` for a
smaller run; the JSON records them); ``--rows`` picks rows by name.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

SPIKING = ["cls-hippocampus-pixels-spiking-label", "cls-hippocampus-pixels-spiking-reward",
           "cls-cortex-grlu-hippocampus-spiking-label", "cls-cortex-grlu-hippocampus-spiking-reward"]
RATE = ["cls-hippocampus-pixels-prototype-dentate"]
CORTEX = ["cls-hippocampus-pixels", "cls-random-dense-prototype", "cls-localized-untrained-prototype",
          "cls-localized-shaped04-prototype", "cls-cortex-grlu-hippocampus", "cls-localized-shaped09-prototype"]
ROWS = SPIKING + RATE + CORTEX


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return np.where(np.isfinite(v), v, None).tolist() if v.dtype.kind == "f" else v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def run_row(name: str, seed: int, split: str, sets: list[str], out: Path, runs: Path) -> dict:
    from neuro_grlu.cls.config import load_continual
    from neuro_grlu.cls.experiment import run_continual
    from neuro_grlu.data import load_mnist

    overrides = [f"protocol.seed={seed}", f"protocol.evaluate={split}", *sets]
    cfg = load_continual(name, overrides)
    runs.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    s = run_continual(cfg, load_mnist(), out=str(runs / f"{name}-{split}-seed{seed}.h5"), overwrite=True,
                      command=" ".join(sys.argv), log=lambda m: print(f"[{name} seed {seed}] {m}", flush=True))
    fs = s["fewshot_accuracy"]
    row = {"name": name, "seed": seed, "split": split, "overrides": overrides, "uses": s.get("uses", ""),
           "evaluated_on": s["evaluated_on"], "train_images": s["train_images"], "eval_images": s["eval_images"],
           "class_il": s["average_accuracy_class"], "task_il": s["average_accuracy_task"],
           "forgetting_class": _jsonable(s["forgetting_class"]),
           "accuracy_matrix_class": _jsonable(s["accuracy_matrix_class"]),
           "fewshot_shots": list(cfg.protocol.fewshot),
           "fewshot_accuracy": None if fs is None else _jsonable(fs.mean(axis=0)),
           "fewshot_draws": None if fs is None else _jsonable(fs),
           "speed": s.get("speed"), "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
           "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "load_average_at_end": list(os.getloadavg()), "config": cfg.to_dict()}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}-seed{seed}.json").write_text(json.dumps(row, indent=1, default=_jsonable))
    return row


def table(out: Path) -> str:
    rows: dict[str, list[dict]] = {}
    for f in sorted(out.glob("*-seed*.json")):
        r = json.loads(f.read_text())
        rows.setdefault(r["name"], []).append(r)

    def ms(vals):
        vals = [v for v in vals if v is not None]
        if not vals:
            return "–"
        m = 100 * np.mean(vals)
        return f"{m:.2f}" if len(vals) == 1 else f"{m:.2f} ± {100 * np.std(vals, ddof=1):.2f}"

    lines = ["| definition | seeds | scored on (images) | training images | class-IL % | task-IL % | 1-shot % | 5-shot % "
             "| train images / wall s (sim ms / image) | uses |", "|---" * 10 + "|"]
    for name in [n for n in ROWS if n in rows] + sorted(set(rows) - set(ROWS)):
        rs = rows[name]
        shots = rs[0]["fewshot_shots"]

        def shot(n):
            return ms([r["fewshot_accuracy"][shots.index(n)] if r["fewshot_accuracy"] and n in shots else None for r in rs])
        sp = rs[0].get("speed")
        speed = f"{np.mean([r['speed']['train_images_per_wall_s'] for r in rs]):.0f} ({sp['simulated_ms_per_image']:.1f})" if sp else "–"
        lines.append(f"| {name} | {len(rs)} | {rs[0]['evaluated_on']} ({rs[0].get('eval_images', '?')}) | {rs[0]['train_images']} | "
                     f"{ms([r['class_il'] for r in rs])} | {ms([r['task_il'] for r in rs])} | {shot(1)} | {shot(5)} | "
                     f"{speed} | {rs[0]['uses']} |")
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("run", "table"))
    ap.add_argument("--split", choices=("validation", "test"), default="validation")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--rows", nargs="+", default=ROWS, help="definitions to run (default: all rows)")
    ap.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs", type=Path, default=Path("/work/runs/cls/two-systems"))
    a = ap.parse_args(argv)
    unknown = sorted(set(a.rows) - set(ROWS))
    if unknown:
        ap.error(f"unknown rows {unknown}; known: {', '.join(ROWS)}")
    if a.what == "run":
        for name in a.rows:
            for seed in a.seeds:
                run_row(name, seed, a.split, a.set, a.out, a.runs)
                print(table(a.out), flush=True)
    else:
        print(table(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
