"""The ``neuro-grlu`` command line: user errors are one line on stderr with exit status 2
(never a traceback), and train/report/inspect/plot/models work end to end on tiny data."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys

import pytest

from conftest import TINY_MODEL_TOML
from neuro_grlu.cli import main
from neuro_grlu.config import available_models
from neuro_grlu.io import read_run
from neuro_grlu.rules.grlu import GRLU

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_one_line_error(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("neuro-grlu: error: "), err
    assert err.endswith("\n")
    return lines[0]


def run_main(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(*argv, cwd=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "neuro_grlu.cli", *map(str, argv)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Run every command from a temporary directory, so no default path lands in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def runs(tiny_mnist, tmp_path_factory):
    """Two tiny run files trained through the CLI (seeds 1 and 2, 100 images, 2 epochs)."""
    d = tmp_path_factory.mktemp("cli_runs")
    toml = d / "tiny.toml"
    toml.write_text(TINY_MODEL_TOML)
    paths = []
    for seed in (1, 2):
        out = d / f"tiny-seed{seed}.h5"
        code = main(["train", str(toml), "--data", str(tiny_mnist), "--out", str(out), "--seed", str(seed),
                     "--train-limit", "100", "--no-progress", "--no-plot"])
        assert code == 0
        paths.append(out)
    return paths


@pytest.fixture
def garbage(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"this is not an HDF5 file\n" * 20)
    return path


# --------------------------------------------------------------------------- train errors


def test_train_unknown_model(capsys):
    code, out, err = run_main(capsys, "train", "no-such-model")
    assert code == 2
    line = assert_one_line_error(err)
    assert "'no-such-model'" in line and "grlu-mnist-pairs1" in line


def test_train_unknown_key_override(capsys, tiny_model_toml):
    code, _, err = run_main(capsys, "train", tiny_model_toml, "--set", "rule.bogus=1")
    assert code == 2
    line = assert_one_line_error(err)
    assert "'bogus'" in line and "allowed" in line and "pairs" in line


@pytest.mark.parametrize("setting, word", [("rule.pairs=0", "pairs"), ("network.hidden=256", "hidden"),
                                           ("training.epochs=1.5", "epochs"), ("network.activation=tanh", "tanh"),
                                           ("rule.pairs", "table.key=value")])
def test_train_impossible_value(capsys, tiny_model_toml, setting, word):
    code, _, err = run_main(capsys, "train", tiny_model_toml, "--set", setting)
    assert code == 2
    assert word in assert_one_line_error(err)


def test_train_epochs_zero(capsys, tiny_model_toml):
    code, _, err = run_main(capsys, "train", tiny_model_toml, "--epochs", "0")
    assert code == 2
    assert "epochs" in assert_one_line_error(err)


def test_train_missing_data_dir(capsys, tiny_model_toml, tmp_path):
    missing = tmp_path / "no-such-dir"
    code, _, err = run_main(capsys, "train", tiny_model_toml, "--data", missing, "--out", tmp_path / "r.h5")
    assert code == 2
    assert str(missing) in assert_one_line_error(err)
    assert not (tmp_path / "r.h5").exists()


def test_train_errors_in_subprocess(tmp_path, tiny_model_toml):
    res = run_subprocess("train", "no-such-model", cwd=tmp_path)
    assert res.returncode == 2
    assert_one_line_error(res.stderr)
    res = run_subprocess("train", tiny_model_toml, "--data", tmp_path / "nope", cwd=tmp_path)
    assert res.returncode == 2
    assert_one_line_error(res.stderr)


def test_data_help_documents_unverified_dir(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--data DIR" in out and "no MD5 check" in out and "MD5-verified" in out


# --------------------------------------------------------------------------- train end to end


def test_train_writes_run_and_plot(capsys, tiny_mnist, tiny_model_toml, tmp_path):
    out = tmp_path / "sub" / "run.h5"
    code, stdout, err = run_main(capsys, "train", tiny_model_toml, "--data", tiny_mnist, "--out", out,
                                 "--no-progress")
    assert code == 0, err
    assert "Traceback" not in err
    assert "without checksum verification" in stdout
    m = re.search(r"final test accuracy (\d+\.\d+)%", stdout)
    assert m and float(m.group(1)) > 50.0, stdout
    assert stdout.count("epoch ") >= 2  # one line per epoch with --no-progress
    run = read_run(out)
    assert run.complete and run.epochs_completed == 2 and run.model == "tiny"
    assert run.metrics["test_accuracy"][-1] == pytest.approx(float(m.group(1)) / 100, abs=1e-4)
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert f"learning curves {png}" in stdout


def test_train_refuses_to_overwrite(capsys, tiny_mnist, tiny_model_toml, tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"precious")
    code, _, err = run_main(capsys, "train", tiny_model_toml, "--data", tiny_mnist, "--out", out, "--no-progress")
    assert code == 2
    assert "already exists" in assert_one_line_error(err)
    assert out.read_bytes() == b"precious"
    code, _, err = run_main(capsys, "train", tiny_model_toml, "--data", tiny_mnist, "--out", out, "--no-progress",
                            "--no-plot", "--overwrite", "--train-limit", "50", "--epochs", "1")
    assert code == 0, err
    assert read_run(out).complete


def test_train_ctrl_c_exits_130(capsys, tiny_mnist, tiny_model_toml, tmp_path, monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(GRLU, "step_chunk", interrupted)
    out = tmp_path / "run.h5"
    code, _, err = run_main(capsys, "train", tiny_model_toml, "--data", tiny_mnist, "--out", out, "--no-progress")
    assert code == 130
    assert "Traceback" not in err and "interrupted" in err
    run = read_run(out)
    assert run.status == "incomplete" and run.epochs_completed == 0


# --------------------------------------------------------------------------- inspect / report / plot


@pytest.mark.parametrize("command", ["inspect", "report", "plot"])
def test_missing_run_file(capsys, tmp_path, command):
    missing = tmp_path / "missing.h5"
    code, _, err = run_main(capsys, command, missing)
    assert code == 2
    assert "does not exist" in assert_one_line_error(err)


@pytest.mark.parametrize("command", ["inspect", "report", "plot"])
def test_garbage_run_file(capsys, garbage, command):
    code, _, err = run_main(capsys, command, garbage)
    assert code == 2
    assert str(garbage) in assert_one_line_error(err)
    assert not garbage.with_suffix(".png").exists()


def test_garbage_run_file_subprocess(garbage):
    res = run_subprocess("inspect", garbage)
    assert res.returncode == 2 and res.stdout == ""
    assert_one_line_error(res.stderr)


def test_report_markdown(capsys, runs):
    code, out, err = run_main(capsys, "report", *runs)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("| run | rule | uses | pairs |") and lines[1].startswith("|---|")
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert all(len(c) == len(header) for c in cells)
    seeds = sorted(row[header.index("seed")] for row in cells)
    assert seeds == ["1", "2"]
    for row in cells:
        assert row[header.index("run")] == "tiny" and row[header.index("rule")] == "grlu"
        assert row[header.index("pairs")] == "4" and row[header.index("hidden")] == "32"
        assert row[header.index("epochs")] == "2/2" and row[header.index("status")] == "complete"
        assert 0.0 <= float(row[header.index("test %")]) <= 100.0
        assert row[header.index("uses")] == "reward, local, noise"
        angles = [float(a) for a in row[header.index("alignment ° (per layer)")].split("/")]
        assert len(angles) == 2 and all(0 <= a < 90 for a in angles)


def test_report_csv(capsys, runs):
    code, out, _ = run_main(capsys, "report", *runs, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) == 3 and rows[0][0] == "run" and "test %" in rows[0]
    assert all(len(r) == len(rows[0]) for r in rows)
    seed = rows[0].index("seed")
    assert sorted(r[seed] for r in rows[1:]) == ["1", "2"]


def test_inspect(capsys, runs):
    code, out, err = run_main(capsys, "inspect", runs[0])
    assert code == 0 and err == ""
    assert "neuro_grlu.run v1" in out
    assert "status      complete: 2/2 epochs" in out
    assert "config" in out and '"name": "grlu"' in out and '"hidden": [' in out and '"pairs": 4' in out
    assert "W0 (32, 784) float32" in out
    metrics = out.split("\nmetrics\n", 1)[1].splitlines()
    assert "test_accuracy" in metrics[0] and "epoch" in metrics[0]
    assert len(metrics) == 3  # header + 2 epochs


def test_plot(capsys, runs, tmp_path):
    out = tmp_path / "figs" / "curves.png"
    code, stdout, err = run_main(capsys, "plot", *runs, "--out", out)
    assert code == 0 and err == ""
    assert stdout.strip() == str(out)
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000


def test_rules_lists_every_rule_with_its_information(capsys):
    from neuro_grlu.rules import RULES

    code, out, err = run_main(capsys, "rules")
    assert code == 0 and err == ""
    for name in RULES:
        assert re.search(rf"^{re.escape(name)}: ", out, re.M)
    assert "exact transposed forward weights" in out and "lr_max" in out


def test_plot_default_name(capsys, runs):
    code, stdout, _ = run_main(capsys, "plot", runs[0])
    assert code == 0
    png = runs[0].with_suffix(".png")
    assert stdout.strip() == str(png) and png.read_bytes()[:8] == PNG_MAGIC


# --------------------------------------------------------------------------- models / download


def test_models_lists_all(capsys):
    code, out, err = run_main(capsys, "models")
    assert code == 0 and err == ""
    names = available_models()
    assert len(out.splitlines()) == len(names)
    for name in names:
        assert name in out
    assert "INVALID" not in out


def test_models_reports_invalid(capsys, tmp_path, monkeypatch):
    (tmp_path / "good.toml").write_text('description = "ok"\n[rule]\nname = "grlu"\n')
    (tmp_path / "bad.toml").write_text('[rule]\nname = "grlu"\npairs = 0\n')
    monkeypatch.setenv("NEURO_GRLU_MODELS", str(tmp_path))
    code, out, _ = run_main(capsys, "models")
    assert code == 0
    assert re.search(r"^bad\s+INVALID: .*pairs", out, re.M) and re.search(r"^good\s+rate\s+ok$", out, re.M)


def test_download_unreachable_mirror(tmp_path):
    dest = tmp_path / "dl"
    res = run_subprocess("download", "--mirror", "http://127.0.0.1:9/", "--dest", dest, "--timeout", "2",
                         cwd=tmp_path)
    assert res.returncode == 2
    line = assert_one_line_error(res.stderr)
    assert "127.0.0.1:9" in line
    assert not any(p.suffix == ".part" for p in dest.iterdir())


def test_download_unknown_dataset(capsys, tmp_path):
    code, _, err = run_main(capsys, "download", "cifar10", "--dest", tmp_path)
    assert code == 2
    assert "cifar10" in assert_one_line_error(err)


def test_train_echoes_set_overrides(capsys, tiny_mnist, tiny_model_toml, tmp_path):
    """The definition's description is followed by the --set changes, so a log says what ran."""
    out = tmp_path / "run.h5"
    code, stdout, err = run_main(capsys, "train", tiny_model_toml, "--data", tiny_mnist, "--out", out,
                                 "--set", "network.hidden=[8]", "--train-limit", "100", "--no-progress", "--no-plot")
    assert code == 0, err
    assert "changed by --set: network.hidden=[8]" in stdout
    code, stdout, _ = run_main(capsys, "train", tiny_model_toml, "--data", tiny_mnist, "--out", out, "--overwrite",
                               "--train-limit", "100", "--no-progress", "--no-plot")
    assert code == 0 and "changed by --set" not in stdout
