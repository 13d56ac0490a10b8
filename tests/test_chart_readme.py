"""Each chart's README.md is generated from its values.yaml `# --` comments (scripts/chart-readme.py) and kept
up to date: a changed default or comment without a regenerated README fails here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "chart-readme.py"


def _generator():
    spec = importlib.util.spec_from_file_location("chart_readme", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("chart", ["llm-model", "llm-gateway"])
def test_readme_is_generated_from_values_and_up_to_date(chart: str) -> None:
    gen = _generator()
    readme = (REPO_ROOT / "charts" / chart / "README.md").read_text()
    assert readme == gen.render(chart), "run: python scripts/chart-readme.py"
    values = yaml.safe_load((REPO_ROOT / "charts" / chart / "values.yaml").read_text())
    rows = {line.split(" | ")[0].lstrip("| ") for line in readme.splitlines() if line.startswith("| ")} - {"Key"}
    assert rows == {path for path, _ in gen.documented_keys((REPO_ROOT / "charts" / chart / "values.yaml").read_text())}
    # every top-level key of values.yaml shows up (itself or through its children)
    assert {r.split(".")[0] for r in rows} == set(values)


def test_a_changed_comment_makes_the_readme_stale() -> None:
    gen = _generator()
    text = "a:\n  # -- first line\n  # continued\n  b: 1\n  c: 2\n# -- a list\nd:\n  - e: 1\n"
    assert gen.documented_keys(text) == [("a.b", "first line continued"), ("d", "a list")]
    assert gen.documented_keys(text.replace("first line", "changed")) != gen.documented_keys(text)


def test_check_mode_passes_on_the_repository() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_description_line_starting_with_a_flag_is_not_a_new_doc() -> None:
    """'# --nnodes ...' continues a description (helm-docs' marker is '# -- ', with a space): the chart README
    kept only the tail of group.workerArgs' description."""
    gen = _generator()
    text = "a:\n  # -- worker flags (vLLM\n  # --nnodes/--headless)\n  b: []\n"
    assert gen.documented_keys(text) == [("a.b", "worker flags (vLLM --nnodes/--headless)")]
    readme = (REPO_ROOT / "charts" / "llm-model" / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| group.workerArgs |"))
    assert "Engine arguments of the worker pods" in row
