"""Rate-based learning rules behind one interface (see :mod:`neuro_grlu.rules.base`)."""

from .base import INFORMATION, RULES, Rule, get_rule, register
from . import grlu  # noqa: F401  (registers "grlu")

__all__ = ["INFORMATION", "RULES", "Rule", "get_rule", "register"]
