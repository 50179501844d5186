"""Run files: one HDF5 file per run, versioned schema, crash-safe writing.

The layout is specified in ``docs/run-file.md``. :class:`RunWriter` keeps the whole run
in memory and rewrites the complete file atomically (temporary file, fsync,
``os.replace``) at every checkpoint, so the file on disk is always a complete, readable
run: a crash, ``SIGKILL`` or Ctrl-C leaves the previous checkpoint or the new one, never
a corrupt file. :func:`read_run` returns plain Python/NumPy objects and never modifies
the file.

Large data that grow during a run (spikes of a one-hour simulation) are *streamed*
instead (:meth:`RunWriter.stream`): each chunk is written atomically as its own ``.npy``
file in the sidecar directory ``<path>.d/`` and never held in memory; :meth:`RunWriter.finish`
copies the streams chunk by chunk into ``/arrays`` of the final file and removes the
sidecar. :func:`read_run` reads either form, so a killed run keeps its streamed data up
to the last complete chunk.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable, TypeVar

import h5py
import numpy as np

from neuro_grlu.errors import RunFileError
from neuro_grlu.paths import PACKAGE_DIR

T = TypeVar("T")

SCHEMA = "neuro_grlu.run"
SCHEMA_VERSION = 1

_REPO_DIR = PACKAGE_DIR.parent  # git_info checks that this is the top of a work tree
_REQUIRED_ATTRS = (
    "schema_version", "created", "seed", "kind", "model", "config_json", "versions_json",
    "git_commit", "git_dirty", "status", "epochs_planned", "epochs_completed",
    "wall_time_s", "command",
)
_STATUSES = ("running", "incomplete", "complete", "diverged")
#: Run kinds a reader accepts (the ``kind`` attribute); anything else is refused on read.
KINDS = ("rate", "spiking", "continual", "stdp-window")

#: Every non-empty, non-scalar dataset is written with a Fletcher-32 checksum, so a flipped
#: byte is detected on read; weights, arrays and streams are also gzip-compressed.
_GZIP_LEVEL = 4

#: Stripped run files (``neuro-grlu strip``, ``RunWriter(strip=True)``): datasets of these
#: groups with more than ``STRIP_KEEP_MAX_SIZE`` elements are dropped (the model's weights and
#: learner state); tiny ones (bookkeeping scalars stored beside the weights) are kept.
STRIP_GROUPS = ("weights", "learner_state")
STRIP_KEEP_MAX_SIZE = 64
#: Arrays dropped from stripped files: spike trains and the synapse index lists of the network.
STRIP_ARRAY_PREFIXES = ("spike_",)
STRIP_ARRAY_NAMES = ("pre_idx", "post_idx")


def git_info(path: str | os.PathLike | None = None) -> tuple[str, bool]:
    """Return ``(commit, dirty)`` of the git repository at `path`.

    Parameters
    ----------
    path : path-like, optional
        Directory to inspect. Default: the directory holding the ``neuro_grlu`` package,
        used only if it is itself the top of a git work tree (so an installed copy inside
        some other repository does not report that repository's commit).

    Returns
    -------
    commit : str
        40-digit hex ``HEAD`` commit, or ``"unknown"`` (no git, not a repo, no commits).
    dirty : bool
        True if ``git status --porcelain`` lists any change; False if unknown.
    """
    where = Path(path) if path is not None else _REPO_DIR

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(where), *args], capture_output=True,
                                 text=True, timeout=5, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or (path is None and Path(top).resolve() != _REPO_DIR):
        return "unknown", False
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return (commit or "unknown"), bool(status)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on (missing packages are absent).

    Uses :mod:`importlib.metadata` for optional packages, so nothing heavy (brian2,
    numba, matplotlib) is imported.
    """
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "h5py": h5py.__version__}
    for key, dist in (("matplotlib", "matplotlib"), ("brian2", "brian2"),
                      ("numba", "numba"), ("neuro_grlu", "neuro-grlu")):
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if "neuro_grlu" not in versions:
        from neuro_grlu import __version__
        versions["neuro_grlu"] = __version__
    return versions


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"config value of type {type(obj).__name__} is not JSON-serialisable")


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or name == ".":
        raise ValueError(f"invalid {what} name {name!r}: use a non-empty string without '/'")
    return name


