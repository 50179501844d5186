"""Spiking definitions: the shipped models parse, errors are one line and name the key."""

from __future__ import annotations

import pytest

from neuro_grlu.errors import ConfigError
from neuro_grlu.config import apply_overrides
from neuro_grlu.spiking.config import load_spiking, parse_spiking

from _spiking_nets import conditioning


@pytest.mark.parametrize("name", ["izhikevich-distal-reward", "izhikevich-distal-reward-control", "stdp-window"])
def test_shipped_models_parse(name):
    cfg = load_spiking(name)
    assert cfg.to_dict()["kind"] == "spiking"
    assert parse_spiking(cfg.to_dict(), name).to_dict() == cfg.to_dict()  # round trip


def test_distal_reward_model_is_izhikevich_2007():
    cfg = load_spiking("izhikevich-distal-reward")
    assert cfg.populations["exc"].n == 800 and cfg.populations["inh"].n == 200
    assert cfg.projections["ee"].fanout == 100 and cfg.projections["ee"].plastic
    assert cfg.projections["ie"].weight == -1.0 and not cfg.projections["ie"].plastic
    p = cfg.plasticity
    assert (p.a_plus, p.a_minus, p.tau_plus_ms, p.tau_c_ms, p.w_max) == (1.0, 1.5, 20.0, 1000.0, 4.0)
    assert (cfg.dopamine.tau_d_ms, cfg.dopamine.tonic, cfg.reward.amount) == (200.0, 0.002, 0.5)
    assert cfg.simulation.duration_s == 3600.0
    control = load_spiking("izhikevich-distal-reward-control")
    assert control.reward.kind == "none" and control.simulation.seed == cfg.simulation.seed


def test_nested_override():
    cfg = load_spiking("izhikevich-distal-reward", ["populations.exc.n=120", "simulation.duration_s=2"])
    assert cfg.populations["exc"].n == 120 and cfg.simulation.duration_s == 2.0
    raw = apply_overrides({"a": {}}, ["a.b.c=3"])
    assert raw == {"a": {"b": {"c": 3}}}


@pytest.mark.parametrize("mutate,needle", [
    (lambda r: r["plasticity"].update(tau_c_ms=-1), "tau_c_ms"),
    (lambda r: r["plasticity"].update(bogus=1), "unknown key 'bogus' in [plasticity]"),
    (lambda r: r.update(extra=1), "unknown table or key 'extra'"),
    (lambda r: r["projections"]["io"].update(pre="nope"), "population 'nope'"),
    (lambda r: r["reward"].update(projection="nope"), "reward.projection"),
    (lambda r: r["reward"].update(chosen_pre=99), "chosen_pre"),
    (lambda r: r["populations"]["out"].update(model="hodgkin"), "populations.out.model"),
    (lambda r: r.pop("kind"), "not a spiking model"),
    (lambda r: r["plasticity"].update(w_max=-1.0), "w_max"),
])
def test_bad_definitions_are_one_line_errors(mutate, needle):
    raw = conditioning(reward=True)
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        parse_spiking(raw)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


@pytest.mark.parametrize("argv,needle", [
    (["simulate", "no-such-model"], "unknown model 'no-such-model'"),
    (["simulate", "grlu-mnist-pairs1"], "is a rate model; run it with 'neuro-grlu train grlu-mnist-pairs1'"),
    (["simulate", "izhikevich-distal-reward", "--set", "plasticity.tau_c_ms=0"], "tau_c_ms"),
    (["simulate", "izhikevich-distal-reward", "--duration", "90", "--chunk", "60"], "whole multiple"),
    (["stdp-window", "izhikevich-distal-reward"], "no [protocol] table"),
])
def test_cli_user_errors_are_one_line(argv, needle, capsys, tmp_path):
    from neuro_grlu.cli import main

    assert main(argv + (["--out", str(tmp_path / "x.h5")] if argv[0] == "simulate" else [])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neuro-grlu: error:") and needle in err and "\n" not in err


@pytest.mark.parametrize("value", ["-1", "two"])
def test_simulate_threads_rejected_before_anything_runs(value, capsys):
    """A bad --threads is an argparse error (exit 2): nothing is printed on stdout, nothing runs."""
    from neuro_grlu.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["simulate", "izhikevich-distal-reward", "--threads", value])
    captured = capsys.readouterr()
    assert exc.value.code == 2 and captured.out == ""
    assert "argument --threads: must be a whole number >= 0" in captured.err.strip().splitlines()[-1]
