"""Review 9: kubectl llm tried as the admin of a cluster other than NRP (a site profile with H200 141 GB and RTX 6000
Ada 48 GB pools under resources of its own, Ceph storage, no priority class, its own taints and node labeller, a
platform Gateway in another namespace), and multi-node plans on it. Each test here failed before its fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kubectl_llm import catalog
from kubectl_llm.adapters import site as site_adapter
from kubectl_llm.adapters.cluster import GatewayView
from kubectl_llm.cli.main import cli
from kubectl_llm.errors import SiteError
from kubectl_llm.planner.plan import make_plan
from kubectl_llm.planner.request import PlanRequest
from tests.cli_harness import cli_cluster, kllm

SITE = """\
name: acme
storageClass: ceph-rbd-fast
priorityClassName: ""
tolerations: [{key: acme.dev/gpu-pool, operator: Equal, value: inference, effect: NoSchedule}]
nodeLabels: {gpuProduct: acme.dev/gpu-model, gpuMemory: acme.dev/gpu-mem, cudaDriverMajor: ""}
driverRule: none
gpusMode: replace
gpus:
  - {name: H200-141, memory_mib: 143771, usable_gib: 139.8, products: [NVIDIA-H200], resource: nvidia.com/gpu,
     compute: "9.0", nvlink: true, per_node: 8}
  - {name: RTX6000-Ada, memory_mib: 49140, usable_gib: 47.4, products: [NVIDIA-RTX-6000-Ada-Generation],
     resource: nvidia.com/rtx6000ada, compute: "8.9", nvlink: false, per_node: 8}
gateway: {parentRefs: [{name: ai-edge, namespace: edge-gw, sectionName: http}], modelsOwnedBy: ACME}
clusterDomain: acme.internal
"""


@pytest.fixture(autouse=True)
def no_user_site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECTL_LLM_SITE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def write_site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(text)
    return path


# --- the site's GPU catalog ------------------------------------------------------------------------------------------
def test_a_site_gpu_with_more_usable_memory_than_the_card_is_refused(tmp_path: Path) -> None:
    """Before: usable_gib 470 for the 48 GB RTX 6000 Ada (a slipped decimal point of 47.0) was taken: DeepSeek-V3
    (641.3 GiB of weights) planned 'fits: yes' on 2 x 470 GiB, a deployment that cannot load. Now the entry is
    refused: memory_mib 49140 / 1024 = 47.99 GiB is all the card has, and usable_gib (what CUDA reports) is below."""
    path = write_site(tmp_path, SITE.replace("usable_gib: 47.4", "usable_gib: 470"))
    with pytest.raises(SiteError) as err:
        site_adapter.load_site(str(path))
    assert err.value.message == (f"site file {path}: gpus[1].usable_gib: 470 GiB is more than the card has "
                                 "(memory_mib 49140 = 47.99 GiB)")
    res = CliRunner().invoke(cli, ["plan", "deepseek-ai/DeepSeek-V3", "--site", str(path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: site file") and lines[1].startswith("hint: usable_gib is")
    # the real value (47.4 <= 47.99) and the card's whole memory (49152 MiB = 48.0 GiB, usable 48) still load
    assert site_adapter.load_site(str(write_site(tmp_path, SITE))).site.find_gpu("RTX6000-Ada").memory_bytes == \
        int(47.4 * 2**30)
    site_adapter.load_site(str(write_site(tmp_path, SITE.replace("memory_mib: 49140, usable_gib: 47.4",
                                                                 "memory_mib: 49152, usable_gib: 48"))))


def test_a_site_gpu_listed_twice_is_refused(tmp_path: Path) -> None:
    """Before: a second entry of the same name (here in another case, as --gpu matches names) silently replaced the
    first: `kubectl llm gpus` listed one rtx6000-ada and `plan --gpu RTX6000-Ada` planned on whichever came last."""
    path = write_site(tmp_path, SITE.replace("gateway:", "  - {name: rtx6000_ada, memory_mib: 24564, usable_gib: "
                                                         "23.6, resource: nvidia.com/rtx6000ada, per_node: 4}\n"
                                                         "gateway:"))
    with pytest.raises(SiteError) as err:
        site_adapter.load_site(str(path))
    assert err.value.message.startswith(f"site file {path}: gpus[2].name: 'rtx6000_ada' names the same type as "
                                        "gpus[1] ('RTX6000-Ada';")
    res = CliRunner().invoke(cli, ["gpus", "--site", str(path)])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 2


def test_a_site_type_named_like_a_built_in_in_another_case_replaces_it(tmp_path: Path) -> None:
    """Before: in gpusMode add, a site's `h200` (its H200 pool under a resource of its own, 120 GiB usable under
    MIG-free limits) was added beside the built-in H200 instead of replacing it (names compared exactly), and
    --gpu h200 found the built-in first: the plan requested nvidia.com/gpu with 139.8 GiB per card, and the site's
    entry could not be planned on at all. Now names compare as --gpu compares them: the site's entry replaces."""
    path = write_site(tmp_path, "gpus: [{name: h200, memory_mib: 143771, usable_gib: 120, resource: "
                                "nvidia.com/h200}]\n")
    site = site_adapter.load_site(str(path)).site
    assert [g.name for g in site.gpu_catalog if g.name.lower() == "h200"] == ["h200"]
    gpu = make_plan(catalog.load("Qwen/Qwen3-8B"), PlanRequest(gpu_type="h200"), site).to_dict()["gpu"]
    assert (gpu["type"], gpu["resource"], gpu["memory_bytes"]) == ("h200", "nvidia.com/h200", 120 * 2**30)
    listed = CliRunner().invoke(cli, ["gpus", "--site", str(path), "-o", "json"])
    assert [g["resource"] for g in json.loads(listed.stdout) if g["name"].lower() == "h200"] == ["nvidia.com/h200"]


