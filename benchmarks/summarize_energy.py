"""Summaries of the energy-based runs (issue 20) from run files kept outside git.

    python benchmarks/summarize_energy.py RUNS_DIR [OUT_DIR]

``RUNS_DIR`` is where ``benchmarks/energy_based.sh`` wrote its run files (default
/work/runs/energy); ``OUT_DIR`` (default benchmarks/results/energy-based) receives
``summary.json`` (every number below) and ``tables.md``. Nothing but metrics is written: no
weights. Missing stages are reported as missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from neuro_grlu.io import read_run
from neuro_grlu.results import summary

REPO = Path(__file__).resolve().parent.parent
CLS_RUNS = REPO / "benchmarks" / "results" / "cls" / "runs"


def _runs(folder: Path) -> list:
    out = []
    for path in sorted(folder.glob("*.h5")):
        try:
            out.append(read_run(path))
        except Exception as exc:  # noqa: BLE001 - an unreadable file is reported, not fatal
            print(f"skip {path}: {exc}", file=sys.stderr)
    return out


def _rate_row(run) -> dict:
    m, cfg = run.metrics, run.config
    align = run.arrays.get("alignment_deg")
    rule = {k: v for k, v in cfg["rule"].items()}
    return {
        "run": run.path.stem, "rule": rule["name"], "status": run.status, "epochs": run.epochs_completed,
        "hidden": list(cfg["network"]["hidden"]), "seed": run.seed, "batch_size": cfg["training"]["batch_size"],
        "settings": rule,
        "validation_accuracy": [float(v) for v in m.get("validation_accuracy", [])],
        "test_accuracy": [float(v) for v in m["test_accuracy"]] if "test_accuracy" in m else [],
        "alignment_deg_end": None if align is None or not len(align) else [float(a) for a in align[-1]],
        "samples_per_second": float(np.median(m["samples_per_second"])) if "samples_per_second" in m else None,
        "wall_time_s": run.wall_time_s,
    }


def _fmt_align(a):
    return "-" if a is None else " / ".join(f"{v:.1f}°" for v in a)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    runs_dir = Path(argv[0] if argv else "/work/runs/energy")
    out = Path(argv[1] if len(argv) > 1 else REPO / "benchmarks" / "results" / "energy-based")
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"runs_dir": str(runs_dir)}
    lines = ["# Predictive coding and equilibrium propagation: stored metrics", "",
             "Made by `python benchmarks/summarize_energy.py RUNS` from the run files of "
             "`bash benchmarks/energy_based.sh tune final depth continual cost` (kept outside git).", ""]

    tune = [_rate_row(r) for r in _runs(runs_dir / "tune")]
    result["tune"] = tune
    lines += ["## Tuning on the validation split", "",
              "784-256-10, trained on the first 50,000 training images, scored on the last 10,000 "
              "(`data.validation = 10000`, `data.score_test = false`: no test image read), seed 1.", "",
              "| run | rule | optimizer | lr_max | other | epochs | validation % (last) | alignment at the end |",
              "|---|---|---|---|---|---|---|---|"]
    best = {}
    for r in tune:
        s = r["settings"]
        other = (f"w = {s['output_weight']}, {s['inference_steps']} steps × {s['inference_rate']}" if r["rule"] == "pc"
                 else f"β = {s['beta']} {s['nudging']}, {s['free_steps']}+{s['nudged_steps']} steps × {s['inference_rate']}")
        val = r["validation_accuracy"][-1] if r["validation_accuracy"] else float("nan")
        lines.append(f"| {r['run']} | {r['rule']} | {s['optimizer']} | {s['lr_max']} | {other} | {r['epochs']} | "
                     f"{100 * val:.2f} | {_fmt_align(r['alignment_deg_end'])} |")
        if r["status"] == "complete" and (r["rule"] not in best or val > best[r["rule"]][1]):
            best[r["rule"]] = (r["run"], val)
    result["chosen"] = {k: v[0] for k, v in best.items()}
    lines += ["", "Chosen (highest validation accuracy): " +
              ", ".join(f"{k}: `{v[0]}` ({100 * v[1]:.2f}%)" for k, v in sorted(best.items())), ""]

    final = [_rate_row(r) for r in _runs(runs_dir / "final")]
    result["final"] = final
    lines += ["## Final runs: all 60,000 training images, test set scored once per run", "",
              "| rule | seeds | test % per seed | mean ± sd | goal | alignment at the end (per layer, mean over seeds) | samples/s (median epoch) |",
              "|---|---|---|---|---|---|---|"]
    goals = {"pc": 0.980, "eqprop": 0.975}
    result["final_summary"] = {}
    for rule in ("pc", "eqprop"):
        rows = [r for r in final if r["rule"] == rule and r["status"] == "complete"]
        if not rows:
            lines.append(f"| {rule} | 0 | missing | - | ≥ {100 * goals[rule]:.1f} | - | - |")
            continue
        acc = np.array([r["test_accuracy"][-1] for r in rows])
        al = [r["alignment_deg_end"] for r in rows if r["alignment_deg_end"]]
        mean_al = list(np.mean(al, axis=0)) if al else None
        sd = float(acc.std(ddof=1)) if len(acc) > 1 else float("nan")
        result["final_summary"][rule] = {"seeds": [r["seed"] for r in rows], "test_accuracy": acc.tolist(),
                                         "mean": float(acc.mean()), "sd": sd, "goal": goals[rule],
                                         "alignment_deg_end": mean_al}
        lines.append(f"| {rule} | {', '.join(str(r['seed']) for r in rows)} | "
                     f"{' / '.join(f'{100 * a:.2f}' for a in acc)} | **{100 * acc.mean():.2f} ± {100 * sd:.2f}** | "
                     f"≥ {100 * goals[rule]:.1f} | {_fmt_align(mean_al)} | "
                     f"{np.median([r['samples_per_second'] for r in rows]):.0f} |")
    lines += ["", "Alignment for pc: against the exact gradient of the shared MLP's cross-entropy; for eqprop: "
              "against the exact gradient of its own equilibrium cost (implicit differentiation at the free "
              "equilibrium), on 16 probe batches.", ""]

    depth = [_rate_row(r) for r in _runs(runs_dir / "depth")]
    result["depth"] = depth
    lines += ["## Depth (the depth study's protocol: width 128, first 20,000 images, 5 epochs, seed 42, full test set)", "",
              "| rule | 1 hidden | 2 hidden | 4 hidden | 6 hidden |", "|---|---|---|---|---|"]
    for rule in ("pc", "eqprop"):
        cells, aligns = [], []
        for d in (1, 2, 4, 6):
            r = next((r for r in depth if r["rule"] == rule and len(r["hidden"]) == d), None)
            if r is None or not r["test_accuracy"]:
                cells.append("-")
                aligns.append("-")
            else:
                flag = "" if r["status"] == "complete" else f" ({r['status']}, {r['epochs']} ep.)"
                cells.append(f"{100 * r['test_accuracy'][-1]:.2f}{flag}")
                a = r["alignment_deg_end"]
                aligns.append("-" if a is None else f"{a[0]:.0f}° / {a[-2]:.0f}°")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
        lines.append(f"| {rule} alignment (first / last hidden) | " + " | ".join(aligns) + " |")
    lines.append("")

    cont = []
    for path in [*sorted((runs_dir / "continual").glob("*.h5")), *sorted(CLS_RUNS.glob("split-mnist--finetune-*.h5"))]:
        try:
            row = summary(read_run(path))
        except Exception as exc:  # noqa: BLE001
            print(f"skip {path}: {exc}", file=sys.stderr)
            continue
        row["source"] = "this issue" if path.is_relative_to(runs_dir) else "stored (benchmarks/results/cls/runs)"
        cont.append({k: row.get(k) for k in ("name", "source", "status", "average_accuracy_class", "forgetting_class",
                                             "average_accuracy_task", "forgetting_task", "wall_time_s")})
    result["continual"] = cont
    lines += ["## Continual: split-MNIST fine-tuning (the existing protocol, protocol seed 1, no replay)", "",
              "| run | source | class-IL average % | class-IL forgetting % | task-IL average % | task-IL forgetting % |",
              "|---|---|---|---|---|---|"]
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}"  # noqa: E731
    for c in cont:
        lines.append(f"| {c['name']} | {c['source']} | {pct(c['average_accuracy_class'])} | {pct(c['forgetting_class'])} | "
                     f"{pct(c['average_accuracy_task'])} | {pct(c['forgetting_task'])} |")
    lines.append("")

    cost = runs_dir / "cost.json"
    if cost.exists():
        data = json.loads(cost.read_text())
        result["cost"] = data
        lines += ["## Cost per training example (one run, all rows interleaved)", "",
                  f"Load average at the end: {' / '.join(f'{v:.2f}' for v in data['loadavg'])} (2 cores, shared).", "",
                  "| model | batch | inference iterations / example | µs / example (median) | examples / s | vs backprop batch 32 |",
                  "|---|---|---|---|---|---|"]
        base = next((r["us_per_example"] for r in data["rows"] if r["rule"] == "backprop" and r["batch_size"] == 32), None)
        for r in data["rows"]:
            it = r.get("inference_iterations_per_example") or 0
            ratio = f"{r['us_per_example'] / base:.1f}×" if base else "-"
            lines.append(f"| {r['model']} | {r['batch_size']} | {it:g} | {r['us_per_example']:.1f} | "
                         f"{r['examples_per_second']:.0f} | {ratio} |")
        lines.append("")
    (out / "summary.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    (out / "tables.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
