"""Memory estimates checked before work starts (core layer).

A definition can ask for more memory than any machine has (``network.hidden = [1000000000]``,
``rule.pairs = 100000000000``, a spiking population of 10⁹ neurons). Instead of a NumPy
``MemoryError`` traceback after the run file was created, :func:`check_memory` compares a
lower-bound estimate with the machine's physical memory and raises a one-line
:class:`~neuro_grlu.errors.ConfigError` that gives the estimate and the setting to change.
"""

from __future__ import annotations

import os

from .errors import ConfigError


def physical_memory_bytes() -> int | None:
    """Physical memory of this machine in bytes, or None if the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """``5.7 TiB``, ``512.0 MiB``: binary units, one decimal."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(nbytes: float, what: str, fix: str, *, limit: int | None = None) -> None:
    """Raise ConfigError if `nbytes` (a lower bound of what `what` needs) exceeds physical memory.

    Parameters
    ----------
    nbytes : float
        Estimated bytes, a lower bound (so an error is certain to be right).
    what : str
        What needs it, e.g. ``"network 784-1000000000-10 with rule grlu"``.
    fix : str
        The setting to change, e.g. ``"reduce network.hidden"``.
    limit : int, optional
        Bytes available (default: :func:`physical_memory_bytes`; no check if unknown).
    """
    limit = physical_memory_bytes() if limit is None else limit
    if limit is not None and nbytes > limit:
        raise ConfigError(f"{what} needs at least {format_bytes(nbytes)} of memory, more than this machine's "
                          f"{format_bytes(limit)}; {fix}")