# --- the gateway's address on an IPv6 cluster ----------------------------------------------------------------------
def test_an_ipv6_gateway_address_is_bracketed_in_status_and_chatbox(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a Gateway whose address is IPv6 (an IPv6-only or dual-stack cluster) was called
    http://fd00:10::20:8080, which every client reads as host fd00:10: and a port: Chatbox's apiHost and status's
    curl line were unusable. Now the address is bracketed (RFC 3986): http://[fd00:10::20]:8080."""
    assert GatewayView("gw", "ns", True, "fd00:10::20", protocol="HTTP", port=8080).url == "http://[fd00:10::20]:8080"
    assert GatewayView("gw", "ns", True, "fd00:10::20", protocol="HTTPS", port=443).url == "https://[fd00:10::20]"
    assert GatewayView("gw", "ns", True, "10.1.2.3", protocol="HTTP", port=8080).url == "http://10.1.2.3:8080"
    site = write_site(tmp_path, SITE)
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "ai-edge", "namespace": "edge-gw"},
               "spec": {"gatewayClassName": "platform", "listeners": [
                   {"name": "http", "protocol": "HTTP", "port": 8080,
                    "allowedRoutes": {"namespaces": {"from": "All"}}}]},
               "status": {"addresses": [{"type": "IPAddress", "value": "fd00:10::20"}]}}
    with cli_cluster(tmp_path, monkeypatch, namespace="team-a", namespaces=["team-a", "edge-gw"],
                     storage_classes=("ceph-rbd-fast",), priority_classes=()) as api:
        api.create_object(gateway)
        kllm("add", "Qwen/Qwen3-8B", "--site", str(site))
        assert json.loads(kllm("chatbox").stdout)["settings"]["apiHost"] == "http://[fd00:10::20]:8080"
        status = json.loads(kllm("status", "qwen3-8b", "-o", "json").stdout)
        assert status["curl"].startswith("curl -s http://[fd00:10::20]:8080/v1/chat/completions ")


# --- status's `user` line ------------------------------------------------------------------------------------------
def test_status_shows_the_user_layer_as_it_was_typed() -> None:
    """Before: status's `user` line printed the stored values with Python's repr (`storage.keep=False`,
    `tolerations=[{'key': ...}]`, neither of which --set or --set-json takes) and an engine argument as
    `--engine-arg --enforce-eager` (two tokens: read back, --enforce-eager is no value of --engine-arg). Now as typed:
    `storage.keep=false`, JSON for lists and maps, `--engine-arg=--enforce-eager`."""
    from kubectl_llm.cli.userlayer import UserLayer, describe

    layer = UserLayer(model="Qwen/Qwen3-8B", flags={"gpu": "H200-141", "engine_args": ["--enforce-eager"]},
                      values={"storage": {"keep": False, "storageClass": "ceph-rbd-fast"},
                              "tolerations": [{"key": "acme.dev/x", "operator": "Exists"}], "podLabels": None})
    assert describe(layer) == ('--engine-arg=--enforce-eager --gpu H200-141; storage.keep=false, '
                               'storage.storageClass=ceph-rbd-fast, '
                               'tolerations=[{"key":"acme.dev/x","operator":"Exists"}], podLabels=null')


