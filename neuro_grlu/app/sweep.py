"""Parameter sweeps: a grid (or list) of config overrides × seeds, one run file per point, on Dask.

A *sweep file* (TOML, see ``docs/sweeps.md``) names a model, fixed overrides, the points
to run and the seeds::

    model = "grlu-mnist-pairs1"          # name in models/ or path to a model .toml
    seeds = [1, 2, 3]                    # one run per seed per point
    out = "runs/sweep-pairs"             # run files + summary (relative to the current directory)
    set = ["training.epochs=2"]          # fixed overrides, as `neuro-grlu train --set`
    [grid]                               # cartesian product, in file order
    "rule.pairs" = [1, 4, 16]
    "rule.lr_max" = [0.1, 0.3]
    # or, instead of [grid], an explicit list: [[points]] tables of "table.key" = value

:func:`load_sweep` expands and validates every point (each one through
:func:`~neuro_grlu.config.parse_config` and the rule's constructor) before anything runs.
:func:`run_sweep` trains the points whose run file is not complete already, on a local Dask
cluster (one single-threaded worker process per core), on an existing cluster
(``scheduler=ADDRESS``) or in this process (``workers=0``). A point that raises is recorded
as ``failed`` with its error; the others go on. The summary (``summary.csv`` and
``summary.h5`` in the out directory, one row per run in expansion order) is rewritten
atomically after every finished run, so an interrupted sweep leaves a valid table
(unfinished runs ``pending``), and restarting it redoes only what is not complete.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import os
import re
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..config import ModelConfig, parse_config
from ..definitions import apply_overrides, load_raw, read_toml
from ..errors import ConfigError, DataError, NeuroGRLUError, RunFileError
from ..io import replace_atomically
from ..params import ParamSet, from_dict, param

CONFIG_TABLES = ("data", "network", "rule", "training")
SUMMARY_SCHEMA = "neuro_grlu.sweep_summary"
SUMMARY_SCHEMA_VERSION = 1
#: Summary columns that differ between two sweeps giving the same results (wall-clock time).
TIMING_COLUMNS = ("wall_time_s",)
#: Summary columns after the point's key columns, in order.
RESULT_COLUMNS = ("seed", "status", "epochs_completed", "epochs_planned", "train_accuracy", "validation_accuracy",
                  "test_accuracy", "best_test_accuracy", "wall_time_s", "path", "error")
_INT_COLUMNS = ("index", "seed", "epochs_completed", "epochs_planned")
_FLOAT_COLUMNS = ("train_accuracy", "validation_accuracy", "test_accuracy", "best_test_accuracy", "wall_time_s")
_BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_MAX_NAME = 150


@dataclass(frozen=True)
class SweepSettings(ParamSet):
    """The scalar settings of a sweep file (``[grid]`` and ``[[points]]`` are read separately)."""

    model: str = param("", doc="model name in models/ or path to a model .toml (relative to the current directory)")
    description: str = param("", doc="free text, stored in the summary")
    out: str = param("", doc="directory of the run files and summary (default runs/sweep-<file name>)")
    seeds: tuple = param((), doc="one run per seed per point (default: the model's training.seed)")
    set: tuple = param((), doc="fixed overrides, 'table.key=value' as for `neuro-grlu train --set`")


SWEEP_KEYS = tuple(f.name for f in dataclasses.fields(SweepSettings)) + ("grid", "points")


@dataclass(frozen=True)
class Point:
    """One run of a sweep: a set of config values and a seed."""

    index: int
    name: str                  # run file name without .h5 (deterministic, file-system safe)
    values: dict[str, Any]     # "table.key" -> value set by the grid / points entry
    seed: int
    raw: dict[str, Any]        # the model definition with every override applied
    config: ModelConfig        # ``raw`` validated
    path: Path                 # absolute path of the run file

    @property
    def label(self) -> str:
        return f"point {self.index} ({self.name})"


@dataclass
class Sweep:
    """A validated, expanded sweep file."""

    path: Path
    settings: SweepSettings
    model: str                 # model name as given in the sweep file
    keys: list[str]            # varied "table.key" names, in file order
    points: list[Point]
    out: Path                  # absolute out directory
    text: str = ""             # the sweep file's text (stored in the summary)

    @property
    def summary_csv(self) -> Path:
        return self.out / "summary.csv"

    @property
    def summary_h5(self) -> Path:
        return self.out / "summary.h5"


# --------------------------------------------------------------------------- loading and expansion


def _fmt_value(v: Any) -> str:
    """A value as it appears in a run name: 16, 0.3, true, relu, 256x128 for [256, 128]."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "x".join(_fmt_value(x) for x in v)
    return str(v)


