"""Old path of the command line: the ``neuro-grlu`` entry point is :func:`neuro_grlu.app.cli.main`.

``python -m neuro_grlu.cli`` and ``from neuro_grlu.cli import main`` keep working: this module
*is* :mod:`neuro_grlu.app.cli` once imported.
"""

import sys

from .app import cli as _cli

if __name__ == "__main__":  # pragma: no cover
    sys.exit(_cli.main())
sys.modules[__name__] = _cli
