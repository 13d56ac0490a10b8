"""Review 7b: kubectl llm tried as the admin of a cluster other than NRP would (tests/fixtures/sites/acme-hpc.yaml:
its own GPU catalog with product labels of its own node labeller, AMD and Gaudi pools, Ceph storage, no priority
class, its own taints, a Harbor mirror, a platform-owned Gateway in another namespace with a named listener, its own
cluster domain), and multi-node (LeaderWorkerSet) plans on it and on NRP. Each test here failed before its fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_llm import catalog
from kubectl_llm.adapters import site as site_adapter
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.site import Site, default_site
from kubectl_llm.planner.values import chart_values
from tests.cli_harness import offline_dry_run_env, render_dry_run
from tests.conftest import REPO_ROOT

ACME = REPO_ROOT / "tests" / "fixtures" / "sites" / "acme-hpc.yaml"


@pytest.fixture(autouse=True)
def no_user_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECTL_LLM_SITE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def acme() -> Site:
    return site_adapter.load_site(str(ACME)).site


def plan(model: str, site: Site, **req: object):
    return make_plan(catalog.load(model), PlanRequest(**req), site)


# --- the Service's labels ----------------------------------------------------------------------------------------
def test_the_handbooks_service_label_is_nrps_not_every_sites(acme: Site, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    """Before: the chart put NRP's handbook label `component: llm` on every site's Service (a line of the
    template); now it is NRP's site profile's `serviceLabels`, and another site's Service carries only its own."""
    assert chart_values(plan("Qwen/Qwen3-8B", default_site()))["service"]["labels"] == {"component": "llm"}
    assert "service" not in chart_values(plan("Qwen/Qwen3-8B", acme))
    offline_dry_run_env(monkeypatch, tmp_path)
    other = render_dry_run("Qwen/Qwen3-8B", "--site", str(ACME), namespace="acme-llm")["Service"]
    assert "component" not in other["metadata"]["labels"]
    nrp = render_dry_run("Qwen/Qwen3-8B")["Service"]
    assert nrp["metadata"]["labels"]["component"] == "llm"
    lws = render_dry_run("deepseek-ai/DeepSeek-V3", "--nodes", "2", "--site", str(ACME), "--gpu", "H100-SXM",
                         namespace="acme-llm")["Service"]
    assert "component" not in lws["metadata"]["labels"]


# --- productAffinity: always -------------------------------------------------------------------------------------
@pytest.mark.parametrize("gpu, product", [("MI250", "AMD-Instinct-MI250X"), ("Gaudi2", "HL-225")])
def test_product_affinity_always_holds_for_a_type_with_a_resource_of_its_own(acme: Site, gpu: str,
                                                                            product: str) -> None:
    """Before: `productAffinity: always` was dropped for a type that is the only one on its resource (the AMD pool
    on amd.com/gpu, Gaudi on habana.ai/gaudi): the pod had no node affinity at all. Now "always" means always."""
    assert acme.product_affinity == "always"
    doc = plan("Qwen/Qwen3-8B", acme, gpu_type=gpu).to_dict()
    assert doc["scheduling"]["node_affinity"] == [
        {"key": "node.acme.org/gpu-model", "operator": "In", "values": [product]}]
    # the same types under productAffinity "named" (the default) keep the resource as the selector
    named = Site(**{**acme.__dict__, "product_affinity": "named"})
    assert plan("Qwen/Qwen3-8B", named, gpu_type=gpu).to_dict()["scheduling"]["node_affinity"] == []
