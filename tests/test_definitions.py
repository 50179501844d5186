"""One definitions loader for every kind: continual definitions reuse the rate [network] and
[rule] tables; the older continual shape still loads to the same configuration; mixing the
shapes is a one-line error naming the keys to move; every kind reads its tables the same way."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from neuro_grlu.cls.config import load_continual, parse_continual
from neuro_grlu.config import parse_config
from neuro_grlu.definitions import load_definition, read_toml
from neuro_grlu.errors import ConfigError
from neuro_grlu.spiking.config import parse_spiking

MODELS = Path(__file__).resolve().parents[1] / "models"
CONTINUAL = sorted(MODELS.glob("cls-*.toml"))


def old_shape(raw: dict) -> dict:
    """The older continual shape of a new-shape definition: [X] rule = ..., hidden = ..., [X.params]."""
    raw = copy.deepcopy(raw)
    for section in ("cortex", "slow"):
        table = raw.get(section)
        if table is None or "localized" in table or "patch" in table:  # a localized or patch cortex has one shape only
            continue
        table.update(table.pop("network", {}))
        rule = table.pop("rule")
        table["rule"] = rule.pop("name")
        if rule:
            table["params"] = rule
    return raw


def test_there_are_continual_definitions():
    assert len(CONTINUAL) >= 9


@pytest.mark.parametrize("path", CONTINUAL, ids=lambda p: p.stem)
def test_continual_definitions_are_in_the_new_shape_and_parse_like_the_old(path):
    raw = read_toml(path)
    for section in ("cortex", "slow"):
        if section in raw:
            table = raw[section]
            assert "params" not in table and not {"rule", "hidden", "activation", "k"} & {
                k for k, v in table.items() if not isinstance(v, dict)}, f"{path.name} [{section}] is in the old shape"
            if "localized" not in table and "patch" not in table:  # [cortex.localized] / [cortex.patch] instead of a rule
                assert isinstance(table["rule"], dict) and "name" in table["rule"]
    new = parse_continual(raw, path.stem)
    old = parse_continual(old_shape(raw), path.stem)
    assert new == old
    assert new.to_dict() == old.to_dict()


def test_old_flat_layout_of_the_run_file_is_kept():
    cfg = load_continual("cls-finetune-fa")
    slow = cfg.to_dict()["slow"]
    assert list(slow) == ["rule", "epochs_per_task", "hidden", "activation", "k", "batch_size", "params"]
    assert slow["rule"] == "fa" and slow["hidden"] == [256] and slow["params"]["lr_max"] == 0.005


@pytest.mark.parametrize("override, message", [
    ("cortex.hidden=[64]", "move cortex.hidden -> cortex.network.hidden"),
    ("cortex.params.lr_max=0.05", "move the keys of [cortex.params] into [cortex.rule]"),
    ("cortex.rule.no_such_key=1", "unknown key 'no_such_key' in [cortex.rule (grlu)]"),
    ("cortex.network.skip=readout", "cortex.network.skip must be \"none\""),
])
def test_mixing_the_shapes_or_bad_keys_is_one_line(override, message):
    with pytest.raises(ConfigError) as exc:
        load_continual("cls-cortex-grlu-hippocampus", [override])
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_new_shape_overrides_reach_the_rule_and_network():
    cfg = load_continual("cls-cortex-grlu-hippocampus", ["cortex.rule.lr_max=0.05", "cortex.network.hidden=[64]"])
    assert cfg.cortex.params["lr_max"] == 0.05 and cfg.cortex.hidden == (64,)
    assert cfg.cortex.params["pairs"] == 16  # the rest of the rule table is kept


def test_untrained_cortex_in_both_shapes():
    # benchmarks/cls.sh: --set cortex.rule=none replaces the rule table by a name
    new = load_continual("cls-cortex-grlu-hippocampus", ["cortex.rule=none"])
    assert new.cortex.rule == "none" and new.cortex.params is None
    raw, name = load_definition("cls-cortex-grlu-hippocampus")
    old = parse_continual(old_shape(raw) | {"cortex": {**old_shape(raw)["cortex"], "rule": "none"}}, name)
    assert old.cortex.rule == "none"  # the old shape ignored [cortex.params] of an untrained cortex
    with pytest.raises(ConfigError, match="takes no parameters"):
        load_continual("cls-cortex-grlu-hippocampus", ["cortex.rule.name=none"])


def test_rule_tables_read_alike_in_rate_and_continual():
    rate_raw, _ = load_definition("grlu-mnist-pairs16", ["rule.pairs=0"])
    with pytest.raises(ConfigError) as rate_exc:
        parse_config(rate_raw, "x")
    with pytest.raises(ConfigError) as cont_exc:
        load_continual("cls-finetune-grlu", ["slow.rule.pairs=0"])
    # the same check of the same rule's parameter, named by the table it came from
    assert str(rate_exc.value).split(":", 1)[-1] == str(cont_exc.value).split(":", 1)[-1]


@pytest.mark.parametrize("model, parse", [("izhikevich-distal-reward", parse_spiking),
                                          ("cls-finetune-grlu", parse_continual),
                                          ("grlu-mnist-pairs1", parse_config)])
def test_a_table_given_as_a_value_is_refused_by_every_kind(model, parse):
    raw, name = load_definition(model)
    table = {"izhikevich-distal-reward": "plasticity", "cls-finetune-grlu": "protocol",
             "grlu-mnist-pairs1": "training"}[model]
    raw[table] = False  # spiking definitions used to accept `plasticity = false` as an empty table
    with pytest.raises(ConfigError, match=rf"\[{table}\] in model .* must be a table"):
        parse(raw, name)
