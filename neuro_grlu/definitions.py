"""Definitions: reading named TOML definitions of any kind (core layer).

A definition is a TOML file; ``models/NAME.toml`` inside the package (package data) or a
path. This module knows nothing about the kinds (rate, spiking, continual, STDP window): it
finds, reads and overrides definitions, and each kind's schema validates them
(:mod:`neuro_grlu.kinds`).
"""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .paths import PACKAGE_DIR


def models_dir() -> Path:
    """Directory of named definitions: ``$NEURO_GRLU_MODELS`` or the package's ``models/``
    (package data; ``models/`` at the top of a checkout links to it)."""
    env = os.environ.get("NEURO_GRLU_MODELS")
    return Path(env) if env else PACKAGE_DIR / "models"


def available_models() -> list[str]:
    """Names of the definitions in :func:`models_dir` (file names without ``.toml``)."""
    d = models_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                          "save the definition as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def load_raw(name_or_path: str) -> tuple[dict[str, Any], str]:
    """The parsed TOML of a model given by name (in ``models/``) or by path, and its name."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"model file {path} does not exist")
        return read_toml(path), path.stem
    candidate = models_dir() / f"{name_or_path}.toml"
    if not candidate.is_file():
        names = available_models()
        hint = f"available: {', '.join(names)}" if names else f"no definitions found in {models_dir()}"
        raise ConfigError(f"unknown model {name_or_path!r}; {hint} (or give a path to a .toml file)")
    return read_toml(candidate), name_or_path


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``table.key=value`` overrides, at any depth (``cortex.rule.lr_max=0.05``,
    ``populations.exc.n=100``); the value is TOML (``rule.pairs=16``, ``network.hidden=[64]``)
    or a bare word (``network.activation=relu``). Returns a new dict; missing tables are created."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = [p.strip() for p in key.split(".")]
        if not sep or len(parts) < 2 or not all(parts):
            raise ConfigError(f"override {item!r} must look like table.key=value, e.g. rule.pairs=16")
        try:
            parsed = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.strip()  # a bare word such as relu
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a table")
        node[parts[-1]] = parsed
    return raw


def definition_table(raw: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    """Table `key` of a definition (``{}`` if absent); anything but a table is a one-line error.
    Every kind reads its tables through this, so they agree on what a table is."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] in model {name!r} must be a table (got {value!r})")
    return value


def load_definition(name_or_path: str, overrides: list[str] | None = None) -> tuple[dict[str, Any], str]:
    """The one loader of definitions: ``(raw TOML dict with overrides applied, name)`` for a named
    definition or a path; each kind's schema validates the dict (``neuro_grlu.kinds``)."""
    raw, name = load_raw(name_or_path)
    if overrides:
        raw = apply_overrides(raw, list(overrides))
    return raw, name
