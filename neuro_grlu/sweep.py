"""Old path: this module *is* :mod:`neuro_grlu.app.sweep` (the canonical place) once imported."""

import sys

from .app import sweep as _canonical

sys.modules[__name__] = _canonical
