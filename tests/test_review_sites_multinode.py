"""Review 7b: kubectl llm tried as the admin of a cluster other than NRP would (tests/fixtures/sites/acme-hpc.yaml:
its own GPU catalog with product labels of its own node labeller, AMD and Gaudi pools, Ceph storage, no priority
class, its own taints, a Harbor mirror, a platform-owned Gateway in another namespace with a named listener, its own
cluster domain), and multi-node (LeaderWorkerSet) plans on it and on NRP. Each test here failed before its fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubectl_llm import catalog
from kubectl_llm.adapters import site as site_adapter
from kubectl_llm.cli import gateway_cmd
from kubectl_llm.cli.main import cli
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from kubectl_llm.planner.site import Site, default_site
from kubectl_llm.planner.values import chart_values
from tests.cli_harness import cli_cluster, kllm, offline_dry_run_env, render_dry_run
from tests.conftest import REPO_ROOT
from tests.manifest_validation import render_chart, validate_objects

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


# --- gateway install for a site whose Gateway lives in another namespace, on a named listener ----------------------
def test_gateway_install_makes_the_gateway_the_sites_routes_attach_to(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `gateway install --site acme-hpc.yaml` installed Gateway inference-gw in the context's namespace with
    the chart's listener `http` and Gateway API's default `allowedRoutes: Same`, while the site's routes name
    gw-system/inference-gw, listener https: no route could ever attach (status kept saying 'not found: install
    it'). Now it installs into the ref's namespace, names the listener after the ref's sectionName and lets routes
    of other namespaces attach; -n elsewhere is refused with the namespace to use."""
    with cli_cluster(tmp_path, monkeypatch, namespace="acme-llm", namespaces=["acme-llm", "gw-system"]) as api:
        done = json.loads(kllm("gateway", "install", "--site", str(ACME), "-o", "json").stdout)
        assert (done["namespace"], done["action"]) == ("gw-system", "installed")
        assert api.get_object("Gateway", "inference-gw", "acme-llm") is None
        gw = api.get_object("Gateway", "inference-gw", "gw-system")
        assert gw["spec"]["listeners"] == [{"name": "https", "protocol": "HTTP", "port": 80,
                                            "allowedRoutes": {"namespaces": {"from": "All"}}}]
        kllm("add", "Qwen/Qwen3-8B", "--site", str(ACME))
        route = api.get_object("AIGatewayRoute", "qwen3-8b", "acme-llm")
        [ref] = route["spec"]["parentRefs"]
        assert (ref["name"], ref["namespace"], ref["sectionName"]) == (gw["metadata"]["name"], "gw-system",
                                                                       gw["spec"]["listeners"][0]["name"])
        assert "gateway   inference-gw in namespace gw-system, " in kllm("status", "qwen3-8b").stdout
        # the same install again is no change; into the models' namespace it is refused before helm runs
        assert json.loads(kllm("gateway", "install", "--site", str(ACME), "-o", "json").stdout)["action"] == \
            "unchanged"
        refused = kllm("gateway", "install", "--site", str(ACME), "-n", "acme-llm", code=2)
        assert refused.stderr.startswith("error: the site acme-hpc's routes attach to Gateway inference-gw in "
                                         "namespace gw-system, not acme-llm")
        assert "hint: kubectl llm gateway install -n gw-system" in refused.stderr
        assert api.get_object("Gateway", "inference-gw", "acme-llm") is None
        # another Gateway name is another Gateway: no refusal
        other = json.loads(kllm("gateway", "install", "--site", str(ACME), "-n", "acme-llm", "--set",
                                "gateway.name=team-gw", "-o", "json").stdout)
        assert other["action"] == "installed"


