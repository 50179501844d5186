"""Published measurements the models are compared with (data layer).

* :data:`BI_POO_1998`: the STDP window of Bi & Poo (1998), reconstructed from the published
  exponential fit (see ``data/README.md``): columns ``dt_ms`` (t_post - t_pre, ms) and
  ``dw_percent`` (weight change, %).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import DataError

BI_POO_1998 = Path(__file__).resolve().parents[1] / "data" / "bi_poo_1998.csv"


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
