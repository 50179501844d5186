"""Issue 15, section 1: the slow learner shapes the cortex's architecture on digits 0-4 only.

Evolution shapes a visual front end's architecture (receptive-field size, pooling, number of
filters) over a long time, on the inputs it meets; what a new class needs is then read from it.
Here the selection is exhaustive over the grid of ``cls_patch_cortex_grid.py`` (the limit of an
evolutionary search over so small a space) and its fitness uses digits 0-4 only:
``patch-grid-04/grid.json``, made with ``--fewshot-classes 0 1 2 3 4 --ncm-classes 0 1 2 3 4``,
never reads an image of 5-9 (training part or validation). Fitness of a genome (patch, pool,
centres, filters) = the mean of its 5-way 1-shot, 5-shot and nearest-class-mean accuracy on 0-4
(validation images): the only fitness tried, the three scores weighted alike.

The untrained control is the cortex before any slow learning: an architecture drawn uniformly
from the same grid with Gaussian random filters (``shape = "random"``: no data, no selection), one
draw per seed from ``numpy.random.default_rng([seed, 15])``. Its rows are made with
``cls_two_systems.py run --label cls-patch-random-architecture-prototype`` and the overrides this
script prints, so the table and the goal check treat the three draws as one row.

    python benchmarks/cls_architecture_selection.py --grid benchmarks/results/cls/two-systems/patch-grid-04/grid.json \\
        --grid-new benchmarks/results/cls/two-systems/patch-grid/grid.json --out benchmarks/results/cls/two-systems/patch-grid-04

writes ``selection.md`` and ``selection.json``: the ranking on 0-4, the chosen genome, its scores
on 5-9 from the earlier grid (read after the choice, for the record), the control draws and the
commands that make the test rows.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from neuro_grlu.io import write_text_atomic

CONTROL = "cls-patch-random-architecture-prototype"
BASE = "cls-patch7-random-prototype"  # the definition the control's overrides start from (rate prototypes)
GENE = ("patch", "pool", "centres", "shape")


def fitness(row: dict) -> float:
    """Mean of 1-shot, 5-shot and NCM accuracy (%) on the grid's scored classes."""
    ncm = next(v for k, v in row.items() if k.startswith("ncm-"))
    return (row["1-shot"] + row["5-shot"] + ncm) / 3


