"""Declarative, validated parameter records.

A parameter set is a frozen dataclass whose fields carry their constraint in the field
metadata (as scikit-learn's ``_parameter_constraints``, but checked at construction):

>>> @dataclass(frozen=True)
... class P(ParamSet):
...     lr: float = param(0.1, low=0.0, doc="learning rate per sample")

``P(lr=-1)`` raises ``ConfigError("P.lr must be >= 0.0 (got -1)")``;
:func:`from_dict` turns a TOML table into such a record and rejects unknown keys with the
list of the allowed ones.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError


def param(default, *, low=None, high=None, low_open=False, high_open=False, choices=None, at_most=None, doc=""):
    """A dataclass field with a declared constraint (range or choices) and a one-line doc.

    ``at_most="other"``: the value must not exceed that of field ``other`` (e.g. a schedule's
    ``lr_min`` and ``lr_max``).
    """
    meta = dict(low=low, high=high, low_open=low_open, high_open=high_open, choices=choices, at_most=at_most, doc=doc)
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return field(default_factory=lambda: value, metadata=meta)
    return field(default=default, metadata=meta)


def _check_number(label: str, value, meta) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{label} must be a finite number (got {value!r})")
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value <= low if meta.get("low_open") else value < low):
        raise ConfigError(f"{label} must be {'>' if meta.get('low_open') else '>='} {low} (got {value})")
    if high is not None and (value >= high if meta.get("high_open") else value > high):
        raise ConfigError(f"{label} must be {'<' if meta.get('high_open') else '<='} {high} (got {value})")


@dataclass(frozen=True)
class ParamSet:
    """Base class: validates every field against its declared constraint on construction."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            label = f"{type(self).__name__}.{f.name}"
            choices = f.metadata.get("choices")
            if choices is not None:
                if value not in choices:
                    raise ConfigError(f"{label} must be one of {', '.join(map(repr, choices))} (got {value!r})")
            elif isinstance(f.default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{label} must be true or false (got {value!r})")
            elif isinstance(f.default, (int, float)):
                _check_number(label, value, f.metadata)
                if isinstance(f.default, int) and not isinstance(f.default, bool) and value != int(value):
                    raise ConfigError(f"{label} must be a whole number (got {value})")
                object.__setattr__(self, f.name, type(f.default)(value))
        for f in dataclasses.fields(self):
            other = f.metadata.get("at_most")
            if other is not None and getattr(self, f.name) > getattr(self, other):
                raise ConfigError(f"{type(self).__name__}.{f.name} ({getattr(self, f.name)}) must not exceed "
                                  f"{other} ({getattr(self, other)})")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in dataclasses.fields(self)}


def allowed_keys(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def from_dict(cls, values: dict[str, Any] | None, section: str, **fixed):
    """Build ``cls`` from a config table; unknown keys are an error listing the allowed keys."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(allowed_keys(cls)) - set(fixed))
    if unknown:
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in [{section}]; "
            f"allowed: {', '.join(k for k in allowed_keys(cls) if k not in fixed)}"
        )
    for f in dataclasses.fields(cls):
        if f.name in values and isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    try:
        return cls(**values, **fixed)
    except TypeError as exc:  # wrong type that the dataclass itself rejects
        raise ConfigError(f"[{section}]: {exc}") from None