class RunWriter:
    """Write one run file, rewriting it atomically at every checkpoint.

    Parameters
    ----------
    path : path-like
        Run file to create (parent directories are created).
    config : dict
        Full run configuration; stored as sorted-key JSON (``config_json``).
    seed : int
        Random seed of the run.
    model : str
        Model name, e.g. ``"grlu"``.
    kind : str
        Model kind, e.g. ``"rate"`` or ``"spiking"``.
    epochs_planned : int
        Number of epochs the run intends to train.
    command : str
        Command line that started the run ("" if unknown).
    overwrite : bool
        Replace an existing file at `path` instead of raising :class:`RunFileError`. The new
        run is written beside it, to ``<path>.new``, and moved onto `path` only when it
        completes (:meth:`finish`): a failed or killed new run never destroys the old file.
    metric_units : dict of str to str, optional
        Units per metric name (``"s"``, ``"1/s"``; ``""`` = dimensionless, the default).
    metric_descriptions : dict of str to str, optional
        One-line description per metric name, stored as the ``description`` attribute.
    strip : bool
        Write a *stripped* run file (as ``neuro-grlu strip`` makes): weights, learner state
        and spike trains are not stored, only their names, shapes, dtypes and SHA-256
        digests (see :func:`strip_rule`); the file is marked ``stripped``.

    Notes
    -----
    Use as a context manager: an exception (including ``KeyboardInterrupt``) inside the
    ``with`` block writes a last checkpoint with status ``"incomplete"`` and propagates; a
    :class:`~neuro_grlu.errors.DivergenceError` marks it ``"diverged"`` instead (the file
    keeps the last good epoch).

    ``learner_state`` (of :meth:`append_epoch`) is ``(arrays, tree)``: named arrays (slash
    paths) and a JSON-compatible tree, written to the group ``/learner_state`` (datasets,
    and the tree as its ``state_json`` attribute); :meth:`resume` continues such a file.
    """

    def __init__(self, path, *, config: dict, seed: int, model: str, kind: str = "rate",
                 epochs_planned: int, command: str = "", overwrite: bool = False,
                 metric_units: dict[str, str] | None = None,
                 metric_descriptions: dict[str, str] | None = None, strip: bool = False):
        #: The run file this run ends up in; ``path`` is where it is written until then.
        self.target = Path(path)
        self.path = self.target
        if self.target.is_dir():
            raise RunFileError(f"run file {self.target} is a directory; pass --out with a file name")
        if self.target.exists() and not overwrite:
            raise RunFileError(f"run file {self.target} already exists; pass --out to choose "
                               "another file, --overwrite to replace it when the new run completes, "
                               "or --resume to continue it")
        if self.target.exists():
            self.path = self.target.with_name(self.target.name + ".new")
        if int(epochs_planned) < 0:
            raise ValueError(f"epochs_planned must be >= 0, got {epochs_planned}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFileError(f"cannot create directory {self.path.parent} for run file "
                               f"{self.path} ({exc.strerror or exc}); choose another --out") from exc
        commit, dirty = git_info()
        self._attrs = {
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": int(seed), "kind": str(kind), "model": str(model),
            "config_json": json.dumps(config, sort_keys=True, default=_json_default),
            "versions_json": json.dumps(package_versions(), sort_keys=True),
            "git_commit": commit, "git_dirty": bool(dirty), "status": "running",
            "epochs_planned": int(epochs_planned), "epochs_completed": 0,
            "wall_time_s": 0.0, "command": str(command),
        }
        if strip:
            self._attrs["stripped"] = True
        self._strip = bool(strip)
        self._dropped: dict[str, dict] = {}  # "group/name" -> {shape, dtype, sha256}
        self._units = dict(metric_units or {})
        self._descriptions = dict(metric_descriptions or {})
        self._metrics: dict[str, list[float]] | None = None  # fixed at the first epoch
        self._weights: dict[str, np.ndarray] = {}
        self._arrays: dict[str, tuple[np.ndarray, str | None]] = {}
        self._streams: dict[str, dict] = {}  # name -> {"chunks", "rows", "dtype", "shape", "units"}
        self._learner_state: tuple[dict[str, np.ndarray], object] | None = None
        self._sidecar = sidecar_dir(self.path)
        if self._sidecar.exists() and (overwrite or self.path != self.target):
            shutil.rmtree(self._sidecar, ignore_errors=True)
        elif self._sidecar.exists():
            raise RunFileError(f"stream directory {self._sidecar} of an earlier run exists; pass --overwrite "
                               "to replace it or choose another --out")
        self._t0 = time.monotonic()
        self._finished = False
        self._checkpoint()

    # -- public API ---------------------------------------------------------------------
    @property
    def epochs_completed(self) -> int:
        """Number of epochs appended so far."""
        return self._attrs["epochs_completed"]

    @classmethod
    def resume(cls, path, *, config: dict, kind: str = "rate", metric_units: dict[str, str] | None = None,
               metric_descriptions: dict[str, str] | None = None) -> "RunWriter":
        """A writer that continues the incomplete run file `path` from its last checkpoint.

        Its metrics, weights, arrays and learner state are loaded (:attr:`learner_state`);
        later epochs are appended as usual. `config` must equal the stored configuration.
        If ``<path>.new`` exists (an ``--overwrite`` run that was stopped), that run is the
        one continued, and it replaces `path` when it completes.
        Raises :class:`RunFileError` (one line) if the file is complete, diverged, of another
        kind, has no learner state, or was made with another configuration.
        """
        target = Path(path)
        path, run, state = cls.check_resume(target, config=config, kind=kind)
        self = cls.__new__(cls)
        self.target, self.path = target, path
        with h5py.File(path, "r") as f:
            self._attrs = {k: (v.item() if isinstance(v, np.generic) else _str(v) if isinstance(v, bytes) else v)
                           for k, v in f.attrs.items()}
        self._attrs["status"] = "incomplete"
        self._units = {**(metric_units or {}), **run.metric_units}
        self._descriptions = dict(metric_descriptions or {})
        with h5py.File(path, "r") as f:
            for name in f.get("metrics", {}):
                desc = f["metrics"][name].attrs.get("description")
                if desc is not None:
                    self._descriptions[name] = _str(desc)
        self._metrics = ({k: [float(v) for v in run.metrics[k]] for k in run.metrics if k != "epoch"}
                         if run.epochs_completed else None)
        self._weights = {k: np.asarray(v) for k, v in run.weights.items()}
        self._arrays = {k: (np.asarray(v), run.array_units.get(k)) for k, v in run.arrays.items()}
        self._streams = {}
        self._learner_state = state
        self._strip = bool(self._attrs.get("stripped", False))
        self._dropped = {}
        self._sidecar = sidecar_dir(path)
        if self._sidecar.exists():
            raise RunFileError(f"run file {path} has streamed data in {self._sidecar}; streamed runs cannot be resumed")
        self._t0 = time.monotonic() - float(self._attrs.get("wall_time_s", 0.0))
        self._finished = False
        self.resumed_wall_time_s = float(self._attrs.get("wall_time_s", 0.0))
        return self

    @staticmethod
    def check_resume(path, *, config: dict, kind: str = "rate"):
        """The checks of :meth:`resume` without opening a writer: ``(file to continue, its Run,
        its learner state or None)``; a one-line :class:`RunFileError` if it cannot be continued
        (missing, complete, diverged, of another kind, another configuration — the message names
        up to three differing keys — or epochs recorded without learner state)."""
        target = Path(path)
        path = target.with_name(target.name + ".new")
        if not path.exists():
            path = target
        run = read_run(path)
        if run.status == "complete":
            raise RunFileError(f"run file {path} is complete ({run.epochs_completed} epochs); nothing to resume")
        if run.status == "diverged":
            raise RunFileError(f"run file {path} diverged; resuming would diverge again: change the "
                               "settings and start a new run (--overwrite or another --out)")
        if run.kind != kind:
            raise RunFileError(f"run file {path} is a {run.kind} run; --resume here continues {kind} runs")
        stored = json.dumps(run.config, sort_keys=True, default=_json_default)
        wanted = json.dumps(config, sort_keys=True, default=_json_default)
        if stored != wanted:
            diff = _config_diff(run.config, json.loads(wanted))
            flags = "--set, --seed and --epochs" if kind == "rate" else "--set and --seed"
            raise RunFileError(f"run file {path} was made with another configuration ({diff}); "
                               f"resume with the same model, {flags} as the original run")
        state = read_learner_state(path)
        if state is None and run.epochs_completed > 0:
            raise RunFileError(f"run file {path} holds no learner state (written before resuming existed, "
                               "or stripped); start a new run with --overwrite")
        return path, run, state

    @property
    def learner_state(self):
        """``(arrays, tree)`` of the last checkpoint's learner state, or None."""
        return self._learner_state

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """The weights of the last checkpoint."""
        return dict(self._weights)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The named arrays of the last checkpoint (without units)."""
        return {k: a for k, (a, _) in self._arrays.items()}

    @property
    def metrics(self) -> dict[str, list[float]]:
        """The recorded metrics per epoch."""
        return {k: list(v) for k, v in (self._metrics or {}).items()}

    def append_epoch(self, metrics: dict[str, float], *, weights=None, arrays=None,
                     wall_time_s: float | None = None, learner_state=None) -> None:
        """Append one epoch's metrics, update weights/arrays, and checkpoint.

        Parameters
        ----------
        metrics : dict of str to float
            One scalar per metric; every epoch must give the names of the first epoch.
        weights : dict of str to ndarray, optional
            Latest weights (e.g. ``W0`` of shape (n_out, n_in)); replaces stored ones.
        arrays : dict, optional
            Extra named arrays, each an ndarray or ``(ndarray, units)``; replaces stored ones.
        wall_time_s : float, optional
            Wall time of the run so far in s (default: measured since construction).
        learner_state : tuple, optional
            ``(arrays, tree)`` of everything besides the weights needed to resume (see the
            class notes); replaces the stored one.
        """
        if self._finished:
            raise ValueError("append_epoch() called after finish()")
        row = {_check_name(k, "metric"): float(v) for k, v in metrics.items()}
        if "epoch" in row:
            raise ValueError("'epoch' is reserved and recorded automatically; rename the metric")
        if self._metrics is None:
            if not row:
                raise ValueError("append_epoch() needs at least one metric")
            self._metrics = {k: [] for k in row}
        elif set(row) != set(self._metrics):
            raise ValueError(f"epoch {self.epochs_completed + 1} metrics {sorted(row)} differ "
                             f"from the first epoch's {sorted(self._metrics)}")
        for k, v in row.items():
            self._metrics[k].append(v)
        self._attrs["epochs_completed"] += 1
        self._attrs["status"] = "incomplete"
        self._update(weights, arrays, wall_time_s)
        self._set_learner_state(learner_state)
        self._checkpoint()

    def save_state(self, *, weights=None, arrays=None, learner_state=None, wall_time_s: float | None = None) -> None:
        """Checkpoint weights, arrays and learner state without recording an epoch: a stage that
        precedes the first epoch (a continual run's cortex phase) that :meth:`resume` can skip."""
        if self._finished:
            raise ValueError("save_state() called after finish()")
        self._update(weights, arrays, wall_time_s)
        self._set_learner_state(learner_state)
        self._checkpoint()

    def _set_learner_state(self, learner_state) -> None:
        if learner_state is not None and self._strip:
            for name, a in learner_state[0].items():
                self._dropped[f"learner_state/{name}"] = dataset_digest(a)
        elif learner_state is not None:
            arrs, tree = learner_state
            self._learner_state = ({k: np.array(v, copy=True) for k, v in arrs.items()},
                                   json.loads(json.dumps(tree, default=_json_default)))

    def stream(self, name: str, chunk, units: str | None = None) -> None:
        """Append `chunk` to the streamed array `name` without keeping it in memory.

        Parameters
        ----------
        name : str
            Array name (stored as ``/arrays/<name>`` once the run finishes).
        chunk : array-like
            Rows to append, shape (n, ...) with the trailing shape and dtype of the first
            chunk (n may be 0).
        units : str, optional
            Units of the values (``"s"``); fixed by the first chunk.

        Notes
        -----
        The chunk is written to ``<path>.d/<name>/<k>.npy`` via a temporary file, fsync
        and ``os.replace``, so a crash leaves every earlier chunk intact; the main file is
        not rewritten.
        """
        if self._finished:
            raise ValueError("stream() called after finish()")
        _check_name(name, "array")
        a = np.asarray(chunk)
        if a.ndim == 0:
            raise ValueError(f"stream {name!r}: chunk must have at least one dimension")
        if self._strip and strip_rule("arrays", name, a.shape) == "drop":
            d = self._dropped.setdefault(f"arrays/{name}", {"shape": [0, *a.shape[1:]], "dtype": a.dtype.str,
                                                            "sha256": None})
            d["shape"][0] += len(a)
            return
        info = self._streams.get(name)
        if info is None:
            if name in self._arrays:
                raise ValueError(f"{name!r} is already an array of this run")
            info = self._streams[name] = {"chunks": 0, "rows": 0, "dtype": a.dtype.str,
                                          "shape": list(a.shape[1:]), "units": units}
        elif a.shape[1:] != tuple(info["shape"]) or a.dtype.str != info["dtype"]:
            raise ValueError(f"stream {name!r}: chunk of shape {a.shape} and dtype {a.dtype} does not match "
                             f"rows of shape {tuple(info['shape'])} and dtype {info['dtype']}")
        directory = self._sidecar / name
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if info["chunks"] == 0:
                _atomic_write_bytes(directory / "stream.json", json.dumps(
                    {k: info[k] for k in ("dtype", "shape", "units")}).encode())
            buf = io.BytesIO()
            np.save(buf, a, allow_pickle=False)
            _atomic_write_bytes(directory / f"{info['chunks']:08d}.npy", buf.getvalue())
        except OSError as exc:
            raise RunFileError(f"cannot write stream {name!r} of run file {self.path} ({exc}); "
                               "check the directory is writable and has free space") from exc
        info["chunks"] += 1
        info["rows"] += len(a)

    def finish(self, *, weights=None, arrays=None, wall_time_s: float | None = None) -> None:
        """Mark the run complete (all planned epochs done) and checkpoint.

        Raises ValueError if fewer than ``epochs_planned`` epochs were appended.
        """
        if self.epochs_completed < self._attrs["epochs_planned"]:
            raise ValueError(f"finish() after {self.epochs_completed} of "
                             f"{self._attrs['epochs_planned']} planned epochs")
        self._update(weights, arrays, wall_time_s)
        self._attrs["status"] = "complete"
        self._finished = True
        self._checkpoint()
        if self.path != self.target:  # --overwrite: the new run is complete, replace the old file
            try:
                os.replace(self.path, self.target)
                _fsync_dir(self.target.parent)
                shutil.rmtree(sidecar_dir(self.target), ignore_errors=True)  # the old run's streams
            except OSError as exc:
                raise RunFileError(f"cannot move the completed run {self.path} onto {self.target} ({exc}); "
                                   f"the new run is complete in {self.path}") from exc
            self.path = self.target

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        from neuro_grlu.errors import DivergenceError

        if not self._finished:
            self._attrs["status"] = "diverged" if isinstance(exc, DivergenceError) else "incomplete"
            self._attrs["wall_time_s"] = time.monotonic() - self._t0
            try:
                self._checkpoint()
            except BaseException as err:  # keep the original exception; mention this one
                if exc is None:
                    raise
                if hasattr(exc, "add_note"):
                    exc.add_note(f"also failed to write final checkpoint: {err}")
        return False

    # -- internals ----------------------------------------------------------------------
    def _update(self, weights, arrays, wall_time_s) -> None:
        for name, w in (weights or {}).items():
            w = np.asarray(w)
            if self._strip and strip_rule("weights", _check_name(name, "weight"), w.shape) == "drop":
                self._dropped[f"weights/{name}"] = dataset_digest(w)
                continue
            self._weights[_check_name(name, "weight")] = np.array(w, copy=True)
        for name, a in (arrays or {}).items():
            units = None
            if isinstance(a, tuple):
                a, units = a
            a = np.asarray(a)
            if self._strip and strip_rule("arrays", _check_name(name, "array"), a.shape) == "drop":
                self._dropped[f"arrays/{name}"] = dataset_digest(a)
                continue
            self._arrays[_check_name(name, "array")] = (np.array(a, copy=True), units)
        self._attrs["wall_time_s"] = float(wall_time_s if wall_time_s is not None
                                           else time.monotonic() - self._t0)

    def _write(self, f: h5py.File) -> None:
        for k, v in self._attrs.items():
            f.attrs[k] = v
        if self._strip:
            f.attrs["strip_json"] = json.dumps({"strip_version": 1, "by": "RunWriter(strip=True)",
                                                "dropped": self._dropped, "subsampled": {}, "derived": {}},
                                               sort_keys=True)
        g = f.create_group("metrics")
        write_dataset(g, "epoch", np.arange(1, self.epochs_completed + 1, dtype=np.int64), compress=False)
        for name, values in (self._metrics or {}).items():
            d = write_dataset(g, name, np.asarray(values, dtype=np.float64), compress=False)
            d.attrs["units"] = self._units.get(name, "")
            if name in self._descriptions:
                d.attrs["description"] = self._descriptions[name]
        g = f.create_group("weights")
        for name, w in self._weights.items():
            write_dataset(g, name, w)
        if self._learner_state is not None:
            arrs, tree = self._learner_state
            g = f.create_group("learner_state")
            g.attrs["state_json"] = json.dumps(tree, sort_keys=True)
            for name, a in arrs.items():
                write_dataset(g, name, a)
        if self._arrays or (self._finished and self._streams):
            g = f.create_group("arrays")
            for name, (a, units) in self._arrays.items():
                d = write_dataset(g, name, a)
                if units is not None:
                    d.attrs["units"] = units
            if self._finished:
                for name, info in self._streams.items():
                    _merge_stream(g, name, self._sidecar / name, info)

    def _checkpoint(self) -> None:
        """Write the whole file through :func:`replace_atomically` (temporary file, fsync, rename)."""

        def write(tmp: Path) -> None:
            with h5py.File(tmp, "w") as f:
                self._write(f)

        try:
            replace_atomically(self.path, write)
            if self._finished and self._sidecar.exists():
                shutil.rmtree(self._sidecar, ignore_errors=True)
        except OSError as exc:
            raise RunFileError(f"cannot write run file {self.path} ({exc}); check the "
                               "directory is writable and has free space") from exc


def write_dataset(group, name: str, data, *, compress: bool = True):
    """Create ``group[name]`` from `data` with a Fletcher-32 checksum (and gzip if `compress`).

    Scalars and empty arrays cannot be chunked in HDF5 and are stored plain. Returns the dataset.
    """
    data = np.asarray(data)
    if data.ndim == 0 or data.size == 0 or data.dtype.kind in "OUS":
        return group.create_dataset(name, data=data)
    opts = {"fletcher32": True, "chunks": True}
    if compress:
        opts.update(compression="gzip", compression_opts=_GZIP_LEVEL, shuffle=True)
    return group.create_dataset(name, data=data, **opts)


def dataset_digest(a) -> dict:
    """Name-free record of a dropped dataset: ``{"shape", "dtype", "sha256"}`` (of its C-order bytes)."""
    import hashlib

    a = np.ascontiguousarray(a)
    return {"shape": list(a.shape), "dtype": a.dtype.str, "sha256": hashlib.sha256(a.tobytes()).hexdigest()}


def strip_rule(group: str, name: str, shape) -> str:
    """What a stripped run file does with dataset ``/<group>/<name>`` of `shape`: ``"keep"`` or ``"drop"``.

    Dropped: weights and learner state with more than :data:`STRIP_KEEP_MAX_SIZE` elements,
    spike trains (``spike_*``) and synapse index lists (``pre_idx``, ``post_idx``).
    Everything else (metrics, accuracy matrices, alignment, histograms, timing) is kept.
    """
    if group == "learner_state":  # state only a full run can resume from: dropped whole
        return "drop"
    if group in STRIP_GROUPS:
        return "drop" if int(np.prod(shape, dtype=np.int64)) > STRIP_KEEP_MAX_SIZE else "keep"
    if group == "arrays" and (name.startswith(STRIP_ARRAY_PREFIXES) or name in STRIP_ARRAY_NAMES):
        return "drop"
    return "keep"


def _fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (POSIX)."""
    if os.name == "posix":
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _config_diff(stored: dict, wanted: dict, prefix: str = "") -> str:
    """The first few keys whose values differ between two nested configs, as ``key: a -> b``."""
    out = []
    for k in sorted(set(stored) | set(wanted)):
        a, b = stored.get(k), wanted.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            sub = _config_diff(a, b, f"{prefix}{k}.")
            if sub:
                out.append(sub)
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} in the file, {b!r} now")
    return "; ".join(out[:3])


def read_learner_state(path) -> tuple[dict[str, np.ndarray], object] | None:
    """``(arrays, tree)`` from the group ``/learner_state`` of a run file, or None if it has none."""
    try:
        with h5py.File(path, "r") as f:
            g = f.get("learner_state")
            if g is None:
                return None
            tree = json.loads(_str(g.attrs["state_json"]))
            arrays: dict[str, np.ndarray] = {}

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    arrays[name] = obj[()]

            g.visititems(visit)
            return arrays, tree
    except (OSError, KeyError, ValueError) as exc:
        raise RunFileError(f"cannot read the learner state of {path} ({exc}); the file is damaged") from exc


def sidecar_dir(path) -> Path:
    """Directory ``<path>.d`` holding the streamed chunks of an unfinished run."""
    path = Path(path)
    return path.with_name(path.name + ".d")


def replace_atomically(path, write: Callable[[Path], T]) -> T:
    """Make ``path`` by ``write(tmp)`` into a temporary file of its own beside it, then rename.

    The temporary name is unique (``mkstemp``: two processes writing the same file never share
    one); ``write`` gets its path (the file exists and is empty: open it with mode ``"w"``). The
    file is fsynced and renamed onto ``path`` with ``os.replace``, so a crash, kill or Ctrl-C
    leaves the previous file or the new one, never a partial one; on any error the temporary
    file is removed. Returns what ``write`` returns.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        result = write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; result files are ordinary files
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return result


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`replace_atomically`."""
    replace_atomically(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file, fsync and ``os.replace``.

    A crash, kill or Ctrl-C during the write leaves the previous file or the new one, never a
    truncated one (what a plain ``Path.write_text`` can leave). Missing parent folders are made.
    Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(path, text.encode("utf-8"))
    return path


def write_record(out, record: dict, markdown: str) -> None:
    """Write a benchmark's result pair: ``out.json`` (``record``, indented) and ``out.md`` (``markdown``).

    Each file is written with :func:`write_text_atomic`; the suffix of ``out`` is replaced.
    """
    out = Path(out)
    write_text_atomic(out.with_suffix(".json"), json.dumps(record, indent=2))
    write_text_atomic(out.with_suffix(".md"), markdown)


def _stream_chunks(directory: Path) -> list[Path]:
    """The complete chunk files of a stream directory, in order."""
    return sorted(p for p in directory.glob("*.npy") if p.stem.isdigit())


def _merge_stream(group, name: str, directory: Path, info: dict) -> None:
    """Copy a stream's chunks one at a time into a new dataset ``group[name]``."""
    rows = info["rows"]
    d = group.create_dataset(name, shape=(rows, *info["shape"]), dtype=np.dtype(info["dtype"]),
                             chunks=True if rows else None, shuffle=bool(rows), fletcher32=bool(rows),
                             compression="gzip" if rows else None,
                             compression_opts=_GZIP_LEVEL if rows else None)
    row = 0
    for p in _stream_chunks(directory)[: info["chunks"]]:
        a = np.load(p, allow_pickle=False)
        d[row:row + len(a)] = a
        row += len(a)
    if row != info["rows"]:
        raise OSError(f"stream {name!r} has {row} rows on disk, expected {info['rows']}")
    if info["units"] is not None:
        d.attrs["units"] = info["units"]


def _read_streams(path: Path, arrays: dict, array_units: dict) -> None:
    """Add the sidecar streams of an unfinished run to `arrays` (merged datasets win)."""
    sidecar = sidecar_dir(path)
    if not sidecar.is_dir():
        return
    for directory in sorted(p for p in sidecar.iterdir() if p.is_dir()):
        name = directory.name
        if name in arrays or not (directory / "stream.json").is_file():
            continue
        try:
            meta = json.loads((directory / "stream.json").read_text())
            parts = [np.load(p, allow_pickle=False) for p in _stream_chunks(directory)]
        except (OSError, ValueError) as exc:
            raise RunFileError(f"stream {name!r} in {sidecar} is damaged ({exc}); delete the directory "
                               "or re-run the experiment") from exc
        if parts:
            arrays[name] = np.concatenate(parts)
        else:
            arrays[name] = np.zeros((0, *meta["shape"]), dtype=np.dtype(meta["dtype"]))
        if meta.get("units") is not None:
            array_units[name] = meta["units"]


@dataclass
class Run:
    """A run file's content as plain Python/NumPy objects (see ``docs/run-file.md``).

    This is the record of the io layer; ``neuro_grlu.read_run`` returns the same record with
    ``summary()``, ``plot()`` and ``figure_names()`` (:class:`neuro_grlu.app.runs.Run`).

    ``metrics[name]`` has shape (epochs_completed,) float64, row i = epoch i+1 (the
    ``/metrics/epoch`` dataset is implied and not included);
    ``weights``/``arrays`` hold arrays as stored; ``wall_time_s`` is in seconds.
    A *stripped* file (``stripped`` True) lacks its weights and spike trains; ``strip_info``
    then lists them under ``"dropped"`` (``"group/name"`` -> shape, dtype, SHA-256 of the
    full data), the subsampled traces under ``"subsampled"``, and under ``"derived"`` the
    numbers analyses computed from the full file before it was stripped.
    """

    def missing(self, group: str, name: str) -> str | None:
        """If ``/<group>/<name>`` was dropped by stripping, a one-line reason; else None."""
        if f"{group}/{name}" in self.strip_info.get("dropped", {}):
            return (f"run file {self.path} was stripped (weights and spike trains dropped by "
                    f"`neuro-grlu strip`), so it has no {group}/{name}; use the full run file "
                    "(re-run the command stored in it)")
        return None

    path: Path
    schema_version: int
    model: str
    kind: str
    seed: int
    config: dict
    versions: dict
    git_commit: str
    git_dirty: bool
    created: str
    status: str
    epochs_planned: int
    epochs_completed: int
    wall_time_s: float
    command: str
    metrics: dict[str, np.ndarray]
    metric_units: dict[str, str]
    weights: dict[str, np.ndarray]
    arrays: dict[str, np.ndarray]
    array_units: dict[str, str] = field(default_factory=dict)
    stripped: bool = False
    strip_info: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True only if the run finished all planned epochs (status ``"complete"``)."""
        return self.status == "complete"

    def table(self) -> list[dict]:
        """One dict per epoch: ``{"epoch": int (1-based), <metric>: float, ...}``."""
        return [{"epoch": i + 1, **{k: float(v[i]) for k, v in self.metrics.items()}}
                for i in range(self.epochs_completed)]


def _str(v) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _check_status(status: str, completed: int, planned: int, damaged: str) -> None:
    """Refuse a status the writer cannot have left (see ``docs/run-file.md``, status semantics)."""
    if status not in _STATUSES:
        raise RunFileError(f"{damaged}: unknown status {status!r} (known: {', '.join(_STATUSES)}); "
                           "re-run the experiment to regenerate it")
    if completed < 0 or planned < 0 or completed > planned:
        raise RunFileError(f"{damaged}: epochs_completed={completed} is not within 0..epochs_planned={planned}; "
                           "re-run the experiment to regenerate it")
    if status == "running" and completed:
        raise RunFileError(f"{damaged}: status 'running' with {completed} epochs recorded (a writer marks "
                           "such a file 'incomplete'); re-run the experiment to regenerate it")
    if status == "complete" and completed != planned:
        raise RunFileError(f"{damaged}: status 'complete' after {completed} of {planned} planned epochs; "
                           "re-run the experiment to regenerate it")


def _read_dataset(d, path) -> np.ndarray:
    """``d[()]``, with a checksum failure or unreadable chunk named in a one-line RunFileError."""
    try:
        return d[()]
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        check = "fails its Fletcher-32 checksum" if d.fletcher32 else "cannot be read"
        raise RunFileError(f"run file {path} is corrupt: dataset {d.name} {check} ({reason}); "
                           "restore the file from a copy or re-run the experiment") from exc


def read_run(path) -> Run:
    """Read a run file (opened read-only) into a :class:`Run`.

    Raises
    ------
    RunFileError
        File missing, not HDF5/truncated, not a neuro_grlu run, written by a newer
        schema version, or missing required content (damaged).
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise RunFileError(f"run file {path} {what}; check the path (create one with "
                           "`neuro-grlu train ... --out FILE`)")
    damaged = f"run file {path} is damaged"
    try:
        with h5py.File(path, "r") as f:
            a = f.attrs
            if "schema" not in a or _str(a["schema"]) != SCHEMA:
                found = f"schema {_str(a['schema'])!r}" if "schema" in a else "no 'schema' attribute"
                raise RunFileError(f"{path} is an HDF5 file but not a neuro_grlu run file "
                                   f"({found}); pass a file written by `neuro-grlu train`")
            missing = [k for k in _REQUIRED_ATTRS if k not in a]
            if missing:
                raise RunFileError(f"{damaged}: required attribute(s) {', '.join(missing)} "
                                   "missing; re-run the experiment to regenerate it")
            version = int(a["schema_version"])
            if version > SCHEMA_VERSION:
                raise RunFileError(f"run file {path} has schema version {version}, written by a "
                                   f"newer neuro_grlu (this one reads <= {SCHEMA_VERSION}); upgrade "
                                   "neuro_grlu (pip install -U neuro-grlu)")
            status = _str(a["status"])
            if version < 1 or "metrics" not in f or "weights" not in f:
                raise RunFileError(f"{damaged}: bad schema_version or missing /metrics or /weights group; "
                                   "re-run the experiment to regenerate it")
            kind = _str(a["kind"])
            if kind not in KINDS:
                raise RunFileError(f"{damaged}: unknown kind {kind!r} (known: {', '.join(KINDS)}); "
                                   "re-run the experiment to regenerate it")
            completed, planned = int(a["epochs_completed"]), int(a["epochs_planned"])
            _check_status(status, completed, planned, damaged)
            try:
                config = json.loads(_str(a["config_json"]))
                versions = json.loads(_str(a["versions_json"]))
                strip_info = json.loads(_str(a["strip_json"])) if "strip_json" in a else {}
            except ValueError as exc:
                raise RunFileError(f"{damaged}: config_json/versions_json/strip_json is not valid JSON; "
                                   "re-run the experiment to regenerate it") from exc
            if not isinstance(config, dict):
                raise RunFileError(f"{damaged}: config_json is not a JSON object; re-run the experiment")

            def read(group, name):
                return _read_dataset(group[name], path)

            metrics = {k: read(f["metrics"], k) for k in f["metrics"] if k != "epoch"}
            units = {k: _str(f["metrics"][k].attrs.get("units", "")) for k in metrics}
            weights = {k: read(f["weights"], k) for k in f["weights"]}
            arrays, array_units = {}, {}
            for k, d in (f["arrays"].items() if "arrays" in f else ()):
                arrays[k] = read(f["arrays"], k)
                if "units" in d.attrs:
                    array_units[k] = _str(d.attrs["units"])
            _read_streams(path, arrays, array_units)
            epoch = read(f["metrics"], "epoch") if "epoch" in f["metrics"] else None
            if epoch is None or any(np.shape(v) != (completed,) for v in [epoch, *metrics.values()]):
                raise RunFileError(f"{damaged}: metric lengths differ from epochs_completed="
                                   f"{completed}; re-run the experiment to regenerate it")
            return Run(
                path=path, schema_version=version, model=_str(a["model"]),
                kind=kind, seed=int(a["seed"]), config=config, versions=versions,
                git_commit=_str(a["git_commit"]), git_dirty=bool(a["git_dirty"]),
                created=_str(a["created"]), status=status,
                epochs_planned=planned, epochs_completed=completed,
                wall_time_s=float(a["wall_time_s"]), command=_str(a["command"]),
                metrics=metrics, metric_units=units, weights=weights, arrays=arrays,
                array_units=array_units, stripped=bool(a.get("stripped", False)), strip_info=strip_info)
    except OSError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunFileError(f"cannot read run file {path}: not a valid HDF5 file, truncated or "
                           f"unreadable ({reason}); re-run the experiment or check the path") from exc
