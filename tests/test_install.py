"""The package installs without the source tree: the wheel carries every model definition and
the published measurements as package data, and an installed copy (outside the checkout)
finds them, names the checkout as absent, and says in one line where MNIST must come from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    try:
        import setuptools  # noqa: F401
        import wheel as _wheel  # noqa: F401
    except ImportError:  # pragma: no cover
        pytest.skip("building the wheel needs setuptools and wheel (pip install -e .[test])")
    # Build from a copy of what the wheel is made of: building in the checkout writes build/ there,
    # which a test running beside this one (pytest-xdist) would see as written into the repository.
    src = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT / "neuro_grlu", src / "neuro_grlu", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                             "-w", str(out), "-q"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("neuro_grlu-*.whl")
    return path


def test_wheel_carries_the_definitions_and_measurements(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    models = sorted((ROOT / "neuro_grlu" / "models").rglob("*.toml"))
    assert len(models) > 20
    for m in models:
        assert f"neuro_grlu/models/{m.relative_to(ROOT / 'neuro_grlu' / 'models').as_posix()}" in names
    assert "neuro_grlu/measurements/bi_poo_1998.csv" in names
    assert {"neuro_grlu/kinds/registry.py", "neuro_grlu/app/cli.py", "neuro_grlu/paths.py"} <= names
    assert not any(n.startswith(("tests/", "benchmarks/", "data/", "notebooks/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "neuro-grlu = neuro_grlu.app.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_copy_works_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                             str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    code = f"""
import neuro_grlu, sys
from pathlib import Path
assert Path(neuro_grlu.__file__).is_relative_to({str(target)!r}), neuro_grlu.__file__
from neuro_grlu.paths import source_checkout
from neuro_grlu.definitions import available_models, models_dir
from neuro_grlu.kinds import load_config, describe
from neuro_grlu.reference import read_reference
from neuro_grlu.data import default_data_root
from neuro_grlu.errors import DataError
assert source_checkout() is None
assert models_dir().is_relative_to({str(target)!r})
assert "grlu-mnist-pairs1" in available_models()
assert load_config("rate", "grlu-mnist-pairs1").rule_name == "grlu"
assert describe("cls-finetune-fa")[0] == "continual"
assert len(read_reference()[0]) > 10
try:
    default_data_root()
except DataError as exc:
    assert "--data" in str(exc) and "NEURO_GRLU_DATA" in str(exc) and "\\n" not in str(exc)
else:
    raise AssertionError("no error without data")
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k not in ("NEURO_GRLU_DATA", "NEURO_GRLU_MODELS")}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
