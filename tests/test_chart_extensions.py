"""Charts with room for a site (issue 9, item 8): the usual extension values of both charts render where they
belong and validate strictly with Helm 4 and Helm 3, and the gateway chart's `helm test` does what it says.

The gateway test Pod's shell script is run for real here (sh, sed, tr, seq of this machine) with a stand-in `curl`
on PATH that answers like the API server and the gateway would: no cluster is needed to see that it finds the
Gateway's address in its status, calls /v1/models there and exits 0 only on 200/401/403.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import HELM_BINARIES, REPO_ROOT
from tests.manifest_validation import HelmTemplateError, render_chart, validate_objects

MODEL_CHART = REPO_ROOT / "charts" / "llm-model"
GATEWAY_CHART = REPO_ROOT / "charts" / "llm-gateway"

MODEL_EXTRAS = {
    "imagePullSecrets": [{"name": "regcred"}],
    "nodeSelector": {"node-pool": "gpu"},
    "podAnnotations": {"prometheus.io/scrape": "true"},
    "podLabels": {"team": "ml", "app.kubernetes.io/name": "hijack"},
    "podSecurityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True, "fsGroup": 1000,
                           "seccompProfile": {"type": "RuntimeDefault"}},
    # Helm merges maps: keys not given keep the chart's default (null removes one)
    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": False,
                        "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True},
    "serviceAccountName": "llm-runner",
    "runtimeClassName": "nvidia",
    "clusterDomain": "corp.internal",
    "imageRegistry": "mirror.example.org:5000/hub",
}


def by_kind(objs: list[dict], kind: str) -> dict:
    found = [o for o in objs if o["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.mark.parametrize("helm", HELM_BINARIES)
def test_model_chart_extension_values(helm: str, helm_bins: dict[str, str]) -> None:
    objs = render_chart(MODEL_CHART, MODEL_EXTRAS, release="qwen", namespace="models", helm=helm_bins[helm])
    validate_objects(objs)
    template = by_kind(objs, "Deployment")["spec"]["template"]
    pod = template["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"node-pool": "gpu"}
    assert pod["serviceAccountName"] == "llm-runner" and pod["runtimeClassName"] == "nvidia"
    assert pod["securityContext"] == MODEL_EXTRAS["podSecurityContext"]
    assert pod["containers"][0]["securityContext"] == MODEL_EXTRAS["securityContext"]
    assert pod["containers"][0]["image"] == "mirror.example.org:5000/hub/vllm/vllm-openai:v0.17.0"
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    labels = template["metadata"]["labels"]
    assert labels["team"] == "ml"
    assert labels["app.kubernetes.io/name"] == "llm-model"     # the selector's labels cannot be overridden
    assert by_kind(objs, "Backend")["spec"]["endpoints"][0]["fqdn"]["hostname"] == "qwen.models.svc.corp.internal"
    test_pod = by_kind(objs, "Pod")["spec"]
    assert test_pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert test_pod["containers"][0]["image"] == "mirror.example.org:5000/hub/curlimages/curl:8.10.1"


@pytest.mark.parametrize(("image", "mirrored"), [
    ("vllm/vllm-openai:v0.17.0", "m.example.org/hub/vllm/vllm-openai:v0.17.0"),
    ("ghcr.io/org/img:1", "m.example.org/hub/org/img:1"),                 # a named registry is replaced
    ("localhost:5000/img:1", "m.example.org/hub/img:1"),
    ("ubuntu", "m.example.org/hub/ubuntu"),
])
def test_image_mirror_rule_matches_the_planner(helm_bin: str, image: str, mirrored: str) -> None:
    from kubectl_llm.planner.site import Site

    assert Site(image_registry="m.example.org/hub/").image(image) == mirrored
    objs = render_chart(MODEL_CHART, {"imageRegistry": "m.example.org/hub/", "engine": {"image": image}},
                        helm=helm_bin)
    assert by_kind(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == mirrored


@pytest.mark.parametrize(("values", "fragment"), [
    ({"nodeSelector": {"pool": 3}}, "nodeSelector"),
    ({"imagePullSecrets": ["regcred"]}, "imagePullSecrets"),
    ({"podSecurityContext": {"runAsUser": -1}}, "runAsUser"),
    ({"securityContext": {"privileged": "yes"}}, "privileged"),
    ({"runtimeClassName": "Nvidia"}, "runtimeClassName"),
    ({"clusterDomain": ""}, "clusterDomain"),
    ({"podLabels": {"team": "not a label value"}}, "podLabels"),
])
def test_model_chart_schema_refuses_bad_extension_values(helm_bin: str, values: dict, fragment: str) -> None:
    with pytest.raises(HelmTemplateError) as err:
        render_chart(MODEL_CHART, values, helm=helm_bin)
    assert fragment in err.value.stderr


@pytest.mark.parametrize("helm", HELM_BINARIES)
def test_gateway_chart_envoy_pod_settings(helm: str, helm_bins: dict[str, str]) -> None:
    envoy = {"podAnnotations": {"a": "b"}, "podLabels": {"tier": "edge"}, "nodeSelector": {"role": "ingress"},
             "tolerations": [{"key": "edge", "operator": "Exists", "effect": "NoSchedule"}],
             "imagePullSecrets": [{"name": "regcred"}], "podSecurityContext": {"runAsNonRoot": True},
             "securityContext": {"allowPrivilegeEscalation": False}}
    objs = render_chart(GATEWAY_CHART, {"envoyProxy": envoy}, helm=helm_bins[helm])
    validate_objects(objs)    # the EnvoyProxy CRD, strict
    deployment = by_kind(objs, "EnvoyProxy")["spec"]["provider"]["kubernetes"]["envoyDeployment"]
    assert deployment["pod"] == {"annotations": {"a": "b"}, "labels": {"tier": "edge"},
                                 "nodeSelector": {"role": "ingress"}, "tolerations": envoy["tolerations"],
                                 "imagePullSecrets": [{"name": "regcred"}], "securityContext": {"runAsNonRoot": True}}
    assert deployment["container"]["securityContext"] == {"allowPrivilegeEscalation": False}
    plain = render_chart(GATEWAY_CHART, {}, helm=helm_bins[helm])
    assert "pod" not in by_kind(plain, "EnvoyProxy")["spec"]["provider"]["kubernetes"]["envoyDeployment"]


# --- the gateway's helm test ---------------------------------------------------------------------------------------
def _test_objects(helm: str, values: dict) -> dict[str, dict]:
    objs = render_chart(GATEWAY_CHART, values, release="gw", namespace="llm", helm=helm)
    validate_objects(objs)
    return {o["kind"]: o for o in objs if "helm.sh/hook" in o["metadata"].get("annotations", {})}


def test_gateway_helm_test_objects(helm_bin: str) -> None:
    hooks = _test_objects(helm_bin, {})
    assert sorted(hooks) == ["Pod", "Role", "RoleBinding", "ServiceAccount"]
    assert hooks["Role"]["rules"] == [{"apiGroups": ["gateway.networking.k8s.io"], "resources": ["gateways"],
                                       "resourceNames": ["envoy-ai-gateway"], "verbs": ["get"]}]
    assert hooks["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "gw-test", "namespace": "llm"}]
    assert hooks["Pod"]["spec"]["serviceAccountName"] == "gw-test"
    # RBAC first (weight -1), then the Pod; all removed on success
    assert {k: o["metadata"]["annotations"].get("helm.sh/hook-weight") for k, o in hooks.items()} == {
        "Pod": None, "Role": "-1", "RoleBinding": "-1", "ServiceAccount": "-1"}
    with_url = _test_objects(helm_bin, {"test": {"url": "https://llm.example.org/"}})
    assert sorted(with_url) == ["Pod"] and with_url["Pod"]["spec"]["automountServiceAccountToken"] is False
    assert not _test_objects(helm_bin, {"test": {"enabled": False}})


FAKE_CURL = """#!/bin/sh
# stand-in for curl: log the URL, answer as the API server (Gateway JSON) or the gateway (an HTTP code)
for last; do :; done
echo "$last" >> "$CURL_LOG"
case "$last" in
  https://*/gateways/*) cat "$GATEWAY_JSON" ;;
  *) printf '%s' "$MODELS_CODE" ;;
