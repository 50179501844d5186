"""Old path: this module *is* :mod:`neuro_grlu.app.report` (the canonical place) once imported."""

import sys

from .app import report as _canonical

sys.modules[__name__] = _canonical
