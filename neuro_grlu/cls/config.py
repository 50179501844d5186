"""``kind = "continual"`` model definitions: a slow cortex, a fast hippocampus, or a slow learner alone.

::

    kind = "continual"
    description = "..."
    system = "cortex+hippocampus"      # or "hippocampus" (on pixels) or "slow" (a rate rule alone)

    [protocol]   tasks = "split-mnist"; train_limit_per_task = 0; test_limit = 0; seed = 1
                 fewshot = [1, 5, 10, 100]; fewshot_classes = [5, 6, 7, 8, 9]; fewshot_repeats = 3
    [cortex]          classes = [0, 1, 2, 3, 4]; epochs = 3; batch_size = 1; train_limit = 0
    [cortex.network]  hidden = [256]; activation = "relu"; k = 0.5      (the rate [network] table)
    [cortex.rule]     name = "grlu"; ...the rule's own parameters...     (the rate [rule] table;
                      name = "none": an untrained random cortex)
    [hippocampus]     learner = "prototype-hebbian"; ...the learner's parameters...
    [slow]            epochs_per_task = 1; batch_size = 1
    [slow.network]    hidden = [256]; ...
    [slow.rule]       name = "backprop"; ...

The network and rule tables are read by the same functions as a rate definition's
(:func:`neuro_grlu.config.read_network_table`, :func:`~neuro_grlu.config.read_rule_table`).
The older shape (``[cortex] rule = "grlu"; hidden = [256]`` with ``[cortex.params]``) still
loads to the same configuration; a table that mixes the two shapes is a one-line error naming
each key to move. Unknown tables or keys raise a one-line :class:`~neuro_grlu.errors.ConfigError`
listing the allowed ones. ``--set table.key=value`` (``cortex.rule.lr_max=0.05``) overrides any key.
:meth:`ContinualConfig.to_dict` (what run files store) keeps the older flat layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import NetworkParams, check_rate_memory, read_network_table, read_rule_table
from ..network import Architecture
from ..definitions import definition_table, load_definition
from ..errors import ConfigError
from ..params import ParamSet, from_dict, param
from .hippocampus import learner_params
from .localized import LocalizedParams
from .patch import PatchParams, check_patch_params
from .tasks import check_classes, task_sequence

SYSTEMS = ("cortex+hippocampus", "hippocampus", "slow")
TOP_KEYS = ("kind", "name", "description", "system", "protocol", "cortex", "hippocampus", "slow")


@dataclass(frozen=True)
class ProtocolParams(ParamSet):
    tasks: object = param("split-mnist", doc="task sequence: 'split-mnist', 'halves' (0-4 then 5-9) or a list of class lists")
    train_limit_per_task: int = param(0, low=0, doc="train on the first N images of each task only (0 = all)")
    test_limit: int = param(0, low=0, doc="evaluate on the first N test images only (0 = all 10,000)")
    seed: int = param(1, low=0, doc="seed of example order, noise and few-shot draws")
    validation: int = param(0, low=0, doc="hold out the last N training images as a validation split (0 = none); nothing trains on them")
    evaluate: str = param("test", choices=("test", "validation"), doc="score on the test set, or on the validation split (settings are chosen there; the test images are then never read)")
    evaluate_unseen: bool = param(True, doc="also score the tasks not learnt yet after each stage (false: NaN above the diagonal of the accuracy matrix; saves evaluation time)")
    fewshot: tuple = param((), doc="examples per class for the few-shot experiment, e.g. [1, 5, 10, 100] ([] = skip)")
    fewshot_classes: tuple = param((5, 6, 7, 8, 9), doc="the new classes of the few-shot experiment")
    fewshot_repeats: int = param(3, low=1, doc="independent draws per few-shot size")
    fewshot_slow_epochs: int = param(10, low=1, doc="epochs a slow learner gets on the few-shot examples")


@dataclass(frozen=True)
class _RateSystem:
    """The network of a cortex or slow learner: ``network`` (a validated
    :class:`~neuro_grlu.config.NetworkParams`), seen also as ``hidden``, ``activation``, ``k``."""

    @property
    def hidden(self) -> tuple:
        return self.network.hidden

    @property
    def activation(self) -> str:
        return self.network.activation

    @property
    def k(self) -> float:
        return self.network.k

    def to_dict(self) -> dict[str, Any]:
        """The flat layout run files store: the rule's name, the table's keys, the network's
        ``hidden``/``activation``/``k``, and ``params`` (the rule's parameters as given)."""
        own = {f: getattr(self, f) for f in self._FLAT}
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in own.items()}
        return out


