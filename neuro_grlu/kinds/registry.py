"""The registry of run kinds: what the app layer dispatches on.

A :class:`Kind` bundles everything the command line, reports and figures need to know about
one kind of run: the definition schema (``schema(raw, name) -> config``), the runner
(``run(request, args) -> exit status``, with the kind's own command-line flags), the headline
numbers of a run file (``summary(run) -> dict``) and its figures (:class:`FigureSpec` by name).
The app layer (``neuro_grlu.app``) has no per-kind switch: it asks :func:`get_kind`.

Adding a kind: a module in ``neuro_grlu/kinds/`` that calls :func:`register`, and one import
line in ``neuro_grlu/kinds/__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..definitions import load_definition
from ..errors import ConfigError, NeuroGRLUError


@dataclass(frozen=True)
class RunRequest:
    """The shared run arguments of every run command (``neuro_grlu.app.commands``).

    ``overrides`` are the ``--set`` items followed by those the command's own flags imply
    (``--seed``, ``--epochs``, ...); ``set_items`` are the ``--set`` items alone; ``command`` is
    the invocation line stored in the run file.
    """

    model: str
    overrides: list[str]
    set_items: list[str]
    out: str | None
    overwrite: bool
    progress: bool
    command: str


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a kind: ``draw(runs) -> matplotlib Figure``; ``overlay``: several runs
    in one figure (else one figure per run); the arrays/weights/config tables it needs."""

    draw: Callable[[list], Any]
    overlay: bool = False
    arrays: tuple[str, ...] = ()
    weights: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    doc: str = ""
    #: Entries of a stripped file's ``strip_json["derived"]`` that stand in for ``weights``
    #: (numbers the figure needs, computed from the weights before ``neuro-grlu strip``).
    derived: tuple[str, ...] = ()

    def available(self, run) -> bool:
        """True if the run holds what the figure needs."""
        weights = all(w in run.weights for w in self.weights) or (
            bool(self.derived) and getattr(run, "stripped", False)
            and all(d in run.strip_info.get("derived", {}) for d in self.derived))
        return (all(a in run.arrays for a in self.arrays) and weights
                and all(run.config.get(c) for c in self.config))

    @property
    def data(self) -> list[tuple[str, str]]:
        """``(group, name)`` of every dataset the figure needs (to explain a stripped file)."""
        return [("arrays", a) for a in self.arrays] + [("weights", w) for w in self.weights]


@dataclass(frozen=True)
class Kind:
    """A run kind (the ``kind`` attribute of its run files) and what it registers."""

    name: str
    command: str                      # the ``neuro-grlu`` subcommand that runs it
    help: str                         # one line for ``neuro-grlu --help``
    schema: Callable[[dict, str], Any]  # validate a definition (parsed TOML) -> config
    run: Callable[[RunRequest, Any], int]  # run from the shared request and the parsed flags
    add_arguments: Callable[[Any], None]   # the command's own flags (argparse parser)
    overrides: Callable[[Any], list[str]]  # the overrides those flags imply (parsed args -> list)
    summary: Callable[[Any], dict]    # headline numbers of a run file of this kind
    figures: dict[str, FigureSpec] = field(default_factory=dict)
    default_figures: tuple[str, ...] | None = None  # drawn when none are named (None: all available)
    definition_kind: str | None = None  # the definitions' ``kind`` key it runs (None: not a definition kind)
    seed_key: str | None = None       # the key ``--seed`` overrides (None: no --seed)
    model_default: str | None = None  # the model run when none is named (None: the model is required)
    out_help: str = "run file to write"
    set_example: str = "--set rule.pairs=16"
    overwrite_help: str = "replace an existing run file"


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind to the registry (a second kind of the same name is an error)."""
    if kind.name in _KINDS:
        raise ValueError(f"run kind {kind.name!r} is registered twice")
    _KINDS[kind.name] = kind
    return kind


def kinds() -> list[Kind]:
    """Every registered kind, in registration order."""
    return list(_KINDS.values())


def get_kind(name: str) -> Kind:
    """The kind of that name; a one-line error listing the known kinds otherwise."""
    try:
        return _KINDS[name]
    except KeyError:
        raise NeuroGRLUError(f"unknown run kind {name!r}; known: {', '.join(_KINDS)}") from None


def definition_kind_of(raw: dict, name: str) -> Kind:
    """The kind that runs a definition (its ``kind`` key, default ``"rate"``)."""
    value = raw.get("kind", "rate")
    for kind in _KINDS.values():
        if kind.definition_kind == value:
            return kind
    allowed = ", ".join(k.definition_kind for k in _KINDS.values() if k.definition_kind)
    raise ConfigError(f"model {name!r} has kind = {value!r}; allowed kinds: {allowed}")


def load_config(kind_name: str, model: str, overrides: list[str] | None = None):
    """Load `model` (name or path) with `overrides` and validate it with the kind's schema.

    A definition of another kind is a one-line error naming the command that runs it.
    """
    kind = get_kind(kind_name)
    raw, name = load_definition(model, overrides)
    if kind.definition_kind is not None:
        owner = definition_kind_of(raw, name)
        if owner is not kind:
            raise ConfigError(f"model {name!r} is a {owner.definition_kind} model; run it with "
                              f"'neuro-grlu {owner.command} {model}'")
    return kind.schema(raw, name)


def describe(model: str) -> tuple[str, str]:
    """``(definition kind, description)`` of a definition of any kind, validated by its schema."""
    raw, name = load_definition(model)
    kind = definition_kind_of(raw, name)
    return kind.definition_kind, kind.schema(raw, name).description


def last_value(metrics: dict, key: str) -> float | None:
    """The last row of metric `key` as a float (None if absent or empty); for summaries."""
    v = metrics.get(key)
    return float(v[-1]) if v is not None and len(v) else None


def finite_or_none(x) -> float | None:
    """`x` as a float, or None if it is None or not finite; for summaries."""
    import math

    return None if x is None or not math.isfinite(x) else float(x)
