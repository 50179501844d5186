"""Rate-based learning rules behind one interface (see :mod:`neuro_grlu.rules.base`)."""

from .base import INFORMATION, RULES, Rule, get_rule, register
from .state import LearnerState
from .loop import init_learner, train_chunk
from . import grlu  # noqa: F401  (registers "grlu")
from . import es  # noqa: F401  (registers "es")
from . import hebbian  # noqa: F401  (registers "rm-hebbian")
from . import backprop  # noqa: F401  (registers "backprop", "fa", "dfa")
from . import forward_forward  # noqa: F401  (registers "ff")
from . import noprop  # noqa: F401  (registers "noprop")
from . import eki  # noqa: F401  (registers "eki")
from . import predictive_coding  # noqa: F401  (registers "pc")
from . import eqprop  # noqa: F401  (registers "eqprop")

__all__ = ["INFORMATION", "RULES", "LearnerState", "Rule", "get_rule", "init_learner", "register", "train_chunk"]
