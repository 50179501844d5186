"""Named, declarative model definitions (TOML files in ``models/``), validated on load.

A definition has four tables; every key is optional except ``rule.name``::

    description = "GRLU, ReLU, 1 noise pair"
    [data]      dataset = "mnist"; train_eval_size = 1000; train_limit = 0; test_limit = 0;
                validation = 0; score_test = true
    [network]   hidden = [256]; activation = "relu"; k = 0.5; skip = "none"
    [rule]      name = "grlu"; ...the rule's own parameters (see ``neuro-grlu rules``)...
    [training]  epochs = 10; batch_size = 1; seed = 42

An unknown table or key, or an impossible value, raises :class:`~neuro_grlu.errors.ConfigError`
naming the key and listing what is allowed. :meth:`ModelConfig.to_dict` gives the full
resolved configuration (defaults filled in) that every run file stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .definitions import apply_overrides, available_models, definition_table, load_definition, load_raw, models_dir, read_toml  # noqa: F401
from .resources import check_memory
from .errors import ConfigError
from .network import Architecture
from .params import ParamSet, from_dict, param
from .rules import get_rule

TABLES = ("description", "data", "network", "rule", "training")


@dataclass(frozen=True)
class DataParams(ParamSet):
    dataset: str = param("mnist", choices=("mnist",), doc="dataset name")
    train_eval_size: int = param(1000, low=1, doc="training images scored as 'train accuracy' each epoch (the first N)")
    train_limit: int = param(0, low=0, doc="train on the first N images only (0 = all)")
    test_limit: int = param(0, low=0, doc="test on the first N images only (0 = all 10,000)")
    validation: int = param(0, low=0, doc="hold out the last N training images (after train_limit) as a "
                            "validation split, scored every epoch and never trained on (0 = none)")
    score_test: bool = param(True, doc="score the test set every epoch; false for tuning runs "
                             "(choose settings on data.validation, never on test images)")


@dataclass(frozen=True)
class NetworkParams(ParamSet):
    hidden: tuple = param((256,), doc="hidden layer widths")
    activation: str = param("relu", choices=("relu", "topk"), doc="hidden nonlinearity")
    k: float = param(0.5, low=0.0, low_open=True, high=1.0, doc="fraction of winners for top-k")
    skip: str = param("none", choices=("none", "readout"), doc="'readout': output reads all hidden layers")


@dataclass(frozen=True)
class TrainingParams(ParamSet):
    epochs: int = param(10, low=1, doc="passes over the training set")
    batch_size: int = param(1, low=1, doc="examples per weight update")
    seed: int = param(42, low=0, doc="seed of initialisation, example order and noise")
    alignment_every: int = param(0, low=0, doc="measure gradient alignment every N training examples (0 = only at epoch ends)")
    alignment_batches: int = param(16, low=0, doc="probe batches per alignment measurement (0 = never measure)")


@dataclass(frozen=True)
class ModelConfig:
    """A validated model definition."""

    name: str
    description: str
    data: DataParams
    network: NetworkParams
    rule_name: str
    rule: ParamSet
    training: TrainingParams

    def architecture(self, n_in: int = 784, n_out: int = 10) -> Architecture:
        n = self.network
        return Architecture(n_in=n_in, hidden=n.hidden, n_out=n_out, activation=n.activation, k=n.k, skip=n.skip)

    def make_rule(self, arch: Architecture):
        """The rule object for `arch`, after checking the memory it needs (:func:`check_rate_memory`)."""
        check_rate_memory(arch, self.rule_name, self.rule, self.training.batch_size)
        return get_rule(self.rule_name)(self.rule, arch, batch_size=self.training.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """The full configuration as plain TOML-compatible types (defaults filled in)."""
        return {
            "name": self.name,
            "description": self.description,
            "data": self.data.to_dict(),
            "network": self.network.to_dict(),
            "rule": {"name": self.rule_name, **self.rule.to_dict()},
            "training": self.training.to_dict(),
        }


def rate_memory_bytes(arch: Architecture, rule_name: str, rule_params, batch_size: int) -> int:
    """A lower bound of the memory (bytes) training `arch` with a rule needs: the float32 weights
    and their update; for ``es`` one weight perturbation per pair; for node-perturbation rules
    (``pairs``) the noise of one batch (pairs × units × batch); for ``eki`` one weight copy per
    ensemble member. `rule_params` is the rule's ParamSet or its raw table (a dict)."""
    def get(key):
        return (rule_params.get(key, 0) if isinstance(rule_params, dict) else getattr(rule_params, key, 0)) or 0

    n_params = sum(arch.fan_in(l) * arch.fan_out(l) + arch.fan_out(l) for l in range(arch.n_layers))
    units = sum(arch.hidden) + arch.n_out
    pairs = int(get("pairs")) if isinstance(get("pairs"), (int, float)) else 0
    need = 2 * 4 * n_params
    if rule_name == "es":
        need += 4 * pairs * n_params
    elif pairs:
        need += 4 * pairs * units * batch_size
    ensemble = get("ensemble")
    need += 4 * int(ensemble) * n_params if isinstance(ensemble, (int, float)) else 0
    return need


