"""Strip every stored run file under benchmarks/results/ in place, after checking that every
number the docs quote from them is still readable from the stripped files.

Usage (from the repository root):

    python benchmarks/strip_results.py                  # benchmarks/results, in place
    python benchmarks/strip_results.py DIR --dry-run    # check only; no file is replaced

Steps:

1. Strip a copy of every ``*.h5`` under the results folder into a mirror folder (same relative
   paths) beside it (``neuro_grlu.strip.strip_run``; the originals are not touched yet).
2. For every file: the metrics are byte-identical (values and dtype), every kept array is
   byte-identical (subsampled traces equal the full trace at the kept rows), the report
   summary (``neuro-grlu report``) is equal, and for distal-reward runs the Fig. 1 table numbers
   (``distal_reward.summarize``) are equal.
3. The generators of the tables the docs quote are run on the full and on the stripped
   folders and their outputs compared: ``summarize_runs.py`` (grlu-table, beyond-pairs1,
   deep-sweep), ``summarize_rules.py`` compare/depth, ``summarize_cls.py``, and the
   distal-reward table. Their outputs go to the mirror folder, never into tracked files.
4. Only if every check passed (and without ``--dry-run``) each stripped file replaces its
   original; then the sizes before/after are printed per folder and in total.

Exit status 0 if every check passed, 1 otherwise (nothing replaced).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path


from neuro_grlu.io import read_run
from neuro_grlu.results import summary
from neuro_grlu.strip import strip_run

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same(a, b) -> bool:
    """Equality of plain values with NaN == NaN (summaries hold floats, lists, None)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def check_file(full_path: Path, stripped_path: Path) -> list[str]:
    """Problems found comparing a full run file with its stripped copy ([] if none)."""
    full, lean = read_run(full_path), read_run(stripped_path)
    bad = []
    if not lean.stripped:
        bad.append("not marked stripped")
    for k, v in full.metrics.items():
        w = lean.metrics.get(k)
        if w is None or w.dtype != v.dtype or w.tobytes() != v.tobytes():
            bad.append(f"metric {k} differs")
    if set(lean.metrics) != set(full.metrics):
        bad.append("metric names differ")
    sub = lean.strip_info.get("subsampled", {})
    for k, a in lean.arrays.items():
        f = full.arrays.get(k)
        if f is None:
            bad.append(f"array {k} is new")
            continue
        ref = f[:: sub[f"arrays/{k}"]["stride"]] if f"arrays/{k}" in sub else f
        if a.dtype != ref.dtype or a.shape != ref.shape or a.tobytes() != ref.tobytes():
            bad.append(f"array {k} differs")
    for k, a in lean.weights.items():
        if full.weights[k].tobytes() != a.tobytes():
            bad.append(f"kept weight {k} differs")
    for group, names in (("weights", full.weights), ("arrays", full.arrays)):
        for k in names:
            if k not in getattr(lean, group) and f"{group}/{k}" not in lean.strip_info.get("dropped", {}):
                bad.append(f"{group}/{k} vanished without a record")
    s_full, s_lean = summary(full), summary(lean)
    s_full.pop("file"), s_lean.pop("file")
    if not _same(s_full, s_lean):
        diff = sorted(k for k in s_full.keys() | s_lean.keys() if not _same(s_full.get(k), s_lean.get(k)))
        bad.append(f"summary differs in {', '.join(diff)}")
    if "distal_reward" in lean.strip_info.get("derived", {}):
        from neuro_grlu.spiking.experiments.distal_reward import summarize

        if not _same(json.loads(json.dumps(summarize(full))), summarize(lean)):
            bad.append("distal-reward numbers differ")
    return bad