@dataclass(frozen=True)
class CortexParams(_RateSystem, ParamSet):
    rule: str = param("grlu", doc="slow rule training the cortex ('none' = untrained random features)")
    classes: tuple = param((0, 1, 2, 3, 4), doc="the classes of the cortex's training data (declared, nothing else is used)")
    epochs: int = param(3, low=1, doc="passes over the cortex's training data")
    batch_size: int = param(1, low=1, doc="examples per weight update")
    train_limit: int = param(0, low=0, doc="train on the first N images of its classes only (0 = all)")
    params: object = param(None, doc="table of the rule's own parameters")
    network: object = param(NetworkParams(), doc="the network table ([cortex.network])")

    _FLAT = ("rule", "classes", "epochs", "hidden", "activation", "k", "batch_size", "train_limit", "params")


@dataclass(frozen=True)
class SlowParams(_RateSystem, ParamSet):
    rule: str = param("backprop", doc="rate rule trained on each task in turn (fine-tuning)")
    epochs_per_task: int = param(1, low=1, doc="passes over each task's training data")
    batch_size: int = param(1, low=1, doc="examples per weight update")
    params: object = param(None, doc="table of the rule's own parameters")
    network: object = param(NetworkParams(), doc="the network table ([slow.network])")

    _FLAT = ("rule", "epochs_per_task", "hidden", "activation", "k", "batch_size", "params")


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
    localized: LocalizedParams | None = None
    patch: PatchParams | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": "continual", "name": self.name, "description": self.description, "system": self.system,
               "protocol": {**self.protocol.to_dict(), "tasks": self.tasks}}
        if self.cortex is not None:
            out["cortex"] = {**self.cortex.to_dict(), "params": dict(self.cortex.params or {})}
            if self.localized is not None:
                out["cortex"] = {"classes": list(self.cortex.classes), "train_limit": self.cortex.train_limit,
                                 "localized": self.localized.to_dict()}
            if self.patch is not None:
                out["cortex"] = {"classes": list(self.cortex.classes), "train_limit": self.cortex.train_limit,
                                 "patch": self.patch.to_dict()}
        if self.hippocampus is not None:
            out["hippocampus"] = {"learner": self.hippocampus_learner, **self.hippocampus.to_dict()}
        if self.slow is not None:
            out["slow"] = {**self.slow.to_dict(), "params": dict(self.slow.params or {})}
        return out


#: Keys of the older shape's [cortex]/[slow] tables that now live in [X.network].
_NETWORK_KEYS = ("hidden", "activation", "k")


def _rate_system(cls, table: dict, section: str, default_rule: str):
    """A [cortex] or [slow] table, in either shape, as ``cls`` (the rule's params validated)."""
    t = dict(table)
    flat_net = {k: t.pop(k) for k in _NETWORK_KEYS if k in t}
    net = t.pop("network", None)
    rule = t.pop("rule", default_rule)
    params = t.pop("params", None)
    if net is not None and flat_net:
        moves = ", ".join(f"{section}.{k} -> {section}.network.{k}" for k in flat_net)
        raise ConfigError(f"[{section}] mixes the old and new shape: move {moves} (this definition has a [{section}.network] table)")
    if net is not None and not isinstance(net, dict):
        raise ConfigError(f"[{section}.network] must be a table (hidden, activation, k)")
    if isinstance(rule, dict):
        if params is not None:
            raise ConfigError(f"[{section}] mixes the old and new shape: move the keys of [{section}.params] into "
                              f"[{section}.rule] (next to name = ...) and remove [{section}.params]")
        rule_name, _ = read_rule_table(rule, f"{section}.rule", allow_none=section == "cortex")
        given = {k: v for k, v in rule.items() if k != "name"}
        if rule_name == "none" and not given:  # an untrained cortex has no rule parameters (as in the old shape)
            given = None
    else:
        if params is not None and not isinstance(params, dict):
            raise ConfigError(f"[{section}.params] must be a table of the rule's parameters")
        if not isinstance(rule, str):
            raise ConfigError(f"{section}.rule must be a rule name such as \"grlu\" or a [{section}.rule] table (got {rule!r})")
        given = dict(params) if params is not None else None
        if section == "cortex" and rule == "none":  # untrained: any [cortex.params] is ignored, as before
            rule_name = rule
        else:
            rule_name, _ = read_rule_table({"name": rule, **(params or {})}, f"{section}.params")
    network = read_network_table(net if net is not None else flat_net, f"{section}.network")
    if network.skip != "none":
        raise ConfigError(f"{section}.network.skip must be \"none\" (a {section} network has no skip connections)")
    return from_dict(cls, t, section, rule=rule_name, params=given, network=network)


