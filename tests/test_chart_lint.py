"""`helm lint --strict` is clean for both charts, alone and with every ci scenario, under Helm 4 and Helm 3."""

from __future__ import annotations

import pytest

from tests.conftest import HELM_BINARIES, REPO_ROOT, chart_scenarios
from tests.manifest_validation import run_helm

CASES = [(chart, None) for chart in ("llm-model", "llm-gateway")] + chart_scenarios()


@pytest.mark.parametrize("helm", HELM_BINARIES)
@pytest.mark.parametrize(("chart", "scenario"), CASES)
def test_lint_strict(helm_bins, helm, chart, scenario) -> None:
    chart_dir = REPO_ROOT / "charts" / chart
    args = ["lint", "--strict", str(chart_dir)]
    if scenario:
        args += ["--values", str(chart_dir / "ci" / scenario)]
    out = run_helm(args, helm=helm_bins[helm])  # raises on a non-zero exit
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out


def test_ct_config_covers_both_charts() -> None:
    import yaml

    ct = yaml.safe_load((REPO_ROOT / "ct.yaml").read_text())
    assert ct["chart-dirs"] == ["charts"]
    assert ct["validate-maintainers"] is False and ct["check-version-increment"] is False
    for chart in ("llm-model", "llm-gateway"):
        assert list((REPO_ROOT / "charts" / chart / "ci").glob("*-values.yaml")), chart
