"""Model definitions: every shipped model validates, and every bad definition is a one-line ConfigError."""

from __future__ import annotations

import copy

import pytest

from neuro_grlu.config import (
    ModelConfig,
    apply_overrides,
    available_models,
    load_model,
    load_raw,
    parse_config,
)
from neuro_grlu.errors import ConfigError, NeuroGRLUError
from neuro_grlu.rules import RULES

MINIMAL = {"rule": {"name": "grlu"}}
VALID = {
    "description": "test",
    "data": {"train_eval_size": 100},
    "network": {"hidden": [32], "activation": "relu"},
    "rule": {"name": "grlu", "pairs": 4, "lr_max": 0.1, "sigma_max": 0.1},
    "training": {"epochs": 2, "seed": 1},
}


def _with(table: str, **values) -> dict:
    raw = copy.deepcopy(VALID)
    raw.setdefault(table, {}).update(values)
    return raw


def _error(raw, name="custom") -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, name)
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


# --------------------------------------------------------------------------- shipped models


def test_models_directory_is_not_empty():
    assert len(available_models()) >= 5


RATE_MODELS = [n for n in available_models() if load_raw(n)[0].get("kind", "rate") == "rate"]


@pytest.mark.parametrize("name", RATE_MODELS)
def test_shipped_model_loads_and_round_trips(name):
    config = load_model(name)
    assert isinstance(config, ModelConfig)
    assert config.name == name
    assert config.rule_name in RULES
    assert config.description
    d = config.to_dict()
    assert d["rule"]["name"] == config.rule_name and d["name"] == name
    again = parse_config(d, "ignored")  # the stored name wins
    assert again == config
    assert again.to_dict() == d


def test_minimal_definition_fills_defaults():
    config = parse_config(MINIMAL, "mini")
    d = config.to_dict()
    assert d["network"]["hidden"] == [256] and d["training"]["epochs"] == 10
    assert d["rule"]["pairs"] == 1 and d["rule"]["backend"] == "auto"
    assert parse_config(d) == config


def test_to_dict_is_plain_toml_types():
    d = parse_config(VALID).to_dict()
    assert isinstance(d["network"]["hidden"], list)
    assert isinstance(d["training"]["epochs"], int) and isinstance(d["rule"]["lr_max"], float)


def test_int_given_for_float_is_converted():
    config = parse_config(_with("rule", lr_max=1))
    assert config.rule.lr_max == 1.0 and isinstance(config.rule.lr_max, float)


# --------------------------------------------------------------------------- unknown tables / keys


def test_unknown_table():
    msg = _error({**VALID, "optimizer": {"name": "adam"}})
    assert "'optimizer'" in msg
    for table in ("data", "network", "rule", "training"):
        assert table in msg


@pytest.mark.parametrize(
    "table, allowed",
    [
        ("data", ["dataset", "train_eval_size", "train_limit", "test_limit"]),
        ("network", ["hidden", "activation", "k", "skip"]),
        ("rule", ["pairs", "lr_max", "lr_min", "sigma_max", "sigma_min", "schedule", "normalize", "backend"]),
        ("training", ["epochs", "batch_size", "seed"]),
    ],
)
def test_unknown_key_lists_allowed(table, allowed):
    msg = _error(_with(table, bogus_key=1))
    assert "'bogus_key'" in msg and f"[{table}" in msg and "allowed:" in msg
    for key in allowed:
        assert key in msg


def test_table_must_be_a_table():
    assert "[network]" in _error({**VALID, "network": 5})


# --------------------------------------------------------------------------- impossible values


def test_wrong_choice():
    msg = _error(_with("network", activation="tanh"))
    assert "activation" in msg and "'tanh'" in msg and "'relu'" in msg and "'topk'" in msg


@pytest.mark.parametrize(
    "table, key, value, expect",
    [
        ("rule", "pairs", 0, "pairs"),
        ("rule", "lr_max", -1, "lr_max"),
        ("rule", "lr_max", 0, "lr_max"),
        ("rule", "sigma_max", 0.0, "sigma_max"),
        ("network", "k", 1.5, "k"),
        ("network", "k", 0.0, "k"),
        ("training", "epochs", 0, "epochs"),
        ("training", "batch_size", 0, "batch_size"),
        ("training", "seed", -1, "seed"),
        ("training", "epochs", 2.5, "whole number"),
        ("training", "epochs", "ten", "epochs"),
        ("training", "epochs", True, "epochs"),
        ("rule", "lr_max", float("nan"), "finite"),
        ("data", "dataset", "cifar10", "dataset"),
        ("rule", "schedule", "exponential", "schedule"),
    ],
)
def test_out_of_range(table, key, value, expect):
    msg = _error(_with(table, **{key: value}))
    assert expect in msg


@pytest.mark.parametrize("hidden", [[0], [], [32, -1], [True], 256, "wide", [1.5]])
def test_bad_hidden(hidden):
    assert "network.hidden" in _error(_with("network", hidden=hidden))


def test_lr_min_above_lr_max():
    msg = _error(_with("rule", lr_max=0.1, lr_min=0.2))
    assert "lr_min" in msg and "lr_max" in msg
    assert "sigma_min" in _error(_with("rule", sigma_max=0.1, sigma_min=0.5))


