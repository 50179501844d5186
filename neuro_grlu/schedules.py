"""Per-epoch schedules for learning rate and noise scale.

The published GRLU runs hold each value constant within an epoch and follow a half cosine
over epochs: ``v(e) = v_min + (v_max - v_min) · ½(1 + cos(π e / E))`` for the 0-based epoch
``e`` of ``E`` — so the first epoch uses ``v_max`` and the value approaches (never reaches)
``v_min``.
"""

from __future__ import annotations

import math

from .errors import ConfigError

SCHEDULES = ("cosine", "linear", "constant")


def schedule_value(kind: str, v_max: float, v_min: float, epoch: int, epochs: int) -> float:
    """Value of a ``kind`` schedule at 0-based ``epoch`` of ``epochs``."""
    if kind == "constant":
        return float(v_max)
    if kind == "cosine":
        frac = 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    elif kind == "linear":
        frac = 1.0 - epoch / epochs
    else:
        raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)} (got {kind!r})")
    return float(v_min + (v_max - v_min) * frac)


def scheduled(params, epoch: int, epochs: int, *names: str) -> dict[str, float]:
    """``{name: value}`` for each ``name`` whose ``{name}_max``/``{name}_min`` fields of
    ``params`` follow the ``params.schedule`` schedule, at 0-based ``epoch`` of ``epochs``."""
    return {name: schedule_value(params.schedule, getattr(params, f"{name}_max"), getattr(params, f"{name}_min"),
                                 epoch, epochs)
            for name in names}