esac
"""


def _run_test_pod(pod: dict, tmp_path: Path, gateway: dict, code: str) -> tuple[int, list[str], str]:
    container = pod["spec"]["containers"][0]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "curl").write_text(FAKE_CURL)
    (bin_dir / "curl").chmod(0o755)
    (tmp_path / "gateway.json").write_text(json.dumps(gateway, indent=2))
    log = tmp_path / "curl.log"
    log.write_text("")
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", CURL_LOG=str(log), GATEWAY_JSON=str(tmp_path / "gateway.json"),
               MODELS_CODE=code, KUBERNETES_SERVICE_HOST="10.0.0.1", KUBERNETES_SERVICE_PORT="443")
    script = container["command"][2].replace("/var/run/secrets/kubernetes.io/serviceaccount", str(tmp_path))
    (tmp_path / "token").write_text("t")
    proc = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    return proc.returncode, log.read_text().split(), proc.stdout + proc.stderr


GATEWAY_STATUS = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                  "metadata": {"name": "envoy-ai-gateway", "namespace": "llm"},
                  "spec": {"gatewayClassName": "x", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
                  "status": {"addresses": [{"type": "IPAddress", "value": "203.0.113.7"}],
                             "conditions": [{"type": "Programmed", "status": "True"}]}}


@pytest.mark.parametrize(("code", "rc"), [("200", 0), ("401", 0), ("403", 0), ("404", 1), ("503", 1)])
def test_gateway_helm_test_script_reads_the_address_and_checks_models(helm_bin: str, tmp_path: Path, code: str,
                                                                     rc: int) -> None:
    pod = _test_objects(helm_bin, {})["Pod"]
    got, urls, output = _run_test_pod(pod, tmp_path, GATEWAY_STATUS, code)
    assert got == rc, output
    assert urls == ["https://10.0.0.1:443/apis/gateway.networking.k8s.io/v1/namespaces/llm/gateways/envoy-ai-gateway",
                    "http://203.0.113.7:80/v1/models"]
    assert f"GET http://203.0.113.7:80/v1/models -> {code}" in output


def test_gateway_helm_test_script_with_a_url_and_https_listener(helm_bin: str, tmp_path: Path) -> None:
    pod = _test_objects(helm_bin, {"test": {"url": "https://llm.example.org/"}})["Pod"]
    got, urls, _ = _run_test_pod(pod, tmp_path, GATEWAY_STATUS, "200")
    assert got == 0 and urls == ["https://llm.example.org/v1/models"]
    https = _test_objects(helm_bin, {"gateway": {"listeners": [{"name": "https", "protocol": "HTTPS", "port": 443,
                                                               "tls": {"certificateRefs": [{"name": "cert"}]}}]}})
    env = {e["name"]: e["value"] for e in https["Pod"]["spec"]["containers"][0]["env"]}
    assert (env["SCHEME"], env["PORT"]) == ("https", "443")