# --- chatbox --site ----------------------------------------------------------------------------------------------
def test_chatbox_refuses_a_malformed_site_file_even_when_the_routes_name_the_gateway(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `chatbox --site FILE` read the file only for a namespace with no route yet, so a malformed (here: a
    misspelt key) or missing file passed with exit 0 wherever a model was installed, and the same command failed
    in the next, empty namespace. Now a file given is checked like every other command's: one error line and a
    hint, exit 2. Also: its --api-host hint named NRP's endpoint on every site; now a neutral example."""
    site = write_site(tmp_path, SITE)
    bad = tmp_path / "bad.yaml"
    bad.write_text(SITE.replace("clusterDomain:", "clusterDomian:"))
    with cli_cluster(tmp_path, monkeypatch, namespace="team-a", namespaces=["team-a", "edge-gw"],
                     storage_classes=("ceph-rbd-fast",), priority_classes=()):
        kllm("add", "Qwen/Qwen3-8B", "--site", str(site))
        for path in (bad, tmp_path / "missing.yaml"):
            res = kllm("chatbox", "--api-host", "https://llm.acme.dev", "--site", str(path), code=2)
            lines = res.stderr.strip().splitlines()
            assert len(lines) == 2 and lines[0].startswith(f"error: site file {path}") and not res.stdout
        assert "clusterDomian: unknown key" in kllm("chatbox", "--site", str(bad), code=2).stderr
        ok = kllm("chatbox", "--api-host", "https://llm.acme.dev", "--site", str(site))
        assert json.loads(ok.stdout)["settings"]["apiHost"] == "https://llm.acme.dev"
        hint = kllm("chatbox", "--api-host", "llm.acme.dev", code=2).stderr
        assert "nrp" not in hint.lower() and "hint: the URL users reach the gateway at" in hint


# --- the site's tolerations ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("toleration, message", [
    ("{key: acme.dev/gpu-pool, operator: Exists, value: inference, effect: NoSchedule}",
     "tolerations[0]: value 'inference' with operator: Exists (a value needs operator: Equal)"),
    ("{key: acme.dev/gpu-pool, operator: Equal, value: inference, effect: NoSchedule, tolerationSeconds: 300}",
     "tolerations[0]: tolerationSeconds with effect: NoSchedule (only NoExecute has it)"),
    ("{operator: Equal, value: inference, effect: NoSchedule}",
     "tolerations[0]: an empty key needs operator: Exists (it then tolerates every taint)"),
    ("{key: acme.dev/gpu-pool, value: 'inference pool', effect: NoSchedule}",
     "tolerations[0].value: 'inference pool' does not match"),
])
def test_a_toleration_the_api_server_refuses_is_refused_in_the_site_file(tmp_path: Path, toleration: str,
                                                                         message: str) -> None:
    """Before: these tolerations (each breaks a rule of core/v1 validation: a value with Exists, tolerationSeconds
    without NoExecute, an empty key with Equal, a value that is no label value) passed the site file and
    `add --dry-run=client`; on a cluster the API server refused every model Pod (the Deployment's 422 after helm ran,
    or a LeaderWorkerSet whose pods never appear). Now the site file is refused, one error line naming the entry."""
    text = SITE.replace("tolerations: [{key: acme.dev/gpu-pool, operator: Equal, value: inference, effect: "
                        "NoSchedule}]", f"tolerations: [{toleration}]")
    assert text != SITE
    path = write_site(tmp_path, text)
    res = CliRunner().invoke(cli, ["plan", "Qwen/Qwen3-8B", "--site", str(path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"error: site file {path}: {message}"), lines
    # the same entry under largeGpu is checked too
    large = write_site(tmp_path, SITE + f"largeGpu: {{gpuCounts: [8], tolerations: [{toleration}]}}\n")
    with pytest.raises(SiteError) as err:
        site_adapter.load_site(str(large))
    assert f"largeGpu.{message}" in err.value.message


def test_tolerations_the_api_server_takes_still_load(tmp_path: Path) -> None:
    """The rules' other side: an empty key with Exists (every taint), tolerationSeconds with NoExecute, an empty
    value with Equal are valid core/v1 tolerations and load."""
    path = write_site(tmp_path, SITE.replace(
        "tolerations: [{key: acme.dev/gpu-pool, operator: Equal, value: inference, effect: NoSchedule}]",
        "tolerations: [{operator: Exists}, {key: acme.dev/drain, operator: Exists, effect: NoExecute, "
        "tolerationSeconds: 30}, {key: acme.dev/gpu, value: '', effect: NoSchedule}]"))
    assert len(site_adapter.load_site(str(path)).site.tolerations) == 3


# --- a Gateway listener with a hostname --------------------------------------------------------------------------
def test_a_listener_with_a_hostname_is_called_by_that_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the platform Gateway's HTTPS listener the site's routes name serves `hostname: llm.acme.dev` (its
    certificate's name); chatbox gave https://10.1.2.3 and status a curl line to it: a TLS name mismatch, and
    without that Host header Envoy routes nothing (Gateway API: a listener with a hostname takes only requests for
    it). Now the listener's hostname is the URL's host; a wildcard listener (*.acme.dev) keeps the address."""
    assert GatewayView("gw", "ns", True, "10.1.2.3", protocol="HTTPS", port=443,
                       hostname="llm.acme.dev").url == "https://llm.acme.dev"
    assert GatewayView("gw", "ns", True, "10.1.2.3", protocol="HTTP", port=8080,
                       hostname="*.acme.dev").url == "http://10.1.2.3:8080"
    site = write_site(tmp_path, SITE.replace("sectionName: http}", "sectionName: https}"))
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "ai-edge", "namespace": "edge-gw"},
               "spec": {"gatewayClassName": "platform", "listeners": [
                   {"name": "wild", "protocol": "HTTP", "port": 80, "hostname": "*.acme.dev"},
                   {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": "llm.acme.dev",
                    "tls": {"mode": "Terminate", "certificateRefs": [{"name": "llm-tls"}]},
                    "allowedRoutes": {"namespaces": {"from": "All"}}}]},
               "status": {"addresses": [{"type": "IPAddress", "value": "10.1.2.3"}]}}
    with cli_cluster(tmp_path, monkeypatch, namespace="team-a", namespaces=["team-a", "edge-gw"],
                     storage_classes=("ceph-rbd-fast",), priority_classes=()) as api:
        api.create_object(gateway)
        kllm("add", "Qwen/Qwen3-8B", "--site", str(site))
        assert json.loads(kllm("chatbox").stdout)["settings"]["apiHost"] == "https://llm.acme.dev"
        status = json.loads(kllm("status", "qwen3-8b", "-o", "json").stdout)
        assert status["gateway"]["address"] == "10.1.2.3"
        assert status["curl"].startswith("curl -s https://llm.acme.dev/v1/chat/completions ")


def test_a_product_label_of_two_gpu_types_is_refused(tmp_path: Path) -> None:
    """Before: in gpusMode add, a site's H200-141 (its H200 nodes under nvidia.com/h200, product label NVIDIA-H200)
    sat beside the built-in H200 (nvidia.com/gpu, the same product label): `--gpu NVIDIA-H200`, the name the admin
    reads off the node label, planned on the built-in H200 and requested nvidia.com/gpu, which those nodes do not
    advertise (the pod pends for ever), while `--gpu auto` mapped the same nodes to H200-141. Now a product label
    belongs to one type: the entry is refused with the way out (name it H200 to replace the built-in type)."""
    path = write_site(tmp_path, "gpus:\n  - {name: H200-141, memory_mib: 143771, usable_gib: 139.8, products: "
                                "[NVIDIA-H200], resource: nvidia.com/h200, compute: '9.0', nvlink: true}\n")
    res = CliRunner().invoke(cli, ["plan", "deepseek-ai/DeepSeek-V3", "--gpu", "NVIDIA-H200", "--site", str(path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert lines == [f"error: site file {path}: gpus[0].products: 'NVIDIA-H200' is also a product of the built-in "
                     "type H200 (gpusMode add keeps it; an entry named H200 replaces it)",
                     "hint: give each product label to one GPU type (the node label names the card, --gpu takes it "
                     "too)"]
    # named H200 it replaces the built-in type: NVIDIA-H200 is then the site's, with its resource
    path.write_text(path.read_text().replace("name: H200-141", "name: H200"))
    gpu = json.loads(CliRunner().invoke(cli, ["plan", "Qwen/Qwen3-8B", "--gpu", "NVIDIA-H200", "--site", str(path),
                                              "-o", "json"]).stdout)["gpu"]
    assert (gpu["type"], gpu["resource"]) == ("H200", "nvidia.com/h200")
    # two of the site's own types with one label (replace mode too)
    both = SITE.replace("products: [NVIDIA-RTX-6000-Ada-Generation]", "products: [NVIDIA-H200]")
    with pytest.raises(SiteError) as err:
        site_adapter.load_site(str(write_site(tmp_path, both)))
    assert "gpus[1].products: 'NVIDIA-H200' is also a product of gpus[0] (H200-141)" in err.value.message


# --- gateway upgrade where there is no gateway ---------------------------------------------------------------------
def test_gateway_upgrade_where_no_gateway_is_installed_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `kubectl llm gateway upgrade` in a namespace without a gateway release installed one (helm upgrade
    --install): run from a shell without the site profile, in the context's namespace team-a, it made NRP's
    Gateway envoy-ai-gateway-nrp there, with its Envoy proxy, its load balancer and a cluster-wide GatewayClass,
    while the site's models attach to ai-edge in edge-gw. Now it is refused (exit 6, nothing installed), naming
    gateway install; the installed gateway still upgrades."""
    site = write_site(tmp_path, SITE)
    with cli_cluster(tmp_path, monkeypatch, namespace="team-a", namespaces=["team-a", "edge-gw"],
                     storage_classes=("ceph-rbd-fast",), priority_classes=()) as api:
        kllm("gateway", "install", "--site", str(site))               # in edge-gw, the site's namespace
        for args in ([], ["--reset-values"], ["--dry-run=client", "-o", "yaml"]):
            res = kllm("gateway", "upgrade", *args, code=6)
            assert res.stderr.strip().splitlines() == [
                "error: no gateway release 'llm-gateway' in namespace 'team-a': upgrade changes an installed gateway",
                "hint: -n the namespace it is installed in ('helm list -A' shows it), or install one with "
                "'kubectl llm gateway install -n team-a'"]
        assert api.objects(kind="Gateway") == [("Gateway", "ai-edge")]       # the site's, nothing in team-a
        assert api.objects(namespace="team-a") == []
        up = json.loads(kllm("gateway", "upgrade", "-n", "edge-gw", "--set", "envoyProxy.replicas=3",
                             "-o", "json").stdout)
        assert (up["action"], up["revision"]) == ("upgraded", 2)


# --- a key that takes a name or a number -----------------------------------------------------------------------------
def test_a_driver_rule_error_names_both_forms_it_takes(tmp_path: Path) -> None:
    """Before: `driverRule: -5` was refused as "-5 is not one of ['image', 'none']" (the first alternative of the
    schema's oneOf only), which reads as if a number were not allowed at all; the admin who meant a driver major
    had no way to learn that N >= 0 is. Now every alternative's reason is named."""
    path = write_site(tmp_path, "driverRule: -5\n")
    with pytest.raises(SiteError) as err:
        site_adapter.load_site(str(path))
    assert err.value.message == (f"site file {path}: driverRule: -5 is not one of ['image', 'none']; or -5 is less "
                                 "than the minimum of 0")
    assert site_adapter.load_site(str(write_site(tmp_path, "driverRule: 550\n"))).site.driver_rule == 550


# --- an external backend inside a cluster with its own domain ------------------------------------------------------
def test_an_external_backend_in_the_sites_cluster_domain_is_not_a_public_host(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: on a site whose clusterDomain is corp.example, `add --external http://vllm.models.svc.corp.example:8000/v1`
    (a vLLM Service of another namespace, the in-cluster name the README says is fine over plain http) was refused as
    'plain http to the public host' (only *.svc.cluster.local counted as in-cluster), and with --insecure it was
    warned about as public and without an API key. Now <svc>.<ns>.svc.<the site's clusterDomain> is in-cluster;
    another name of that domain (llm.corp.example) is still public."""
    from kubectl_llm import fleet

    assert fleet.parse_endpoint("http://vllm.models.svc.corp.example:8000/v1", cluster_domain="corp.example").public \
        is False
    assert fleet.parse_endpoint("http://vllm.models.svc.cluster.local:8000/v1").public is False
    with pytest.raises(Exception, match="plain http to the public host llm.corp.example"):
        fleet.parse_endpoint("http://llm.corp.example:8000/v1", cluster_domain="corp.example")
    site = write_site(tmp_path, "clusterDomain: corp.example\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    res = CliRunner().invoke(cli, ["add", "--external", "http://vllm.models.svc.corp.example:8000/v1", "--served-name",
                                   "Qwen/Qwen3-8B", "--name", "qwen3-team", "-n", "team-a", "--site", str(site),
                                   "--dry-run=client", "-o", "yaml"])
    assert res.exit_code == 0, res.output
    assert "hostname: vllm.models.svc.corp.example" in res.stdout and "warning" not in res.stderr


# --- the site renames a GPU type a release was added with ---------------------------------------------------------
def test_an_upgrade_whose_stored_gpu_the_site_no_longer_names_says_how_to_move_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: after the admin renamed RTX6000-Ada in the site profile, `upgrade qwen3-8b --context-length 8192` of
    a release added with --gpu RTX6000-Ada failed with the add-time hint 'kubectl llm gpus lists them; a site file's
    gpus: adds others', which does not say that the type came from the release nor how to leave it. Now the hint
    names the stored flag and both ways out (--gpu TYPE, --forget gpu); --forget gpu then upgrades."""
    site = write_site(tmp_path, SITE)
    with cli_cluster(tmp_path, monkeypatch, namespace="team-a", namespaces=["team-a", "edge-gw"],
                     storage_classes=("ceph-rbd-fast",), priority_classes=()):
        kllm("add", "Qwen/Qwen3-8B", "--gpu", "RTX6000-Ada", "--site", str(site))
        site.write_text(SITE.replace("name: RTX6000-Ada", "name: RTX6000ADA48"))
        res = kllm("upgrade", "qwen3-8b", "--context-length", "8192", code=4)
        assert res.stderr.strip().splitlines() == [
            "error: unknown GPU type 'RTX6000-Ada' on site acme (known: H200-141, RTX6000ADA48)",
            "hint: release qwen3-8b was added with --gpu RTX6000-Ada, which the site no longer names: kubectl llm "
            "upgrade qwen3-8b -n team-a --gpu TYPE (one of the known), or --forget gpu to let the plan choose"]
        # a type named in this call keeps the planner's own hint
        assert "hint: kubectl llm gpus lists them" in kllm("upgrade", "qwen3-8b", "--gpu", "L40", code=4).stderr
        up = json.loads(kllm("upgrade", "qwen3-8b", "--forget", "gpu", "--context-length", "8192", "-o",
                             "json").stdout)
        assert up["action"] == "upgraded"
        row = json.loads(kllm("list", "-o", "json").stdout)[0]
        assert (row["gpu"]["type"], row["context"]) == ("RTX6000ADA48", 8192)


# --- a model release named with a leading digit ------------------------------------------------------------------
def test_a_model_release_name_starting_with_a_digit_is_refused_before_helm(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `add MODEL --name 405b` passed the name check (a DNS-1123 label may start with a digit) and rendered,
    but the release names its Service (and, across nodes, its LeaderWorkerSet), which the API server and LWS's
    webhook take only as a DNS-1035 label, starting with a letter: the install failed after helm ran (a 422),
    with helm's text. Now it is refused first (exit 2) with a name that works; an alias, which has no Service, may
    still start with a digit."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    for args in (["Qwen/Qwen3-8B", "--name", "405b"], ["deepseek-ai/DeepSeek-V3", "--gpu", "A100-80GB", "--name",
                                                       "671b-v3"]):
        res = CliRunner().invoke(cli, ["add", *args, "-n", "team-a", "--dry-run=client", "-o", "yaml"])
        assert res.exit_code == 2 and not res.stdout, res.output
        name = args[-1]
        assert res.stderr.strip().splitlines() == [
            f"error: name '{name}' starts with a digit: a model's release names its Service, which must start with "
            "a letter (a DNS-1035 label; the API server refuses it)", f"hint: try --name llm-{name}"]
    ok = CliRunner().invoke(cli, ["add", "Qwen/Qwen3-8B", "--name", "llm-405b", "-n", "team-a", "--dry-run=client",
                                  "-o", "yaml"])
    assert ok.exit_code == 0 and "name: llm-405b" in ok.stdout
    alias = CliRunner().invoke(cli, ["alias", "405b", "--to", "llm-405b", "--allow-missing", "-n", "team-a",
                                     "--dry-run=client", "-o", "yaml"])
    assert alias.exit_code == 0, alias.output
