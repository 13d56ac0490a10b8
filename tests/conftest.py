"""Shared pytest fixtures.

Helm binaries: `.ci/run` puts `<repo>/.tools/bin` first on PATH; these fixtures do the same for a bare `pytest`
run, then resolve `helm` (v4) and `helm3` (v3) with shutil.which. A missing binary FAILS the tests that need it
(run scripts/get-tools.sh); nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `from tests.manifest_validation import ...` also under a bare `pytest`
    sys.path.insert(0, str(REPO_ROOT))

import tests.manifest_validation as _manifest_validation  # noqa: E402

# tests/ is on sys.path too (pytest rootdir conftest), so `import manifest_validation` would load a second copy
# with its own validator caches and exception classes: make both spellings the same module.
sys.modules.setdefault("manifest_validation", _manifest_validation)
# The tests expect the shipped site profile (NRP) unless they pass --site: a developer's own one must not leak in.
os.environ.pop("KUBECTL_LLM_SITE", None)
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
HELM_BINARIES = ("helm", "helm3")  # Helm 4.1 and Helm 3.17: the charts must work with both


@pytest.fixture(scope="session", autouse=True)
def tools_on_path() -> None:
    """Prepend <repo>/.tools/bin to PATH once per session (idempotent)."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if str(TOOLS_BIN) not in parts:
        os.environ["PATH"] = os.pathsep.join([str(TOOLS_BIN), *parts])


def _which(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH or in {TOOLS_BIN}: run scripts/get-tools.sh", pytrace=False)
    return path


@pytest.fixture(scope="session")
def helm_bin(tools_on_path: None) -> str:
    """Absolute path of Helm 4 (`helm`)."""
    return _which("helm")


@pytest.fixture(scope="session")
def helm3_bin(tools_on_path: None) -> str:
    """Absolute path of Helm 3 (`helm3`)."""
    return _which("helm3")


@pytest.fixture(scope="session")
def helm_bins(helm_bin: str, helm3_bin: str) -> dict[str, str]:
    """Both helm binaries by name."""
    return {"helm": helm_bin, "helm3": helm3_bin}


# --- chart scenarios (charts/*/ci/*-values.yaml), rendered once per session with both helm binaries -----------
# Release names follow the handbook so that the scenarios reference each other (the aliases point at "qwen" and
# "qwen3-nairr") and the handbook comparison sees the names an admin would pick.
SCENARIO_RELEASES = {
    "02-minimax-handbook-values.yaml": "minimax",
    "03-qwen3-handbook-values.yaml": "qwen",
    "04-external-apikey-values.yaml": "qwen3-nairr",
    "05-alias-roundrobin-values.yaml": "qwen3-combined",
    "06-alias-priority-values.yaml": "qwen3-failover",
}


def chart_scenarios() -> list[tuple[str, str]]:
    """(chart, scenario file name) for every ci values file of both charts."""
    return [
        (chart_dir.name, values.name)
        for chart_dir in sorted((REPO_ROOT / "charts").iterdir())
        if (chart_dir / "Chart.yaml").exists()
        for values in sorted((chart_dir / "ci").glob("*-values.yaml"))
    ]


def scenario_release(scenario: str) -> str:
    return SCENARIO_RELEASES.get(scenario, "r")


@pytest.fixture(scope="session")
def rendered_scenarios(helm_bins: dict[str, str]) -> dict[tuple[str, str, str], list[dict]]:
    """(helm name, chart, scenario) -> rendered objects, for every scenario with Helm 4 and Helm 3.

    Rendered in a small thread pool (each `helm template` is a ~0.1 s subprocess).
    """
    from concurrent.futures import ThreadPoolExecutor

    import yaml

    from tests.manifest_validation import render_chart

    def render(key: tuple[str, str, str]) -> list[dict]:
        helm, chart, scenario = key
        values = yaml.safe_load((REPO_ROOT / "charts" / chart / "ci" / scenario).read_text()) or {}
        return render_chart(REPO_ROOT / "charts" / chart, values, release=scenario_release(scenario), helm=helm_bins[helm])

    keys = [(helm, chart, scenario) for helm in HELM_BINARIES for chart, scenario in chart_scenarios()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(keys, pool.map(render, keys)))
