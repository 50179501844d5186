"""Learner state: everything besides the model's weights that defines a rule's future updates.

A rule's state is a dataclass derived from :class:`LearnerState` (one per rule: optimiser
moments, FA/DFA feedback matrices, a running reward baseline, peer-normalisation means) and
always holds ``rng``, the rule's own random stream. Fields marked :func:`runtime` are caches
rebuilt on demand (noise buffers, a prefetching thread) and are never saved.

Saving: :func:`flatten` turns a state into ``(arrays, tree)``: ``arrays`` maps slash paths
(``"velocity/0"``, ``"feedback/1"``) to NumPy arrays; ``tree`` is a JSON-compatible mirror of
the state in which every array is replaced by ``{"$array": path}``, scalars stay as they are
and the random stream is ``{"$rng": bit_generator.state}``. The run file stores the arrays
as datasets of ``/learner_state/rule`` and the tree as its ``state_json`` attribute
(:mod:`neuro_grlu.io`).

Restoring: :func:`restore` fills a freshly initialised state (from ``rule.init``, which
fixes the structure, shapes and dtypes) with saved values, checking that they match.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import RunFileError


def runtime(default=None):
    """A dataclass field that is a rebuildable cache: not saved, not restored, not compared."""
    return field(default=default, repr=False, compare=False, metadata={"runtime": True})


@dataclass
class LearnerState:
    """Base of every rule's state: the rule's random stream ``rng`` (its position is saved).

    Subclasses add their own fields; the loop never looks inside them.
    """

    rng: np.random.Generator

    def rng_state(self) -> dict:
        """The ``bit_generator.state`` of the position the next draw for training starts at.

        Rules that draw ahead of use (GRLU's prefetching noise stream) override this to
        return the position of the first *unused* draw.
        """
        return self.rng.bit_generator.state

    def set_rng_state(self, value: dict) -> None:
        """Move the stream to ``value`` (from :meth:`rng_state`), discarding draws made ahead."""
        self.rng.bit_generator.state = value

    def settle(self) -> None:
        """Wait until no draw ahead of use is in progress, so that ``rng``'s own position is final
        (nothing runs ahead by default; GRLU's prefetching noise stream does)."""

    def close(self) -> None:
        """Release runtime resources (threads); the state stays usable (they are rebuilt)."""


def _fields(obj):
    """``(name, value)`` of the saved fields of a dataclass or plain object."""
    if dataclasses.is_dataclass(obj):
        return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj) if not f.metadata.get("runtime")]
    return [(k, v) for k, v in vars(obj).items() if not k.startswith("_")]


def flatten(state) -> tuple[dict[str, np.ndarray], object]:
    """``(arrays, tree)`` of a learner state (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {}

    def walk(obj, path):
        if isinstance(obj, LearnerState):
            out = {"$rng": _jsonable(obj.rng_state())}
            return {"rng": out, **{k: walk(v, f"{path}{k}/") for k, v in _fields(obj) if k != "rng"}}
        if isinstance(obj, np.ndarray):
            key = path.rstrip("/")
            arrays[key] = obj
            return {"$array": key}
        if isinstance(obj, np.random.Generator):
            return {"$rng": _jsonable(obj.bit_generator.state)}
        if isinstance(obj, (list, tuple)):
            return [walk(v, f"{path}{i}/") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            return {str(k): walk(v, f"{path}{k}/") for k, v in obj.items()}
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, np.generic):
            return obj.item()
        if dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
            return {k: walk(v, f"{path}{k}/") for k, v in _fields(obj)}
        raise TypeError(f"learner state entry {path.rstrip('/')!r} of type {type(obj).__name__} cannot be saved")

    return arrays, walk(state, "")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def restore(template, arrays: dict[str, np.ndarray], tree):
    """Fill ``template`` (a fresh state from ``rule.init``) with the saved ``(arrays, tree)``.

    Arrays replace the template's arrays (same shape and dtype required); scalars replace its
    scalars; the random stream is moved to the saved position. Returns the template.
    A :class:`~neuro_grlu.errors.RunFileError` names the first entry that does not match.
    """

    def fail(path, why):
        raise RunFileError(f"learner state entry {path or '(root)'!r} in the run file {why}; "
                           "the run file was written by other code or another configuration")

    def walk(obj, saved, path):
        if isinstance(saved, dict) and "$array" in saved:
            if not isinstance(obj, np.ndarray):
                fail(path, f"is an array, the rule has {type(obj).__name__}")
            a = arrays.get(saved["$array"])
            if a is None:
                fail(path, "is missing")
            a = np.asarray(a)
            if a.shape != obj.shape or a.dtype != obj.dtype:
                fail(path, f"has shape {a.shape} {a.dtype}, the rule needs {obj.shape} {obj.dtype}")
            return np.array(a, copy=True)
        if isinstance(saved, dict) and "$rng" in saved:
            if not isinstance(obj, np.random.Generator):
                fail(path, "is a random stream where the rule has none")
            obj.bit_generator.state = saved["$rng"]
            return obj
        if isinstance(obj, (list, tuple)):
            if not isinstance(saved, list) or len(saved) != len(obj):
                fail(path, f"has {len(saved) if isinstance(saved, list) else 'no'} entries, the rule needs {len(obj)}")
            items = [walk(o, s, f"{path}/{i}".lstrip("/")) for i, (o, s) in enumerate(zip(obj, saved))]
            if isinstance(obj, list):
                obj[:] = items
                return obj
            return type(obj)(items)
        if isinstance(obj, dict):
            if not isinstance(saved, dict) or set(map(str, obj)) != set(saved):
                fail(path, "has other keys than the rule's")
            for k in list(obj):
                obj[k] = walk(obj[k], saved[str(k)], f"{path}/{k}".lstrip("/"))
            return obj
        if obj is None or isinstance(obj, (bool, int, float, str, np.generic)):
            if isinstance(saved, (dict, list)):
                fail(path, "is a structure where the rule has a scalar")
            if obj is None and saved is not None:
                fail(path, "has a value where the rule has none")
            if saved is None and obj is not None:
                fail(path, "is empty where the rule has a value")
            return type(obj)(saved) if obj is not None else None
        if dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
            if not isinstance(saved, dict):
                fail(path, "is not a record")
            names = [k for k, _ in _fields(obj)]
            if set(names) != set(saved):
                fail(path, f"has fields {sorted(saved)}, the rule has {sorted(names)}")
            for k in names:
                if isinstance(obj, LearnerState) and k == "rng":
                    obj.set_rng_state(saved["rng"]["$rng"])
                    continue
                object.__setattr__(obj, k, walk(getattr(obj, k), saved[k], f"{path}/{k}".lstrip("/")))
            return obj
        fail(path, f"cannot be restored into {type(obj).__name__}")

    return walk(template, tree, "")


def states_equal(a, b) -> bool:
    """Whether two learner states hold the same values (arrays bit for bit, same stream position)."""
    fa, ta = flatten(a)
    fb, tb = flatten(b)
    return ta == tb and fa.keys() == fb.keys() and all(
        fa[k].dtype == fb[k].dtype and np.array_equal(fa[k], fb[k]) for k in fa)
