"""``kind = "continual"`` model definitions: a slow cortex, a fast hippocampus, or a slow learner alone.

::

    kind = "continual"
    description = "..."
    system = "cortex+hippocampus"      # or "hippocampus" (on pixels) or "slow" (a rate rule alone)

    [protocol]   tasks = "split-mnist"; train_limit_per_task = 0; test_limit = 0; seed = 1
                 fewshot = [1, 5, 10, 100]; fewshot_classes = [5, 6, 7, 8, 9]; fewshot_repeats = 3
    [cortex]     rule = "grlu"; classes = [0, 1, 2, 3, 4]; epochs = 3; hidden = [256]; ...
    [cortex.params]   ...the rule's own parameters...
    [hippocampus] learner = "prototype-hebbian"; ...the learner's parameters...
    [slow]       rule = "backprop"; epochs_per_task = 1; hidden = [256]; ...
    [slow.params]     ...the rule's own parameters...

Unknown tables or keys raise a one-line :class:`~neuro_grlu.errors.ConfigError` listing the
allowed ones. ``--set table.key=value`` (and ``cortex.params.key=value``) overrides any key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..definitions import apply_overrides, load_raw
from ..errors import ConfigError
from ..params import ParamSet, from_dict, param
from ..rules import get_rule
from .hippocampus import learner_params
from .tasks import task_sequence

SYSTEMS = ("cortex+hippocampus", "hippocampus", "slow")
TOP_KEYS = ("kind", "name", "description", "system", "protocol", "cortex", "hippocampus", "slow")


@dataclass(frozen=True)
class ProtocolParams(ParamSet):
    tasks: object = param("split-mnist", doc="task sequence: 'split-mnist', 'halves' (0-4 then 5-9) or a list of class lists")
    train_limit_per_task: int = param(0, low=0, doc="train on the first N images of each task only (0 = all)")
    test_limit: int = param(0, low=0, doc="evaluate on the first N test images only (0 = all 10,000)")
    seed: int = param(1, low=0, doc="seed of example order, noise and few-shot draws")
    fewshot: tuple = param((), doc="examples per class for the few-shot experiment, e.g. [1, 5, 10, 100] ([] = skip)")
    fewshot_classes: tuple = param((5, 6, 7, 8, 9), doc="the new classes of the few-shot experiment")
    fewshot_repeats: int = param(3, low=1, doc="independent draws per few-shot size")
    fewshot_slow_epochs: int = param(10, low=1, doc="epochs a slow learner gets on the few-shot examples")


@dataclass(frozen=True)
class CortexParams(ParamSet):
    rule: str = param("grlu", doc="slow rule training the cortex ('none' = untrained random features)")
    classes: tuple = param((0, 1, 2, 3, 4), doc="the classes of the cortex's training data (declared, nothing else is used)")
    epochs: int = param(3, low=1, doc="passes over the cortex's training data")
    hidden: tuple = param((256,), doc="hidden layer widths")
    activation: str = param("relu", choices=("relu", "topk"), doc="hidden nonlinearity")
    k: float = param(0.5, low=0.0, low_open=True, high=1.0, doc="fraction of winners for top-k")
    batch_size: int = param(1, low=1, doc="examples per weight update")
    train_limit: int = param(0, low=0, doc="train on the first N images of its classes only (0 = all)")
    params: object = param(None, doc="table of the rule's own parameters")


@dataclass(frozen=True)
class SlowParams(ParamSet):
    rule: str = param("backprop", doc="rate rule trained on each task in turn (fine-tuning)")
    epochs_per_task: int = param(1, low=1, doc="passes over each task's training data")
    hidden: tuple = param((256,), doc="hidden layer widths")
    activation: str = param("relu", choices=("relu", "topk"), doc="hidden nonlinearity")
    k: float = param(0.5, low=0.0, low_open=True, high=1.0, doc="fraction of winners for top-k")
    batch_size: int = param(1, low=1, doc="examples per weight update")
    params: object = param(None, doc="table of the rule's own parameters")


@dataclass(frozen=True)
class ContinualConfig:
    name: str
    description: str
    system: str
    protocol: ProtocolParams
    tasks: list
    cortex: CortexParams | None
    hippocampus_learner: str | None
    hippocampus: ParamSet | None
    slow: SlowParams | None

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": "continual", "name": self.name, "description": self.description, "system": self.system,
               "protocol": {**self.protocol.to_dict(), "tasks": self.tasks}}
        if self.cortex is not None:
            out["cortex"] = {**self.cortex.to_dict(), "params": dict(self.cortex.params or {})}
        if self.hippocampus is not None:
            out["hippocampus"] = {"learner": self.hippocampus_learner, **self.hippocampus.to_dict()}
        if self.slow is not None:
            out["slow"] = {**self.slow.to_dict(), "params": dict(self.slow.params or {})}
        return out


def _table(raw, key, name) -> dict:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] in model {name!r} must be a table")
    return value


def _net_table(cls, raw: dict, section: str):
    """A cortex/slow table with its rule's params validated (unknown keys listed)."""
    p = from_dict(cls, raw, section)
    if p.params is not None and not isinstance(p.params, dict):
        raise ConfigError(f"[{section}.params] must be a table of the rule's parameters")
    if p.rule != "none":
        rule_cls = get_rule(p.rule)
        from_dict(rule_cls.Params, p.params, f"{section}.params ({p.rule})")
    for key in ("hidden",):
        v = getattr(p, key)
        if not v or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in v):
            raise ConfigError(f"{section}.hidden must be a list of positive integers, e.g. [256] (got {list(v)!r})")
    return p