def control_draws(rows: list[dict], seeds: list[int]) -> dict[int, dict]:
    """Per seed, an architecture drawn uniformly from the grid's (patch, pool, centres), random filters."""
    archs = sorted({(r["patch"], r["pool"], r["centres"]) for r in rows})
    out = {}
    for seed in seeds:
        p, q, c = archs[int(np.random.default_rng([seed, 15]).integers(len(archs)))]
        out[seed] = {"patch": p, "pool": q, "centres": c, "shape": "random"}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=Path, required=True, help="grid.json scored on 0-4 only")
    ap.add_argument("--grid-new", type=Path, help="grid.json scored on 5-9 (read after the choice, for the record)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    for path in (a.grid, a.grid_new):
        if path is not None and not path.is_file():
            ap.error(f"{path} does not exist: make it with benchmarks/cls_patch_cortex_grid.py")
    grid = json.loads(a.grid.read_text())
    meta, rows = grid["meta"], grid["rows"]
    if sorted(meta.get("fewshot_classes", [])) != [0, 1, 2, 3, 4] or sorted(meta.get("ncm_classes", [])) != [0, 1, 2, 3, 4]:
        ap.error(f"{a.grid} was not scored on digits 0-4 only (fewshot {meta.get('fewshot_classes')}, "
                 f"ncm {meta.get('ncm_classes')}): run cls_patch_cortex_grid.py with --fewshot-classes 0 1 2 3 4 --ncm-classes 0 1 2 3 4")
    genomes: dict[tuple, list[dict]] = {}
    for r in rows:
        genomes.setdefault(tuple(r[g] for g in GENE), []).append(r)
    ranked = sorted(genomes, key=lambda g: -np.mean([fitness(r) for r in genomes[g]]))
    chosen = ranked[0]
    new = {}
    if a.grid_new is not None:
        for r in json.loads(a.grid_new.read_text())["rows"]:
            new.setdefault(tuple(r[g] for g in GENE), []).append(r)
    draws = control_draws(rows, a.seeds)

    def mean(rs, key):
        return float(np.mean([r[key] for r in rs]))

    lines = [f"Selection of the cortex's architecture on digits 0-4 only (`{a.grid}`: {meta['command']}).", "",
             "Fitness = mean of 1-shot, 5-shot and NCM accuracy on 0-4 (validation images; no image of 5-9 read). "
             "The 5-9 columns come from the earlier grid and were read only after the choice.", "",
             "| rank | patch | pool | centres | filters | 0-4: 1-shot % | 5-shot % | NCM % | fitness | 5-9: 1-shot % | 5-shot % | NCM 10 classes % |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, g in enumerate(ranked, 1):
        rs = genomes[g]
        ncm_key = next(k for k in rs[0] if k.startswith("ncm-"))
        n = new.get(g)
        tail = (f"{mean(n, '1-shot'):.1f} | {mean(n, '5-shot'):.1f} | {mean(n, 'ncm-10'):.1f}" if n else "– | – | –")
        lines.append(f"| {i} | {g[0]} | {g[1]} | {g[2]} | {g[3]} | {mean(rs, '1-shot'):.1f} | {mean(rs, '5-shot'):.1f} | "
                     f"{mean(rs, ncm_key):.1f} | {np.mean([fitness(r) for r in rs]):.2f} | {tail} |")
    spearman = None
    if new:
        common = [g for g in ranked if g in new]
        fit_old = np.array([np.mean([fitness(r) for r in genomes[g]]) for g in common])
        fit_new = np.array([np.mean([fitness(r) for r in new[g]]) for g in common])
        rank = lambda v: np.argsort(np.argsort(v))
        spearman = float(np.corrcoef(rank(fit_old), rank(fit_new))[0, 1])
        order_new = sorted(common, key=lambda g: -np.mean([fitness(r) for r in new[g]]))
        lines += ["", f"The same fitness on 5-9 (1-shot, 5-shot, NCM over ten classes): the genome chosen on 0-4 ranks "
                  f"{order_new.index(chosen) + 1} of {len(common)}; the best on 5-9 ranks {ranked.index(order_new[0]) + 1} "
                  f"on 0-4; rank correlation of the two fitnesses over the {len(common)} genomes (Spearman): {spearman:.2f}."]
        space = [g for g in new if g[3] == "random"]
        lines += ["", "On 5-9 (validation), the grid's architectures with random filters, i.e. what the control draws from: "
                  + ", ".join(f"{k} {np.mean([mean(new[g], k) for g in space]):.1f} ± {np.std([mean(new[g], k) for g in space], ddof=1):.1f}"
                              for k in ("1-shot", "5-shot", "ncm-10")) + f" (mean ± sd over {len(space)} architectures)."]
    lines += ["", f"**Chosen on 0-4:** patch {chosen[0]}, pool {chosen[1]}, {chosen[2]} filters, filters `{chosen[3]}`.", "",
              f"Control (`{CONTROL}`): one architecture per seed, drawn uniformly from the grid's "
              f"{len({(r['patch'], r['pool'], r['centres']) for r in rows})} architectures with `numpy.random.default_rng([seed, 15])`, "
              "Gaussian random filters:", ""]
    commands = []
    for seed, d in draws.items():
        sets = " ".join(f"--set cortex.patch.{k}={v}" for k, v in d.items())
        cmd = (f"python benchmarks/cls_two_systems.py run --split test --seeds {seed} --rows {BASE} --label {CONTROL} "
               f"{sets} --set protocol.fewshot_repeats=1 --out benchmarks/results/cls/two-systems/test --runs /work/runs/cls/test")
        commands.append(cmd)
        lines.append(f"- seed {seed}: patch {d['patch']}, pool {d['pool']}, {d['centres']} filters: `{cmd}`")
    text = "\n".join(lines) + "\n"
    write_text_atomic(a.out / "selection.md", text)
    write_text_atomic(a.out / "selection.json", json.dumps(
        {"grid": str(a.grid), "fitness": "mean of 1-shot, 5-shot and NCM accuracy on 0-4 (validation)",
         "spearman_fitness_04_vs_59": spearman,
         "chosen": dict(zip(GENE, chosen)), "ranking": [dict(zip(GENE, g)) for g in ranked],
         "control": {"name": CONTROL, "base": BASE, "draws": {str(s): d for s, d in draws.items()}, "commands": commands}},
        indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