def test_gateway_dry_run_for_the_other_site_validates_and_nrp_keeps_the_charts_listener(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    offline_dry_run_env(monkeypatch, tmp_path)
    for args, listeners in (
            (["--site", str(ACME)], [{"name": "https", "protocol": "HTTP", "port": 80,
                                      "allowedRoutes": {"namespaces": {"from": "All"}}}]),
            ([], [{"name": "http", "protocol": "HTTP", "port": 80}])):
        res = CliRunner().invoke(cli, ["gateway", "install", "--dry-run=client", "-o", "json", *args])
        assert res.exit_code == 0, res.output
        objs = json.loads(res.stdout)
        validate_objects(objs)
        [gw] = [o for o in objs if o["kind"] == "Gateway"]
        assert gw["spec"]["listeners"] == listeners


# --- the cluster's GPUs under the site's own resource names -------------------------------------------------------
def _node(name: str, labels: dict[str, str], allocatable: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {},
            "status": {"allocatable": {"cpu": "96", **allocatable},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def _pod(name: str, on: str, resource: str, n: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "batch"},
            "spec": {"nodeName": on, "containers": [{"name": "c", "image": "x",
                                                     "resources": {"limits": {resource: str(n)}}}]},
            "status": {"phase": "Running"}}


def test_gpus_cluster_and_gpu_auto_know_the_sites_resource_names(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a node's GPUs were looked for under nvidia.com/* and amd.com/gpu only, so the site's Gaudi pool
    (habana.ai/gaudi) showed 0 allocatable as nvidia.com/gpu, its pods' GPUs were not counted, and --gpu auto
    never considered it. Now every resource of the site's catalog is a GPU resource."""
    label = "node.acme.org/gpu-model"
    with cli_cluster(tmp_path, monkeypatch, namespace="acme-llm", namespaces=["acme-llm", "batch"]) as api:
        api.create_object(_node("gaudi-1", {label: "HL-225"}, {"habana.ai/gaudi": "8"}))
        api.create_object(_node("l40s-1", {label: "NVIDIA-L40S"}, {"nvidia.com/gpu": "4"}))
        api.create_object(_pod("train", "gaudi-1", "habana.ai/gaudi", 3))
        api.create_object(_pod("busy", "l40s-1", "nvidia.com/gpu", 4))
        doc = json.loads(kllm("gpus", "--cluster", "--site", str(ACME), "-o", "json").stdout)
        nodes = {n["name"]: (n["type"], n["resource"], n["allocatable"], n["requested"], n["free"])
                 for n in doc["nodes"]}
        assert nodes == {"gaudi-1": ("Gaudi2", "habana.ai/gaudi", 8, 3, 5),
                         "l40s-1": ("L40S", "nvidia.com/gpu", 4, 4, 0)}
        # Qwen3-8B fits one GPU of either: only the Gaudi node has one free now
        res = kllm("add", "Qwen/Qwen3-8B", "--gpu", "auto", "--site", str(ACME), "-o", "json")
        assert "--gpu auto: 1 x Gaudi2; nodes that could take it now: gaudi-1" in res.stderr
        dep = api.get_object("Deployment", "qwen3-8b", "acme-llm")
        assert dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["habana.ai/gaudi"] == "1"


# --- a CUDA image on a card that is not NVIDIA's ------------------------------------------------------------------
@pytest.mark.parametrize("gpu, engine, image", [("MI250", "sglang", "lmsysorg/sglang:v0.5.9"),
                                                ("Gaudi2", "sglang", "lmsysorg/sglang:v0.5.9")])
def test_a_card_without_an_image_of_the_engine_is_warned_about(acme: Site, gpu: str, engine: str,
                                                               image: str) -> None:
    """Before: `--engine sglang --gpu MI250` (the site names only a vLLM build for its AMD card) rendered the CUDA
    image lmsysorg/sglang:v0.5.9 for amd.com/gpu nodes without a word. Now the plan warns and names the key."""
    doc = plan("Qwen/Qwen3-8B", acme, gpu_type=gpu, engine=engine).to_dict()
    resource = doc["gpu"]["resource"]
    assert doc["serving"]["image"] == f"harbor.acme.org/dockerhub/{image}"
    assert (f"{gpu} requests {resource} but the site names no SGLang image for it (gpus[].images.sglang of the "
            f"site file): the pod runs {image}, a CUDA build that needs NVIDIA GPUs") in " ".join(doc["warnings"])
    # the card's own vLLM build: no warning; an NVIDIA card: none either
    for other in (dict(gpu_type=gpu), dict(gpu_type="L40S", engine="sglang")):
        assert not [w for w in plan("Qwen/Qwen3-8B", acme, **other).to_dict()["warnings"] if "CUDA build" in w]


# --- the registry mirror for the gateway chart's images ------------------------------------------------------------
def test_gateway_install_pulls_its_test_image_through_the_sites_mirror(helm_bin: str) -> None:
    """Before: the site's imageRegistry ("every image goes through it") reached the model charts only; the gateway
    chart's helm test Pod pulled curlimages/curl from Docker Hub, which a mirrored (air-gapped) cluster cannot.
    (A dry run skips the test Pod: the chart is rendered with the values `gateway install` passes.)"""
    for site, image in ((str(ACME), "harbor.acme.org/dockerhub/curlimages/curl:8.10.1"),
                        (None, "curlimages/curl:8.10.1")):
        values = gateway_cmd.site_values(site)
        assert values.get("imageRegistry") == ("harbor.acme.org/dockerhub" if site else None)
        objs = render_chart(REPO_ROOT / "charts" / "llm-gateway", values, release="llm-gateway", helm=helm_bin)
        validate_objects(objs)
        [pod] = [o for o in objs if o["kind"] == "Pod"]
        assert [c["image"] for c in pod["spec"]["containers"]] == [image]


# --- productAffinity: named, where no memory label keeps a smaller card away ---------------------------------------
@pytest.mark.parametrize("gpus, chosen, product", [
    # nvidia.com/gpu shared by L40S and a 16 GB T4, no gpu.memory label on this site
    ([{"name": "L40S", "memory_mib": 46068, "usable_gib": 44.4, "products": ["NVIDIA-L40S"],
       "resource": "nvidia.com/gpu", "compute": "8.9"},
      {"name": "T4", "memory_mib": 15360, "usable_gib": 14.6, "products": ["Tesla-T4"], "resource": "nvidia.com/gpu",
       "compute": "7.5"}], "L40S", "NVIDIA-L40S"),
    # amd.com/gpu shared by MI300X and MI210: AMD nodes carry no NVIDIA memory label at all
    ([{"name": "MI210", "memory_mib": 65536, "usable_gib": 63.9, "products": ["AMD-Instinct-MI210"],
       "resource": "amd.com/gpu", "compute": "0"},
      {"name": "MI300X", "memory_mib": 196608, "usable_gib": 191.5, "products": ["AMD-Instinct-MI300X"],
       "resource": "amd.com/gpu", "compute": "9.0"}], "MI300X", "AMD-Instinct-MI300X")])
def test_an_unnamed_type_on_a_shared_resource_without_a_memory_label_gets_its_product(
        acme: Site, gpus: list[dict], chosen: str, product: str) -> None:
    """Before: under productAffinity "named" (the default) a type the plan chose itself got no product label even
    where no memory label stands in for it: Qwen3-32B planned on L40S (or Llama-3.3-70B on MI300X) requested
    nvidia.com/gpu (amd.com/gpu) with no node affinity at all, so the pod could land on the T4 (MI210) of the same
    resource and run out of memory. Now the product label is required wherever no memory label selects."""
    from kubectl_llm.planner.gpus import gpu_from_entry

    site = Site(**{**acme.__dict__, "product_affinity": "named", "gpus_mode": "replace",
                   "gpus": tuple(gpu_from_entry(g) for g in gpus)})
    model = "Qwen/Qwen3-32B" if chosen == "L40S" else "meta-llama/Llama-3.3-70B-Instruct"
    doc = plan(model, site).to_dict()
    assert doc["gpu"]["type"] == chosen
    assert doc["scheduling"]["node_affinity"] == [
        {"key": "node.acme.org/gpu-model", "operator": "In", "values": [product]}]
    # NRP's own rule is unchanged: an unnamed type on nvidia.com/gpu is kept off smaller cards by gpu.memory Gt
    nrp = plan("Qwen/Qwen3-8B", default_site()).to_dict()["scheduling"]["node_affinity"]
    assert [e["key"] for e in nrp] == ["nvidia.com/gpu.memory", "nvidia.com/cuda.driver.major"]


# --- chatbox and status: the URL of the listener the site's routes attach to ------------------------------------
def test_chatbox_and_status_call_the_gateway_on_its_listeners_scheme_and_port(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the gateway's address was always called as http://ADDRESS (port 80): the platform Gateway of
    another site, whose listener `https` (the one the site's routes name) is HTTPS on 8443, gave Chatbox
    http://10.1.2.3 and status a curl line to the same. Now the listener's scheme and port are used. chatbox also
    takes --site, for a namespace with no route yet (it read only $KUBECTL_LLM_SITE)."""
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "inference-gw", "namespace": "gw-system"},
               "spec": {"gatewayClassName": "platform", "listeners": [
                   {"name": "http", "protocol": "HTTP", "port": 80},
                   {"name": "https", "protocol": "HTTPS", "port": 8443,
                    "tls": {"mode": "Terminate", "certificateRefs": [{"name": "llm-tls"}]},
                    "allowedRoutes": {"namespaces": {"from": "All"}}}]},
               "status": {"addresses": [{"type": "IPAddress", "value": "10.1.2.3"}]}}
    with cli_cluster(tmp_path, monkeypatch, namespace="acme-llm",
                     namespaces=["acme-llm", "gw-system", "team-b"]) as api:
        api.create_object(gateway)
        kllm("add", "Qwen/Qwen3-8B", "--site", str(ACME))
        assert json.loads(kllm("chatbox").stdout)["settings"]["apiHost"] == "https://10.1.2.3:8443"
        status = json.loads(kllm("status", "qwen3-8b", "-o", "json").stdout)
        assert status["gateway"] == {"name": "inference-gw", "namespace": "gw-system", "found": True,
                                     "address": "10.1.2.3"}
        assert status["curl"].startswith("curl -s https://10.1.2.3:8443/v1/chat/completions ")
        # a namespace with no route yet: the site given with --site names the Gateway and its listener
        empty = kllm("chatbox", "-n", "team-b", "--site", str(ACME))
        assert json.loads(empty.stdout)["settings"]["apiHost"] == "https://10.1.2.3:8443"


# --- multi-node on both sites: what LWS, vLLM and SGLang need (checked already right; kept as a guard) -----------
@pytest.mark.parametrize("site_args, namespace, domain, storage_class, large, image_prefix", [
    (["--site", str(ACME), "--gpu", "H100-SXM"], "acme-llm", "acme.local", "ceph-rbd-fast",
     {"key": "acme.org/dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"},
     "harbor.acme.org/dockerhub/"),
    ([], "nrp-llm", "cluster.local", "linstor-igrok",
     {"key": "nautilus.io/hardware", "operator": "Equal", "value": "large-gpu", "effect": "NoSchedule"}, "")])
@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_two_node_group_on_each_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, site_args: list[str],
                                     namespace: str, domain: str, storage_class: str, large: dict,
                                     image_prefix: str, engine: str) -> None:
    offline_dry_run_env(monkeypatch, tmp_path)
    objs = render_dry_run("deepseek-ai/DeepSeek-V3", "--nodes", "2", "--engine", engine, *site_args,
                          namespace=namespace)
    assert "Deployment" not in objs and "PersistentVolumeClaim" not in objs
    lws, svc = objs["LeaderWorkerSet"], objs["Service"]
    tpl = lws["spec"]["leaderWorkerTemplate"]
    assert tpl["size"] == 2 and tpl["restartPolicy"] == "RecreateGroupOnPodRestart"
    assert lws["spec"]["startupPolicy"] == "LeaderCreated"       # LeaderReady would deadlock: ready needs the workers
    # the gateway reaches the leader only, through the Service, in the site's cluster domain
    assert svc["spec"]["selector"]["leaderworkerset.sigs.k8s.io/worker-index"] == "0"
    assert objs["Backend"]["spec"]["endpoints"][0]["fqdn"]["hostname"] == f"deepseek-v3.{namespace}.svc.{domain}"
    [claim] = tpl["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == storage_class
    leader, worker = tpl["leaderTemplate"]["spec"], tpl["workerTemplate"]["spec"]
    for spec in (leader, worker):
        [c] = spec["containers"]
        assert c["image"].startswith(image_prefix) and c["resources"]["limits"]
        assert large in spec["tolerations"]                       # 8 GPUs per pod: the site's large-GPU rule
        assert {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "20Gi"}} in spec["volumes"]
        assert {m["name"] for m in c["volumeMounts"]} == {"shm", "cache"}
        assert spec.get("affinity") == leader.get("affinity")     # the same node selection for every pod
    gpu_key = "nvidia.com/gpu"
    assert leader["containers"][0]["resources"]["limits"][gpu_key] == "8"
    lc, wc = leader["containers"][0], worker["containers"][0]
    assert {"readinessProbe", "startupProbe", "livenessProbe"} <= set(lc) and lc["ports"][0]["name"] == "http"
    assert not {"readinessProbe", "startupProbe", "livenessProbe", "ports"} & set(wc)
    largs, wargs = lc["args"], wc["args"]

    def after(args: list[str], flag: str) -> str:
        return args[args.index(flag) + 1]

    assert after(largs, "--nnodes") == after(wargs, "--nnodes") == "2"
    assert (after(largs, "--node-rank"), after(wargs, "--node-rank")) == ("0", "$(LWS_WORKER_INDEX)")
    if engine == "vllm":
        assert after(largs, "--master-addr") == after(wargs, "--master-addr") == "$(LWS_LEADER_ADDRESS)"
        assert "--headless" in wargs and "--headless" not in largs
    else:
        assert after(largs, "--dist-init-addr") == after(wargs, "--dist-init-addr") == "$(LWS_LEADER_ADDRESS):20000"


# --- the site's storage class changes under a deployed model -------------------------------------------------------
def test_an_upgrade_keeps_the_weights_claims_class_when_the_site_names_another(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: after the admin moved the site profile to another storage class, `upgrade` (`sync`, the same
    `add`) of a model added before re-planned the weights PVC with the new class, which the API server refuses (a
    claim's spec is immutable but for its size: tests/fakes/apiserver.py now says so as the real one does), so
    every upgrade of every older model failed and was rolled back. Now the claim keeps its class, with a warning
    saying how to move it; models added later get the new class."""
    site = tmp_path / "acme.yaml"
    site.write_text(ACME.read_text())
    with cli_cluster(tmp_path, monkeypatch, namespace="acme-llm", namespaces=["acme-llm"]) as api:
        kllm("add", "Qwen/Qwen3-8B", "--site", str(site))
        assert api.get_object("PersistentVolumeClaim", "qwen3-8b", "acme-llm")["spec"]["storageClassName"] == \
            "ceph-rbd-fast"
        site.write_text(ACME.read_text().replace("storageClass: ceph-rbd-fast", "storageClass: ceph-rbd-ssd"))
        # the same add again (a script re-run): no change, the claim keeps its class
        again = kllm("add", "Qwen/Qwen3-8B", "--site", str(site), "-o", "json")
        assert json.loads(again.stdout)["action"] == "unchanged"
        assert "warning: the weights claim keeps storage class ceph-rbd-fast" in again.stderr
        res = kllm("upgrade", "qwen3-8b", "--context-length", "16384", "-o", "json")
        assert json.loads(res.stdout)["action"] == "upgraded"
        assert ("warning: the weights claim keeps storage class ceph-rbd-fast: a claim's class cannot change, and "
                "the site profile now names ceph-rbd-ssd") in res.stderr
        assert api.get_object("PersistentVolumeClaim", "qwen3-8b", "acme-llm")["spec"]["storageClassName"] == \
            "ceph-rbd-fast"
        args = api.get_object("Deployment", "qwen3-8b", "acme-llm")["spec"]["template"]["spec"]["containers"][0]
        assert args["args"][args["args"].index("--max-model-len") + 1] == "16384"
        # sync re-plans a changed record the same way
        folder = tmp_path / "models"
        kllm("export", str(folder))
        record = folder / "qwen3-8b.yaml"
        record.write_text(record.read_text().replace("context-length: 16384", "context-length: 8192"))
        synced = kllm("sync", str(folder), code=8)
        assert "keeps storage class ceph-rbd-fast" in synced.stderr
        assert api.get_object("PersistentVolumeClaim", "qwen3-8b", "acme-llm")["spec"]["storageClassName"] == \
            "ceph-rbd-fast"
        # a model added now gets the site's new class
        kllm("add", "Qwen/Qwen3-8B", "--name", "qwen3-b", "--site", str(site))
        assert api.get_object("PersistentVolumeClaim", "qwen3-b", "acme-llm")["spec"]["storageClassName"] == \
            "ceph-rbd-ssd"


# --- vLLM's batch default follows the card, whatever the site calls it ---------------------------------------------
def test_an_a100_pool_named_otherwise_gets_vllms_a100_batch_default(acme: Site) -> None:
    """vLLM's default max-num-batched-tokens is 8192 on a >= 70 GiB card whose CUDA device name does not say A100,
    2048 on an A100 (EngineArgs.get_batch_defaults). Before: the plan looked for "a100" in the site's type name only,
    so a site's A100 pool named "ampere-80" (product label NVIDIA-A100-SXM4-80GB, the device name) was profiled at
    8192 tokens, and its reason said so. Now the product labels count too."""
    from kubectl_llm.planner.gpus import gpu_from_entry

    pool = gpu_from_entry({"name": "ampere-80", "memory_mib": 81920, "usable_gib": 79.25, "compute": "8.0",
                           "products": ["NVIDIA-A100-SXM4-80GB"], "resource": "nvidia.com/gpu", "nvlink": True})
    site = Site(**{**acme.__dict__, "gpus": (pool, *acme.gpus)})
    reasons = " ".join(plan("Qwen/Qwen3-8B", site, gpu_type="ampere-80").to_dict()["reasons"])
    assert "profile run of 2048 tokens (vLLM's max-num-batched-tokens on ampere-80)" in reasons
    h100 = " ".join(plan("Qwen/Qwen3-8B", site, gpu_type="H100-SXM").to_dict()["reasons"])
    assert "profile run of 8192 tokens (vLLM's max-num-batched-tokens on H100-SXM)" in h100


def test_add_after_rm_keep_cache_keeps_the_kept_claims_class_when_the_site_names_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `rm --keep-cache` kept the weights PVC (class ceph-rbd-fast); after the admin moved the site profile to
    ceph-rbd-ssd, the next `add` of the model planned the claim with the new class and Helm's adoption of the kept
    claim was a change of its class, which the API server refuses: the add failed and was rolled back, the kept
    weights useless. Now the add adopts the kept claim with its own class and says so."""
    site = tmp_path / "acme.yaml"
    site.write_text(ACME.read_text())
    with cli_cluster(tmp_path, monkeypatch, namespace="acme-llm", namespaces=["acme-llm"]) as api:
        kllm("add", "Qwen/Qwen3-8B", "--site", str(site))
        kllm("rm", "qwen3-8b", "--keep-cache")
        assert api.get_object("PersistentVolumeClaim", "qwen3-8b", "acme-llm")["spec"]["storageClassName"] == \
            "ceph-rbd-fast"
        site.write_text(ACME.read_text().replace("storageClass: ceph-rbd-fast", "storageClass: ceph-rbd-ssd"))
        res = kllm("add", "Qwen/Qwen3-8B", "--site", str(site), "-o", "json")
        assert json.loads(res.stdout)["action"] == "installed"
        assert "warning: the weights claim keeps storage class ceph-rbd-fast" in res.stderr
        assert api.get_object("PersistentVolumeClaim", "qwen3-8b", "acme-llm")["spec"]["storageClassName"] == \
            "ceph-rbd-fast"
        assert api.get_object("Deployment", "qwen3-8b", "acme-llm") is not None
        # the class is the release's now: an upgrade keeps it without a new refusal
        up = kllm("upgrade", "qwen3-8b", "--context-length", "16384", "-o", "json")
        assert json.loads(up.stdout)["action"] == "upgraded"