def check_rate_memory(arch: Architecture, rule_name: str, rule_params, batch_size: int, what: str = "network") -> None:
    """A one-line ConfigError with the estimate if :func:`rate_memory_bytes` exceeds this machine's memory."""
    pairs = rule_params.get("pairs") if isinstance(rule_params, dict) else getattr(rule_params, "pairs", None)
    check_memory(rate_memory_bytes(arch, rule_name, rule_params, batch_size),
                 f"{what} {arch.n_in}-{'-'.join(map(str, arch.hidden))}-{arch.n_out} with rule {rule_name}"
                 + (f" ({pairs} pairs)" if pairs else ""),
                 f"reduce {what}.hidden" + (" or the rule's pairs" if pairs else ""))


def parse_config(raw: dict[str, Any], name: str = "custom") -> ModelConfig:
    """Validate a rate-model definition given as a dict (the parsed TOML)."""
    kind = raw.get("kind", "rate")
    if kind != "rate":  # neuro_grlu.kinds.load_config names the command that runs it
        raise ConfigError(f"model {name!r} has kind = {kind!r}, not \"rate\"; see 'neuro-grlu models' for each model's kind")
    unknown = sorted(set(raw) - set(TABLES) - {"name", "kind"})
    if unknown:
        raise ConfigError(f"unknown table or key {', '.join(map(repr, unknown))} in model {name!r}; allowed: {', '.join(TABLES)}")
    tables = {t: definition_table(raw, t, name) for t in ("data", "network", "rule", "training")}
    if "name" not in tables["rule"]:
        raise ConfigError(f"model {name!r} has no [rule] name; set e.g. name = \"grlu\"")
    rule_name, rule = read_rule_table(tables["rule"], "rule", model=name)
    network = read_network_table(tables["network"], "network")
    config = ModelConfig(
        name=str(raw.get("name", name)),
        description=str(raw.get("description", "")),
        data=from_dict(DataParams, raw.get("data"), "data"),
        network=network,
        rule_name=rule_name,
        rule=rule,
        training=from_dict(TrainingParams, raw.get("training"), "training"),
    )
    # Constructing the rule is cheap (no weights, no compilation) and runs its checks of the
    # rule/architecture combination (e.g. FF needs plain ReLU), so a bad pair fails at load time.
    config.make_rule(config.architecture())  # rule-level checks
    return config


def read_network_table(table: dict[str, Any] | None, section: str = "network") -> NetworkParams:
    """A ``[network]`` table (``hidden``, ``activation``, ``k``, ``skip``) validated, as in every
    kind that builds a rate network (``[network]``, ``[cortex.network]``, ``[slow.network]``)."""
    network = from_dict(NetworkParams, table, section)
    hidden = network.hidden
    if (not isinstance(hidden, tuple) or not hidden
            or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden)):
        shown = list(hidden) if isinstance(hidden, tuple) else hidden
        raise ConfigError(f"{section}.hidden must be a list of positive integers, e.g. [256] (got {shown!r})")
    return network


def read_rule_table(table: dict[str, Any], section: str = "rule", *, model: str | None = None,
                    allow_none: bool = False) -> tuple[str, ParamSet | None]:
    """A ``[rule]`` table: ``name = "grlu"`` and the rule's own parameters, validated by the
    rule's ``Params``. Returns ``(name, params)``; ``("none", None)`` if `allow_none` and the
    name is ``"none"`` (an untrained network)."""
    table = dict(table)
    rule_name = table.pop("name", None)
    where = f"[{section}] name" + (f" in model {model!r}" if model else "")
    if not isinstance(rule_name, str):
        raise ConfigError(f"{where} must be a string such as \"grlu\" (got {rule_name!r})")
    if allow_none and rule_name == "none":
        if table:
            raise ConfigError(f"[{section}] name = \"none\" (untrained) takes no parameters (got {', '.join(sorted(table))})")
        return rule_name, None
    rule_cls = get_rule(rule_name)
    return rule_name, from_dict(rule_cls.Params, table, f"{section} ({rule_name})")


def load_model(name_or_path: str, overrides: list[str] | None = None) -> ModelConfig:
    """Load and validate a named definition (``models/NAME.toml``) or a TOML file."""
    return parse_config(*load_definition(name_or_path, overrides))