def test_missing_rule_name():
    raw = copy.deepcopy(VALID)
    del raw["rule"]["name"]
    msg = _error(raw, "nameless")
    assert "[rule] name" in msg and "nameless" in msg
    assert "[rule] name" in _error({"training": {"epochs": 1}})


def test_unknown_rule_lists_known():
    msg = _error(_with("rule", name="backprob"))
    assert "'backprob'" in msg and "known rules" in msg and "grlu" in msg and "backprop" in msg


@pytest.mark.parametrize("name", sorted(set(available_models()) - set(RATE_MODELS)))
def test_other_kinds_point_to_their_command(name):
    from neuro_grlu.kinds import load_config

    with pytest.raises(ConfigError, match="run it with 'neuro-grlu (simulate|continual) "):
        load_config("rate", name)
    assert "not \"rate\"" in str(pytest.raises(ConfigError, load_model, name).value)


def test_unknown_kind_lists_kinds():
    from neuro_grlu.kinds.registry import definition_kind_of

    with pytest.raises(ConfigError) as info:
        definition_kind_of({**MINIMAL, "kind": "quantum"}, "custom")
    assert "allowed kinds: rate, spiking, continual" in str(info.value)
    assert "'quantum'" in _error({**MINIMAL, "kind": "quantum"})


@pytest.mark.parametrize("bad", [5, ["grlu"], None])
def test_rule_name_wrong_type(bad):
    assert "rule" in _error(_with("rule", name=bad))


def test_errors_are_neuro_grlu_errors():
    with pytest.raises(NeuroGRLUError):
        parse_config(_with("rule", pairs=0))


# --------------------------------------------------------------------------- overrides


def test_overrides():
    raw, _ = load_raw("grlu-mnist-pairs1")
    before = copy.deepcopy(raw)
    new = apply_overrides(raw, ["rule.pairs=16", "network.activation=topk", "network.hidden=[64, 32]"])
    assert raw == before  # the input is not modified
    assert new["rule"]["pairs"] == 16
    assert new["network"]["activation"] == "topk"
    assert new["network"]["hidden"] == [64, 32]
    config = parse_config(new, "x")
    assert config.rule.pairs == 16 and config.network.activation == "topk"
    assert config.network.hidden == (64, 32)
    assert config.architecture().hidden == (64, 32)


def test_overrides_via_load_model():
    config = load_model("grlu-mnist-pairs1", ["training.epochs=3", "rule.lr_max=0.05", "data.train_limit=100"])
    assert config.training.epochs == 3 and config.rule.lr_max == 0.05 and config.data.train_limit == 100


def test_override_creates_table():
    new = apply_overrides({"rule": {"name": "grlu"}}, ["training.seed=7"])
    assert parse_config(new).training.seed == 7


@pytest.mark.parametrize("bad", ["rule.pairs", "pairs=16", "=16", ".pairs=16", "rule.=16"])
def test_malformed_override(bad):
    with pytest.raises(ConfigError) as info:
        apply_overrides(VALID, [bad])
    assert "table.key=value" in str(info.value)


def test_override_into_non_table():
    with pytest.raises(ConfigError, match="not a table"):
        apply_overrides(VALID, ["description.x=1"])


def test_override_with_impossible_value_fails_on_load():
    with pytest.raises(ConfigError, match="pairs"):
        load_model("grlu-mnist-pairs1", ["rule.pairs=0"])
    with pytest.raises(ConfigError, match="'nope'"):
        load_model("grlu-mnist-pairs1", ["rule.nope=1"])


# --------------------------------------------------------------------------- files


def test_load_from_path(tiny_model_toml):
    config = load_model(str(tiny_model_toml))
    assert config.name == "tiny"
    assert config.network.hidden == (32,) and config.rule.pairs == 4 and config.training.epochs == 2
    assert config.rule.lr_max == 0.1 and config.rule.sigma_max == 0.1 and config.training.seed == 1


def test_invalid_toml_names_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[rule]\nname = "grlu\npairs = = 3\n')
    with pytest.raises(ConfigError) as info:
        load_model(str(path))
    msg = str(info.value)
    assert str(path) in msg and "TOML" in msg


def test_missing_toml_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_model(str(tmp_path / "nope.toml"))


def test_unknown_model_lists_available():
    with pytest.raises(ConfigError) as info:
        load_model("no-such-model")
    msg = str(info.value)
    assert "'no-such-model'" in msg and "grlu-mnist-pairs1" in msg


def test_models_dir_env(tmp_path, monkeypatch):
    (tmp_path / "only.toml").write_text('[rule]\nname = "grlu"\n')
    monkeypatch.setenv("NEURO_GRLU_MODELS", str(tmp_path))
    assert available_models() == ["only"]
    assert load_model("only").name == "only"


@pytest.mark.parametrize("rule", ["ff", "noprop"])
def test_rule_architecture_mismatch_is_rejected_at_load(rule):
    """A rule that cannot use the network fails when the definition is loaded, not mid-run."""
    raw = _with("network", activation="topk", k=0.5)
    raw["rule"] = {"name": rule}
    msg = _error(raw)
    assert "activation" in msg and "relu" in msg
