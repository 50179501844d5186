"""The layers (docs/architecture.md) hold: ``lint-imports`` keeps every contract in
pyproject.toml, a copy of the package with an upward import breaks one (so this test can
fail), and importing the spiking definitions loads neither numba, Brian2 nor the rate rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install -e .[test])")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT, "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_contracts_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, upward", [
    ("io.py", "from neuro_grlu.app import report"),              # io reaching up to the app layer
    ("spiking/config.py", "from neuro_grlu.rules import get_rule"),  # spiking importing the rate rules
    ("definitions.py", "from neuro_grlu import config"),          # core importing a kind's schema
])
def test_an_upward_import_breaks_a_contract(tmp_path, module, upward):
    shutil.copytree(ROOT / "neuro_grlu", tmp_path / "neuro_grlu", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0  # the unchanged copy is clean
    with open(tmp_path / "neuro_grlu" / module, "a") as f:
        f.write(f"\n{upward}  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def test_spiking_definitions_import_light():
    code = ("import sys, neuro_grlu.spiking.config; "
            "heavy = [m for m in ('numba', 'brian2', 'neuro_grlu.rules', 'neuro_grlu.config', 'neuro_grlu.network') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_app_layer_has_no_kind_switch():
    """CLI, report and figure dispatch ask the kind registry; none compares a run's kind by name."""
    import re

    pattern = re.compile(r"""kind\s*(==|!=|in)\s*[("']""")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "neuro_grlu" / "app").glob("*.py"))
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
