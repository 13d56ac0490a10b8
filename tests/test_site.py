"""Site profiles (issue 9, item 3): the cluster's names come from a site file, NRP's ships as the default, and the
planner receives the site as data. The same model is planned under two sites (NRP and tests/fixtures/sites/
ceph-amd.yaml: other storage class, no priority class, other tolerations, an AMD MI300X pool on amd.com/gpu), and
the second site's manifests are rendered with both helm binaries and validated strictly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from kubectl_llm import catalog
from kubectl_llm.adapters import site as site_adapter
from kubectl_llm.cli.main import cli
from kubectl_llm.errors import SiteError
from kubectl_llm.planner import sizing
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.quantity import GiB
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.site import Site, default_site, default_site_text, site_from_document
from kubectl_llm.planner.values import chart_values
from tests.conftest import HELM_BINARIES, REPO_ROOT
from tests.manifest_validation import render_chart, validate_objects, validate_values

OTHER = REPO_ROOT / "tests" / "fixtures" / "sites" / "ceph-amd.yaml"
MODEL_CHART = REPO_ROOT / "charts" / "llm-model"
LLAMA70 = "meta-llama/Llama-3.3-70B-Instruct"
NRP_TOLERATIONS = [
    {"key": "nautilus.io/reservation", "operator": "Equal", "value": "nrp-llm", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "PreferNoSchedule"},
]
LARGE_GPU = {"key": "nautilus.io/hardware", "operator": "Equal", "value": "large-gpu", "effect": "NoSchedule"}


@pytest.fixture(autouse=True)
def no_user_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECTL_LLM_SITE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def other() -> Site:
    return site_adapter.load_site(str(OTHER)).site


def plan(model: str, site: Site | None, **req: object):
    return make_plan(catalog.load(model), PlanRequest(**req), site)


# --- the shipped profile -----------------------------------------------------------------------------------------
def test_shipped_nrp_profile_validates_and_is_the_default() -> None:
    doc = yaml.safe_load(default_site_text())
    assert site_adapter.violations(doc) == []
    loaded = site_adapter.load_site(None, environ={"HOME": "/nonexistent"})
    assert loaded.path is None and loaded.origin.startswith("built-in")
    s = loaded.site
    assert (s.name, s.storage_class, s.priority_class_name) == ("nrp", "linstor-igrok", "owner")
    assert list(s.tolerations) == NRP_TOLERATIONS
    assert s.large_gpu.gpu_counts == (4, 8) and list(s.large_gpu.tolerations) == [LARGE_GPU]
    assert s.gateway_parent_refs == ({"name": "envoy-ai-gateway-nrp"},)
    assert {g.name: g.resource for g in s.gpus} == {"A100-80GB": "nvidia.com/a100", "A6000": "nvidia.com/rtxa6000"}


def test_the_planner_has_no_site_constants_left() -> None:
    for name in ("STORAGE_CLASS", "PRIORITY_CLASS"):
        assert not hasattr(sizing, name)
    planner = (REPO_ROOT / "kubectl_llm" / "planner")
    code = "".join(p.read_text() for p in planner.glob("*.py"))
    for nrp_name in ("linstor-igrok", "nautilus.io", "envoy-ai-gateway-nrp", '"owner"', "nvidia.com/a100"):
        assert nrp_name not in code, nrp_name


def test_site_show_yaml_round_trips_and_validates(other: Site) -> None:
    for s in (default_site(), other):
        doc = s.to_document()
        assert site_adapter.violations(doc) == []
        again = site_from_document(json.loads(json.dumps(doc)))
        assert again == s


def test_gpus_o_yaml_entries_are_site_file_entries() -> None:
    result = CliRunner().invoke(cli, ["gpus", "-o", "yaml"])
    assert result.exit_code == 0, result.stderr
    entries = yaml.safe_load(result.stdout)
    assert site_adapter.violations({"gpusMode": "replace", "gpus": entries}) == []
    replaced = site_from_document({"gpusMode": "replace", "gpus": entries})
    assert replaced.gpu_catalog == default_site().gpu_catalog     # pasting them back gives the same types
    a100 = next(e for e in entries if e["name"] == "A100-80GB")
    assert a100 == {"name": "A100-80GB", "memory_mib": 81920, "usable_gib": 79.25,
                    "products": ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"], "resource": "nvidia.com/a100",
                    "compute": "8.0", "nvlink": True, "per_node": 8}


# --- the same model under two sites ------------------------------------------------------------------------------
def test_same_model_two_sites_scheduling_and_storage(other: Site) -> None:
    # Qwen3-8B on 1 A100-80GB under each site: the sizing (handbook rules) is the same, the cluster's names differ
    nrp = plan("Qwen/Qwen3-8B", None, gpu_type="A100-80GB").to_dict()
    amd = plan("Qwen/Qwen3-8B", other, gpu_type="A100-80GB").to_dict()
    for key in ("cpu", "memory_request", "memory_limit", "storage", "shm"):
        assert nrp["resources"][key] == amd["resources"][key]
    assert nrp["gpu"]["count"] == amd["gpu"]["count"] == 1
    assert (nrp["resources"]["storage_class"], amd["resources"]["storage_class"]) == ("linstor-igrok", "rook-ceph-block")
    assert (nrp["scheduling"]["priority_class"], amd["scheduling"]["priority_class"]) == ("owner", "")
    assert nrp["scheduling"]["tolerations"] == NRP_TOLERATIONS
    assert amd["scheduling"]["tolerations"] == [{"key": "example.org/gpu-node", "operator": "Exists",
                                                 "effect": "NoSchedule"}]
    # NRP's A100 pool has its own resource (no product affinity needed); on the other site A100s share nvidia.com/gpu
    assert (nrp["gpu"]["resource"], amd["gpu"]["resource"]) == ("nvidia.com/a100", "nvidia.com/gpu")
    assert nrp["scheduling"]["node_affinity"] == [
        {"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["80000"]},      # 81920 MiB // 1000 - 1 = 80
        {"key": "nvidia.com/cuda.driver.major", "operator": "Gt", "values": ["565"]}]
    assert amd["scheduling"]["node_affinity"] == [   # named type on a shared resource; no driver rule on this site
        {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-80GB-PCIe"]},
        {"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["80000"]}]
    assert amd["serving"]["image"] == "registry.corp.internal/dockerhub/" + nrp["serving"]["image"]
    assert amd["site"] == {"name": "ceph-amd", "gateway_parent_refs": [{"name": "ai-gw", "namespace": "gateways"}],
                           "cluster_domain": "corp.internal"}


def test_amd_gpu_type_of_the_other_site(other: Site) -> None:
    """Llama-3.3-70B (BF16, ~141 GB): too big for one 80 GB card, one MI300X (192 GB) holds it."""
    mi300x = other.find_gpu("mi300x")
    assert (mi300x.resource, mi300x.memory_mib, mi300x.memory_bytes) == ("amd.com/gpu", 196608, int(191.5 * GiB))
    p = plan(LLAMA70, other, gpu_type="MI300X")
    d = p.to_dict()
    weights = p.weight_bytes
    assert weights > 0.95 * 79.19 * GiB                       # more than an H100 can hold at all
    assert d["gpu"]["count"] == 1 and d["gpu"]["resource"] == "amd.com/gpu"
    assert d["parallelism"]["tensor"] == 1
    assert d["memory"]["weights_per_gpu_bytes"] <= weights < 0.95 * mi300x.memory_bytes
    # the handbook rules still hold: CPU 2 x 1 + 2, RAM 55 % / 110 % of the weights, PVC +15 % in 8 Gi steps
    assert d["resources"]["cpu"] == "4"
    assert d["resources"]["memory_request"] == f"{math.ceil(weights * 0.55 / GiB)}Gi"
    assert d["resources"]["storage"] == f"{8 * math.ceil(math.ceil(weights * 1.15 / GiB) / 8)}Gi"
    # an amd.com/gpu pool is selected by its resource: no NVIDIA feature-discovery labels, no driver rule
    assert d["scheduling"]["node_affinity"] == []
    # NRP has no MI300X
    with pytest.raises(Exception, match="unknown GPU type 'MI300X'"):
        plan(LLAMA70, None, gpu_type="MI300X")


def test_large_gpu_rule_follows_the_site(other: Site) -> None:
    def tolerations(site: Site | None, n: int) -> list[dict]:
        return plan("Qwen/Qwen3-8B", site, gpu_type="H100-80GB", gpus=n).to_dict()["scheduling"]["tolerations"]

    assert tolerations(None, 4) == NRP_TOLERATIONS + [LARGE_GPU]
    assert tolerations(None, 2) == NRP_TOLERATIONS
    full_node = {"key": "example.org/full-node", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    assert full_node not in tolerations(other, 4)
    assert tolerations(other, 8)[-1] == full_node


def test_gpus_mode_replace_plans_only_on_the_site_types(other: Site) -> None:
    only_amd = dataclasses.replace(other, gpus_mode="replace")
    d = plan("Qwen/Qwen3-8B", only_amd).to_dict()
    assert list(d["gpu"]["candidates"]) == ["MI300X"] and d["gpu"]["type"] == "MI300X"
    with pytest.raises(Exception, match="unknown GPU type 'L40'"):
        plan("Qwen/Qwen3-8B", only_amd, gpu_type="L40")


def test_site_in_the_request_is_what_the_planner_uses(other: Site) -> None:
    via_request = make_plan(catalog.load("Qwen/Qwen3-8B"), PlanRequest(gpu_type="L40", site=other)).to_dict()
    assert via_request["resources"]["storage_class"] == "rook-ceph-block"


@pytest.mark.parametrize("helm", HELM_BINARIES)
def test_other_site_manifests_render_and_validate(helm: str, helm_bins: dict[str, str], other: Site) -> None:
    p = plan(LLAMA70, other, gpu_type="MI300X", name="llama")
    values = chart_values(p)
    validate_values(values)
    objs = render_chart(MODEL_CHART, values, release="llama", namespace="models", helm=helm_bins[helm])
    validate_objects(objs)
    kinds = {o["kind"]: o for o in objs}
    pvc = kinds["PersistentVolumeClaim"]["spec"]
    assert pvc["storageClassName"] == "rook-ceph-block"
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert "priorityClassName" not in pod and "affinity" not in pod
    assert pod["tolerations"] == [{"key": "example.org/gpu-node", "operator": "Exists", "effect": "NoSchedule"}]
    c = pod["containers"][0]
    assert c["resources"]["limits"]["amd.com/gpu"] == c["resources"]["requests"]["amd.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in c["resources"]["limits"]
    assert c["image"] == "registry.corp.internal/dockerhub/vllm/vllm-openai:" + c["image"].rsplit(":", 1)[1]
    assert kinds["Pod"]["spec"]["containers"][0]["image"].startswith("registry.corp.internal/dockerhub/curlimages/")
    assert kinds["Backend"]["spec"]["endpoints"][0]["fqdn"]["hostname"] == "llama.models.svc.corp.internal"
    route = kinds["AIGatewayRoute"]["spec"]
    assert route["parentRefs"] == [{"name": "ai-gw", "namespace": "gateways", "kind": "Gateway",
                                    "group": "gateway.networking.k8s.io"}]
    assert route["rules"][0]["modelsOwnedBy"] == "ceph-amd"


# --- finding and validating the file -----------------------------------------------------------------------------
def test_lookup_order(tmp_path: Path) -> None:
    def write(name: str, storage: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"name: {storage}\nstorageClass: {storage}\n")
        return path

    flag, env_file = write("flag.yaml", "from-flag"), write("env.yaml", "from-env")
    write("config/kubectl-llm/site.yaml", "from-config")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "KUBECTL_LLM_SITE": str(env_file)}
    assert site_adapter.load_site(str(flag), environ).site.storage_class == "from-flag"
    assert site_adapter.load_site(None, environ).site.storage_class == "from-env"
    environ.pop("KUBECTL_LLM_SITE")
    loaded = site_adapter.load_site(None, environ)
    assert loaded.site.storage_class == "from-config" and "user config" in loaded.origin
    # a key the file leaves out is cluster-neutral, not NRP's
    assert (loaded.site.priority_class_name, loaded.site.tolerations, loaded.site.gpus) == ("", (), ())
    assert site_adapter.load_site(None, {"HOME": str(tmp_path / "nobody")}).site.name == "nrp"


@pytest.mark.parametrize(("text", "message"), [
    ("storageclass: x\n", "storageclass: unknown key (allowed here: clusterDomain"),
    ("tolerations:\n  - key: a\n    effct: NoSchedule\n", "tolerations[0].effct: unknown key"),
    ("gpus:\n  - {name: X, memory_mib: 2048, usable_gib: 1, resource: amd.com/gpu, vram: 3}\n",
     "gpus[0].vram: unknown key"),
    ("gpus:\n  - {name: X, memory_mib: 2048, resource: amd.com/gpu}\n", "gpus[0]: 'usable_gib' is a required property"),
    ("priorityClassName: Owner\n", "priorityClassName: 'Owner' does not match"),
    ("largeGpu: {gpuCounts: [four]}\n", "largeGpu.gpuCounts[0]: 'four' is not of type 'integer'"),
    ("driverRule: sometimes\n", "driverRule: 'sometimes' is not one of ['image', 'none']"),
    ("gatewy: {}\nclusterDomain: x\n", "gatewy: unknown key"),
    ("storageClass: [unclosed\n", "is not valid YAML"),
])
def test_bad_site_files_are_refused_with_the_key_path(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(SiteError) as err:
        site_adapter.load_site(str(path))
    assert message in err.value.message
    assert err.value.message.startswith(f"site file {path}")


def test_cli_site_errors_are_one_error_line_and_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("storageClass: ceph\ntolerations:\n  - key: a\n    effct: NoSchedule\n")
    for args in (["plan", "Qwen/Qwen3-8B", "--site", str(path)], ["site", "show", "--site", str(path)],
                 ["add", "Qwen/Qwen3-8B", "--dry-run=client", "--site", str(path)], ["gpus", "--site", str(path)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert lines[0] == f"error: site file {path}: tolerations[0].effct: unknown key (allowed here: effect, key, " \
                           "operator, tolerationSeconds, value)"
        assert lines[1].startswith("hint: fix the site file") and len(lines) == 2
    missing = CliRunner().invoke(cli, ["plan", "Qwen/Qwen3-8B", "--site", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "not found" in missing.stderr and "Traceback" not in missing.output


def test_site_show_text_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    text = CliRunner().invoke(cli, ["site", "show"])
    assert text.exit_code == 0
    assert "storage class   linstor-igrok" in text.stdout and "built-in" in text.stdout
    monkeypatch.setenv("KUBECTL_LLM_SITE", str(OTHER))
    shown = CliRunner().invoke(cli, ["site", "show"])
    assert f"$KUBECTL_LLM_SITE ({OTHER})" in shown.stdout and "priority class  (none)" in shown.stdout
    doc = json.loads(CliRunner().invoke(cli, ["site", "show", "-o", "json"]).stdout)
    assert doc["storageClass"] == "rook-ceph-block" and doc["gpus"][0]["resource"] == "amd.com/gpu"
    jsonschema.Draft7Validator(site_adapter.schema()).validate(doc)
    planned = json.loads(CliRunner().invoke(cli, ["plan", "Qwen/Qwen3-8B", "--gpu", "MI300X", "-o", "json"]).stdout)
    assert planned["gpu"]["resource"] == "amd.com/gpu" and planned["resources"]["storage_class"] == "rook-ceph-block"


def test_add_dry_run_with_the_other_site(helm_bin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)
    result = CliRunner().invoke(cli, ["add", LLAMA70, "--name", "llama", "-n", "models", "--gpu", "MI300X",
                                      "--site", str(OTHER), "--dry-run=client", "-o", "yaml"])
    assert result.exit_code == 0, result.stderr
    objs = [o for o in yaml.safe_load_all(result.stdout) if o]
    validate_objects(objs)
    dep = next(o for o in objs if o["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["amd.com/gpu"] == "1"


def test_gateway_install_names_the_gateway_after_the_site(helm_bin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECTL_LLM_HELM", raising=False)
    for args, name in (([], "envoy-ai-gateway-nrp"), (["--site", str(OTHER)], "ai-gw")):
        result = CliRunner().invoke(cli, ["gateway", "install", "-n", "gateways", "--dry-run=client", "-o", "json",
                                          *args])
        assert result.exit_code == 0, result.stderr
        objs = json.loads(result.stdout)
        validate_objects(objs)
        assert [o["metadata"]["name"] for o in objs if o["kind"] == "Gateway"] == [name]