def parse_continual(raw: dict[str, Any], name: str = "custom") -> ContinualConfig:
    """Validate a ``kind = "continual"`` definition (the parsed TOML)."""
    kind = raw.get("kind", "rate")
    if kind != "continual":
        raise ConfigError(f"model {name!r} has kind = {kind!r}; 'neuro-grlu continual' runs kind = \"continual\"")
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"unknown table or key {', '.join(map(repr, unknown))} in model {name!r}; allowed: {', '.join(TOP_KEYS)}")
    system = raw.get("system", "cortex+hippocampus")
    if system not in SYSTEMS:
        raise ConfigError(f"system must be one of {', '.join(SYSTEMS)} (got {system!r})")
    protocol = from_dict(ProtocolParams, _table(raw, "protocol", name), "protocol")
    tasks = task_sequence(list(protocol.tasks) if isinstance(protocol.tasks, tuple) else protocol.tasks)
    for key in ("fewshot", "fewshot_classes"):
        v = getattr(protocol, key)
        if any(isinstance(s, bool) or not isinstance(s, int) or s < (1 if key == "fewshot" else 0) for s in v):
            raise ConfigError(f"protocol.{key} must be a list of {'positive' if key == 'fewshot' else 'non-negative'} integers (got {list(v)!r})")
    cortex = hippo_name = hippo = slow = None
    needs = {"cortex+hippocampus": ("cortex", "hippocampus"), "hippocampus": ("hippocampus",), "slow": ("slow",)}[system]
    for table in ("cortex", "hippocampus", "slow"):
        if table in raw and table not in needs:
            raise ConfigError(f"system = {system!r} takes the tables {', '.join(needs)}; remove [{table}]")
    if "cortex" in needs:
        cortex = _net_table(CortexParams, _table(raw, "cortex", name), "cortex")
    if "hippocampus" in needs:
        hippo_name, hippo = learner_params(_table(raw, "hippocampus", name))
    if "slow" in needs:
        slow = _net_table(SlowParams, _table(raw, "slow", name), "slow")
        if slow.rule == "none":
            raise ConfigError("slow.rule must name a learning rule (see 'neuro-grlu rules')")
    return ContinualConfig(str(raw.get("name", name)), str(raw.get("description", "")), system, protocol, tasks,
                           cortex, hippo_name, hippo, slow)


def load_continual(name_or_path: str, overrides: list[str] | None = None) -> ContinualConfig:
    raw, name = load_raw(name_or_path)
    if overrides:
        raw = apply_overrides(raw, overrides)
    return parse_continual(raw, name)
