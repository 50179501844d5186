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
    # figures: accuracy matrices and few-shot accuracy from the JSON rows; the raster of the
    # spiking hippocampus during the first presentations of a new class
    python benchmarks/cls_two_systems.py figures --out benchmarks/results/cls/two-systems/test
    python benchmarks/cls_two_systems.py raster --out benchmarks/results/cls/two-systems
    # issue 15's cortex goal: does a row beat others by more than the seed spread (class-IL, 1-, 5-shot)?
    python benchmarks/cls_two_systems.py goal --out benchmarks/results/cls/two-systems/test \
      --model cls-patch-shaped04-prototype --against cls-hippocampus-pixels cls-patch-untrained-prototype

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
import warnings
from pathlib import Path

import numpy as np

from neuro_grlu.io import write_text_atomic

SPIKING = ["cls-hippocampus-pixels-spiking-label", "cls-hippocampus-pixels-spiking-reward",
           "cls-hippocampus-pixels-spiking-label-gate", "cls-hippocampus-pixels-spiking-reward-gate",
           "cls-cortex-grlu-hippocampus-spiking-label", "cls-cortex-grlu-hippocampus-spiking-reward"]
RATE = ["cls-hippocampus-pixels-prototype-dentate"]
CORTEX = ["cls-hippocampus-pixels", "cls-random-dense-prototype", "cls-localized-untrained-prototype",
          "cls-localized-shaped04-prototype", "cls-cortex-grlu-hippocampus", "cls-localized-shaped09-prototype"]
# the patch cortex (WTA Hebbian filters shaped on 0-4) and its untrained control, rate and spiking hippocampus
PATCH = ["cls-patch-random-prototype", "cls-patch-untrained-prototype", "cls-patch-shaped04-prototype", "cls-patch-shaped09-prototype",
         "cls-patch-shaped04-spiking-label", "cls-patch-shaped04-spiking-label-gate",
         "cls-patch-untrained-spiking-label-gate",
         # 7 x 7 filters, 128 (session 9, chosen on validation): Gaussian random (no data) and shaped on 0-4
         "cls-patch7-random-prototype", "cls-patch7-shaped04-prototype", "cls-patch7-random-spiking-label-gate",
         # session 10: the architecture selected on 0-4 (cls_architecture_selection.py), Hebbian and random filters
         "cls-patch-selected04-prototype", "cls-patch-selected04-random-prototype",
         # session 10: the spiking hippocampus with a 16,000-wide dentate code (few-shot)
         "cls-patch7-random-spiking-label-gate-wide",
         # session 11: intrinsic plasticity (each feature's offset and gain learnt on 0-4)
         "cls-patch7-intrinsic-prototype", "cls-patch-selected04-intrinsic-prototype",
         "cls-patch7-intrinsic-spiking-label-gate-wide",
         # session 12: its reward-only variant (a); intrinsic plasticity on all ten digits (upper reference)
         "cls-patch7-intrinsic-spiking-reward-gate-wide", "cls-patch7-intrinsic09-prototype"]
# issue 15's one-pass goal: all ten digits in one task, one pass over the 50,000 training images
ONEPASS = ["cls-onepass-spiking-label", "cls-onepass-patch-spiking-label", "cls-onepass-patch-spiking-label-gate",
           "cls-onepass-patch7-random-spiking-label-gate", "cls-onepass-patch7-intrinsic-spiking-label-gate",
           "cls-onepass-patch7-intrinsic-spiking-label-gate-r35"]
