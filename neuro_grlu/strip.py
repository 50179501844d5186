"""Stripped run files: what a repository keeps of a run (``neuro-grlu strip RUN.h5``).

A stripped run file is a run file (same schema, version 1) without the bulk that no
document reads: the weights and learner state (datasets of more than
:data:`~neuro_grlu.io.STRIP_KEEP_MAX_SIZE` elements), the spike trains (``spike_*``) and the
synapse index lists. It keeps every root attribute (config, seed, versions, git commit,
command: enough to regenerate the full file), every metric byte for byte, and the small
arrays (accuracy matrices, alignment, histograms, timing). State-monitor traces sampled on
``state_t`` are kept at one sample per `trace_step_s` seconds.

The root attribute ``stripped`` is True and ``strip_json`` records

- ``dropped``: ``"group/name"`` -> shape, dtype and SHA-256 of the dropped data (so a
  regenerated full file can be checked against it);
- ``subsampled``: trace name -> original shape, the stride kept, SHA-256 of the full trace;
- ``derived``: numbers the analyses computed from the full file before stripping (the
  ``neuro-grlu report`` summary, and for distal-reward runs the table of
  :func:`neuro_grlu.spiking.experiments.distal_reward.summarize`), so every number the docs
  quote stays readable from the stripped file.

Stripping is idempotent: stripping a stripped file keeps its first record of what was dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .errors import RunFileError
from .io import (_read_dataset, _str, dataset_digest, read_run, replace_atomically, sidecar_dir, strip_rule,
                 write_dataset)

STRIP_VERSION = 1
#: Traces with at least this many samples on ``state_t`` are subsampled.
_MIN_TRACE_SAMPLES = 1000


@dataclass(frozen=True)
class StripResult:
    """What :func:`strip_run` did: file sizes in bytes, the dropped and subsampled dataset names."""

    path: Path
    bytes_before: int
    bytes_after: int
    dropped: tuple[str, ...]
    subsampled: tuple[str, ...]


def derived_numbers(run) -> dict:
    """Numbers that analyses compute from a full run file, as plain JSON values.

    ``summary``: :func:`neuro_grlu.app.report.summary` without ``file``; ``distal_reward``: for
    spiking runs with a chosen synapse and final weights, the distal-reward table's numbers;
    ``spike_statistics``: for spiking runs with spike trains, the firing statistics of the last
    600 s (:func:`neuro_grlu.spiking.statistics.stripped_statistics`).
    """
    from .app.report import summary

    out = {"summary": {k: v for k, v in summary(run).items() if k != "file"}}
    if run.kind == "spiking" and {"w_initial", "w_final"} <= set(run.weights) and \
            {"state_t", "tracked_w", "tracked_synapses"} <= set(run.arrays) and run.config.get("plasticity"):
        from .spiking.experiments.distal_reward import summarize

        out["distal_reward"] = summarize(run)
    if run.kind == "spiking" and {"w_initial", "w_final"} <= set(run.weights) and "w_hist_edges" in run.arrays:
        from .figures.spiking import weight_histograms

        h0, h1, chosen = weight_histograms(run)  # the histogram figure draws from these
        out["w_hist_initial"], out["w_hist_final"] = h0, h1
        if chosen is not None:
            out["chosen_w_final"] = chosen
    if run.kind == "spiking":
        from .spiking.statistics import stripped_statistics

        stats = stripped_statistics(run)
        if stats is not None:
            out["spike_statistics"] = stats
    return json.loads(json.dumps(out, default=_plain))


def _plain(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _trace_stride(f: h5py.File, trace_step_s: float) -> tuple[int, int]:
    """(number of samples, stride) of the state-monitor traces (stride 1: keep all)."""
    if "arrays" not in f or "state_t" not in f["arrays"]:
        return 0, 1
    t = f["arrays"]["state_t"]
    n = t.shape[0] if t.ndim == 1 else 0
    if n < _MIN_TRACE_SAMPLES:
        return n, 1
    dt = float(np.median(np.diff(_read_dataset(t, f.filename)[:1000])))
    return n, max(1, int(round(trace_step_s / dt))) if dt > 0 else 1


def strip_file(src, dst, *, derived: dict | None = None, trace_step_s: float = 1.0) -> dict:
    """Write the stripped copy of run file `src` to `dst` (plain h5py; no analysis).

    Returns the ``strip_json`` record written. `derived` is stored as its ``derived`` entry
    unless `src` is already stripped (then its own record is kept and extended).
    """
    src, dst = Path(src), Path(dst)
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        old = json.loads(_str(f.attrs["strip_json"])) if "strip_json" in f.attrs else {}
        info = {"strip_version": STRIP_VERSION, "by": "neuro-grlu strip", "trace_step_s": float(trace_step_s),
                "dropped": dict(old.get("dropped", {})), "subsampled": dict(old.get("subsampled", {})),
                "derived": old.get("derived") if old else (derived or {})}
        n_trace, stride = _trace_stride(f, trace_step_s)
        for k, v in f.attrs.items():
            if k not in ("stripped", "strip_json"):  # rewritten below (a rewritten attribute leaves a hole)
                g.attrs[k] = v

        def copy(src_group, dst_group, top):
            for name, item in src_group.items():
                if isinstance(item, h5py.Group) and (top or name) == "learner_state":
                    item.visititems(lambda n, d: info["dropped"].__setitem__(
                        f"{d.name.lstrip('/')}", dataset_digest(_read_dataset(d, src)))
                        if isinstance(d, h5py.Dataset) else None)
                    continue  # the whole group: a stripped file cannot be resumed
                if isinstance(item, h5py.Group):
                    copy(item, dst_group.create_group(name), top or name)
                    continue
                key = item.name.lstrip("/")
                group = top or ""
                if strip_rule(group, name, item.shape) == "drop":
                    info["dropped"][key] = dataset_digest(_read_dataset(item, src))
                    continue
                data = _read_dataset(item, src)
                if group == "arrays" and stride > 1 and data.ndim >= 1 and data.shape[0] == n_trace:
                    info["subsampled"][key] = {**dataset_digest(data), "stride": stride}
                    data = data[::stride]
                d = write_dataset(dst_group, name, data, compress=group != "metrics")
                for ak, av in item.attrs.items():
                    d.attrs[ak] = av
                if key in info["subsampled"]:
                    d.attrs["subsampled_stride"] = info["subsampled"][key]["stride"]
            for ak, av in src_group.attrs.items():
                if src_group.name != "/":
                    dst_group.attrs[ak] = av

        copy(f, g, None)
        for required in ("metrics", "weights"):
            if required not in g:
                g.create_group(required)
        g.attrs["stripped"] = True
        g.attrs["strip_json"] = json.dumps(info, sort_keys=True)
    return info


def strip_run(path, out=None, *, trace_step_s: float = 1.0) -> StripResult:
    """Strip run file `path` in place (or write the stripped copy to `out`), atomically.

    The file is read (and its checksums verified) first; derived numbers are computed from
    the full content; the stripped file is written to a temporary file beside the target and
    renamed onto it, so an interruption leaves the original intact.

    Raises
    ------
    RunFileError
        The file is not a readable run file, is corrupt, or still has unmerged streams.
    """
    path = Path(path)
    target = Path(out) if out is not None else path
    if trace_step_s <= 0:
        raise RunFileError(f"trace step must be > 0 s (got {trace_step_s}); pass e.g. --trace-step 1")
    run = read_run(path)  # validates schema, kind, status and every checksum
    if sidecar_dir(path).exists():
        raise RunFileError(f"run file {path} has unmerged streams in {sidecar_dir(path)} (the run did not "
                           "finish); strip it after it finishes or delete the directory")
    derived = {} if run.stripped else derived_numbers(run)
    before = path.stat().st_size
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        info = replace_atomically(target, lambda tmp: strip_file(path, tmp, derived=derived, trace_step_s=trace_step_s))
    except OSError as exc:
        raise RunFileError(f"cannot write stripped run file {target} ({exc}); check the directory is "
                           "writable and has free space") from exc
    return StripResult(path=target, bytes_before=before, bytes_after=target.stat().st_size,
                       dropped=tuple(sorted(info["dropped"])), subsampled=tuple(sorted(info["subsampled"])))
