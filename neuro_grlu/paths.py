"""Where things are (core layer): the package's own data, and the source checkout if the
package runs from one.

* :data:`PACKAGE_DIR` — the installed ``neuro_grlu`` package; it ships the model
  definitions (``models/``) and the published measurements (``measurements/``) as package
  data, so they are found the same way in a wheel install and in a checkout.
* :func:`source_checkout` — the repository the package runs from (``pyproject.toml`` of
  ``neuro-grlu`` beside the package), or None for an installed copy. Only what does not ship
  with the package is looked up there: MNIST (``data/mnist``, unless ``--data`` or
  ``$NEURO_GRLU_DATA`` says where), stored results (``benchmarks/results``) and the git commit.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def source_checkout() -> Path | None:
    """The source checkout holding this package, or None if it is an installed copy."""
    root = PACKAGE_DIR.parent
    try:
        text = (root / "pyproject.toml").read_text()
    except OSError:
        return None
    return root if 'name = "neuro-grlu"' in text else None