def _toml_literal(v: Any) -> str:
    """A value in TOML syntax (for messages and the summary's text columns)."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, tuple):
        v = list(v)
    return json.dumps(v)  # ints, floats, bools (true/false) and lists coincide with TOML


def _cell_text(v: Any) -> str:
    """A summary cell as text: strings as they are, None and NaN empty, other values as TOML."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return repr(v)
    return _toml_literal(v)


def _check_key(key: str, where: str) -> str:
    table, dot, field = key.partition(".")
    if not dot or not field or "." in field or table not in CONFIG_TABLES:
        raise ConfigError(f"{where}: {key!r} is not a config key; use \"table.key\" with table one of "
                          f"{', '.join(CONFIG_TABLES)}, e.g. \"rule.pairs\"")
    return key


def _flatten(table: dict, where: str) -> dict[str, Any]:
    """``{"rule": {"pairs": v}}`` or ``{"rule.pairs": v}`` → ``{"rule.pairs": v}`` (file order)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if "." not in key and isinstance(value, dict):
            for sub, v in value.items():
                out[_check_key(f"{key}.{sub}", where)] = v
        else:
            out[_check_key(key, where)] = value
    return out


def _set_key(raw: dict, key: str, value: Any) -> None:
    table, _, field = key.partition(".")
    section = raw.setdefault(table, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{key!r}: {table!r} is not a table in the model definition")
    section[field] = copy.deepcopy(value)


def _short_names(keys: list[str]) -> dict[str, str]:
    """Key → name used in run names: the field alone, or table-field where fields clash."""
    fields = [k.partition(".")[2] for k in keys]
    return {k: (f if fields.count(f) == 1 else k.replace(".", "-")) for k, f in zip(keys, fields)}


def _sanitise(text: str, allowed: str) -> str:
    return re.sub(f"[^{allowed}]", "-", text)


def run_name(values: dict[str, Any], seed: int, short: dict[str, str]) -> str:
    """Deterministic, file-system safe run name, e.g. ``pairs=16_lr_max=0.3_seed=2``."""
    parts = [f"{_sanitise(short[k], 'A-Za-z0-9_.-')}={_sanitise(_fmt_value(v), 'A-Za-z0-9.+-')}"
             for k, v in values.items()]
    name = "_".join([*parts, f"seed={int(seed)}"])
    if len(name) > _MAX_NAME:  # keep it a valid file name; the hash keeps it unique
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[:_MAX_NAME - 11]}-{digest}"
    return name


def _point_entries(raw: dict, where: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The varied keys and one ``{key: value}`` per point, from ``[grid]`` or ``[[points]]``."""
    grid, points = raw.get("grid"), raw.get("points")
    if grid is not None and points is not None:
        raise ConfigError(f"{where}: give either [grid] (a cartesian product) or [[points]] (an explicit "
                          "list), not both")
    if grid is not None:
        if not isinstance(grid, dict):
            raise ConfigError(f"{where}: grid must be a table, e.g. [grid] \"rule.pairs\" = [1, 4]")
        grid = _flatten(grid, f"{where} [grid]")
        if not grid:
            raise ConfigError(f"{where}: [grid] is empty; give at least one key with a list of values, "
                              "e.g. \"rule.pairs\" = [1, 4]")
        for key, values in grid.items():
            if not isinstance(values, list):
                raise ConfigError(f"{where} [grid]: {key!r} must be a list of values, e.g. "
                                  f"{_toml_literal(key)} = [{_toml_literal(values)}] (got {_toml_literal(values)})")
            if not values:
                raise ConfigError(f"{where} [grid]: {key!r} has an empty list of values")
            texts = [_toml_literal(v) for v in values]
            dup = next((t for t in texts if texts.count(t) > 1), None)
            if dup is not None:
                raise ConfigError(f"{where} [grid]: {key!r} lists the value {dup} twice")
        keys = list(grid)
        return keys, [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
    if points is not None:
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise ConfigError(f"{where}: points must be an array of tables, e.g. [[points]] \"rule.pairs\" = 4")
        if not points:
            raise ConfigError(f"{where}: points is empty; give at least one [[points]] table")
        entries = [_flatten(p, f"{where} [[points]] #{i}") for i, p in enumerate(points)]
        keys = list(dict.fromkeys(k for e in entries for k in e))
        return keys, entries
    return [], [{}]


def _check_str_list(values: tuple, what: str, where: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: {what} must be a list of strings such as \"training.epochs=2\" "
                          f"(got {_toml_literal(list(values))})")
    return list(values)


def load_sweep(path: str | os.PathLike, *, out: str | os.PathLike | None = None) -> Sweep:
    """Read, expand and validate a sweep file; nothing is trained or written.

    Parameters
    ----------
    path : path-like
        The sweep file (TOML).
    out : path-like, optional
        Out directory replacing the file's ``out`` (relative paths: to the current directory).

    Raises
    ------
    ConfigError
        Unknown sweep keys, an empty grid or point list, a key that is not a config key,
        a point whose config is invalid, duplicate run names; one line naming the point.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {path} does not exist" if not path.exists() else f"sweep file {path} is not a file")
    raw = read_toml(path)
    where = f"sweep {path}"
    unknown = sorted(set(raw) - set(SWEEP_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))}; allowed: {', '.join(SWEEP_KEYS)}")
    scalars = {k: v for k, v in raw.items() if k not in ("grid", "points")}
    for key in ("model", "description", "out"):
        if key in scalars and not isinstance(scalars[key], str):
            raise ConfigError(f"{where}: {key} must be a string (got {_toml_literal(scalars[key])})")
    for key in ("seeds", "set"):
        if key in scalars and not isinstance(scalars[key], list):
            raise ConfigError(f"{where}: {key} must be a list (got {_toml_literal(scalars[key])})")
    settings = from_dict(SweepSettings, scalars, "sweep")
    if not settings.model:
        raise ConfigError(f"{where}: no model; set e.g. model = \"grlu-mnist-pairs1\" (a name in models/ or a path)")
    fixed = _check_str_list(settings.set, "set", where)
    seeds = list(settings.seeds)
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ConfigError(f"{where}: seeds must be a list of integers >= 0 (got {_toml_literal(seeds)})")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: seeds lists a seed twice ({_toml_literal(seeds)})")

    keys, entries = _point_entries(raw, where)
    fixed_keys = [item.partition("=")[0].strip() for item in fixed]
    for key in keys:
        if key in fixed_keys:
            raise ConfigError(f"{where}: {key!r} is both fixed in set and varied by the points; remove one")
    if seeds and ("training.seed" in keys or "training.seed" in fixed_keys):
        raise ConfigError(f"{where}: training.seed is set while seeds lists the seeds; use one of the two")

    try:
        base_raw, model_name = load_raw(settings.model)
        base_raw = apply_overrides(base_raw, fixed)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    out_dir = Path(out if out is not None else (settings.out or f"runs/sweep-{path.stem}")).expanduser().absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{where}: out {out_dir} exists and is not a directory")

    short = _short_names(keys)
    points: list[Point] = []
    names: dict[str, int] = {}
    for values in entries:
        for seed in (seeds or [None]):
            index = len(points)
            shown = ", ".join(f"{k}={_toml_literal(v)}" for k, v in values.items()) or "the model as is"
            label = f"{where}: point {index} ({shown}{'' if seed is None else f', seed {seed}'})"
            raw_point = copy.deepcopy(base_raw)
            try:
                for key, value in values.items():
                    _set_key(raw_point, key, value)
                if seed is not None:
                    _set_key(raw_point, "training.seed", seed)
                config = parse_config(raw_point, model_name)
                config.make_rule(config.architecture())  # rule-level checks (e.g. backend vs depth)
            except ConfigError as exc:
                raise ConfigError(f"{label}: {exc}") from None
            name = run_name(values, config.training.seed, short)
            if name in names:
                raise ConfigError(f"{label}: gives the run name {name!r} of point {names[name]}; "
                                  "make the points differ")
            names[name] = index
            points.append(Point(index=index, name=name, values=dict(values), seed=config.training.seed,
                                raw=raw_point, config=config, path=out_dir / f"{name}.h5"))
    return Sweep(path=path, settings=settings, model=settings.model, keys=keys, points=points, out=out_dir,
                 text=path.read_text(encoding="utf-8", errors="replace"))


# --------------------------------------------------------------------------- state on disk, rows


def _config_json(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def disk_state(point: Point) -> tuple[str, str]:
    """What is on disk for ``point``: ``("complete" | "missing" | "incomplete" | "stale" | "corrupt", detail)``.

    ``stale`` is a complete run file of another configuration (the sweep file was edited);
    it is redone like an incomplete one.
    """
    if not point.path.exists():
        return "missing", ""
    try:
        run = _read_run(point.path)
    except RunFileError as exc:
        return "corrupt", str(exc)
    if not run.complete:
        return "incomplete", f"{run.status}, {run.epochs_completed}/{run.epochs_planned} epochs"
    if _config_json(run.config) != _config_json(point.config.to_dict()):
        return "stale", "complete run of a different configuration"
    return "complete", ""


def _read_run(path):
    from ..io import read_run

    return read_run(path)


def _result_fields(path: Path, *, failed: bool) -> dict[str, Any]:
    """Epochs and final accuracies read from a run file (NaN where absent, and for failed runs)."""
    nan = float("nan")
    fields = {"epochs_completed": 0, "epochs_planned": 0, "train_accuracy": nan, "validation_accuracy": nan,
              "test_accuracy": nan, "best_test_accuracy": nan, "wall_time_s": nan}
    try:
        run = _read_run(path)
    except RunFileError:
        return fields
    m = run.metrics
    fields.update(epochs_completed=run.epochs_completed, epochs_planned=run.epochs_planned,
                  wall_time_s=run.wall_time_s)
    if not failed and run.epochs_completed:
        fields.update(train_accuracy=float(m["train_accuracy"][-1]) if "train_accuracy" in m else nan,
                      validation_accuracy=float(m["validation_accuracy"][-1]) if "validation_accuracy" in m else nan,
                      test_accuracy=float(m["test_accuracy"][-1]) if "test_accuracy" in m else nan,
                      best_test_accuracy=float(max(m["test_accuracy"])) if "test_accuracy" in m else nan)
    return fields


_DATA_CACHE: dict[str | None, Any] = {}


def _load_data(data: str | None):
    """The data set of a task, loaded once per worker process."""
    if data not in _DATA_CACHE:
        from ..data import load_idx_dir, load_mnist

        _DATA_CACHE.clear()
        _DATA_CACHE[data] = (load_mnist() if data is None
                             else load_idx_dir(data, name=Path(data).resolve().name or "idx", md5=None))
    return _DATA_CACHE[data]


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Train one point (runs on a Dask worker); returns its result fields, never raises.

    ``task`` holds plain values only: ``raw`` (the model definition with overrides), ``model``
    (its name), ``path`` (run file), ``data`` (IDX directory or None for MNIST) and
    ``command``. Any ``Exception`` (invalid data, divergence, a bug) gives ``status
    "failed"`` and ``error`` "Type: message"; the run file of a failed run stays incomplete.
    """
    from ..train import train

    t0 = time.perf_counter()
    path = Path(task["path"])
    try:
        config = parse_config(task["raw"], task["model"])
        dataset = _load_data(task["data"])
        resume = path.exists()  # the sweep kept it: an incomplete run to continue (_set_aside)
        try:
            train(config, dataset, out=str(path), resume=resume, overwrite=not resume, progress=False,
                  command=task["command"], log=lambda line: None)
        except RunFileError:
            if not resume:
                raise
            path.unlink(missing_ok=True)  # cannot be continued (e.g. other configuration): start afresh
            train(config, dataset, out=str(path), overwrite=True, progress=False, command=task["command"],
                  log=lambda line: None)
    except Exception as exc:  # noqa: BLE001 - a failing point is recorded, the sweep goes on
        message = " ".join(str(exc).split()) or "(no message)"
        fields = _result_fields(path, failed=True)
        fields.update(status="failed", error=f"{type(exc).__name__}: {message}",
                      wall_time_s=time.perf_counter() - t0)
        return fields
    fields = _result_fields(path, failed=False)
    fields.update(status="complete", error="")
    return fields


def _resumable(path: Path) -> bool:
    """Whether an incomplete point file is worth continuing (``train --resume``): not diverged,
    at least one epoch done, and a saved learner state."""
    from ..io import read_learner_state

    try:
        run = _read_run(path)
        return (run.status in ("running", "incomplete") and run.epochs_completed > 0
                and read_learner_state(path) is not None)
    except RunFileError:
        return False


def _set_aside(point: Point, state: str) -> str:
    """Move a point's file out of the way before the point runs again, so that the new run
    writes (and, if it fails, leaves) its own file: an incomplete file with a saved learner
    state is kept and continued (``resume``), another incomplete or an unreadable file is
    deleted; a complete run of another configuration (``stale``) is kept as ``<file>.stale``.
    Returns a note for the log."""
    path = point.path
    path.with_name(path.name + ".new").unlink(missing_ok=True)
    if state == "incomplete" and _resumable(path):
        return "continuing it from its last checkpoint"
    if state == "stale":
        os.replace(path, path.with_name(path.name + ".stale"))
        return f"kept as {path.name}.stale"
    path.unlink(missing_ok=True)
    return "removed"


def _sync_with_disk(sweep: Sweep, rows: dict[int, dict[str, Any]]) -> None:
    """Rows still ``pending`` whose run file is complete on disk (the run finished but its result
    had not reached the summary, e.g. Ctrl-C in between) become ``complete`` from the file."""
    for p in sweep.points:
        if rows[p.index]["status"] == "pending" and disk_state(p)[0] == "complete":
            rows[p.index] = _row(sweep, p, {**_result_fields(p.path, failed=False), "status": "complete"})


def _row(sweep: Sweep, point: Point, fields: dict[str, Any]) -> dict[str, Any]:
    cfg = point.config.to_dict()
    row: dict[str, Any] = {"index": point.index, "run": point.name}
    for key in sweep.keys:
        table, _, field = key.partition(".")
        row[key] = cfg.get(table, {}).get(field)
    nan = float("nan")
    base = {"seed": point.seed, "status": "pending", "epochs_completed": 0,
            "epochs_planned": point.config.training.epochs, "train_accuracy": nan, "validation_accuracy": nan,
            "test_accuracy": nan, "best_test_accuracy": nan, "wall_time_s": nan, "path": point.path.name, "error": ""}
    base.update({k: v for k, v in fields.items() if k in base})
    # relative to the summary (the out directory can move); empty while no run file exists
    base["path"] = point.path.name if point.path.exists() else ""
    row.update(base)
    return row


def columns(sweep: Sweep) -> list[str]:
    """Summary columns in order: index, run, the varied keys, then :data:`RESULT_COLUMNS`."""
    return ["index", "run", *sweep.keys, *RESULT_COLUMNS]


# --------------------------------------------------------------------------- summary files


def write_summary(sweep: Sweep, rows: list[dict[str, Any]]) -> None:
    """Write ``summary.csv`` and ``summary.h5`` (each atomically) with ``rows`` sorted by index."""
    import h5py
    import numpy as np

    rows = sorted(rows, key=lambda r: r["index"])
    cols = columns(sweep)
    sweep.out.mkdir(parents=True, exist_ok=True)

    def write_csv(tmp: Path) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell_text(r[c]) for c in cols])
        tmp.write_text(buf.getvalue(), encoding="utf-8")

    def column_array(name: str):
        values = [r[name] for r in rows]
        if name in _INT_COLUMNS:
            return np.asarray(values, dtype=np.int64)
        if name in _FLOAT_COLUMNS:
            return np.asarray(values, dtype=np.float64)
        if values and all(isinstance(v, bool) for v in values):
            return np.asarray(values, dtype=bool)
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return np.asarray(values, dtype=np.int64)
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return np.asarray(values, dtype=np.float64)
        return np.asarray([_cell_text(v) for v in values], dtype=h5py.string_dtype())

    def write_h5(tmp: Path) -> None:
        counts = {s: sum(r["status"] == s for r in rows) for s in ("complete", "failed", "pending")}
        with h5py.File(tmp, "w") as f:
            f.attrs["schema"] = SUMMARY_SCHEMA
            f.attrs["schema_version"] = SUMMARY_SCHEMA_VERSION
            f.attrs["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            f.attrs["sweep_file"] = str(sweep.path)
            f.attrs["sweep_toml"] = sweep.text
            f.attrs["model"] = sweep.model
            f.attrs["columns_json"] = json.dumps(cols)
            f.attrs["keys_json"] = json.dumps(sweep.keys)
            f.attrs["n_runs"] = len(rows)
            for status, n in counts.items():
                f.attrs[f"n_{status}"] = n
            g = f.create_group("columns")
            for name in cols:
                g.create_dataset(name, data=column_array(name))

    replace_atomically(sweep.summary_csv, write_csv)
    replace_atomically(sweep.summary_h5, write_h5)


def read_summary(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``summary.h5`` (or of the one in directory ``path``), one dict per run.

    Key columns that mix types (or hold lists) are TOML text, e.g. ``"[256, 128]"``.
    """
    import h5py

    path = Path(path)
    if path.is_dir():
        path = path / "summary.h5"
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("schema") != SUMMARY_SCHEMA:
                raise RunFileError(f"{path} is not a sweep summary (no schema {SUMMARY_SCHEMA!r})")
            cols = json.loads(f.attrs["columns_json"])
            data = {c: f["columns"][c][()] for c in cols}
    except OSError as exc:
        raise RunFileError(f"cannot read sweep summary {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    n = len(data[cols[0]]) if cols else 0
    rows = []
    for i in range(n):
        row = {}
        for c in cols:
            v = data[c][i]
            row[c] = v.decode("utf-8") if isinstance(v, bytes) else v.item()
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- running


def default_workers() -> int:
    """Cores available to this process (one single-threaded worker process each)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _lock(out: Path, log: Callable[[str], None] = print):
    """Refuse to run two sweeps into the same directory at once; a stale lock (its process on
    this host no longer runs) is taken over and reported through `log`."""
    out.mkdir(parents=True, exist_ok=True)
    lock = out / ".sweep.lock"
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            host, _, pid = lock.read_text(errors="replace").strip().partition(" ")
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                lock.unlink(missing_ok=True)
                log(f"note: took over the stale lock {lock} of process {pid} on {host}, which no longer runs "
                    "(an earlier sweep was killed); its unfinished run files are run again")
                continue
            raise NeuroGRLUError(f"another sweep (process {pid or '?'} on {host or '?'}) is writing to {out}; "
                                 f"wait for it to end, or delete {lock} if none is running") from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    else:  # a stale lock reappeared: another sweep is starting right now
        raise NeuroGRLUError(f"another sweep is starting in {out}; wait for it to end, or delete {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None, n_tasks: int, log: Callable[[str], None]):
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise NeuroGRLUError(f"cannot connect to the Dask scheduler at {scheduler} ({exc}); start one "
                                 "(dask scheduler, dask-jobqueue, dask-kubernetes: see docs/sweeps.md) "
                                 "and pass its address, e.g. tcp://host:8786") from None
        with client:
            n = len(client.scheduler_info().get("workers", {}))
            log(f"connected to Dask scheduler {scheduler} ({n} worker{'s' if n != 1 else ''} now)")
            yield client
        return
    n = max(1, min(workers or default_workers(), n_tasks))
    log(f"starting a local Dask cluster: {n} worker process{'es' if n != 1 else ''}, 1 thread each")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR, env=dict(_BLAS_ENV)) as cluster, Client(cluster) as client:
        yield client


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns: the summary rows and how many runs were resumed."""

    rows: list[dict[str, Any]]
    skipped: int
    ran: int

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "failed"]


def run_sweep(
    sweep: Sweep,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    data: str | os.PathLike | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> SweepResult:
    """Run every point of ``sweep`` whose run file is not complete; write the summary.

    Parameters
    ----------
    workers : int, optional
        Local Dask worker processes (default: one per core, at most one per run to do);
        ``0`` runs the points one after the other in this process, without Dask.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers must see
        ``sweep.out`` and ``data`` under the same paths and have neuro_grlu installed.
    data : path-like, optional
        Directory of MNIST-layout IDX files loaded without checksum (as ``train --data``);
        default: canonical MNIST, MD5-verified, found by each worker.
    """
    if workers is not None and scheduler:
        raise ConfigError("give either a number of local workers or a scheduler address, not both")
    if workers is not None and workers < 0:
        raise ConfigError(f"workers must be >= 0 (got {workers})")
    data_arg = None if data is None else str(Path(data).expanduser().absolute())
    if data_arg is not None and not scheduler and not Path(data_arg).is_dir():
        raise DataError(f"data directory {data_arg} does not exist; pass --data a directory with the four "
                        "MNIST-layout IDX files")
    command = command or f"neuro-grlu sweep {sweep.path}"
    rows: dict[int, dict[str, Any]] = {}
    todo: list[Point] = []
    notes: list[str] = []
    with _lock(sweep.out, log):
        for p in sweep.points:
            state, detail = disk_state(p)
            if state == "complete":
                rows[p.index] = _row(sweep, p, {**_result_fields(p.path, failed=False), "status": "complete"})
            else:
                rows[p.index] = _row(sweep, p, {})
                todo.append(p)
                if state != "missing":
                    what = _set_aside(p, state)
                    again = "" if what.startswith("continuing") else "; running it again"
                    notes.append(f"  {p.name}: {state} run file ({detail}; {what}){again}")
        skipped = len(sweep.points) - len(todo)
        log(f"sweep {sweep.path.name}: {len(sweep.points)} runs, {skipped} already complete, "
            f"{len(todo)} to run -> {sweep.out}")
        for note in notes:
            log(note)
        write_summary(sweep, list(rows.values()))
        done = 0

        def record(point: Point, fields: dict[str, Any]) -> None:
            nonlocal done
            done += 1
            rows[point.index] = _row(sweep, point, fields)
            r = rows[point.index]
            if r["status"] == "complete":
                what = f"complete, test {100 * r['test_accuracy']:.2f}%, {r['wall_time_s']:.1f} s"
            else:
                what = f"FAILED after {r['wall_time_s']:.1f} s: {r['error']}"
            log(f"[{done}/{len(todo)}] {point.name}: {what}")
            write_summary(sweep, list(rows.values()))

        def task(p: Point) -> dict[str, Any]:
            return {"raw": p.raw, "model": p.config.name, "path": str(p.path), "data": data_arg,
                    "command": f"{command}  # run {p.name}"}

        try:
            if todo and workers == 0:
                for p in todo:
                    record(p, run_point(task(p)))
            elif todo:
                from distributed import as_completed

                with _dask_client(workers, scheduler, len(todo), log) as client:
                    futures = {}
                    for p in todo:
                        fut = client.submit(run_point, task(p), pure=False,
                                            key=f"neuro-grlu-{p.name}-{os.urandom(4).hex()}")
                        futures[fut] = p
                    for fut in as_completed(futures):
                        p = futures[fut]
                        try:
                            fields = fut.result()
                        except Exception as exc:  # noqa: BLE001 - e.g. the worker died (KilledWorker)
                            message = " ".join(str(exc).split()) or "(no message)"
                            fields = {**_result_fields(p.path, failed=True), "status": "failed",
                                      "error": f"{type(exc).__name__}: {message}"}
                        record(p, fields)
        finally:  # also after Ctrl-C or a crash of the scheduler: the summary says what is on disk
            _sync_with_disk(sweep, rows)
            write_summary(sweep, list(rows.values()))
    result_rows = [rows[i] for i in sorted(rows)]
    return SweepResult(rows=result_rows, skipped=skipped, ran=len(todo))
