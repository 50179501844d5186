"""The kind registry: the CLI, reports and figures dispatch through it (a kind registered in
a test gets its command, its summary and its figures with no other change), and the shared
run arguments are defined once for every run command."""

from __future__ import annotations

import sys

import pytest

from neuro_grlu import io
from neuro_grlu.app.cli import build_parser, main
from neuro_grlu.kinds import FigureSpec, Kind, get_kind, kinds, register
from neuro_grlu.kinds import registry

RUN_COMMANDS = {"rate": "train", "spiking": "simulate", "stdp-window": "stdp-window", "continual": "continual"}


def test_every_kind_registers_schema_runner_summary_and_figures():
    assert {k.name: k.command for k in kinds()} == RUN_COMMANDS
    for kind in kinds():
        assert callable(kind.schema) and callable(kind.run) and callable(kind.summary)
        assert kind.figures and all(isinstance(s, FigureSpec) and s.doc for s in kind.figures.values())
    assert set(io.KINDS) == set(RUN_COMMANDS)  # the run-file reader accepts exactly the registered kinds


@pytest.mark.parametrize("command", sorted(RUN_COMMANDS.values()))
def test_run_commands_share_the_run_arguments(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    flags = {o for a in sub._actions for o in a.option_strings}
    assert {"--set", "--out", "--overwrite", "--no-progress"} <= flags


@pytest.fixture
def toy_kind(tmp_path, monkeypatch):
    """A kind registered for the test only: its command, summary and figure come from the registry."""
    seen = {}

    def run(request, args):
        seen["request"], seen["args"] = request, args
        return 0

    def figure(runs):
        from matplotlib.figure import Figure

        fig = Figure()
        fig.subplots().plot(runs[0].metrics["score"])
        return fig

    kind = Kind(name="toy", command="toy-run", help="a toy kind", schema=lambda raw, name: raw,
                run=run, add_arguments=lambda p: p.add_argument("--size", type=int, default=1),
                overrides=lambda args: [f"toy.size={args.size}"], summary=lambda run: {"score": 7.0},
                figures={"score": FigureSpec(figure, doc="the score")}, seed_key="toy.seed")
    monkeypatch.setattr(registry, "_KINDS", {**registry._KINDS})
    register(kind)
    monkeypatch.setattr(io, "KINDS", (*io.KINDS, "toy"))
    return kind, seen


def test_a_registered_kind_gets_its_command(toy_kind, monkeypatch):
    kind, seen = toy_kind
    argv = ["toy-run", "m.toml", "--set", "a.b=1", "--seed", "3", "--size", "5", "--out", "x.h5", "--no-progress"]
    monkeypatch.setattr(sys, "argv", ["neuro-grlu", *argv])
    assert main(argv) == 0
    r = seen["request"]
    assert (r.model, r.out, r.overwrite, r.progress) == ("m.toml", "x.h5", False, False)
    assert r.overrides == ["a.b=1", "toy.size=5", "toy.seed=3"] and r.set_items == ["a.b=1"]
    assert r.command == "neuro-grlu " + " ".join(argv)


def test_a_registered_kind_gets_its_summary_and_figures(toy_kind, tmp_path, capsys):
    from neuro_grlu import read_run, report
    from neuro_grlu.app import figures  # imported before the kind was registered: still sees it

    assert "toy" in figures.FIGURES
    path = tmp_path / "toy.h5"
    with io.RunWriter(path, config={"kind": "toy"}, seed=0, model="toy", kind="toy", epochs_planned=2) as w:
        w.append_epoch({"score": 1.0})
        w.append_epoch({"score": 2.0})
        w.finish()
    assert report([path])[0]["score"] == 7.0
    run = read_run(path)
    assert run.figure_names() == ["score"] and list(run.plot()) == ["score"]
    assert main(["plot", str(path), "--list"]) == 0
    assert "(toy): score" in capsys.readouterr().out


def test_unknown_kind_is_one_line():
    with pytest.raises(Exception) as exc:
        get_kind("quantum")
    assert "known: rate, spiking, stdp-window, continual" in str(exc.value)