def _check_memory(system, section: str) -> None:
    """The memory a [cortex]/[slow] network of MNIST size needs, checked before any work."""
    if system.rule == "none":
        return
    arch = Architecture(n_in=784, hidden=system.hidden, n_out=10, activation=system.activation, k=system.k)
    check_rate_memory(arch, system.rule, dict(system.params or {}), system.batch_size, what=section)


def _front_end(table: dict, key: str, params_cls, keys: str):
    """The parameters of a fixed front end ``[cortex.<key>]`` (localized or patch), popped from
    the ``[cortex]`` table, which then keeps only classes/train_limit and gets ``rule = "none"``."""
    sub = table.pop(key)
    if not isinstance(sub, dict):
        raise ConfigError(f"[cortex.{key}] must be a table ({keys})")
    clash = sorted(set(table) & {"network", "rule", "params", "epochs", "batch_size", *_NETWORK_KEYS})
    if clash:
        raise ConfigError(f"a {key} cortex takes [cortex] classes/train_limit and [cortex.{key}]; remove {', '.join(clash)}")
    table["rule"] = "none"
    return from_dict(params_cls, sub, f"cortex.{key}")


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
    protocol = from_dict(ProtocolParams, definition_table(raw, "protocol", name), "protocol")
    tasks = task_sequence(list(protocol.tasks) if isinstance(protocol.tasks, tuple) else protocol.tasks)
    v = protocol.fewshot
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in v):
        raise ConfigError(f"protocol.fewshot must be a list of positive integers (got {list(v)!r})")
    if protocol.fewshot:
        check_classes(protocol.fewshot_classes, "protocol.fewshot_classes")
        if len(protocol.fewshot_classes) < 2:
            raise ConfigError(f"protocol.fewshot_classes needs at least 2 classes to tell apart (got "
                              f"{list(protocol.fewshot_classes)!r})")
    cortex = hippo_name = hippo = slow = None
    needs = {"cortex+hippocampus": ("cortex", "hippocampus"), "hippocampus": ("hippocampus",), "slow": ("slow",)}[system]
    for table in ("cortex", "hippocampus", "slow"):
        if table in raw and table not in needs:
            raise ConfigError(f"system = {system!r} takes the tables {', '.join(needs)}; remove [{table}]")
    localized = patch = None
    if "cortex" in needs:
        table = dict(definition_table(raw, "cortex", name))
        if "localized" in table and "patch" in table:
            raise ConfigError("[cortex] takes one of [cortex.localized] and [cortex.patch], not both")
        if "localized" in table:  # a localized cortex: [cortex.localized], no network or rule of its own
            localized = _front_end(table, "localized", LocalizedParams, "units, field, k, seed, shape, ...")
        if "patch" in table:  # a patch cortex: [cortex.patch], shaped by its own WTA Hebbian rule
            patch = _front_end(table, "patch", PatchParams, "centres, patch, pool, shape, ...")
            check_patch_params(patch)
        cortex = _rate_system(CortexParams, table, "cortex", "grlu")
        check_classes(cortex.classes, "cortex.classes", allow_empty=cortex.rule == "none" and patch is None)
        _check_memory(cortex, "cortex")
    if "hippocampus" in needs:
        hippo_name, hippo = learner_params(definition_table(raw, "hippocampus", name))
    if "slow" in needs:
        slow = _rate_system(SlowParams, definition_table(raw, "slow", name), "slow", "backprop")
        if slow.rule == "none":
            raise ConfigError("slow.rule must name a learning rule (see 'neuro-grlu rules')")
        _check_memory(slow, "slow")
    return ContinualConfig(str(raw.get("name", name)), str(raw.get("description", "")), system, protocol, tasks,
                           cortex, hippo_name, hippo, slow, localized, patch)


def load_continual(name_or_path: str, overrides: list[str] | None = None) -> ContinualConfig:
    """Load and validate a continual definition (``models/NAME.toml`` or a path)."""
    return parse_continual(*load_definition(name_or_path, overrides))