def tables(root: Path, out: Path) -> dict[str, str]:
    """The docs' tables generated from the run files under `root` (outputs written under `out`)."""
    found = {}
    runs_md = _load("summarize_runs")
    for folder in ("grlu-table", "beyond-pairs1", "deep-sweep"):
        if (root / folder).is_dir():
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                runs_md.main(str(root / folder))
            found[folder] = buf.getvalue().replace(str(root), "<results>")
    rules = _load("summarize_rules")
    for name, fn, folder in (("rule-comparison", rules.compare, "rule-comparison"), ("depth", rules.depth, "depth")):
        if (root / folder).is_dir():
            work = out / f"tables-{folder}"
            shutil.copytree(root / folder, work, dirs_exist_ok=True)  # the generator writes a PNG beside them
            found[name] = fn(work).replace(str(work), f"<results>/{folder}")
    if (root / "cls" / "runs").is_dir():
        work = out / "tables-cls"
        work.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):
            _load("summarize_cls").main(root / "cls" / "runs", work)
        found["cls"] = (work / "tables.md").read_text()
    distal = root / "distal-reward"
    if (distal / "distal-reward.h5").is_file():
        from neuro_grlu.spiking.experiments.distal_reward import markdown_table, summarize

        found["distal-reward"] = markdown_table({p.stem: summarize(read_run(p))
                                                 for p in sorted(distal.glob("*.h5"))})
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", nargs="?", default=str(HERE / "results"), help="results folder (default benchmarks/results)")
    p.add_argument("--dry-run", action="store_true", help="check only; do not replace the files")
    p.add_argument("--larger-than", type=float, default=0.0, metavar="MB",
                   help="strip only the files larger than this many MB (default: all); the others are "
                        "kept as they are, and the tables are still compared over all files")
    args = p.parse_args(argv)
    root = Path(args.root).resolve()
    every = sorted(root.rglob("*.h5"))
    # a file stripped before is left as it is (stripping again would subsample its traces again)
    paths = [q for q in every if q.stat().st_size > args.larger_than * 1e6 and not read_run(q).stripped]
    if not paths:
        print(f"no unstripped run files under {root}" + (f" larger than {args.larger_than} MB" if args.larger_than else ""),
              file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix=".strip-", dir=root.parent))
    try:
        mirror = work / "stripped"
        for path in every:  # files left as they are still feed the tables compared below
            if path not in paths:
                (mirror / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, mirror / path.relative_to(root))
        sizes = {}
        problems = {}
        for path in paths:
            rel = path.relative_to(root)
            res = strip_run(path, mirror / rel)
            sizes[rel] = (res.bytes_before, res.bytes_after)
            bad = check_file(path, mirror / rel)
            if bad:
                problems[str(rel)] = bad
        before, after = tables(root, work / "full"), tables(mirror, work / "lean")
        for name in sorted(before.keys() | after.keys()):
            if before.get(name) != after.get(name):
                problems[f"table {name}"] = ["generated table differs between full and stripped files"]
        by_folder: dict[str, list[int]] = {}
        for rel, (b, a) in sizes.items():
            acc = by_folder.setdefault(str(rel.parent), [0, 0, 0])
            acc[0] += b
            acc[1] += a
            acc[2] += 1
        print(f"{'folder':40s} {'files':>5s} {'before MB':>10s} {'after MB':>9s}")
        for folder, (b, a, n) in sorted(by_folder.items()):
            print(f"{folder:40s} {n:5d} {b / 1e6:10.2f} {a / 1e6:9.2f}")
        tb, ta = sum(b for b, _ in sizes.values()), sum(a for _, a in sizes.values())
        print(f"{'total':40s} {len(sizes):5d} {tb / 1e6:10.2f} {ta / 1e6:9.2f}")
        print(f"largest stripped file: {max(sizes.items(), key=lambda kv: kv[1][1])[0]} "
              f"({max(a for _, a in sizes.values()) / 1e6:.2f} MB)")
        print(f"tables regenerated and identical: {', '.join(sorted(before))}")
        if problems:
            for what, bad in problems.items():
                print(f"FAILED {what}: {'; '.join(bad)}", file=sys.stderr)
            print("nothing replaced", file=sys.stderr)
            return 1
        if args.dry_run:
            print("all checks passed; --dry-run: nothing replaced")
            return 0
        for rel in sizes:
            shutil.move(str(mirror / rel), str(root / rel))
        print(f"all checks passed; {len(sizes)} run files stripped in place")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
