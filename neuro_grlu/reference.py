"""Published measurements the models are compared with (data layer).

* :data:`BI_POO_1998`: the STDP window of Bi & Poo (1998), reconstructed from the published
  exponential fit (see ``data/README.md``; shipped as package data, as is the next): columns ``dt_ms`` (t_post - t_pre, ms) and
  ``dw_percent`` (weight change, %).
* :data:`SJOSTROM_2001`: the frequency dependence of STDP measured by Sjöström, Turrigiano &
  Nelson (2001) at dt = ±10 ms, 0.1-50 Hz (group mean EPSP ratio, SEM, n; digitised points,
  see ``data/README.md``); read with :func:`read_sjostrom`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import DataError
from .paths import PACKAGE_DIR

BI_POO_1998 = PACKAGE_DIR / "measurements" / "bi_poo_1998.csv"  # package data
SJOSTROM_2001 = PACKAGE_DIR / "measurements" / "sjostrom_2001.csv"  # package data
SJOSTROM_COLUMNS = ("row_id", "frequency_hz", "dt_ms", "pairs_per_burst", "n_bursts", "burst_period_s",
                    "epsp_ratio", "sem", "n")


def read_sjostrom(path=None) -> list[dict]:
    """Rows of ``data/sjostrom_2001.csv`` (``#`` comments skipped) as dicts of floats
    (``row_id`` a string): frequency (Hz), dt = t_post - t_pre (ms), the protocol (pairs
    per burst, bursts, burst period in s) and the measured EPSP ratio with its SEM and n."""
    path = Path(path) if path else SJOSTROM_2001
    try:
        lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    except OSError as exc:
        raise DataError(f"cannot read the Sjöström data {path}: {exc.strerror}") from None
    rows = []
    for r in csv.DictReader(lines):
        try:
            rows.append({k: (r[k] if k == "row_id" else float(r[k])) for k in SJOSTROM_COLUMNS})
        except (KeyError, ValueError, TypeError):
            raise DataError(f"{path}: expected columns {','.join(SJOSTROM_COLUMNS)} with numbers") from None
    if not rows:
        raise DataError(f"{path} holds no data rows")
    return rows


def read_reference(path=None) -> tuple[np.ndarray, np.ndarray]:
    """Lags (ms) and weight changes (%) from a CSV with columns dt_ms, dw_percent (# comments)."""
    path = Path(path) if path else BI_POO_1998
    try:
        lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    except OSError as exc:
        raise DataError(f"cannot read STDP reference data {path}: {exc.strerror}") from None
    rows = list(csv.DictReader(lines))
    try:
        lag = np.array([float(r["dt_ms"]) for r in rows])
        dw = np.array([float(r["dw_percent"]) for r in rows])
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: expected columns dt_ms,dw_percent with numbers ({exc})") from None
    return lag, dw
