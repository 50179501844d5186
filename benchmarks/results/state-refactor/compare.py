"""Compare two directories of rate run files: weights and deterministic metrics bit for bit.

usage: python compare.py BEFORE_DIR AFTER_DIR [OUT.json]

For every ``*.h5`` in BEFORE_DIR, the file of the same name in AFTER_DIR must hold the same
``/weights`` datasets (same dtype, shape and bytes), the same ``/arrays`` and the same values
of every metric except the wall-clock ones (``epoch_time``, ``samples_per_second``). Datasets
only the AFTER file has (content added later, e.g. ``arrays/input_shape``) are listed as
``added``, not counted as differences; anything missing after is a difference.
"""

import json
import sys
from pathlib import Path

import h5py
import numpy as np

TIMING = {"epoch_time", "samples_per_second"}


def _datasets(group) -> dict:
    out = {}
    if group is None:
        return out
    group.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def compare(a: Path, b: Path) -> dict:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        row = {"status": [str(fa.attrs["status"]), str(fb.attrs["status"])], "differences": [], "added": []}
        for group in ("weights", "arrays", "metrics"):
            da, db = _datasets(fa.get(group)), _datasets(fb.get(group))
            for name in sorted(set(da) | set(db)):
                if group == "metrics" and name in TIMING:
                    continue
                if name not in da:  # new content (e.g. arrays/input_shape) is listed, not a difference
                    row["added"].append(f"{group}/{name}")
                    continue
                if name not in db:
                    row["differences"].append(f"{group}/{name} missing after")
                    continue
                x, y = np.asarray(da[name]), np.asarray(db[name])
                if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                    row["differences"].append(f"{group}/{name} differs")
            row[f"{group}_compared"] = len(set(da) & set(db) - (TIMING if group == "metrics" else set()))
        if "test_accuracy" in fb.get("metrics", {}):
            row["test_accuracy"] = [float(fa["metrics/test_accuracy"][-1]), float(fb["metrics/test_accuracy"][-1])]
        row["identical"] = not row["differences"]
    return row


def main(argv):
    before, after = Path(argv[1]), Path(argv[2])
    report = {p.name: compare(p, after / p.name) if (after / p.name).exists() else {"identical": False, "differences": ["missing after"]}
              for p in sorted(before.glob("*.h5"))}
    report = {"before": str(before), "after": str(after), "all_identical": all(r["identical"] for r in report.values()),
              "runs": report}
    text = json.dumps(report, indent=1)
    if len(argv) > 3:
        Path(argv[3]).write_text(text + "\n")
    for name, r in report["runs"].items():
        added = f" (added: {', '.join(r['added'])})" if r.get("added") else ""
        print(f"{name:40s} {'identical' if r['identical'] else 'DIFFERENT: ' + '; '.join(r['differences'])}{added}")
    print("all identical" if report["all_identical"] else "SOME DIFFER")
    return 0 if report["all_identical"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