ROWS = SPIKING + RATE + CORTEX + PATCH + ONEPASS


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return np.where(np.isfinite(v), v, None).tolist() if v.dtype.kind == "f" else v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def run_row(name: str, seed: int, split: str, sets: list[str], out: Path, runs: Path, label: str | None = None) -> dict:
    """Run definition ``name`` with ``sets`` and write ``out/LABEL-seedSEED.json`` (``LABEL`` =
    ``label`` or ``name``: a label groups runs of one definition with different overrides, e.g.
    one architecture per seed, as one row of the table)."""
    from neuro_grlu.cls.config import load_continual
    from neuro_grlu.cls.experiment import run_continual
    from neuro_grlu.data import load_mnist

    # every row holds out the same validation split (the last 10,000 training images)
    overrides = ["protocol.validation=10000", f"protocol.seed={seed}", f"protocol.evaluate={split}", *sets]
    cfg = load_continual(name, overrides)
    runs.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    label = label or name
    s = run_continual(cfg, load_mnist(), out=str(runs / f"{label}-{split}-seed{seed}.h5"), overwrite=True,
                      command=" ".join(sys.argv), log=lambda m: print(f"[{name} seed {seed}] {m}", flush=True))
    fs = s["fewshot_accuracy"]
    row = {"name": label, "definition": name, "seed": seed, "split": split, "overrides": overrides, "uses": s.get("uses", ""),
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
    write_text_atomic(out / f"{label}-seed{seed}.json", json.dumps(row, indent=1, default=_jsonable))
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
    write_text_atomic(out / "table.md", text)
    return text


def goal(out: Path, row: str, against: list[str], first_draw: bool = False) -> str:
    """Issue 15's cortex goal on the JSON rows of ``out``: does ``row`` beat each row of ``against``
    by more than the seed-to-seed spread, for class-IL, 1-shot and 5-shot? Per seed a row's value
    is its class-IL accuracy or the mean of its few-shot draws; the spread is the larger sample sd
    (over seeds) of the two rows; the paired difference (same seeds, hence the same few-shot draws
    where both rows drew the same shots) is listed beside it. ``first_draw``: every row's first
    few-shot draw only (the same images for every row of a seed, whatever its number of draws).
    Writes ``out/goal-ROW.md`` (``goal-ROW-first-draw.md``)."""
    rows: dict[str, dict[int, dict]] = {}
    for f in sorted(out.glob("*-seed*.json")):
        r = json.loads(f.read_text())
        rows.setdefault(r["name"], {})[r["seed"]] = r

    def value(r, metric):
        if metric == "class-IL":
            return 100 * r["class_il"]
        n = int(metric.split("-")[0])
        if not r["fewshot_accuracy"]:
            return None
        return 100 * (r["fewshot_draws"][0] if first_draw else r["fewshot_accuracy"])[r["fewshot_shots"].index(n)]

    lines = [f"Goal check: {row} against {', '.join(against)} ({out}); per seed: class-IL, or "
             + ("the seed's first few-shot draw (the same images for every row)" if first_draw else
                "the mean of the seed's few-shot draws") + "; spread = the larger sample sd over seeds of the two rows.", "",
             "| against | metric | seeds | row % | other % | difference | spread | paired difference (mean ± sd over seeds) | beats by more than the spread |",
             "|---|---|---|---|---|---|---|---|---|"]
    for other in against:
        seeds = sorted(set(rows.get(row, {})) & set(rows.get(other, {})))
        for metric in ("class-IL", "1-shot", "5-shot"):
            a = [value(rows[row][s], metric) for s in seeds]
            b = [value(rows[other][s], metric) for s in seeds]
            if len(seeds) < 2 or None in a or None in b:
                lines.append(f"| {other} | {metric} | {seeds} | – | – | – | – | – | not measured (needs 2+ common seeds) |")
                continue
            sa, sb = np.std(a, ddof=1), np.std(b, ddof=1)
            d, spread = np.mean(a) - np.mean(b), max(sa, sb)
            pd = np.subtract(a, b)
            lines.append(f"| {other} | {metric} | {seeds} | {np.mean(a):.2f} ± {sa:.2f} | {np.mean(b):.2f} ± {sb:.2f} | "
                         f"{d:+.2f} | {spread:.2f} | {pd.mean():+.2f} ± {np.std(pd, ddof=1):.2f} | "
                         f"{'**yes**' if d > spread else 'no'} |")
    text = "\n".join(lines) + "\n"
    write_text_atomic(out / f"goal-{row}{'-first-draw' if first_draw else ''}.md", text)
    return text


def figures(out: Path) -> list[Path]:
    """Accuracy matrices (class-incremental, one panel per row) and few-shot accuracy per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {}
    for f in sorted(out.glob("*-seed*.json")):
        r = json.loads(f.read_text())
        rows.setdefault(r["name"], []).append(r)
    names = [n for n in ROWS if n in rows] + sorted(set(rows) - set(ROWS))  # then rows stored under a --label
    made = []
    # one panel per row with more than one task (the one-pass rows have a single number), 6 per line
    split = [n for n in names if len(rows[n][0]["accuracy_matrix_class"]) > 1]
    ncols = max(1, min(6, len(split)))
    nrows = max(1, -(-len(split) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.5 * nrows), squeeze=False)
    for ax in axes.flat[len(split):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, split):
        with warnings.catch_warnings():  # cells never scored (NaN in every seed) stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            A = np.nanmean([np.array(r["accuracy_matrix_class"], dtype=float) for r in rows[name]], axis=0)
        A[np.triu_indices_from(A, 1)] = np.nan  # tasks not learnt yet: blank for every row
        ax.imshow(A, vmin=0, vmax=1, cmap="viridis")
        for (i, j), v in np.ndenumerate(A):
            if j <= i:
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=6, color="w" if v < 0.6 else "k")
        ax.set_title(name.replace("cls-", "").replace("-hippocampus", "\n").replace("-prototype", "\nprototype")
                     .replace("-spiking", "\nspiking") + f" ({len(rows[name])} seed{'s' * (len(rows[name]) > 1)})",
                     fontsize=6)
        ax.set_xlabel("task", fontsize=6)
        ax.set_ylabel("after stage", fontsize=6)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    if split:
        path = out / "accuracy-matrices.png"
        fig.savefig(path, dpi=110)
        made.append(path)
    plt.close(fig)
    def shot_accuracy(r, shot):  # % of one seed's row at `shot` examples per class, None if not measured
        shots = r.get("fewshot_shots") or []
        return 100 * r["fewshot_accuracy"][shots.index(shot)] if r.get("fewshot_accuracy") and shot in shots else None

    fs = [n for n in names if all(shot_accuracy(r, s) is not None for r in rows[n] for s in (1, 5))]
    if fs:  # 1- and 5-shot accuracy per row (mean and sd over seeds), with section 2's goals
        fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(fs) + 1.2))
        for k, (shot, goal, colour) in enumerate([(1, 60, "tab:blue"), (5, 80, "tab:orange")]):
            mean, sd = [], []
            for name in fs:
                acc = np.array([shot_accuracy(r, shot) for r in rows[name]], dtype=float)
                mean.append(acc.mean())
                sd.append(acc.std(ddof=1) if len(acc) > 1 else 0.0)
            ax.barh(np.arange(len(fs)) + 0.2 - 0.4 * k, mean, height=0.38, xerr=sd, color=colour, capsize=2,
                    label=f"{shot}-shot (goal {goal} %)")
            ax.axvline(goal, color=colour, ls="--", lw=0.8)
        ax.set_yticks(np.arange(len(fs)), [f"{n.replace('cls-', '')} ({len(rows[n])})" for n in fs], fontsize=6)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("5-way accuracy on digits 5-9, % (mean ± sd over seeds)")
        ax.legend(fontsize=6, loc="lower right")
        fig.tight_layout()
        path = out / "fewshot.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        made.append(path)
    return made


def raster(out: Path, model: str = "cls-hippocampus-pixels-spiking-label", old_images: int = 1000,
           new_images: int = 12) -> Path:
    """Train on digits 0 and 1 (training images only), then record the output spikes during the
    first ``new_images`` presentations of digit 2; plot them with the falling threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuro_grlu.cls.config import load_continual
    from neuro_grlu.cls.hippocampus import make_learner
    from neuro_grlu.cls.tasks import subset
    from neuro_grlu.data import load_mnist

    cfg = load_continual(model)
    d = load_mnist()
    n_train = len(d.y_train) - cfg.protocol.validation
    x, y = d.x_train[:n_train].astype(np.float32) / 255, np.asarray(d.y_train[:n_train], np.int64)
    h = make_learner(cfg.hippocampus_learner, cfg.hippocampus, x.shape[1], 10)
    xo, yo = subset(x, y, [0, 1], old_images)
    h.fit_online(xo, yo)
    xn, yn = subset(x, y, [2], new_images)
    h.record_raster = True
    first = h.fit_online(xn, yn)
    k, units, step = h.last_raster
    p = h.params
    fig, ax = plt.subplots(figsize=(7, 3.2))
    colors = plt.get_cmap("tab10")
    t = (k * h.slot_steps + step) * p.dt_ms
    cls = units // p.units_per_class
    for c in np.unique(cls):
        m = cls == c
        ax.scatter(t[m], units[m], s=9, color=colors(c), label=f"class {c} unit", zorder=3)
    for i in range(new_images + 1):
        ax.axvline(i * h.slot_ms, color="grey", lw=0.4)
    ax.set_xlabel(f"simulated time (ms); one presentation = {h.slot_ms:.1f} ms")
    ax.set_ylabel("output unit")
    ax.set_title(f"first {new_images} presentations of digit 2 after learning 0 and 1 ({p.teacher} teacher); "
                 f"first spike right: {int(first.sum())}/{new_images}", fontsize=7)
    ax.legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"raster-first-new-class-{p.teacher}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    write_text_atomic(out / f"raster-first-new-class-{p.teacher}.json", json.dumps(
        {"model": model, "old_images": old_images, "new_images": new_images, "first_spike_right": first.tolist(),
         "spikes_per_presentation": np.bincount(k, minlength=new_images).tolist(),
         "units_of_class_2_used_after": int((h.wins[2 * p.units_per_class : 3 * p.units_per_class] > 0).sum())}, indent=1))
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("run", "table", "figures", "raster", "goal"))
    ap.add_argument("--model", default="cls-hippocampus-pixels-spiking-label", help="raster: the definition; goal: the row checked")
    ap.add_argument("--against", nargs="+", default=["cls-hippocampus-pixels", "cls-patch-untrained-prototype"],
                    help="goal: the rows --model must beat by more than the seed spread")
    ap.add_argument("--first-draw", action="store_true", help="goal: compare every row's first few-shot draw only")
    ap.add_argument("--split", choices=("validation", "test"), default="validation")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--rows", nargs="+", default=ROWS, help="definitions to run (default: all rows)")
    ap.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE")
    ap.add_argument("--label", help="run: store the rows under this name instead of the definition's (one row "
                    "built from runs with different --set, e.g. a random architecture per seed); one definition only")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs", type=Path, default=Path("runs/cls/two-systems"))
    a = ap.parse_args(argv)
    unknown = sorted(set(a.rows) - set(ROWS))
    if unknown:
        ap.error(f"unknown rows {unknown}; known: {', '.join(ROWS)}")
    if a.label is not None and (a.what != "run" or len(a.rows) != 1):
        ap.error("--label goes with run and exactly one definition in --rows")
    if a.what == "run":
        for name in a.rows:
            for seed in a.seeds:
                run_row(name, seed, a.split, a.set, a.out, a.runs, a.label)
                print(table(a.out), flush=True)
    elif a.what == "table":
        print(table(a.out))
    elif a.what == "goal":
        print(goal(a.out, a.model, a.against, a.first_draw))
    elif a.what == "figures":
        print(*figures(a.out), sep="\n")
    else:
        print(raster(a.out, a.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
