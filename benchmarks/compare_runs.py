"""Are two run files bit-identical in what the model computed?

    python benchmarks/compare_runs.py BEFORE.h5 AFTER.h5 [BEFORE2.h5 AFTER2.h5 ...] [--json OUT.json]

Compares every dataset of BEFORE under /weights, /metrics and /arrays with AFTER's byte for byte
(same dtype, shape and bytes; datasets only AFTER has are listed), except measurements of the machine rather than of the model: wall-clock times,
throughput, memory and load (:data:`TIMING`); and lists the keys of the stored configuration
(``config_json``) that differ (e.g. keys with defaults added by a later version). Prints one
line per pair; exit status 1 if any dataset differs. ``--json`` writes the result.
"""

from __future__ import annotations

import json
import sys

import h5py
import numpy as np

#: Datasets that measure the machine (seconds, samples/s, bytes, load), not the model.
TIMING = {"epoch_time", "samples_per_second", "wall_s", "load_average_end", "peak_memory_bytes",
          "peak_run_memory_bytes"}


def _datasets(f: h5py.File) -> dict[str, np.ndarray]:
    out = {}
    for group in ("weights", "metrics", "arrays"):
        for name, d in (f[group].items() if group in f else ()):
            if name in TIMING or name.startswith("timing_"):
                continue
            out[f"{group}/{name}"] = d[()]
    return out


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def compare(before: str, after: str) -> dict:
    """``{"identical": bool, "compared": [names], "differ": [names], "added": [names],
    "removed": [names], "config_identical": bool, "config_changes": {key: [before, after]}}``.

    ``identical``: every dataset of `before` is in `after`, byte for byte. Datasets only in
    `after` (``added``, e.g. a record a later version writes) are listed, not counted as a
    difference; the configuration's changed keys likewise."""
    with h5py.File(before, "r") as a, h5py.File(after, "r") as b:
        da, db = _datasets(a), _datasets(b)
        ca, cb = _flat(json.loads(a.attrs["config_json"])), _flat(json.loads(b.attrs["config_json"]))
    changes = {k: [ca.get(k), cb.get(k)] for k in sorted(set(ca) | set(cb)) if ca.get(k) != cb.get(k)}
    added, removed = sorted(set(db) - set(da)), sorted(set(da) - set(db))
    differ = []
    for name in sorted(set(da) & set(db)):
        x, y = np.asarray(da[name]), np.asarray(db[name])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            differ.append(name)
    return {"before": before, "after": after, "identical": not differ and not removed, "config_identical": not changes,
            "config_changes": changes, "compared": sorted(set(da) & set(db)), "differ": differ,
            "added": added, "removed": removed}


def main(argv: list[str]) -> int:
    out = None
    if "--json" in argv:
        k = argv.index("--json")
        out, argv = argv[k + 1], argv[:k] + argv[k + 2:]
    if not argv or len(argv) % 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    results = [compare(argv[i], argv[i + 1]) for i in range(0, len(argv), 2)]
    for r in results:
        state = "bit-identical" if r["identical"] else f"DIFFERENT ({', '.join(r['differ'] + r['removed'])})"
        if r["added"]:
            state += f" (new datasets: {', '.join(r['added'])})"
        config = "same config" if r["config_identical"] else \
            "config differs: " + ", ".join(f"{k} {v[0]!r} -> {v[1]!r}" for k, v in r["config_changes"].items())
        print(f"{r['before']} vs {r['after']}: {state} ({len(r['compared'])} datasets compared); {config}")
    if out:
        with open(out, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
    return 0 if all(r["identical"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
