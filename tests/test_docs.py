"""The docs stay what issue 14 item 8 asks: README at most 150 lines whose test command is the
one CI runs, and every relative link in README.md and docs/*.md pointing at a file that exists."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_readme_commands_are_the_ones_ci_runs():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && python -m pytest -q' in readme
    assert 'python -m pip install --quiet -e ".[test]"' in ci and "python -m pytest -q" in ci
    assert "pip install -e . && neuro-grlu train grlu-mnist-pairs1" in readme
    from neuro_grlu.definitions import available_models

    assert "grlu-mnist-pairs1" in available_models()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # code blocks hold example paths
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{doc.name}: links to missing files: {broken}"
