"""benchmarks/score_grlu_beyond_test.py: the test set is scored once per (variant, seed), the choice is
made on validation only, and a superseded choice stays in the stored entry."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "score_grlu_beyond_test.py"


@pytest.fixture(scope="module")
def score():
    spec = importlib.util.spec_from_file_location("score_grlu_beyond_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(variant, seed, val):
    return {"variant": variant, "seed": seed, "file": f"{variant}-{seed}.h5", "git_commit": "x",
            "validation_accuracy": [0.5, val]}


def scored(r, test):
    return {"seed": r["seed"], "file": r["file"], "git_commit": "x",
            "final_validation_accuracy": r["validation_accuracy"][-1], "test_accuracy": test}


META = {"set": "beyond", "pairs": 128}


def test_first_choice_then_added_seeds_of_the_same_variant(score):
    a42, b42 = run("a", 42, 0.97), run("b", 42, 0.95)
    chosen, val = score.choose({"a": [a42], "b": [b42]})
    assert chosen == "a" and val["a"] == {"mean": 0.97, "seeds": [42]}
    assert score.to_score(None, "a", [a42]) == [a42]
    first = score.new_entry(None, META, "a", val, [a42], {42: scored(a42, 0.975)}, "cmd1", "t1")
    assert first["test_accuracy_sd"] is None and "superseded" not in first

    a43, a44 = run("a", 43, 0.96), run("a", 44, 0.98)
    by_variant = {"a": [a42, a43, a44], "b": [b42]}
    chosen, val = score.choose(by_variant)
    todo = score.to_score(first, chosen, by_variant[chosen])
    assert [r["seed"] for r in todo] == [43, 44]  # seed 42 is not scored again
    entry = score.new_entry(first, META, chosen, val, by_variant[chosen],
                            {43: scored(a43, 0.965), 44: scored(a44, 0.97)}, "cmd2", "t2")
    assert [r["test_accuracy"] for r in entry["runs"]] == [0.975, 0.965, 0.97]
    assert entry["command"] == "cmd1" and entry["additions"][0]["seeds"] == [43, 44]
    assert entry["test_accuracy_mean"] == pytest.approx(0.97)
    assert score.to_score(entry, chosen, by_variant[chosen]) == []


def test_a_changed_choice_keeps_the_earlier_one_as_superseded(score):
    a42, b42 = run("a", 42, 0.97), run("b", 42, 0.96)
    chosen, val = score.choose({"a": [a42], "b": [b42]})
    first = score.new_entry(None, META, chosen, val, [a42], {42: scored(a42, 0.975)}, "cmd1", "t1")
    a43, b43 = run("a", 43, 0.94), run("b", 43, 0.97)  # more seeds: b wins on validation
    by_variant = {"a": [a42, a43], "b": [b42, b43]}
    chosen, val = score.choose(by_variant)
    assert chosen == "b"
    todo = score.to_score(first, chosen, by_variant[chosen])
    assert [r["seed"] for r in todo] == [42, 43]
    entry = score.new_entry(first, META, chosen, val, by_variant[chosen],
                            {42: scored(b42, 0.96), 43: scored(b43, 0.97)}, "cmd2", "t2")
    assert entry["chosen_variant"] == "b" and entry["command"] == "cmd2"
    (old,) = entry["superseded"]
    assert old["chosen_variant"] == "a" and old["runs"][0]["test_accuracy"] == 0.975 and old["superseded_utc"] == "t2"
    # back to a: its stored seed is reused, only the new seed is scored
    assert [r["seed"] for r in score.to_score(entry, "a", [a42, a43])] == [43]
