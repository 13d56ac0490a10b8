"""Static checks of the layering: the import rules (scripts/check_imports.py) and strict mypy on the planner."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_imports", ROOT / "scripts" / "check_imports.py")
assert _spec and _spec.loader
check_imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_imports)


def test_import_rules_hold() -> None:
    assert check_imports.violations() == []


def test_import_rules_catch_lazy_and_relative_imports(tmp_path: Path) -> None:
    planner = tmp_path / "kubectl_llm" / "planner"
    adapters = tmp_path / "kubectl_llm" / "adapters"
    planner.mkdir(parents=True)
    adapters.mkdir(parents=True)
    (planner / "ok.py").write_text("import math\nfrom kubectl_llm.errors import PlanError\nfrom . import facts\n")
    (planner / "bad.py").write_text("def f():\n    import subprocess\n    from ..adapters import hub\n")
    (adapters / "bad.py").write_text("from kubectl_llm.cli.output import emit\n")
    assert check_imports.violations(tmp_path) == [
        "kubectl_llm/adapters/bad.py:1: imports kubectl_llm.cli.output (kubectl_llm/adapters must not import "
        "kubectl_llm.cli)",
        "kubectl_llm/planner/bad.py:2: imports subprocess (kubectl_llm/planner must not import subprocess)",
        "kubectl_llm/planner/bad.py:3: imports kubectl_llm.adapters (kubectl_llm/planner must not import "
        "kubectl_llm.adapters)",
    ]


def test_planner_passes_strict_mypy() -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e '.[test]'")
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr        # config: [tool.mypy] in pyproject.toml
    assert "Success" in run.stdout
